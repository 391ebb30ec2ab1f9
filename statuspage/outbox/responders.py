"""The responders' part of a notifier tick, beside the subscribers' emails.

Webhooks, the commanders' cadence reminders, the key contacts' notices and escalations,
Slack #incidents, the action items' owners, the on-call notice of a monitor's proposal and
the admins of a webhook disabled automatically.
None of it is stopped by a hold on an incident (a hold stops subscriber emails only).

The tick first queues what time has made due (``queue_due``: escalations, cadence
reminders, action items; each in its own transaction), then each of these channels goes
in a run of its own (``start``; ``http_channels``) beside the subscribers' email, so that
no email waits for a slow receiver and no escalation waits behind a fan-out. Sending is the
engine's, once for every channel.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from flask import Flask

from ..clock import utcnow
from ..paging import rotations
from . import (action_reminders, channels, engine, http_channels, oncall_email, paging,
               reminders, staff_notices, workers)

#: The channels that run beside the subscribers' email, in the order they start.
BESIDE = ("page", "webhook", "staff_email", "slack")


def queue_due(report: Any, *, stop: Callable[[], bool]) -> None:
    """Commits step by step: queue the responders' emails time has made due, counted into
    ``report`` (the notifier's ``TickReport``)."""
    if not stop():  # the paging chains' steps due (outbox.paging)
        paging.queue_due_steps(utcnow())
    if not stop():  # a SEV-3/4's email to the primary, in business hours
        oncall_email.queue_due_oncall_emails(utcnow())
    if not stop():
        staff_notices.queue_due_escalations(utcnow())
    if not stop():
        report.cadence_reminders = reminders.queue_due_reminders(utcnow())
    if not stop():
        report.action_reminders = action_reminders.queue_due_reminders(utcnow())
    if not stop():
        rotations.queue_due_handovers(utcnow())


def start(app: Flask, name: str, *, stop: Callable[[], bool], beat: Callable[[], None],
          rng: Callable[[], float]) -> Optional[http_channels.Run]:
    """Start the ``name`` channel's run, unless its last one is still at work (or a stop
    was asked, or the channel is not configured: its rows wait until it is)."""
    channel = channels.get(name)
    configured = getattr(channel, "configured", None)
    if stop() or (configured is not None and not configured(app.config)):
        return None
    if not engine.anything_due(channel.queue, utcnow()):
        return None  # an idle tick starts no thread
    return http_channels.start(
        app, name, lambda: workers.run(app, channel, stop=stop, beat=beat, rng=rng))


def wait_http(runs: dict[str, Optional[http_channels.Run]], report: Any) -> None:
    """Wait for the runs the tick started; their reports into ``report``."""
    for name, run in runs.items():
        if run is not None:
            setattr(report, name, run.wait())
