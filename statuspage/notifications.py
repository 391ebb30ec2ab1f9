"""The outbox: what is due (pure functions), the rows that say so, and the notifier's tick.

A ``Notification`` is one email to many (an incident's outage or resolution email, or one
confirmation/"manage" email); a ``Delivery`` is that email to one subscriber. Unique
constraints make "at most one outage and one resolution email per incident per
subscriber, ever" a fact of the database, whatever the number of notifier processes.

The tick (``tick``), run by ``statuspage.scheduler`` every NOTIFIER_INTERVAL_SECONDS:

1. writes the heartbeat; deletes subscribers unconfirmed for 7 days;
2. enqueues the outage emails that have become due (a Notification and one Delivery per
   confirmed subscriber, in one transaction);
3. claims a batch of due deliveries with a lease (PostgreSQL: ``FOR UPDATE SKIP LOCKED``;
   SQLite: one ``BEGIN IMMEDIATE`` transaction), sends them over one SMTP connection and
   records each result the moment the server answers; repeats until nothing is due.

A delivery whose lease expired (its process died between claim and send) is claimed again.
A temporary failure (4xx, dropped connection, timeout) is retried with exponential backoff
and jitter up to NOTIFIER_MAX_ATTEMPTS; a permanent one (5xx) marks the subscriber bouncing.

The resolution email is enqueued by ``on_incident_resolved``, which the incident domain
calls in the same transaction that resolves the incident.
"""

from __future__ import annotations

import logging
import math
import random
import secrets
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping, Optional

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from . import audit, heartbeat, mail, tokens
from .clock import utcnow
from .extensions import UTCDateTime, db
from .transactions import begin_immediate, write_transaction
from .errors import NotAllowed, ValidationError
from .models import Delivery, Incident, Notification, StaffUser, Subscriber

log = logging.getLogger("statuspage.notifier")

NO_WORKAROUND = "No workaround is available yet."
REOPEN_REFUSED = (
    "The all-clear email has gone out to subscribers for this incident, so it cannot be "
    "reopened. If the problem is back, declare a new incident linked to this one "
    "(\"Declare a recurrence\")."
)


# --- Settings ----------------------------------------------------------------------------


def parse_severities(value) -> frozenset[str]:
    """``"SEV-1,SEV-2"`` (or a list) -> {"SEV-1", "SEV-2"}."""
    if isinstance(value, str):
        value = value.split(",")
    return frozenset(str(v).strip().upper() for v in value or () if str(v).strip())


@dataclass(frozen=True)
class Settings:
    severities: frozenset[str]
    delay: timedelta
    batch_size: int
    lease: timedelta
    max_attempts: int
    retry_base: float
    retry_max: float
    pause_after_claim: float

    @classmethod
    def from_config(cls, config: Mapping) -> "Settings":
        return cls(
            severities=parse_severities(config["OUTAGE_EMAIL_SEVERITIES"]),
            delay=timedelta(seconds=float(config["OUTAGE_EMAIL_DELAY_SECONDS"])),
            batch_size=max(1, int(config["NOTIFIER_BATCH_SIZE"])),
            lease=timedelta(seconds=float(config["NOTIFIER_LEASE_SECONDS"])),
            max_attempts=max(1, int(config["NOTIFIER_MAX_ATTEMPTS"])),
            retry_base=float(config["NOTIFIER_RETRY_BASE_SECONDS"]),
            retry_max=float(config["NOTIFIER_RETRY_MAX_SECONDS"]),
            pause_after_claim=float(config.get("NOTIFIER_TEST_PAUSE_AFTER_CLAIM") or 0),
        )


def current_settings() -> Settings:
    return Settings.from_config(current_app.config)


# --- Decisions (pure) --------------------------------------------------------------------


def outage_email_due_at(
    severity: str, started_at: datetime, *, severities: Iterable[str], delay: timedelta
) -> Optional[datetime]:
    """When an incident of this severity and start becomes due its outage email (it is due
    once ``now`` is past this instant), or None if its severity never gets one."""
    if severity not in set(severities):
        return None
    return started_at + delay


def outage_email_due(
    incident, now: datetime, *, severities: Iterable[str], delay: timedelta
) -> bool:
    """Unresolved, of an emailed severity, and unresolved for MORE than ``delay`` since
    its started_at (the playbook: "Email affected users if outage >30 minutes")."""
    if incident.status == "resolved":
        return False
    due_at = outage_email_due_at(incident.severity, incident.started_at,
                                 severities=severities, delay=delay)
    return due_at is not None and now > due_at


def delivery_action(kind: str, subscriber_status: str, incident_resolved: bool) -> str:
    """At claim time: ``send`` or ``cancel`` a due delivery.

    Incident emails and "manage" go to confirmed subscribers only (unsubscribed and
    bouncing ones get nothing more); a confirmation goes to a pending one only; an outage
    email is never sent once its incident is resolved.
    """
    if kind == "confirm":
        return "send" if subscriber_status == "pending" else "cancel"
    if subscriber_status != "confirmed":
        return "cancel"
    if kind == "outage" and incident_resolved:
        return "cancel"
    return "send"


def retry_delay(attempts: int, *, base: float, cap: float, rand: float) -> timedelta:
    """Exponential backoff with "equal jitter": after failure n, wait between half and all
    of ``min(cap, base * 2**(n-1))`` seconds (``rand`` in [0, 1) picks where), so that
    notifiers that failed together do not retry together."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=ceiling / 2 + ceiling / 2 * rand)


def after_temporary_failure(
    attempts: int, *, now: datetime, max_attempts: int, base: float, cap: float, rand: float
) -> tuple[str, Optional[datetime]]:
    """(new status, next attempt) after the ``attempts``-th temporary failure."""
    if attempts >= max_attempts:
        return "failed", None
    return "pending", now + retry_delay(attempts, base=base, cap=cap, rand=rand)


def format_delay(delay: timedelta) -> str:
    """30 minutes, 1 minute, 90 seconds."""
    seconds = int(delay.total_seconds())
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"


# --- Writing the rows --------------------------------------------------------------------


def _new_notification(kind: str, incident_id: Optional[int], now: datetime) -> Notification:
    return Notification(kind=kind, incident_id=incident_id, token=secrets.token_hex(16),
                        created_at=now)


def _incident_notification(incident_id: int, kind: str, *, lock: bool = False):
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
    existing = _incident_notification(incident_id, kind, lock=True)
    if existing is not None:
        return existing
    notification = _new_notification(kind, incident_id, now)
    try:
        with db.session.begin_nested():
            db.session.add(notification)
    except IntegrityError:
        return _incident_notification(incident_id, kind, lock=True)
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


def _enqueue_to_confirmed(notification: Notification, now: datetime) -> int:
    """Deliveries to every subscriber confirmed now; the notification is enqueued."""
    db.session.flush()
    count = _insert_deliveries(
        notification.id,
        db.select(Subscriber.id).where(Subscriber.status == "confirmed"),
        now,
    )
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


def enqueue_due_outage_emails(now: datetime, settings: Settings) -> int:
    """Write the outage emails that have become due; returns how many incidents."""
    enqueued = 0
    with write_transaction():
        for incident in due_outage_incidents(now, settings):
            notification = _get_or_create_incident_notification(incident.id, "outage", now)
            if notification.enqueued_at is not None or notification.held_at is not None:
                continue  # another notifier was first, or an admin held it meanwhile
            count = _enqueue_to_confirmed(notification, now)
            enqueued += 1
            log.info("incident %s: outage email queued for %d subscriber(s)",
                     incident.id, count)
    return enqueued


# --- Hooks called by the incident domain (the caller's transaction) ---------------------


def on_incident_resolved(incident: Incident, *, now: datetime) -> None:
    """In the transaction that resolves ``incident``: cancel its unsent outage emails and,
    if its outage email went out, queue the resolution email to exactly the people it
    reached who are still subscribed. Resolved before the outage email: neither."""
    outage = _incident_notification(incident.id, "outage", lock=True)
    if outage is None or outage.enqueued_at is None:
        return
    db.session.execute(
        db.update(Delivery)
        .where(
            Delivery.notification_id == outage.id,
            sa.or_(
                Delivery.status == "pending",
                sa.and_(Delivery.status == "sending", Delivery.lease_until < now),
            ),
        )
        .values(status="cancelled", lease_until=None, claim_token=None)
    )
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
    resolution = _incident_notification(incident.id, "resolution")
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
    resolution = _incident_notification(incident.id, "resolution")
    if resolution is None:
        return
    db.session.execute(db.delete(Delivery).where(Delivery.notification_id == resolution.id))
    db.session.execute(db.delete(Notification).where(Notification.id == resolution.id))
    db.session.flush()


# --- Admin: hold, release, send now ------------------------------------------------------


def _require_admin(actor: StaffUser) -> None:
    if actor is None or not actor.is_admin:
        raise NotAllowed("Only an admin can hold or send an incident's emails.")


def hold_emails(incident: Incident, *, actor: StaffUser, now: datetime) -> None:
    """A false alarm: nothing more goes out for this incident until an admin releases it."""
    _require_admin(actor)
    _get_or_create_incident_notification(incident.id, "outage", now)
    changed = db.session.execute(
        db.update(Notification)
        .where(Notification.incident_id == incident.id, Notification.held_at.is_(None))
        .values(held_at=now, held_by_id=actor.id)
    ).rowcount
    if changed:
        audit.record(actor, "emails.hold", incident, now=now, after={"held": True})
    db.session.flush()


def release_emails(incident: Incident, *, actor: StaffUser, now: datetime) -> None:
    """Undo a hold: the emails go out as the rules say (an overdue outage email at once)."""
    _require_admin(actor)
    changed = db.session.execute(
        db.update(Notification)
        .where(Notification.incident_id == incident.id, Notification.held_at.is_not(None))
        .values(held_at=None, held_by_id=None)
    ).rowcount
    if changed:
        audit.record(actor, "emails.release", incident, now=now, after={"held": False})
    db.session.flush()


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
    count = _enqueue_to_confirmed(outage, now)
    audit.record(actor, "emails.send_now", incident, now=now, after={"recipients": count})
    db.session.flush()
    return count


# --- What the staff page shows -----------------------------------------------------------


@dataclass
class DeliveryCounts:
    total: int = 0
    sent: int = 0
    waiting: int = 0  # not tried yet
    retrying: int = 0  # failed temporarily, will try again (or being sent again)
    failed: int = 0
    cancelled: int = 0


def delivery_counts(notification_id: int) -> DeliveryCounts:
    counts = DeliveryCounts()
    rows = db.session.execute(
        db.select(Delivery.status, Delivery.attempts, db.func.count(Delivery.id))
        .where(Delivery.notification_id == notification_id)
        .group_by(Delivery.status, Delivery.attempts)
    )
    for status, attempts, n in rows:
        tried = attempts > 0
        counts.total += n
        if status == "sent":
            counts.sent += n
        elif status == "failed":
            counts.failed += n
        elif status == "cancelled":
            counts.cancelled += n
        elif tried:
            counts.retrying += n
        else:
            counts.waiting += n
    return counts


@dataclass
class EmailStatus:
    """The emails of one incident, for the staff incident page."""

    severity_emailed: bool
    held: bool
    due_at: Optional[datetime]
    minutes_left: Optional[int]
    resolved_before_due: bool
    outage: Optional[DeliveryCounts]
    resolution: Optional[DeliveryCounts]
    notifier_running: bool
    can_send_now: bool
    can_hold: bool
    delay_text: str = ""
    severities: list[str] = field(default_factory=list)


def email_status(incident: Incident, now: datetime) -> EmailStatus:
    settings = current_settings()
    outage = _incident_notification(incident.id, "outage")
    resolution = _incident_notification(incident.id, "resolution")
    due_at = outage_email_due_at(incident.severity, incident.started_at,
                                 severities=settings.severities, delay=settings.delay)
    enqueued = outage is not None and outage.enqueued_at is not None
    minutes_left = None
    if due_at is not None and due_at > now:
        minutes_left = math.ceil((due_at - now).total_seconds() / 60)
    held = any(n is not None and n.held_at is not None for n in (outage, resolution))
    resolution_counts = (delivery_counts(resolution.id)
                         if resolution is not None and resolution.enqueued_at is not None
                         else None)
    still_to_go = resolution_counts is not None and (
        resolution_counts.waiting + resolution_counts.retrying > 0)
    max_age = float(current_app.config["NOTIFIER_HEARTBEAT_MAX_AGE_SECONDS"])
    return EmailStatus(
        severity_emailed=due_at is not None,
        held=held,
        due_at=due_at,
        minutes_left=minutes_left,
        resolved_before_due=incident.is_resolved and not enqueued,
        outage=delivery_counts(outage.id) if enqueued else None,
        resolution=resolution_counts,
        notifier_running=heartbeat.is_fresh(now, max_age),
        can_send_now=not incident.is_resolved and not enqueued,
        can_hold=not held and (not incident.is_resolved or still_to_go),
        delay_text=format_delay(settings.delay),
        severities=sorted(settings.severities),
    )


# --- The notifier ------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery, as plain data: the SMTP phase holds no transaction open."""

    delivery_id: int
    claim_token: str
    attempts: int
    kind: str
    notification_id: int
    notification_token: str
    incident_id: Optional[int]
    subscriber_id: int
    subscriber_public_id: str
    email: str
    audience: str


def claim_batch(now: datetime, settings: Settings) -> list[Claimed]:
    """Claim up to NOTIFIER_BATCH_SIZE due deliveries with a lease, atomically.

    Due: pending and past its next attempt, or being sent by a process whose lease has
    expired. Deliveries that should no longer go (unsubscribed, bouncing, resolved
    incident) are cancelled instead of claimed.
    """
    claim_token = secrets.token_hex(16)
    claimed: list[Claimed] = []
    with write_transaction():
        due = sa.or_(
            sa.and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
            sa.and_(Delivery.status == "sending", Delivery.lease_until < now),
        )
        ids = db.session.scalars(
            db.select(Delivery.id)
            .join(Notification, Delivery.notification_id == Notification.id)
            .where(due, Notification.held_at.is_(None))
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(settings.batch_size)
            .with_for_update(of=Delivery, skip_locked=True)  # SQLite: BEGIN IMMEDIATE
        ).all()
        if not ids:
            return []
        rows = db.session.execute(
            db.select(
                Delivery.id, Delivery.attempts, Notification.id, Notification.kind,
                Notification.token, Notification.incident_id, Incident.status,
                Subscriber.id, Subscriber.public_id, Subscriber.email, Subscriber.audience,
                Subscriber.status,
            )
            .join(Notification, Delivery.notification_id == Notification.id)
            .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
            .outerjoin(Incident, Notification.incident_id == Incident.id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.id)
        ).all()
        to_send, to_cancel = [], []
        for (delivery_id, attempts, notification_id, kind, token, incident_id,
             incident_status, subscriber_id, public_id, email, audience,
             subscriber_status) in rows:
            action = delivery_action(kind, subscriber_status, incident_status == "resolved")
            if action == "cancel":
                to_cancel.append(delivery_id)
                continue
            to_send.append(delivery_id)
            claimed.append(Claimed(delivery_id, claim_token, attempts, kind, notification_id,
                                   token, incident_id, subscriber_id, public_id, email,
                                   audience))
        if to_send:
            db.session.execute(
                db.update(Delivery).where(Delivery.id.in_(to_send))
                .values(status="sending", lease_until=now + settings.lease,
                        claim_token=claim_token)
            )
        if to_cancel:
            db.session.execute(
                db.update(Delivery).where(Delivery.id.in_(to_cancel))
                .values(status="cancelled", lease_until=None, claim_token=None)
            )
    return claimed


def _ours(item: Claimed):
    return sa.and_(Delivery.id == item.delivery_id, Delivery.claim_token == item.claim_token,
                   Delivery.status == "sending")


# The statements of the per-message path, built once (SQLAlchemy Core on the session's
# connection: no ORM bulk-update machinery, no statement construction per message).
_delivery = Delivery.__table__
_notification = Notification.__table__
_LOCK_OUTAGE = (
    sa.select(_notification.c.id)
    .where(_notification.c.id == sa.bindparam("notification_id"))
    .with_for_update(read=True)
)
_MARK_SENT = (
    sa.update(_delivery)
    .where(_delivery.c.id == sa.bindparam("delivery_id"),
           _delivery.c.claim_token == sa.bindparam("token"),
           _delivery.c.status == "sending")
    .values(status="sent", sent_at=sa.bindparam("now", type_=UTCDateTime()),
            lease_until=None, claim_token=None, last_error=None)
)
_RESOLUTION_ID = (
    sa.select(_notification.c.id)
    .where(_notification.c.incident_id == sa.bindparam("incident_id"),
           _notification.c.kind == "resolution")
)


@contextmanager
def marking_connection():
    """A connection of its own for recording a batch's deliveries as sent: one
    transaction per message on it costs a BEGIN and a COMMIT, not the ORM session's
    bookkeeping. On SQLite its transactions take the write lock at BEGIN."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.execution_options(sqlite_begin="IMMEDIATE")
        yield conn


def record_sent(item: Claimed, *, now: datetime, conn: Optional[sa.Connection] = None
                ) -> None:
    """The server accepted it: never send it again (one short transaction, committed
    before the next message goes, so a crash resends at most the one in flight). If its
    incident was resolved while it was in flight, its reader is owed the all-clear too.

    Per message: [lock] + UPDATE + [SELECT] + COMMIT, prebuilt Core statements on ``conn``
    (a ``marking_connection``) or, without one, on the session's connection. The
    all-clear question costs one indexed lookup of the incident's resolution
    notification, asked under the lock; the rest (``_owe_resolution``) runs only when
    that notification exists: an outage email accepted after its incident was resolved.
    """
    if conn is None:
        with write_transaction():
            _mark_sent(db.session.connection(), item, now)
        return
    with conn.begin():
        _mark_sent(conn, item, now)


def _mark_sent(conn: sa.Connection, item: Claimed, now: datetime) -> None:
    if item.kind == "outage" and conn.dialect.name != "sqlite":
        # Shared lock: resolving the incident (which locks this row for update) waits
        # for us, or we for it, so nobody the outage email reached misses the all-clear.
        # (SQLite has no row locks: our transaction began IMMEDIATE, which already
        # excludes the resolving one.)
        conn.execute(_LOCK_OUTAGE, {"notification_id": item.notification_id})
    done = conn.execute(_MARK_SENT, {"delivery_id": item.delivery_id,
                                     "token": item.claim_token, "now": now}).rowcount
    if done != 1:
        log.warning("delivery %s was sent, but its lease had passed to another "
                    "notifier (NOTIFIER_LEASE_SECONDS too short?)", item.delivery_id)
        return
    if item.kind == "outage":
        # A statement after the lock, so it sees a resolution committed before the lock
        # was granted; one committed later waited for us and saw this delivery as sent.
        resolution_id = conn.execute(_RESOLUTION_ID,
                                     {"incident_id": item.incident_id}).scalar()
        if resolution_id is not None:
            _owe_resolution(conn, item, now, resolution_id)


def _owe_resolution(conn: sa.Connection, item: Claimed, now: datetime,
                    resolution_id: int) -> None:
    subscribers = Subscriber.__table__
    confirmed = conn.execute(
        sa.select(subscribers.c.id).where(subscribers.c.id == item.subscriber_id,
                                          subscribers.c.status == "confirmed")
    ).scalar()
    if confirmed is None:
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.insert(_delivery).values(
                notification_id=resolution_id, subscriber_id=item.subscriber_id,
                status="pending", attempts=0,
                next_attempt_at=sa.literal(now, UTCDateTime()),
                created_at=sa.literal(now, UTCDateTime())))
    except IntegrityError:
        pass  # already owed


def record_failure(item: Claimed, result: mail.SendResult, *, now: datetime,
                   settings: Settings, rand: float) -> str:
    """A temporary failure is retried later (or gives up after NOTIFIER_MAX_ATTEMPTS);
    a permanent one fails the delivery and marks the subscriber bouncing."""
    attempts = item.attempts + 1
    with write_transaction():
        if result.outcome == "permanent":
            status, next_at = "failed", None
            db.session.execute(
                db.update(Subscriber)
                .where(Subscriber.id == item.subscriber_id,
                       Subscriber.status.in_(("pending", "confirmed")))
                .values(status="bouncing", bounced_at=now)
            )
        else:
            status, next_at = after_temporary_failure(
                attempts, now=now, max_attempts=settings.max_attempts,
                base=settings.retry_base, cap=settings.retry_max, rand=rand)
        values = dict(status=status, attempts=attempts, lease_until=None, claim_token=None,
                      last_error=result.error or None)
        if next_at is not None:
            values["next_attempt_at"] = next_at
        db.session.execute(db.update(Delivery).where(_ours(item)).values(**values))
    return status


def release(items: Iterable[Claimed]) -> None:
    """Give back claimed deliveries that were not tried (no attempt counted)."""
    items = list(items)
    if not items:
        return
    with write_transaction():
        for item in items:
            db.session.execute(db.update(Delivery).where(_ours(item))
                               .values(status="pending", lease_until=None, claim_token=None))


class Renderer:
    """Renders each email body once per notification and audience, then fills in the
    per-recipient links for each message."""

    def __init__(self, app):
        self.app = app
        self.config = app.config
        self.public_url = app.config["PUBLIC_URL"]
        self._cache: dict[tuple, mail.RenderedEmail] = {}
        self._prepared_cache: dict[tuple, Optional[mail.PreparedMessage]] = {}

    def _context(self, item: Claimed) -> dict:
        cfg = self.config
        ctx = {
            "kind": item.kind,
            "audience": item.audience,
            "site_name": cfg["SITE_NAME"],
            "support_email": cfg["SUPPORT_EMAIL"],
            "subscribe_url": f"{self.public_url}/subscribe",
            "delay_text": format_delay(timedelta(seconds=float(
                cfg["OUTAGE_EMAIL_DELAY_SECONDS"]))),
            "confirm_hours": int(cfg["SUBSCRIBE_CONFIRM_MAX_AGE_SECONDS"]) // 3600,
            "incident_url": None,
        }
        if item.incident_id is not None:
            ctx.update(incident_email_context(item.incident_id, self.public_url))
        ctx["subject"] = mail.subject_for(item.kind, cfg["SITE_NAME"])
        return ctx

    def rendered(self, item: Claimed) -> mail.RenderedEmail:
        key = self._key(item)
        found = self._cache.get(key)
        if found is None:
            found = mail.render_email(self.app.jinja_env, item.kind, self._context(item))
            self._cache[key] = found
        return found

    @staticmethod
    def _key(item: Claimed) -> tuple:
        return (item.notification_id if item.incident_id else item.kind, item.audience)

    def _prepared(self, item: Claimed, sender: str, list_id: str, now: datetime):
        key = self._key(item)
        if key not in self._prepared_cache:
            self._prepared_cache[key] = mail.prepare_message(
                self.rendered(item), sender=sender, list_id=list_id, date=now)
        return self._prepared_cache[key]

    def message_bytes(self, item: Claimed, *, sender: str, list_id: str,
                      now: datetime) -> bytes:
        """The bytes to send to this item's subscriber: the body as rendered once for its
        notification and audience, with its own links, address and Message-ID."""
        unsubscribe_url = (f"{self.public_url}/unsubscribe/"
                           f"{tokens.unsubscribe_token(item.subscriber_public_id)}")
        urls = {mail.UNSUBSCRIBE_URL: unsubscribe_url}
        if item.kind == "confirm":
            urls[mail.CONFIRM_URL] = (f"{self.public_url}/confirm/"
                                      f"{tokens.confirm_token(item.subscriber_public_id)}")
        message_id = mail.message_id(item.notification_token, item.delivery_id,
                                     self.public_url)
        prepared = self._prepared(item, sender, list_id, now)
        if prepared is not None and mail.can_fill(item.email, urls):
            return prepared.fill(recipient=item.email, message_id=message_id, urls=urls)
        rendered = self.rendered(item)
        text, html = rendered.personalise(urls)
        return mail.message_bytes(mail.build_message(
            sender=sender, recipient=item.email, subject=rendered.subject, text=text,
            html=html, message_id=message_id, list_id=list_id,
            unsubscribe_url=unsubscribe_url, date=now,
        ))


def incident_email_context(incident_id: int, public_url: str) -> dict:
    """What the outage and resolution emails say about an incident."""
    incident = db.session.get(Incident, incident_id)
    latest = incident.latest_update
    workaround = ""
    if latest is not None and not latest.is_redacted:
        workaround = latest.workaround or ""
    context = {
        "incident_url": f"{public_url}/incidents/{incident.id}",
        "components": [c.name for c in incident.components],
        "workaround": workaround or NO_WORKAROUND,
    }
    db.session.rollback()  # a read only: hold no transaction during SMTP
    return context


def list_id(config: Mapping) -> str:
    return config.get("LIST_ID") or mail.default_list_id(config["SITE_NAME"],
                                                         config["PUBLIC_URL"])


@dataclass
class TickReport:
    enqueued: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    server_down: bool = False

    def count(self, status: str) -> None:
        if status == "sent":
            self.sent += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.retrying += 1


def send_batch(batch: list[Claimed], settings: Settings, renderer: Renderer,
               report: TickReport, rng: Callable[[], float],
               smtp: Optional[mail.SMTPSession] = None,
               marks: Optional[sa.Connection] = None) -> bool:
    """Send a claimed batch over one SMTP connection (``smtp``, which the tick keeps open
    from batch to batch; else one of its own), recording each result at once.
    Returns False when the tick should stop (the server is down, or time ran short)."""
    app = current_app._get_current_object()
    smtp_settings = mail.smtp_settings(app)
    the_list_id = list_id(app.config)
    # Stay well inside the lease, so nobody else claims what we are still sending.
    deadline = time.monotonic() + settings.lease.total_seconds() / 2
    with ExitStack() as stack:
        if smtp is None:
            smtp = stack.enter_context(mail.SMTPSession(smtp_settings))
        if marks is None:
            marks = stack.enter_context(marking_connection())
        for index, item in enumerate(batch):
            if time.monotonic() > deadline:
                release(batch[index:])
                report.released += len(batch) - index
                return False
            message = renderer.message_bytes(item, sender=smtp_settings.sender,
                                             list_id=the_list_id, now=utcnow())
            result = smtp.send(item.email, message)
            if result.sent:
                record_sent(item, now=utcnow(), conn=marks)
                report.count("sent")
                log.info("delivery %s (%s to subscriber %s) sent", item.delivery_id,
                         item.kind, item.subscriber_public_id)
                continue
            status = record_failure(item, result, now=utcnow(), settings=settings,
                                    rand=rng())
            report.count(status)
            log.warning("delivery %s (%s to subscriber %s): %s -> %s", item.delivery_id,
                        item.kind, item.subscriber_public_id, result.error, status)
            if result.server_down:
                # The rest of the batch would meet the same closed door: count it as a
                # try for each of them, so that each backs off on its own schedule.
                for rest in batch[index + 1:]:
                    report.count(record_failure(rest, result, now=utcnow(),
                                                settings=settings, rand=rng()))
                report.server_down = True
                return False
    return True


def tick(*, rng: Optional[Callable[[], float]] = None) -> TickReport:
    """One round of the notifier (see the module docstring)."""
    settings = current_settings()
    rng = rng or random.random
    report = TickReport()
    now = utcnow()
    with write_transaction():
        heartbeat.beat(now)
    report.enqueued = enqueue_due_outage_emails(now, settings)
    app = current_app._get_current_object()
    renderer = Renderer(app)
    # One SMTP connection (opened on first use) and one marking connection for the tick.
    with mail.SMTPSession(mail.smtp_settings(app)) as smtp, marking_connection() as marks:
        while True:
            batch = claim_batch(utcnow(), settings)
            if not batch:
                break
            if settings.pause_after_claim:
                log.warning("NOTIFIER_TEST_PAUSE_AFTER_CLAIM: pausing %.1f s after "
                            "claiming %d", settings.pause_after_claim, len(batch))
                time.sleep(settings.pause_after_claim)
            keep_going = send_batch(batch, settings, renderer, report, rng, smtp, marks)
            with write_transaction():
                heartbeat.beat(utcnow())
            if not keep_going:
                break
    return report
