"""The impact block staff set on an incident: "Your data", "What you need to do" and the
window in which entries may be missing. Validation and storing; the words are in
``present``.

A clinical statement that staff make: nothing here sets it automatically. Only choices and
times are stored, never free text, so the block cannot carry health data. Called by
``incidents`` (which records the audit event); flushes nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from .models import DATA_STATUSES, USER_ACTIONS, Incident
from .present import iso

#: How far back a window may start (as far as an incident's start may be backdated).
MAX_WINDOW_AGE = timedelta(days=30)
#: A window typed to the minute may end in the current minute.
CLOCK_SLACK = timedelta(minutes=1)
DEFAULT_DATA_STATUS = "not_yet_known"


@dataclass(frozen=True)
class DataImpact:
    """The block as staff chose it; times aware (UTC), both or neither."""

    data_status: str = DEFAULT_DATA_STATUS
    #: None: the page says nothing about what to do.
    user_action: Optional[str] = None
    data_gap_from: Optional[datetime] = None
    data_gap_until: Optional[datetime] = None


def current_data_impact(incident: Incident) -> DataImpact:
    """What the incident says now."""
    return DataImpact(incident.data_status or DEFAULT_DATA_STATUS, incident.user_action,
                      incident.data_gap_from, incident.data_gap_until)


def check_data_impact(value: DataImpact, was: DataImpact, now: datetime, errors: dict) -> None:
    """Field messages into ``errors`` for a bad block. The window's age is checked only
    when the window changes, so an old incident keeps the window it was given."""
    if value.data_status not in DATA_STATUSES:
        errors["data_status"] = ("Choose one of Not yet known, Being checked, "
                                 "Some entries may be missing, Safe.")
    if value.user_action is not None and value.user_action not in USER_ACTIONS:
        errors["user_action"] = ("Choose one of Not said yet, Nothing, Use the workaround, "
                                 "Re-enter entries.")
    start, end = value.data_gap_from, value.data_gap_until
    for moment in (start, end):
        if moment is not None and moment.tzinfo is None:
            raise TypeError("the data-gap window must be timezone-aware")
    if (start is None) != (end is None):
        name = "data_gap_until" if end is None else "data_gap_from"
        errors.setdefault(name, "Enter both the start and the end of the window, or neither.")
        return
    if start is None or end is None:
        return
    if end <= start:
        errors.setdefault("data_gap_until", "The window must end after it starts.")
    elif (start, end) != (was.data_gap_from, was.data_gap_until):
        if start < now - MAX_WINDOW_AGE:
            errors.setdefault("data_gap_from", "The window can start 30 days ago at most.")
        if end > now + CLOCK_SLACK:
            errors.setdefault("data_gap_until", "The window cannot end in the future.")


def data_impact_state(value: DataImpact) -> dict:
    """The block as an audit record shows it."""
    return {"data_status": value.data_status, "user_action": value.user_action,
            "data_gap_from": iso(value.data_gap_from),
            "data_gap_until": iso(value.data_gap_until)}


def apply_data_impact(incident: Incident, value: DataImpact) -> Optional[tuple[dict, dict]]:
    """Store a checked block; (before, after) for the audit when it changed, else None."""
    was = current_data_impact(incident)
    if value == was:
        return None
    incident.data_status = value.data_status
    incident.user_action = value.user_action
    incident.data_gap_from = value.data_gap_from
    incident.data_gap_until = value.data_gap_until
    return data_impact_state(was), data_impact_state(value)
