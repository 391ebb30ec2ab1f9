"""A maintenance window's notices as outbox rows: one Notification (kind "maintenance") per
window, notice, schedule revision and reminder offset (a unique constraint), and one
Delivery per person (another), so each person hears each notice at most once.

- ``scheduled``, ``started``, ``completed``: to ``audience.maintenance_recipients``, queued
  in the transaction of the change (the staff action, or the tick's transition).
- ``reminder``: armed when the window is scheduled (or rescheduled, or its notices turned
  on): one row per offset of MAINTENANCE_REMINDER_HOURS whose time is still ahead, without
  deliveries. The tick (``enqueue_due_reminders_and_commit``) writes the deliveries of
  those that came due, while the window has not started.
- ``rescheduled``, ``cancelled``: to those already told of the window (a delivery of one
  of its earlier notices was sent), and to anyone whose earlier notice is sent afterwards
  (``notifier`` asks ``owed_follow_up`` when it marks one sent).

Everything here flushes and leaves the commit to the caller, except the function whose
name says it commits. This module never imports the maintenance domain: it calls us.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Optional, Sequence

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Delivery, Maintenance, Notification, Subscriber
from ..transactions import write_transaction
from . import audience, engine
from .queue import _insert_deliveries
from .rules import reminder_offsets

log = logging.getLogger("statuspage.notifier")

#: No "scheduled" notice for a window that starts sooner than this (its reminders, start
#: and completion notices still go).
SCHEDULED_NOTICE_MIN_LEAD = timedelta(hours=1)
#: The notices that announce a schedule: stale once the window moved, started or ended.
ANNOUNCEMENTS = ("scheduled", "reminder")
#: The notices that follow up on earlier ones, to those who were told.
FOLLOW_UPS = ("rescheduled", "cancelled")


def configured_offsets() -> tuple[int, ...]:
    """MAINTENANCE_REMINDER_HOURS of the running app, in minutes (largest first)."""
    return reminder_offsets(current_app.config["MAINTENANCE_REMINDER_HOURS"])


def window_notification(maintenance_id: int, notice: str, revision: int,
                        offset_minutes: int = 0) -> Optional[Notification]:
    return db.session.scalar(
        db.select(Notification).where(
            Notification.maintenance_id == maintenance_id, Notification.notice == notice,
            Notification.revision == revision, Notification.offset_minutes == offset_minutes)
        .execution_options(populate_existing=True)
    )


def _get_or_create(maintenance: Maintenance, notice: str, now: datetime,
                   offset_minutes: int = 0) -> Notification:
    """The window's notification of this notice at its current revision, created if
    missing; safe if another process creates it at the same moment (the unique key)."""
    found = window_notification(maintenance.id, notice, maintenance.revision, offset_minutes)
    if found is not None:
        return found
    notification = Notification(
        kind="maintenance", maintenance_id=maintenance.id, notice=notice,
        revision=maintenance.revision, offset_minutes=offset_minutes,
        token=secrets.token_hex(16), created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(notification)
    except IntegrityError:
        found = window_notification(maintenance.id, notice, maintenance.revision,
                                    offset_minutes)
        assert found is not None
        return found
    return notification


def _component_ids(maintenance: Maintenance) -> list[int]:
    return [t.component.id for t in maintenance.taken]


def queue_notice(maintenance: Maintenance, notice: str, *, now: datetime) -> int:
    """Queue ``scheduled``, ``started`` or ``completed`` to the window's audience (once per
    revision); how many deliveries. Nothing when the window's notices are off."""
    if notice not in ("scheduled", "started", "completed"):
        raise ValueError(notice)
    if not maintenance.notify:
        return 0
    notification = _get_or_create(maintenance, notice, now)
    if notification.enqueued_at is not None:
        return 0
    db.session.flush()
    count = _insert_deliveries(notification.id,
                               audience.maintenance_recipients(_component_ids(maintenance)),
                               now)
    notification.enqueued_at = now
    db.session.flush()
    log.info("maintenance %s: %s notice queued for %d subscriber(s)", maintenance.id,
             notice, count)
    return count


def scheduled_notice_due(maintenance: Maintenance, now: datetime) -> bool:
    """Whether scheduling this window announces it now (not when it starts within the
    hour: the reminders and the start notice will do)."""
    return maintenance.notify and maintenance.scheduled_for - now >= SCHEDULED_NOTICE_MIN_LEAD


def arm_reminders(maintenance: Maintenance, *, now: datetime,
                  offsets: Optional[Sequence[int]] = None) -> int:
    """Write the current revision's reminders whose time is still ahead (no deliveries
    yet: the tick writes them when due); how many were armed."""
    if not maintenance.notify or maintenance.status != "scheduled":
        return 0
    armed = 0
    for minutes in configured_offsets() if offsets is None else offsets:
        if maintenance.scheduled_for - timedelta(minutes=minutes) > now:
            _get_or_create(maintenance, "reminder", now, minutes)
            armed += 1
    db.session.flush()
    return armed


def _told(maintenance_id: int) -> sa.Select:
    """Confirmed subscribers who were sent one of the window's earlier notices."""
    sent = aliased(Delivery)
    earlier = aliased(Notification)
    return (
        db.select(Subscriber.id)
        .where(Subscriber.status == "confirmed",
               db.select(sent.id)
               .join(earlier, sent.notification_id == earlier.id)
               .where(sent.subscriber_id == Subscriber.id, sent.status == "sent",
                      earlier.maintenance_id == maintenance_id,
                      earlier.notice.not_in(FOLLOW_UPS))
               .exists())
    )


def queue_follow_up(maintenance: Maintenance, notice: str, *, now: datetime) -> int:
    """``rescheduled`` or ``cancelled`` to those already told of the window (at its current
    revision); their unsent announcements are cancelled. How many deliveries."""
    if notice not in FOLLOW_UPS:
        raise ValueError(notice)
    _cancel_stale_announcements(maintenance, now)
    if not maintenance.notify:
        return 0
    notification = _get_or_create(maintenance, notice, now)
    db.session.flush()
    owed = aliased(Delivery)
    already = (db.select(owed.id).where(owed.notification_id == notification.id,
                                        owed.subscriber_id == Subscriber.id).exists())
    count = _insert_deliveries(notification.id, _told(maintenance.id).where(~already), now)
    notification.enqueued_at = notification.enqueued_at or now
    db.session.flush()
    log.info("maintenance %s: %s notice queued for %d subscriber(s)", maintenance.id,
             notice, count)
    return count


def _cancel_stale_announcements(maintenance: Maintenance, now: datetime) -> None:
    """Pending announcements of the window's earlier schedule go nowhere (one being sent
    right now is caught by ``owed_follow_up``)."""
    stale = db.select(Notification.id).where(
        Notification.maintenance_id == maintenance.id, Notification.notice.in_(ANNOUNCEMENTS))
    engine.cancel_unsent(Delivery.__table__, Delivery.notification_id.in_(stale), now=now)


def cancel_unsent(maintenance: Maintenance, *, now: datetime) -> None:
    """The window's notices were turned off: nothing more of it goes out."""
    engine.cancel_unsent(Delivery.__table__, Delivery.notification_id.in_(
        db.select(Notification.id).where(Notification.maintenance_id == maintenance.id)),
        now=now)


# --- The tick's step ---------------------------------------------------------------------


def enqueue_due_reminders_and_commit(now: datetime) -> int:
    """Commits: write the deliveries of the reminders that came due, in a write transaction
    of their own; returns how many reminders went to the queue.

    Due: armed for the window's current revision, its time passed, the window still
    scheduled and not yet at its start. Of several due at once (the notifier was down)
    only the latest-armed one goes; the others are marked done without deliveries. Each
    row is taken with a conditional UPDATE, so two notifiers never both write it.
    """
    enqueued = 0
    with write_transaction():
        rows = db.session.execute(
            db.select(Notification, Maintenance)
            .join(Maintenance, Notification.maintenance_id == Maintenance.id)
            .where(Notification.notice == "reminder", Notification.enqueued_at.is_(None),
                   Notification.revision == Maintenance.revision,
                   Maintenance.status == "scheduled", Maintenance.notify.is_(True),
                   Maintenance.scheduled_for > now)
            .order_by(Maintenance.id, Notification.offset_minutes)
        ).all()
        by_window: dict[int, list[Notification]] = {}
        windows: dict[int, Maintenance] = {}
        for notification, maintenance in rows:
            if maintenance.scheduled_for - timedelta(minutes=notification.offset_minutes) <= now:
                by_window.setdefault(maintenance.id, []).append(notification)
                windows[maintenance.id] = maintenance
        for window_id, due in by_window.items():
            # Smallest offset first: that one goes, the ones before it are past.
            send, *skip = due
            for notification in [send, *skip]:
                taken = db.session.execute(
                    db.update(Notification)
                    .where(Notification.id == notification.id,
                           Notification.enqueued_at.is_(None))
                    .values(enqueued_at=now)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken != 1 or notification is not send:
                    continue
                count = _insert_deliveries(
                    notification.id,
                    audience.maintenance_recipients(_component_ids(windows[window_id])), now)
                enqueued += 1
                log.info("maintenance %s: reminder (%d min) queued for %d subscriber(s)",
                         window_id, notification.offset_minutes, count)
    return enqueued


def owed_follow_up(conn: sa.Connection, maintenance_id: int, revision: int,
                   subscriber_id: int, now_value: sa.ColumnElement) -> None:
    """Just after a notice of the window was marked sent (on the marking connection): if
    the window was rescheduled past that notice's revision, or cancelled, meanwhile, its
    reader is owed that follow-up too."""
    notifications = Notification.__table__
    deliveries = Delivery.__table__
    subscribers = Subscriber.__table__
    confirmed = conn.execute(
        sa.select(subscribers.c.id).where(subscribers.c.id == subscriber_id,
                                          subscribers.c.status == "confirmed")).scalar()
    if confirmed is None:
        return
    rows = conn.execute(
        sa.select(notifications.c.id, notifications.c.notice, notifications.c.revision)
        .where(notifications.c.maintenance_id == maintenance_id,
               sa.or_(notifications.c.notice == "cancelled",
                      sa.and_(notifications.c.notice == "rescheduled",
                              notifications.c.revision > revision)))
    ).all()
    # One follow-up says what is true now: the cancellation, else the latest move.
    rows.sort(key=lambda r: (r.notice == "cancelled", r.revision))
    follow_ups = [rows[-1].id] if rows else []
    for follow_up_id in follow_ups:
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(deliveries).values(
                    notification_id=follow_up_id, subscriber_id=subscriber_id,
                    status="pending", attempts=0, next_attempt_at=now_value,
                    created_at=now_value))
        except IntegrityError:
            pass  # already owed
