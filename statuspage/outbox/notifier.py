"""The notifier: claim due deliveries, compose, send over SMTP, mark (``marks``); and the
tick.

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
   the rest of its claim;
4. meanwhile the webhooks go in their own run (``http_channels``), so that a slow
   receiver delays neither the email nor the heartbeat; the responders' emails follow
   the subscribers' (``responders.deliver``), then Slack's run starts (with the Slack
   messages those steps queued).

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
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

import sqlalchemy as sa
from flask import current_app

from .. import heartbeat, mail, maintenance
from ..clock import utcnow
from ..extensions import db
from ..models import Delivery, Incident, Notification, Subscriber
from ..transactions import write_transaction
from .compose import Renderer, list_id
from .maintenance_notices import enqueue_due_reminders_and_commit
from .queue import enqueue_due_outage_emails_and_commit
from .marks import marking_connection, record_failure, record_sent_then_recheck, release
from .recheck import Current, current_state, settle_unsent
from . import responders
from .slack_delivery import SlackReport
from .webhook_delivery import WebhookReport
from .rules import (
    Claimed,
    Settings,
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
    own); each result is recorded, and committed, the moment the server answers, before
    the next message goes. Before each message: a stop request releases the rest; the
    heartbeat is written if due; the delivery is asked again whether it is still wanted
    (``recheck``; after a message the server accepted, in the transaction that marks it
    sent: ``marks.record_sent_then_recheck``), and its email is composed from the version
    of its incident that this read found.
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
        state: Optional[Current] = None  # the item's, if asked with the previous mark
        for index, item in enumerate(batch):
            if stop_requested() or time.monotonic() > deadline:
                release(batch[index:])
                report.released += len(batch) - index
                if stop_requested():
                    log.info("stopping: %d claimed delivery(ies) released",
                             len(batch) - index)
                return False
            pulse.beat_if_due()
            if state is None:
                state = current_state(item)
            if state.action != "send":
                if state.action != "gone":
                    settle_unsent(item, state.action, marks)
                    report.settled += 1
                state = None
                continue
            message = renderer.message_bytes(item, sender=smtp_settings.sender,
                                             list_id=the_list_id, now=utcnow(),
                                             version=state.version)
            state = None
            result = smtp.send(item.email, message)
            if result.sent:
                following = batch[index + 1] if index + 1 < len(batch) else None
                state = record_sent_then_recheck(item, utcnow(), marks, following)
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


def tick(*, rng: Optional[Callable[[], float]] = None,
         wait_for_http: bool = True) -> TickReport:
    """Commits step by step: one round of the notifier (see the module docstring).

    ``wait_for_http``: return only once the webhooks' and Slack's runs this tick started
    are over (tests, ``--once``); the ticker passes False (``http_channels``)."""
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
    # Webhooks and Slack go in their own runs, beside the email: no email waits on them.
    http = dict(stop=stop_requested, beat=pulse.beat_if_due, rng=rng)
    runs = {"webhooks": responders.start_webhooks(app, **http)}
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
            pulse.beat_if_due()  # (as between messages: a batch of 50 takes well under it)
            if not keep_going:
                break
        # The responders' emails (reminders, notices): no hold stops them.
        responders.deliver(report, smtp, stop=stop_requested)
        runs["slack"] = responders.start_slack(app, **http)
        if wait_for_http:
            responders.wait_http(runs, report)
        responders.tell_admins_of_disabled_webhooks(smtp, stop_requested)
    return report
