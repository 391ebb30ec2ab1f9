"""Planned maintenance's checks: a window as staff typed it (``WindowFields``) and the
validation of its text, components and times (``maintenance`` calls them before it changes
anything). Each check adds its messages to ``errors`` (field -> message)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Optional

from .extensions import db
from .models import ISSUE_MAX, TEXT_MAX, Component
from .text import clean_text

#: How far ahead a window may be scheduled (a typo of a year is refused).
MAX_AHEAD = timedelta(days=366)

@dataclass
class WindowFields:
    """A window as staff typed it (times aware, UTC or any zone)."""

    title: str
    component_ids: list[int]
    scheduled_for: Optional[datetime]
    scheduled_until: Optional[datetime]
    description: str = ""
    workaround: str = ""
    notify: bool = True
    auto_start: bool = True
    auto_complete: bool = True
    #: Parsing errors the form found (a time that does not exist), reported with ours.
    errors: dict[str, str] = field(default_factory=dict)


def clean_text_fields(fields: WindowFields, errors: dict) -> tuple[str, str, str]:
    title = clean_text(fields.title or "", single_line=True)
    description = clean_text(fields.description or "")
    workaround = clean_text(fields.workaround or "")
    if not title:
        errors["title"] = "Give the maintenance a title, for example \"Database upgrade\"."
    elif len(title) > ISSUE_MAX:
        errors["title"] = f"At most {ISSUE_MAX} characters."
    if not description:
        errors["description"] = "Say what users will notice while the work runs."
    elif len(description) > TEXT_MAX:
        errors["description"] = f"At most {TEXT_MAX} characters."
    if len(workaround) > TEXT_MAX:
        errors["workaround"] = f"At most {TEXT_MAX} characters."
    return title, description, workaround


def load_components(ids: Iterable[int], errors: dict) -> list[Component]:
    ids = list(dict.fromkeys(ids))
    if not ids:
        errors.setdefault("components", "Choose at least one component the maintenance "
                                        "takes.")
        return []
    found = list(db.session.scalars(
        db.select(Component).where(Component.id.in_(ids)).order_by(Component.position,
                                                                    Component.id)))
    if len(found) != len(ids):
        errors.setdefault("components", "Unknown component.")
    return found


def check_window(start: Optional[datetime], end: Optional[datetime], now: datetime,
                  errors: dict, *, start_fixed: bool = False) -> None:
    """The window's times: both given, the end after the start, not in the past (a start
    already past is kept when the window is running: ``start_fixed``)."""
    if start is None:
        errors.setdefault("scheduled_for", "Enter when the maintenance starts.")
    if end is None:
        errors.setdefault("scheduled_until", "Enter when the maintenance ends.")
    if start is None or end is None or "scheduled_for" in errors:
        return
    if start.tzinfo is None or end.tzinfo is None:
        raise TypeError("window times must be timezone-aware")
    if not start_fixed and start < now.replace(second=0, microsecond=0):
        errors["scheduled_for"] = "The start is in the past. Choose a time from now on."
    elif not start_fixed and start > now + MAX_AHEAD:
        errors["scheduled_for"] = "The start must be within a year from now."
    if "scheduled_until" in errors:
        return
    if end <= start:
        errors["scheduled_until"] = "The end must be after the start."
    elif end <= now:
        errors["scheduled_until"] = "The end is in the past. Choose a later time."
    elif end - start > MAX_AHEAD:
        errors["scheduled_until"] = "A window can last a year at most."
