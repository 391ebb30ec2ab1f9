"""The notifier's tick, run by ``statuspage.scheduler`` every NOTIFIER_INTERVAL_SECONDS:

1. writes the heartbeat;
2. moves the maintenance windows whose time has come (``maintenance.advance_windows``:
   started or completed, with their notices), then enqueues the maintenance reminders
   and the outage emails that have become due (a Notification and one Delivery per
   recipient, each step in one transaction);
3. sends the subscribers' email through the delivery engine (``engine``, ``workers``:
   OUTBOX_CONCURRENCY workers, each claiming a batch with a lease, rechecking before
   each message, marking each result the moment the server answers, at most one message
   in flight each), writing the heartbeat when it is a few seconds old, and stopping if
   asked to (``request_stop``: SIGTERM, SIGINT), releasing the rest of its claims;
4. queues the responders' emails time has made due (escalations, cadence reminders,
   action items: ``responders.queue_due``); meanwhile the webhooks, the staff's email and
   Slack go in runs of their own (``http_channels``), so that a slow receiver delays
   neither the email nor the heartbeat, and an escalation never waits behind a fan-out.

Each step commits its own short transaction (the docstrings say so): no send holds one
open.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from flask import current_app

from .. import heartbeat, maintenance
from ..clock import utcnow
from ..transactions import write_transaction
from . import channels, responders, workers
from .maintenance_notices import enqueue_due_reminders_and_commit
from .queue import enqueue_due_outage_emails_and_commit
from .rules import current_settings

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


@dataclass
class TickReport(workers.Report):
    """What one tick did, counted (the subscribers' email: ``workers.Report``'s counts)."""

    #: The runs beside the subscribers' email (``responders``), when the tick waited.
    webhooks: Optional[workers.Report] = None
    staff_email: Optional[workers.Report] = None
    slack: Optional[workers.Report] = None
    pages: Optional[workers.Report] = None
    #: Maintenance windows the tick started and completed; reminders it queued.
    windows_started: int = 0
    windows_completed: int = 0
    reminders: int = 0
    enqueued: int = 0
    #: Reminders queued: action items' (outbox/action_reminders.py), commanders' cadence
    #: reminders (outbox/reminders.py); the staff email run sends them.
    action_reminders: int = 0
    cadence_reminders: int = 0


#: A channel's run -> the report's field for it.
REPORTS = {"page": "pages", "webhook": "webhooks", "staff_email": "staff_email",
           "slack": "slack"}


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
    responders.queue_due(report, stop=stop_requested)
    app = current_app._get_current_object()
    # Webhooks, the staff's email and Slack go in runs of their own, beside the
    # subscribers' email: no email waits on a slow receiver, no escalation on a fan-out.
    beside = dict(stop=stop_requested, beat=pulse.beat_if_due, rng=rng)
    runs = {REPORTS[name]: responders.start(app, name, **beside)
            for name in responders.BESIDE}
    # The subscribers' email: the engine's workers (OUTBOX_CONCURRENCY), each with an
    # SMTP connection of its own.
    report.add(workers.run(app, channels.get("email"), stop=stop_requested,
                           beat=pulse.beat_if_due, rng=rng))
    if wait_for_http:
        responders.wait_http(runs, report)
    return report
