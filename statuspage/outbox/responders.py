"""The responders' part of a notifier tick, beside the subscribers' emails.

Webhooks, the commanders' cadence reminders, the key contacts' notices and escalations,
Slack #incidents, the action items' owners and the on-call notice of a monitor's proposal.
None of it is stopped by a hold on an incident (a hold stops subscriber emails only).
What goes over HTTP (webhooks; Slack, the monitors' Slack notices included) goes in the
HTTP channels' runs (``start_webhooks``, ``start_slack``; ``http_channels``), so that no
email waits for a slow receiver; the emails go in the tick's own thread (``deliver``).
Each step is skipped once a stop is requested; each sends its messages once by its own
claim (see its module).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from flask import Flask

from ..clock import utcnow
from ..extensions import db
from ..mail import SMTPSession
from . import channels, http_channels, workers
from .action_reminders import remind_due_action_items
from .monitor_notices import send_due_notices as send_due_monitor_notices
from .reminders import send_due_reminders
from .staff_notices import send_due_notices as send_due_staff_notices
from .webhook_delivery import WebhookSettings, tell_admins


def start_webhooks(app: Flask, *, stop: Callable[[], bool], beat: Callable[[], None],
                   rng: Callable[[], float]) -> Optional[http_channels.Run]:
    """Start the webhooks' run (at the start of the tick), unless the last one is still at
    work."""
    if stop():
        return None
    return http_channels.start(
        app, "webhooks", lambda: workers.run(app, channels.get("webhook"), stop=stop,
                                             beat=beat, rng=rng))


def start_slack(app: Flask, *, stop: Callable[[], bool], beat: Callable[[], None],
                rng: Callable[[], float]) -> Optional[http_channels.Run]:
    """Start Slack's run (the queued messages, then the monitors' Slack notices), unless
    the last one is still at work. The tick starts it after the responders' emails, as
    the cadence reminders queue their Slack message then: it goes in the same tick."""
    def slack() -> workers.Report:
        channel = channels.get("slack")
        report = workers.Report()
        if channel.configured(app.config):  # (else the queued ones wait until it is set)
            report = workers.run(app, channel, stop=stop, beat=beat, rng=rng)
        if not stop():
            send_due_monitor_notices(None, utcnow(), part="slack")
        return report

    return None if stop() else http_channels.start(app, "slack", slack)


def wait_http(runs: dict[str, Optional[http_channels.Run]], report: Any) -> None:
    """Wait for the runs the tick started; their reports into ``report``."""
    for name, run in runs.items():
        if run is not None:
            setattr(report, name, run.wait())


def deliver(report: Any, smtp: SMTPSession, *, stop: Callable[[], bool]) -> None:
    """Commits step by step: the responders' emails of one tick, counted into ``report``
    (the notifier's ``TickReport``)."""
    if not stop():
        report.cadence_reminders = send_due_reminders(smtp, utcnow())
    if not stop():
        report.staff_notices = send_due_staff_notices(smtp, utcnow())
    if not stop():
        report.action_reminders = remind_due_action_items(smtp, utcnow())
    if not stop():
        report.monitor_notices = send_due_monitor_notices(smtp, utcnow(), part="email")


def tell_admins_of_disabled_webhooks(smtp: SMTPSession, stop: Callable[[], bool]) -> None:
    """Commits: email the admins about each webhook disabled since they were last told."""
    if not stop():
        db.session.rollback()  # a fresh read: the webhooks' run writes from its own session
        tell_admins(smtp, utcnow(), WebhookSettings.current())
