"""What the feeds say of a maintenance window besides its updates (issue 23, point 1): that
it was scheduled, and each time it was moved. (Its start, its completion and its
cancellation are updates of the window already.)

A window is announced when its row is made (``created_at``), for the times it had then;
each move is read from the audit trail's ``maintenance.reschedule`` events, whose before
and after states hold the window's times. Two queries, however long the history: the
announced windows with the times they were scheduled for (a window never moved has its
own; a moved one, those of its ``maintenance.schedule`` event, found by its instant), and
the moves newer than the oldest entry the feed would show anyway (``since``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from ..extensions import db
from ..models import AuditEvent, Maintenance, MaintenanceComponent

#: The audit trail's name of the windows' table (``audit.record``'s ``target_type``).
TARGET = Maintenance.__tablename__
SCHEDULE, RESCHEDULE = "maintenance.schedule", "maintenance.reschedule"

Times = tuple[datetime, datetime]


@dataclass(frozen=True)
class Announced:
    """A window as it was scheduled."""

    window: Maintenance
    times: Times


@dataclass(frozen=True)
class Moved:
    """A window moved (``event_id``: the audit event's, which never changes)."""

    event_id: int
    window: Maintenance
    at: datetime
    before: Times
    after: Times


def _times(state, fallback: Times) -> Times:
    """The window's (start, end) in an audit state, or ``fallback`` when it has none."""
    try:
        return (datetime.fromisoformat(state["scheduled_for"]),
                datetime.fromisoformat(state["scheduled_until"]))
    except (TypeError, KeyError, ValueError):
        return fallback


def _of_component(query, component_id: Optional[int]):
    if component_id is None:
        return query
    return query.where(Maintenance.id.in_(
        db.select(MaintenanceComponent.maintenance_id)
        .where(MaintenanceComponent.component_id == component_id)))


def _target_is(window_id) -> list:
    return [AuditEvent.target_type == TARGET,
            AuditEvent.target_id == db.cast(window_id, db.String)]


def announced(limit: int, component_id: Optional[int] = None) -> list[Announced]:
    """The ``limit`` windows made last (of those taking one component, if given), newest
    first, each with the times it was scheduled for: one query."""
    scheduled_as = (
        db.select(AuditEvent.after)
        .where(*_target_is(Maintenance.id), AuditEvent.action == SCHEDULE,
               AuditEvent.at == Maintenance.created_at)  # one seek of the audit's index
        .order_by(AuditEvent.id).limit(1).correlate(Maintenance).scalar_subquery())
    query = _of_component(
        db.select(Maintenance, db.case((Maintenance.revision > 1, scheduled_as)))
        .order_by(Maintenance.created_at.desc(), Maintenance.id.desc()).limit(limit),
        component_id)
    found = []
    for window, state in db.session.execute(query).all():
        now = (window.scheduled_for, window.scheduled_until)
        found.append(Announced(window, _times(state, now)))
    return found


def moves(limit: int, since: datetime, component_id: Optional[int] = None) -> list[Moved]:
    """The ``limit`` newest moves at or after ``since`` (of windows taking one component,
    if given), newest first, with their windows: one query."""
    query = _of_component(
        db.select(AuditEvent.id, AuditEvent.at, AuditEvent.before, AuditEvent.after,
                  Maintenance)
        .select_from(AuditEvent)
        .join(Maintenance, db.and_(*_target_is(Maintenance.id)))
        .where(AuditEvent.action == RESCHEDULE, AuditEvent.at >= since)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit),
        component_id)
    found = []
    for event_id, at, before, after, window in db.session.execute(query).all():
        now = (window.scheduled_for, window.scheduled_until)
        found.append(Moved(event_id, window, at, _times(before, now), _times(after, now)))
    return found
