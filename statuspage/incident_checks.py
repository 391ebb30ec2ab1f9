"""The incident domain's checks: an update's template fields as staff typed them, and the
validation of a declaration, an update or an edit (``incidents`` calls them before it changes
anything). Each check adds its messages to ``errors`` (field -> message) and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, Mapping, Optional

from .data_impact import DataImpact
from .extensions import db
from .models import COMPONENT_STATUSES, INCIDENT_STATUSES, ISSUE_MAX, SEVERITIES, TEXT_MAX
from .models import Component
from .severity import CHOICE_ERROR
from .text import clean_text

#: How far a backdated start may go (a typo of a year is refused).
MAX_BACKDATE = timedelta(days=30)


@dataclass
class UpdateText:
    """The template fields of one update, as staff typed them."""

    status: str
    impact: str
    actions: str
    workaround: str = ""
    next_update_at: Optional[datetime] = None
    #: component id -> new status, for the components this update changes.
    component_statuses: dict[int, str] = field(default_factory=dict)
    #: Components this update names as affected besides those the incident names.
    affected_ids: list[int] = field(default_factory=list)
    #: The participants' impact block as the form sets it; None leaves it as it is.
    data_impact: Optional[DataImpact] = None
    #: Staff-only, with Resolved only: for Slack and the record, never public.
    root_cause: str = ""
    resolution: str = ""
    review_on: Optional[date] = None
    #: False: no subscriber email for this change (the write API's
    #: ``deliver_notifications: false``); Slack and webhooks are told all the same.
    notify_subscribers: bool = True


# --- Validation --------------------------------------------------------------------------


def clean_update(text: UpdateText, now: datetime, errors: dict) -> UpdateText:
    cleaned = UpdateText(
        status=text.status,
        impact=clean_text(text.impact),
        actions=clean_text(text.actions),
        workaround=clean_text(text.workaround),
        next_update_at=text.next_update_at,
        component_statuses=dict(text.component_statuses),
        affected_ids=list(dict.fromkeys(text.affected_ids)),
        data_impact=text.data_impact,
        root_cause=clean_text(text.root_cause), resolution=clean_text(text.resolution),
        review_on=text.review_on, notify_subscribers=text.notify_subscribers,
    )
    if cleaned.status not in INCIDENT_STATUSES:
        errors["status"] = "Choose one of Investigating, Identified, Monitoring, Resolved."
    for name in ("impact", "actions"):
        value = getattr(cleaned, name)
        if not value and not (name == "impact" and cleaned.status == "resolved"):
            # A Resolved update's Impact may be empty: nothing left to experience.
            errors[name] = "This field is required."
        elif len(value) > TEXT_MAX:
            errors[name] = f"At most {TEXT_MAX} characters."
    for name in ("workaround", "root_cause", "resolution"):
        if len(getattr(cleaned, name)) > TEXT_MAX:
            errors[name] = f"At most {TEXT_MAX} characters."
    if cleaned.review_on is not None and not (
            now.date() - timedelta(days=366) <= cleaned.review_on
            <= now.date() + timedelta(days=366)):
        errors["review_on"] = "The review date must be within a year of today."
    if cleaned.status != "resolved" and (cleaned.root_cause or cleaned.resolution
                                         or cleaned.review_on is not None):
        errors["root_cause"] = "Root cause, resolution and review date go with Resolved."
    if cleaned.status == "resolved":
        # A resolved incident promises no next update; a stale time is not an error.
        cleaned.next_update_at = None
    if cleaned.next_update_at is not None:
        if cleaned.next_update_at.tzinfo is None:
            raise TypeError("next_update_at must be timezone-aware")
        if cleaned.next_update_at <= now:
            errors["next_update"] = "The next update must be in the future."
        elif cleaned.next_update_at > now + timedelta(days=14):
            errors["next_update"] = "The next update must be within 14 days."
    check_component_statuses(cleaned.component_statuses, errors)
    if cleaned.affected_ids and "components" not in errors:
        load_components(cleaned.affected_ids, errors)
    return cleaned


def with_status_set(component_ids: Iterable[int], statuses: Mapping[int, str]) -> list[int]:
    """The affected components, plus every one set to a status other than operational:
    a component an incident takes down is one it affects."""
    ids = list(component_ids)
    ids += [i for i, s in sorted(statuses.items()) if s != "operational" and i not in ids]
    return ids


def check_component_statuses(statuses: Mapping[int, str], errors: dict) -> None:
    if not statuses:
        return
    unknown_status = [s for s in statuses.values() if s not in COMPONENT_STATUSES]
    if unknown_status:
        errors["component_statuses"] = "Unknown component status."
        return
    found = set(db.session.scalars(db.select(Component.id).where(Component.id.in_(statuses))))
    if found != set(statuses):
        errors["component_statuses"] = "Unknown component."


def clean_title(title: str, errors: dict) -> str:
    title = clean_text(title, single_line=True)
    if not title:
        errors["issue"] = "Describe the issue in a few words."
    elif len(title) > ISSUE_MAX:
        errors["issue"] = f"At most {ISSUE_MAX} characters."
    return title


def check_severity(severity: str, errors: dict) -> None:
    if severity not in SEVERITIES:
        errors["severity"] = CHOICE_ERROR


def load_components(ids: Iterable[int], errors: dict) -> list[Component]:
    ids = list(dict.fromkeys(ids))
    if not ids:
        errors["components"] = "Choose at least one affected component."
        return []
    found = list(db.session.scalars(db.select(Component).where(Component.id.in_(ids))))
    if len(found) != len(ids):
        errors["components"] = "Unknown component."
    return found


def check_started_at(started_at: Optional[datetime], now: datetime, errors: dict) -> None:
    if started_at is None:
        return
    if started_at.tzinfo is None:
        raise TypeError("started_at must be timezone-aware")
    if started_at > now:
        errors["started_at"] = "The start cannot be in the future."
    elif started_at < now - MAX_BACKDATE:
        errors["started_at"] = "The start can be backdated by 30 days at most."
