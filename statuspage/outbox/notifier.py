"""The notifier: claim due deliveries, compose, send over SMTP, mark; and the tick.

The tick (``tick``), run by ``statuspage.scheduler`` every NOTIFIER_INTERVAL_SECONDS:

1. writes the heartbeat;
2. moves the maintenance windows whose time has come (``maintenance.advance_windows``:
   started or completed, with their notices), then enqueues the maintenance reminders
   and the outage emails that have become due (a Notification and one Delivery per
   recipient, each step in one transaction);
3. claims a batch of due deliveries with a lease (PostgreSQL: ``FOR UPDATE SKIP LOCKED``;
   SQLite: one ``BEGIN IMMEDIATE`` transaction), sends them over one SMTP connection and
   records each result the moment the server answers; repeats until nothing is due.
   Before each message it asks again whether the delivery is still wanted and which
   version of its incident it reports (``recheck``), writes the heartbeat when it is a
   few seconds old, and stops if asked to (``request_stop``: SIGTERM, SIGINT), releasing
   the rest of its claim.

A delivery whose lease expired (its process died between claim and send) is claimed again.
A temporary failure (4xx, dropped connection, timeout) is retried with exponential backoff
and jitter up to NOTIFIER_MAX_ATTEMPTS; a permanent one (5xx) marks the subscriber bouncing.

Each step commits its own short transaction (the docstrings say so): the SMTP phase holds
none open.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Iterator, Optional

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from .. import heartbeat, mail, maintenance
from ..clock import utcnow
from ..extensions import UTCDateTime, db
from ..models import Delivery, Incident, Maintenance, Notification, Subscriber
from ..transactions import write_transaction
from .compose import Renderer, list_id
from .maintenance_notices import enqueue_due_reminders_and_commit, owed_follow_up
from .queue import enqueue_due_outage_emails_and_commit
from .recheck import current_state, settle_unsent
from . import responders
from .slack_delivery import SlackReport
from .webhook_delivery import WebhookReport
from .rules import (
    Claimed,
    Settings,
    after_temporary_failure,
    current_settings,
    delivery_action,
)

log = logging.getLogger("statuspage.notifier")

# Set by SIGTERM/SIGINT (``scheduler``): the notifier stops between two messages.
_stop = threading.Event()


def request_stop() -> None:
    """Stop between messages: the one in flight is finished, the rest of the claim is
    released at once (so another notifier sends it without waiting out the lease)."""
    _stop.set()


def stop_requested() -> bool:
    return _stop.is_set()


def clear_stop() -> None:
    """Forget an earlier stop request (a new ticker starts)."""
    _stop.clear()


def claim_batch(now: datetime, settings: Settings) -> list[Claimed]:
    """Commits: claim up to NOTIFIER_BATCH_SIZE due deliveries with a lease, atomically.

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
                Subscriber.status, Subscriber.timezone, Notification.maintenance_id,
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
             subscriber_status, zone, maintenance_id) in rows:
            action = delivery_action(kind, subscriber_status, incident_status == "resolved")
            if action == "cancel":
                to_cancel.append(delivery_id)
                continue
            to_send.append(delivery_id)
            claimed.append(Claimed(delivery_id, claim_token, attempts, kind, notification_id,
                                   token, incident_id, subscriber_id, public_id, email,
                                   audience, timezone=zone, maintenance_id=maintenance_id))
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
_LOCK_WINDOW = (
    sa.select(Maintenance.__table__.c.id)
    .where(Maintenance.__table__.c.id == sa.bindparam("maintenance_id"))
    .with_for_update(read=True)
)
_NOTICE_REVISION = (
    sa.select(_notification.c.revision)
    .where(_notification.c.id == sa.bindparam("notification_id"))
)
_RESOLUTION_ID = (
    sa.select(_notification.c.id)
    .where(_notification.c.incident_id == sa.bindparam("incident_id"),
           _notification.c.kind == "resolution")
)


@contextmanager
def marking_connection() -> Iterator[sa.Connection]:
    """A connection of its own for recording a batch's deliveries as sent: one
    transaction per message on it costs a BEGIN and a COMMIT, not the ORM session's
    bookkeeping. On SQLite its transactions take the write lock at BEGIN."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.execution_options(sqlite_begin="IMMEDIATE")
        yield conn


def record_sent(item: Claimed, *, now: datetime, conn: Optional[sa.Connection] = None
                ) -> None:
    """Commits: the server accepted it, never send it again (one short transaction,
    committed before the next message goes, so a crash resends at most the one in flight). If its
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
    if item.maintenance_id is not None and conn.dialect.name != "sqlite":
        # Shared lock on the window: a reschedule or cancellation (which locks it for
        # update before it picks those told) waits for us, or we for it.
        conn.execute(_LOCK_WINDOW, {"maintenance_id": item.maintenance_id})
    done = conn.execute(_MARK_SENT, {"delivery_id": item.delivery_id,
                                     "token": item.claim_token, "now": now}).rowcount
    if done != 1:
        log.warning("delivery %s was sent, but its lease had passed to another "
                    "notifier (NOTIFIER_LEASE_SECONDS too short?)", item.delivery_id)
        return
    if item.maintenance_id is not None:
        # After the lock, as below: a follow-up committed before it is seen here.
        revision = conn.execute(_NOTICE_REVISION,
                                {"notification_id": item.notification_id}).scalar()
        owed_follow_up(conn, item.maintenance_id, revision or 0, item.subscriber_id,
                       sa.literal(now, UTCDateTime()))
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
    """Commits: a temporary failure is retried later (or gives up after
    NOTIFIER_MAX_ATTEMPTS); a permanent one fails the delivery and marks the subscriber
    bouncing."""
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
    """Commits: give back claimed deliveries that were not tried (no attempt counted)."""
    items = list(items)
    if not items:
        return
    with write_transaction():
        for item in items:
            db.session.execute(db.update(Delivery).where(_ours(item))
                               .values(status="pending", lease_until=None, claim_token=None))


@dataclass
class TickReport:
    """What one tick did, counted."""

    enqueued: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    #: Claimed, then found no longer wanted just before sending (cancelled or held).
    settled: int = 0
    server_down: bool = False
    webhooks: Optional[WebhookReport] = None
    slack: Optional[SlackReport] = None
    #: Maintenance windows the tick started and completed; reminders it queued.
    windows_started: int = 0
    windows_completed: int = 0
    reminders: int = 0
    action_reminders: int = 0
    #: Cadence reminders emailed to incident commanders (outbox/reminders.py).
    cadence_reminders: int = 0
    staff_notices: int = 0  # to the key contacts (outbox/staff_notices.py)
    monitor_notices: int = 0  # a monitor's proposal told on call (outbox/monitor_notices.py)

    def count(self, status: str) -> None:
        if status == "sent":
            self.sent += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.retrying += 1


class Pulse:
    """This notifier's heartbeat: written by the tick, and between messages once the last
    one is ``heartbeat.BEAT_EVERY_SECONDS`` old, so a long or stalled fan-out never reads
    as a dead notifier."""

    def __init__(self) -> None:
        self.last: Optional[datetime] = None

    def beat(self, now: Optional[datetime] = None) -> None:
        """Commits: write the heartbeat (one short write transaction)."""
        now = now or utcnow()
        with write_transaction():
            heartbeat.beat(now)
        self.last = now

    def beat_if_due(self) -> None:
        """Commits when it writes: the heartbeat, if the last one is old enough."""
        now = utcnow()
        if heartbeat.due(now, self.last):
            self.beat(now)


def send_batch(batch: list[Claimed], settings: Settings, renderer: Renderer,
               report: TickReport, rng: Callable[[], float],
               smtp: Optional[mail.SMTPSession] = None,
               marks: Optional[sa.Connection] = None,
               pulse: Optional[Pulse] = None) -> bool:
    """Commits each result: send a claimed batch over one SMTP connection.

    ``smtp`` is the connection the tick keeps open from batch to batch (else one of its
    own); each result is recorded, and committed, the moment the server answers. Before
    each message: a stop request releases the rest; the heartbeat is written if due; the
    delivery is asked again whether it is still wanted (``recheck``), and its email is
    composed from the version of its incident that this read found.
    Returns False when the tick should stop (the server is down, time ran short, or the
    process is stopping)."""
    app = current_app._get_current_object()
    smtp_settings = mail.smtp_settings(app)
    the_list_id = list_id(app.config)
    pulse = pulse or Pulse()
    # Stay well inside the lease, so nobody else claims what we are still sending.
    deadline = time.monotonic() + settings.lease.total_seconds() / 2
    with ExitStack() as stack:
        if smtp is None:
            smtp = stack.enter_context(mail.SMTPSession(smtp_settings))
        if marks is None:
            marks = stack.enter_context(marking_connection())
        for index, item in enumerate(batch):
            if stop_requested() or time.monotonic() > deadline:
                release(batch[index:])
                report.released += len(batch) - index
                if stop_requested():
                    log.info("stopping: %d claimed delivery(ies) released",
                             len(batch) - index)
                return False
            pulse.beat_if_due()
            state = current_state(item)
            if state.action != "send":
                if state.action != "gone":
                    settle_unsent(item, state.action, marks)
                    report.settled += 1
                continue
            message = renderer.message_bytes(item, sender=smtp_settings.sender,
                                             list_id=the_list_id, now=utcnow(),
                                             version=state.version)
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
    """Commits step by step: one round of the notifier (see the module docstring)."""
    settings = current_settings()
    rng = rng or random.random
    report = TickReport()
    now = utcnow()
    pulse = Pulse()
    pulse.beat(now)
    with write_transaction():
        report.windows_started, report.windows_completed = maintenance.advance_windows(now)
    report.reminders = enqueue_due_reminders_and_commit(now)
    report.enqueued = enqueue_due_outage_emails_and_commit(now, settings)
    app = current_app._get_current_object()
    renderer = Renderer(app)
    # One SMTP connection (opened on first use) and one marking connection for the tick.
    with mail.SMTPSession(mail.smtp_settings(app)) as smtp, marking_connection() as marks:
        while not stop_requested():
            batch = claim_batch(utcnow(), settings)
            if not batch:
                break
            if settings.pause_after_claim:
                log.warning("NOTIFIER_TEST_PAUSE_AFTER_CLAIM: pausing %.1f s after "
                            "claiming %d", settings.pause_after_claim, len(batch))
                time.sleep(settings.pause_after_claim)
            keep_going = send_batch(batch, settings, renderer, report, rng, smtp, marks,
                                    pulse)
            pulse.beat()
            if not keep_going:
                break
        # The responders' work (webhooks, reminders, notices, Slack): no hold stops it.
        responders.deliver(report, smtp, stop=stop_requested, beat=pulse.beat_if_due, rng=rng)
    return report
