"""The responders' part of a notifier tick, after the subscribers' emails.

Webhooks, the commanders' cadence reminders, the key contacts' notices and escalations,
Slack #incidents, the action items' owners and the on-call notice of a monitor's proposal.
None of it is stopped by a hold on an incident (a hold stops subscriber emails only), and
webhooks and Slack wait for no SMTP server. Each step is skipped once a stop is requested;
each sends its messages once by its own claim (see its module).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..clock import utcnow
from ..mail import SMTPSession
from .action_reminders import remind_due_action_items
from .monitor_notices import send_due_notices as send_due_monitor_notices
from .reminders import send_due_reminders
from .slack_delivery import deliver_due_slack
from .staff_notices import send_due_notices as send_due_staff_notices
from .webhook_delivery import deliver_due_webhooks


def deliver(report: Any, smtp: SMTPSession, *, stop: Callable[[], bool],
            beat: Callable[[], None], rng: Optional[Callable[[], float]]) -> None:
    """Commits step by step: the responders' work of one tick, counted into ``report``
    (the notifier's ``TickReport``)."""
    if not stop():
        report.webhooks = deliver_due_webhooks(utcnow(), smtp=smtp, stop=stop, beat=beat,
                                               rng=rng)
    if not stop():
        report.cadence_reminders = send_due_reminders(smtp, utcnow())
    if not stop():
        report.staff_notices = send_due_staff_notices(smtp, utcnow())
    if not stop():
        report.slack = deliver_due_slack(stop=stop, beat=beat, rng=rng)
    if not stop():
        report.action_reminders = remind_due_action_items(smtp, utcnow())
    if not stop():
        report.monitor_notices = send_due_monitor_notices(smtp, utcnow())
