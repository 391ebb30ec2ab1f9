"""The outbox's rows: what a domain change queues, in the caller's transaction.

A ``Notification`` is one email to many (an incident's outage or resolution email, or one
confirmation/"manage" email); a ``Delivery`` is that email to one subscriber. Unique
constraints make "at most one outage and one resolution email per incident per
subscriber, ever" a fact of the database, whatever the number of notifier processes.

Everything here flushes and leaves the commit to the caller (the incident and subscriber
domains, the staff views), except ``enqueue_due_outage_emails_and_commit``, the
notifier's own step, which says so in its name.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from .. import audit
from ..errors import NotAllowed, ValidationError
from ..extensions import UTCDateTime, db
from ..models import Delivery, Incident, Notification, StaffUser, Subscriber
from ..transactions import write_transaction
from . import audience, engine
from .rules import Settings, outage_email_due

log = logging.getLogger("statuspage.notifier")

REOPEN_REFUSED = (
    "The all-clear email has gone out to subscribers for this incident, so it cannot be "
    "reopened. If the problem is back, declare a new incident linked to this one "
    "(\"Declare a recurrence\")."
)


# --- Writing the rows --------------------------------------------------------------------


def _new_notification(kind: str, incident_id: Optional[int], now: datetime) -> Notification:
    return Notification(kind=kind, incident_id=incident_id, token=secrets.token_hex(16),
                        created_at=now)


def incident_notification(incident_id: int, kind: str, *, lock: bool = False
                          ) -> Optional[Notification]:
    """The incident's notification of this kind (``lock``: FOR UPDATE), or None."""
    query = (
        db.select(Notification)
        .where(Notification.incident_id == incident_id, Notification.kind == kind)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


def _get_or_create_incident_notification(incident_id: int, kind: str, now: datetime):
    """The incident's notification of this kind, created if missing; safe if another
    process creates it at the same moment (the unique constraint decides)."""
    existing = incident_notification(incident_id, kind, lock=True)
    if existing is not None:
        return existing
    notification = _new_notification(kind, incident_id, now)
    try:
        with db.session.begin_nested():
            db.session.add(notification)
    except IntegrityError:
        return incident_notification(incident_id, kind, lock=True)
    return notification


def _insert_deliveries(notification_id: int, subscriber_ids: sa.Select, now: datetime) -> int:
    """One pending Delivery per subscriber id the select yields (one INSERT ... SELECT)."""
    when = sa.literal(now, UTCDateTime())
    rows = subscriber_ids.add_columns(
        sa.literal(notification_id), sa.literal("pending"), sa.literal(0), when, when
    )
    before = _delivery_count(notification_id)
    db.session.execute(
        sa.insert(Delivery).from_select(
            ["subscriber_id", "notification_id", "status", "attempts", "next_attempt_at",
             "created_at"],
            rows,
        )
    )
    # (rowcount of an INSERT ... SELECT is not reported by every driver)
    return _delivery_count(notification_id) - before


def _delivery_count(notification_id: int) -> int:
    return db.session.scalar(
        db.select(db.func.count(Delivery.id)).where(Delivery.notification_id == notification_id)
    ) or 0


def _enqueue_to(notification: Notification, recipients: sa.Select, now: datetime) -> int:
    """Deliveries to the subscribers ``recipients`` yields now; the notification is
    enqueued."""
    db.session.flush()
    count = _insert_deliveries(notification.id, recipients, now)
    notification.enqueued_at = now
    db.session.flush()
    return count


def enqueue_subscriber_email(kind: str, subscriber: Subscriber, *, now: datetime) -> None:
    """Queue a confirmation or "manage" email to one subscriber (sent on the next tick)."""
    if kind not in ("confirm", "manage"):
        raise ValueError(kind)
    notification = _new_notification(kind, None, now)
    notification.enqueued_at = now
    db.session.add(notification)
    db.session.flush()
    db.session.add(Delivery(notification_id=notification.id, subscriber_id=subscriber.id,
                            status="pending", attempts=0, next_attempt_at=now,
                            created_at=now))
    db.session.flush()


def due_outage_incidents(now: datetime, settings: Settings) -> list[Incident]:
    """Unresolved incidents due their outage email whose email is neither queued nor held."""
    if not settings.severities:
        return []
    blocked = (
        db.select(Notification.id)
        .where(
            Notification.incident_id == Incident.id,
            Notification.kind == "outage",
            sa.or_(Notification.enqueued_at.is_not(None), Notification.held_at.is_not(None)),
        )
        .exists()
    )
    candidates = db.session.scalars(
        db.select(Incident)
        .where(
            Incident.status != "resolved",
            Incident.severity.in_(sorted(settings.severities)),
            Incident.started_at < now - settings.delay,
            ~blocked,
        )
        .order_by(Incident.id)
    )
    return [i for i in candidates if outage_email_due(
        i, now, severities=settings.severities, delay=settings.delay)]


def enqueue_due_outage_emails_and_commit(now: datetime, settings: Settings) -> int:
    """Commits: write the outage emails that have become due, in a write transaction of
    their own; returns how many incidents."""
    enqueued = 0
    with write_transaction():
        for incident in due_outage_incidents(now, settings):
            notification = _get_or_create_incident_notification(incident.id, "outage", now)
            if notification.enqueued_at is not None or notification.held_at is not None:
                continue  # another notifier was first, or an admin held it meanwhile
            recipients = audience.outage_recipients(
                [c.id for c in incident.components], incident.severity)
            count = _enqueue_to(notification, recipients, now)
            enqueued += 1
            log.info("incident %s: outage email queued for %d subscriber(s)",
                     incident.id, count)
    return enqueued


# --- Hooks called by the incident domain (the caller's transaction) ---------------------


def on_incident_resolved(incident: Incident, *, now: datetime,
                         notify_subscribers: bool = True) -> None:
    """In the transaction that resolves ``incident``: cancel its unsent outage emails and,
    if its outage email went out, queue the resolution email to exactly the people it
    reached who are still subscribed. Resolved before the outage email: neither.
    ``notify_subscribers=False`` (the write API's ``deliver_notifications: false``): the
    unsent outage emails are cancelled all the same, and no resolution email is queued."""
    outage = incident_notification(incident.id, "outage", lock=True)
    if outage is None or outage.enqueued_at is None:
        return
    engine.cancel_unsent(Delivery.__table__, Delivery.notification_id == outage.id, now=now)
    if not notify_subscribers:
        db.session.flush()
        log.info("incident %s resolved without a resolution email (deliver_notifications "
                 "false)", incident.id)
        return
    resolution = _get_or_create_incident_notification(incident.id, "resolution", now)
    if resolution.enqueued_at is None:
        resolution.enqueued_at = now
        resolution.held_at = outage.held_at
        resolution.held_by_id = outage.held_by_id
        db.session.flush()
    owed = aliased(Delivery)
    already = (
        db.select(owed.id)
        .where(owed.notification_id == resolution.id, owed.subscriber_id == Subscriber.id)
        .exists()
    )
    count = _insert_deliveries(
        resolution.id,
        db.select(Subscriber.id)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(Delivery.notification_id == outage.id, Delivery.status == "sent",
               Subscriber.status == "confirmed", ~already),
        now,
    )
    db.session.flush()
    log.info("incident %s resolved: resolution email queued for %d subscriber(s)",
             incident.id, count)


def resolution_email_went_out(incident: Incident) -> bool:
    """True once any resolution email of the incident was sent or is being sent."""
    resolution = incident_notification(incident.id, "resolution")
    if resolution is None:
        return False
    statuses = db.session.scalars(
        db.select(Delivery.status)
        .where(Delivery.notification_id == resolution.id)
        .with_for_update()  # wait for a notifier claiming them right now
    ).all()
    return any(s in ("sent", "sending") for s in statuses)


def on_incident_reopened(incident: Incident, *, now: datetime) -> None:
    """An admin reopened it before any all-clear went out: forget the queued all-clear,
    so that resolving it again queues a fresh one."""
    resolution = incident_notification(incident.id, "resolution")
    if resolution is None:
        return
    db.session.execute(db.delete(Delivery).where(Delivery.notification_id == resolution.id))
    db.session.execute(db.delete(Notification).where(Notification.id == resolution.id))
    db.session.flush()


def cancel_unsent_to(subscriber: Subscriber) -> None:
    """They unsubscribed: every email still waiting for them is cancelled (flushes)."""
    db.session.execute(
        db.update(Delivery)
        .where(Delivery.subscriber_id == subscriber.id, Delivery.status == "pending")
        .values(status="cancelled")
    )
    db.session.flush()


def forget_subscriber(subscriber: Subscriber) -> None:
    """An admin deletes them: their deliveries, sent or not, go with them."""
    db.session.execute(db.delete(Delivery).where(Delivery.subscriber_id == subscriber.id))


# --- Admin: hold, release, send now ------------------------------------------------------


def _require_admin(actor: StaffUser) -> None:
    if actor is None or not actor.is_admin:
        raise NotAllowed("Only an admin can hold or send an incident's emails.")


def _set_hold(incident: Incident, held: bool, *, actor: StaffUser, now: datetime) -> None:
    changed = db.session.execute(
        db.update(Notification)
        .where(Notification.incident_id == incident.id,
               Notification.held_at.is_(None) if held else Notification.held_at.is_not(None))
        .values(held_at=now if held else None, held_by_id=actor.id if held else None)
    ).rowcount
    if changed:
        audit.record(actor, "emails.hold" if held else "emails.release", incident, now=now,
                     after={"held": held})
    db.session.flush()


def hold_emails(incident: Incident, *, actor: StaffUser, now: datetime) -> None:
    """A false alarm: nothing more goes out for this incident until an admin releases it."""
    _require_admin(actor)
    _get_or_create_incident_notification(incident.id, "outage", now)
    _set_hold(incident, True, actor=actor, now=now)


def hold_unsent_outage_email(incident: Incident, *, actor: audit.Actor,
                             now: datetime) -> bool:
    """The write API's ``deliver_notifications: false`` on a change that leaves the
    incident open: hold its outage email unless it already went (or is held), as an
    admin's hold does, audited with the API key as actor; an admin can release it.
    Returns whether it held it."""
    outage = _get_or_create_incident_notification(incident.id, "outage", now)
    if outage.enqueued_at is not None or outage.held_at is not None:
        return False
    _set_hold(incident, True, actor=actor, now=now)
    return True


def release_emails(incident: Incident, *, actor: StaffUser, now: datetime) -> None:
    """Undo a hold: the emails go out as the rules say (an overdue outage email at once)."""
    _require_admin(actor)
    _set_hold(incident, False, actor=actor, now=now)


def send_outage_email_now(incident: Incident, *, actor: StaffUser, now: datetime) -> int:
    """Queue the outage email now, whatever the severity and the delay (audited)."""
    _require_admin(actor)
    if incident.is_resolved:
        raise ValidationError({"emails": "This incident is resolved: its outage email can "
                                         "no longer be sent."})
    outage = _get_or_create_incident_notification(incident.id, "outage", now)
    if outage.enqueued_at is not None:
        raise ValidationError({"emails": "The outage email for this incident has already "
                                         "been sent or is being sent."})
    db.session.execute(
        db.update(Notification)
        .where(Notification.incident_id == incident.id)
        .values(held_at=None, held_by_id=None)
    )
    db.session.refresh(outage)
    recipients = audience.outage_recipients([c.id for c in incident.components],
                                            incident.severity)
    count = _enqueue_to(outage, recipients, now)
    audit.record(actor, "emails.send_now", incident, now=now, after={"recipients": count})
    db.session.flush()
    return count
