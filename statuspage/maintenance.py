"""Planned maintenance: schedule, edit, reschedule, post an update, start, complete, cancel;
the notifier's automatic transitions (``advance_windows``); and the reads staff pages need.

The checks of what staff typed are in ``maintenance_checks``. Like the incident domain:
every function takes the actor (None for the notifier's own transitions) and ``now``,
validates before it changes anything, records an audit event, flushes, and never commits.
What happened is recorded (``events``): the outbox decides who hears of it and queues
their messages in the same transaction.

A window's components go ``under_maintenance`` when it starts (unless an incident holds one
at a worse status) and, when it ends, to the worst status still claimed by an open incident
or another running window, else ``operational`` (``components.claims``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

import sqlalchemy as sa

from . import audit, events
from .components import RUNNING_WINDOW, give_back_after_maintenance, take_for_maintenance
from .errors import ValidationError
from .extensions import db
from .models import (
    TEXT_MAX,
    Delivery,
    Maintenance,
    MaintenanceComponent,
    MaintenanceUpdate,
    Notification,
    StaffUser,
)
from .present import iso
from .text import clean_text
from .maintenance_checks import (  # the callers' word too: maintenance.WindowFields
    WindowFields,
    check_window,
    clean_text_fields,
    load_components,
)

#: What the notifier writes when it moves a window at its times.
AUTO_STARTED = "The planned maintenance has started."
AUTO_COMPLETED = "The planned maintenance is complete."
STATUS_LABELS = {"scheduled": "Scheduled", "in_progress": "In progress", "verifying":
                 "Verifying", "completed": "Completed", "cancelled": "Cancelled"}


def _state(m: Maintenance) -> dict:
    return {
        "title": m.title, "status": m.status, "scheduled_for": iso(m.scheduled_for),
        "scheduled_until": iso(m.scheduled_until), "revision": m.revision,
        "component_ids": sorted(t.component.id for t in m.taken), "notify": m.notify,
        "auto_start": m.auto_start, "auto_complete": m.auto_complete,
    }


def _locked(m: Maintenance) -> Maintenance:
    """The window again, its row locked (PostgreSQL) until the commit: a notifier marking
    one of its notices sent, or moving it at its times, waits for us, or we for it."""
    db.session.execute(db.select(Maintenance.id).where(Maintenance.id == m.id)
                       .with_for_update())
    db.session.refresh(m)
    return m


# --- Operations --------------------------------------------------------------------------


def schedule(fields: WindowFields, *, actor: StaffUser, now: datetime) -> Maintenance:
    """Schedule a window; with ``notify``, announce it (unless it starts within the hour)
    and arm its reminders."""
    errors = dict(fields.errors)
    title, description, workaround = clean_text_fields(fields, errors)
    components = load_components(fields.component_ids, errors)
    check_window(fields.scheduled_for, fields.scheduled_until, now, errors)
    if errors:
        raise ValidationError(errors)
    m = Maintenance(
        title=title, description=description, workaround=workaround, status="scheduled",
        scheduled_for=fields.scheduled_for, scheduled_until=fields.scheduled_until,
        auto_start=bool(fields.auto_start), auto_complete=bool(fields.auto_complete),
        notify=bool(fields.notify), revision=1, created_by=actor, created_at=now,
        updated_at=now)
    m.taken = [MaintenanceComponent(component=c) for c in components]
    db.session.add(m)
    audit.record(actor, "maintenance.schedule", m, now=now, after=_state(m))
    events.record(events.WindowScheduled(m), now=now)
    db.session.flush()
    return m


def edit(m: Maintenance, fields: WindowFields, *, actor: StaffUser, now: datetime
         ) -> Maintenance:
    """Correct a window's title, texts, components (before it starts), notices and
    automatic transitions. Its times change by ``reschedule``."""
    errors = dict(fields.errors)
    title, description, workaround = clean_text_fields(fields, errors)
    components = load_components(fields.component_ids, errors)
    if m.status in ("completed", "cancelled"):
        errors["status"] = f"This maintenance is {m.status}: it can no longer be edited."
    elif m.status != "scheduled" and (
            sorted(c.id for c in components) != sorted(t.component.id for t in m.taken)):
        errors.setdefault("components", "The components of a running window cannot change. "
                                        "Complete it and schedule another.")
    if errors:
        raise ValidationError(errors)
    before = _state(m)
    texts_before = (m.description, m.workaround)
    notify_before = m.notify
    m.title, m.description, m.workaround = title, description, workaround
    m.notify = bool(fields.notify)
    m.auto_start, m.auto_complete = bool(fields.auto_start), bool(fields.auto_complete)
    if m.status == "scheduled":
        have = {t.component_id: t for t in m.taken}
        m.taken = [have.get(c.id) or MaintenanceComponent(component=c) for c in components]
    after = _state(m)
    if after == before and texts_before == (description, workaround):
        return m
    m.updated_at = now
    audit.record(actor, "maintenance.edit", m, now=now, before=before, after=after)
    events.record(events.WindowEdited(m, notified_before=notify_before), now=now)
    db.session.flush()
    return m


def reschedule(m: Maintenance, scheduled_for: Optional[datetime],
               scheduled_until: Optional[datetime], *, actor: StaffUser, now: datetime,
               errors: Optional[dict] = None) -> Maintenance:
    """Move a window (a running one: its end only). Raises ``revision``, re-arms the
    reminders, and tells those already told of it."""
    errors = dict(errors or {})
    _locked(m)  # its status as of now: the notifier may have just started it
    running = m.status in RUNNING_WINDOW
    if m.status in ("completed", "cancelled"):
        raise ValidationError({"status": f"This maintenance is {m.status}: it cannot be "
                                         "moved."})
    if running and scheduled_for is not None and scheduled_for != m.scheduled_for:
        errors["scheduled_for"] = "The window has started: only its end can move."
    if running:
        scheduled_for = m.scheduled_for
    check_window(scheduled_for, scheduled_until, now, errors, start_fixed=running)
    if not errors and (scheduled_for, scheduled_until) == (m.scheduled_for,
                                                            m.scheduled_until):
        errors["scheduled_until"] = "These are the window's times already."
    if errors:
        raise ValidationError(errors)
    before = _state(m)
    m.scheduled_for, m.scheduled_until = scheduled_for, scheduled_until
    m.revision += 1
    m.updated_at = now
    audit.record(actor, "maintenance.reschedule", m, now=now, before=before, after=_state(m))
    events.record(events.WindowRescheduled(m), now=now)
    db.session.flush()
    return m


@dataclass
class UpdateText:
    """One update of a window, as staff typed it."""

    actions: str
    impact: str = ""
    workaround: str = ""


def post_update(m: Maintenance, text: UpdateText, *, actor: StaffUser, now: datetime
                ) -> MaintenanceUpdate:
    """Post an update (at the window's current status)."""
    errors: dict[str, str] = {}
    actions, impact = clean_text(text.actions or ""), clean_text(text.impact or "")
    workaround = clean_text(text.workaround or "")
    if not actions:
        errors["actions"] = "Say what is happening."
    for name, value in (("actions", actions), ("impact", impact), ("workaround", workaround)):
        if len(value) > TEXT_MAX:
            errors[name] = f"At most {TEXT_MAX} characters."
    if m.status in ("completed", "cancelled"):
        errors["status"] = f"This maintenance is {m.status}: it takes no more updates."
    if errors:
        raise ValidationError(errors)
    update = _add_update(m, m.status, now=now, actor=actor, actions=actions, impact=impact,
                         workaround=workaround)
    m.updated_at = now
    audit.record(actor, "maintenance.update", m, now=now,
                 after={"status": m.status, "update_id": update.id})
    db.session.flush()
    return update


def _add_update(m: Maintenance, status: str, *, now: datetime, actor: Optional[StaffUser],
                actions: str, impact: str = "", workaround: str = "") -> MaintenanceUpdate:
    update = MaintenanceUpdate(status=status, actions=actions, impact=impact,
                               workaround=workaround, posted_at=now, posted_by=actor)
    m.updates.insert(0, update)
    db.session.add(update)
    db.session.flush()
    events.record(events.WindowUpdatePosted(m), now=now)
    return update


def _claim_transition(m: Maintenance, from_statuses: tuple[str, ...], to: str) -> bool:
    """Move the window's status with a conditional UPDATE: True for the one caller that
    moved it (a second notifier, or a staff click at the same moment, gets False)."""
    moved = db.session.execute(
        db.update(Maintenance)
        .where(Maintenance.id == m.id, Maintenance.status.in_(from_statuses))
        .values(status=to).execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        return False
    db.session.refresh(m)
    return True


def start(m: Maintenance, *, actor: Optional[StaffUser], now: datetime,
          text: str = "") -> Maintenance:
    """Start the window now (staff, or the notifier at ``scheduled_for``)."""
    before = m.status
    if not _claim_transition(m, ("scheduled",), "in_progress"):
        raise ValidationError({"status": _cannot("start", m)})
    m.started_at = now
    m.updated_at = now
    take_for_maintenance(m.taken, actor=actor, now=now)
    _add_update(m, "in_progress", now=now, actor=actor, actions=text or AUTO_STARTED)
    audit.record(actor, "maintenance.start", m, now=now, before={"status": before},
                 after={"status": m.status}, system_label="notifier")
    events.record(events.WindowStarted(m), now=now)
    db.session.flush()
    return m


def complete(m: Maintenance, *, actor: Optional[StaffUser], now: datetime,
             verifying: bool = False, text: str = "") -> Maintenance:
    """Complete the window now, or first mark it ``verifying`` (the work is done and being
    checked: its components stay under maintenance)."""
    before = m.status
    if verifying:
        if not _claim_transition(m, ("in_progress",), "verifying"):
            raise ValidationError({"status": _cannot("verify", m)})
        m.updated_at = now
        _add_update(m, "verifying", now=now, actor=actor,
                    actions=text or "The work is done; we are checking that all is well.")
    else:
        if not _claim_transition(m, RUNNING_WINDOW, "completed"):
            raise ValidationError({"status": _cannot("complete", m)})
        m.completed_at = now
        m.updated_at = now
        give_back_after_maintenance(m, actor=actor, now=now)
        _add_update(m, "completed", now=now, actor=actor, actions=text or AUTO_COMPLETED)
        events.record(events.WindowCompleted(m), now=now)
    audit.record(actor, "maintenance.verify" if verifying else "maintenance.complete", m,
                 now=now, before={"status": before}, after={"status": m.status},
                 system_label="notifier")
    db.session.flush()
    return m


def cancel(m: Maintenance, *, actor: StaffUser, now: datetime) -> Maintenance:
    """Cancel a window that has not started; those told of it hear so."""
    _locked(m)
    before = m.status
    if not _claim_transition(m, ("scheduled",), "cancelled"):
        raise ValidationError({"status": _cannot("cancel", m)})
    m.cancelled_at = now
    m.updated_at = now
    _add_update(m, "cancelled", now=now, actor=actor,
                actions="This planned maintenance has been cancelled.")
    audit.record(actor, "maintenance.cancel", m, now=now, before={"status": before},
                 after={"status": m.status})
    events.record(events.WindowCancelled(m), now=now)
    db.session.flush()
    return m


def _cannot(verb: str, m: Maintenance) -> str:
    db.session.refresh(m)
    return f"This maintenance is {STATUS_LABELS[m.status].lower()}: it cannot {verb} now."


# --- The notifier's step -----------------------------------------------------------------


def advance_windows(now: datetime) -> tuple[int, int]:
    """Start the ``auto_start`` windows whose start has come and complete the
    ``auto_complete`` ones whose end has come, each with an update at ``now``; returns
    (started, completed). Flushes; the tick commits. Each transition is taken with a
    conditional UPDATE, so two notifiers never both write it."""
    started = completed = 0
    due_start = db.session.scalars(
        db.select(Maintenance).where(Maintenance.status == "scheduled",
                                     Maintenance.auto_start.is_(True),
                                     Maintenance.scheduled_for <= now)
        .order_by(Maintenance.scheduled_for, Maintenance.id)).all()
    for m in due_start:
        started += _moved(start, m, now)
    due_end = db.session.scalars(
        db.select(Maintenance).where(Maintenance.status.in_(RUNNING_WINDOW),
                                     Maintenance.auto_complete.is_(True),
                                     Maintenance.scheduled_until <= now)
        .order_by(Maintenance.scheduled_until, Maintenance.id)).all()
    for m in due_end:
        completed += _moved(complete, m, now)
    return started, completed


def _moved(transition, m: Maintenance, now: datetime) -> int:
    try:
        transition(m, actor=None, now=now)
    except ValidationError:
        return 0  # another notifier (or staff) moved it first
    return 1


# --- Reads -------------------------------------------------------------------------------


def windows(statuses: Iterable[str], *, limit: Optional[int] = None,
            newest_first: bool = False) -> list[Maintenance]:
    """Windows in these statuses, by start (``newest_first``: latest start first)."""
    order = Maintenance.scheduled_for.desc() if newest_first else Maintenance.scheduled_for
    query = (db.select(Maintenance).where(Maintenance.status.in_(list(statuses)))
             .order_by(order, Maintenance.id))
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def upcoming() -> list[Maintenance]:
    """Scheduled windows, soonest first (``running``: in progress or verifying)."""
    return windows(("scheduled",))


def running() -> list[Maintenance]:
    return windows(RUNNING_WINDOW)


def recent(limit: int = 20) -> list[Maintenance]:
    """Completed and cancelled windows, latest first."""
    return windows(("completed", "cancelled"), limit=limit, newest_first=True)


def overran(m: Maintenance, now: datetime) -> bool:
    """Running past its end without being completed (the dashboard flags it)."""
    return m.status in RUNNING_WINDOW and m.scheduled_until < now


def late_to_start(m: Maintenance, now: datetime) -> bool:
    """Scheduled, its start past, and not started (``auto_start`` off)."""
    return m.status == "scheduled" and m.scheduled_for < now


def overlapping(m: Maintenance) -> list[Maintenance]:
    """Other scheduled or running windows that take one of its components at a time that
    overlaps its own (allowed: staff are warned)."""
    ids = [t.component_id for t in m.taken]
    if not ids:
        return []
    return list(db.session.scalars(
        db.select(Maintenance)
        .where(Maintenance.id != m.id,
               Maintenance.status.in_(("scheduled", *RUNNING_WINDOW)),
               Maintenance.scheduled_for < m.scheduled_until,
               Maintenance.scheduled_until > m.scheduled_for,
               Maintenance.id.in_(db.select(MaintenanceComponent.maintenance_id)
                                  .where(MaintenanceComponent.component_id.in_(ids))))
        .order_by(Maintenance.scheduled_for, Maintenance.id)))


def told_count(m: Maintenance) -> int:
    """How many people were sent a notice of this window (the staff page says)."""
    return db.session.scalar(
        db.select(sa.func.count(sa.distinct(Delivery.subscriber_id)))
        .join(Notification, Delivery.notification_id == Notification.id)
        .where(Notification.maintenance_id == m.id, Delivery.status == "sent")) or 0
