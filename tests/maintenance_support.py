"""Maintenance windows and their updates made directly as rows, for the tests of the public
side (pages, feeds, calendar, API): they read the rows, whoever wrote them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional, Sequence

from statuspage.extensions import db
from statuspage.models import Component, Maintenance, MaintenanceComponent, MaintenanceUpdate


def make_window(now: datetime, components: Sequence[Component], *,
                title: str = "Database upgrade", status: str = "scheduled",
                starts_in: timedelta = timedelta(days=2),
                lasts: timedelta = timedelta(hours=2),
                description: str = "The app will not save entries during the upgrade.",
                workaround: str = "", revision: int = 1,
                component_statuses_before: Optional[dict[int, str]] = None) -> Maintenance:
    """A committed window starting ``starts_in`` from ``now`` (negative: it began before),
    taking ``components``; begun, completed or cancelled times follow from ``status``."""
    start = now + starts_in
    window = Maintenance(
        title=title, description=description, workaround=workaround, status=status,
        scheduled_for=start, scheduled_until=start + lasts, revision=revision,
        created_at=now, updated_at=now,
    )
    if status in ("in_progress", "verifying", "completed"):
        window.started_at = start
    if status == "completed":
        window.completed_at = start + lasts
    if status == "cancelled":
        window.cancelled_at = now
    before = component_statuses_before or {}
    window.taken = [MaintenanceComponent(component=c, status_before=before.get(c.id))
                    for c in components]
    db.session.add(window)
    db.session.commit()
    return window


def add_update(window: Maintenance, posted_at: datetime, status: Optional[str] = None, *,
               impact: str = "", actions: str = "", workaround: str = "",
               next_update_at: Optional[datetime] = None, move_window: bool = True,
               redacted_at: Optional[datetime] = None) -> MaintenanceUpdate:
    """A committed update of ``window`` (its status, unless given); with ``move_window``
    the window takes the update's status and changes at its time, as staff's would."""
    status = status or window.status
    update = MaintenanceUpdate(
        maintenance=window, status=status, impact=impact, actions=actions,
        workaround=workaround, next_update_at=next_update_at, posted_at=posted_at,
        redacted_at=redacted_at,
    )
    db.session.add(update)
    if move_window:
        window.status = status
        window.updated_at = posted_at
        if status in ("in_progress", "verifying") and window.started_at is None:
            window.started_at = posted_at
        if status == "completed":
            window.completed_at = posted_at
        if status == "cancelled":
            window.cancelled_at = posted_at
    db.session.commit()
    return update


def reschedule(window: Maintenance, now: datetime, *, by: timedelta) -> Maintenance:
    """Move the window by ``by`` and raise its revision, as a reschedule does."""
    window.scheduled_for += by
    window.scheduled_until += by
    window.revision += 1
    window.updated_at = now
    db.session.commit()
    return window


def set_component_row(component: Component, status: str, now: datetime) -> None:
    """Change a component's row directly (as the window's start would)."""
    component.status = status
    component.updated_at = now
    db.session.commit()
