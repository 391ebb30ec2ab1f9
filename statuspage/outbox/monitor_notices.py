"""The on-call notice of a monitor's proposal: one email to each on-call address, and one
#incidents message when Slack is configured, once per outage.

"Once" is the proposal's: one row per outage (unique on the monitor and its first failed
check, and a flapping monitor reuses its row), claimed by a conditional UPDATE of
``notice_claimed_until`` before sending, so two notifiers or two ticks never send it twice;
``notice_sent_at`` and ``slack_sent_at`` say each went; the email goes from the tick, the
Slack message from the Slack run (``http_channels``), each under the same claim (when
both want it at once, the one that finds it claimed goes at the next tick). A failed send
is tried again by a later tick once the claim has passed. Proposals older than
``GIVE_UP`` are not sent.
The notice names the component, the severity, since when and the last error (staff only:
never a public surface), never the monitor's URL.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Optional

from flask import current_app

from .. import contacts, mail
from ..extensions import db
from ..models import MonitorProposal, StaffUser
from ..present import local_time
from ..transactions import write_transaction
from . import slack
from .slack_delivery import post_text

log = logging.getLogger("statuspage.notifier")

CLAIM = timedelta(minutes=5)
GIVE_UP = timedelta(days=1)


def on_call_addresses() -> list[str]:
    """Who hears of a proposal: the On-call Engineer key contact (``/staff/contacts``), or,
    while that role has no address, every active admin (a proposal is never told to nobody)."""
    on_call = contacts.contacts()["oncall"].email
    if on_call:
        return [on_call]
    return list(db.session.scalars(
        db.select(StaffUser.email).where(StaffUser.role == "admin",
                                         StaffUser.active.is_(True))
        .order_by(StaffUser.email)))


def _claim(proposal_id: int, was, now: datetime) -> bool:
    """Commits: take the notice of this proposal for CLAIM, if nobody else holds it."""
    with write_transaction():
        taken = db.session.execute(
            db.update(MonitorProposal)
            .where(MonitorProposal.id == proposal_id,
                   (MonitorProposal.notice_claimed_until.is_(None)
                    if was is None else MonitorProposal.notice_claimed_until == was))
            .values(notice_claimed_until=now + CLAIM))
        return taken.rowcount == 1


def notice_text(p: MonitorProposal) -> str:
    tz = slack.site_tz()
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    what = ("The incident was opened automatically (Investigating)." if p.auto_published
            else f"Publish it in one click on the staff dashboard:\n{base}/staff/")
    last = (p.last_errors or [{}])[-1].get("error", "")
    return (f"The monitor \"{p.monitor.name}\" finds {p.component.name} down since "
            f"{local_time(p.first_failed_at, tz)}.\n"
            f"Proposed severity: {p.severity}.\nLast error: {last}\n\n{what}\n")


def send_due_notices(smtp: Optional[mail.SMTPSession], now: datetime, *,
                     part: str = "email") -> int:
    """Commits: send the ``part`` ("email", by the tick's SMTP session; "slack", by the
    Slack run, so the email never waits on Slack) of the notices of proposals not yet
    told; the number of emails sent."""
    told = (MonitorProposal.notice_sent_at if part == "email"
            else MonitorProposal.slack_sent_at)
    if part == "slack" and not slack.configured():
        return 0
    due = list(db.session.scalars(
        db.select(MonitorProposal)
        .where(told.is_(None),
               MonitorProposal.created_at >= now - GIVE_UP,
               (MonitorProposal.notice_claimed_until.is_(None))
               | (MonitorProposal.notice_claimed_until <= now))
        .order_by(MonitorProposal.id)))
    sent = 0
    site = current_app.config["SITE_NAME"]
    for p in due:
        if not _claim(p.id, p.notice_claimed_until, now):
            continue
        p = db.session.get(MonitorProposal, p.id)
        text = notice_text(p)
        done = {}
        if part == "email" and smtp is not None:
            sender = mail.smtp_settings(current_app._get_current_object()).sender
            outcomes = []
            for address in on_call_addresses():
                result = smtp.send(address, mail.staff_message(
                    subject=f"{site} monitor: {p.component.name} is down ({p.severity})",
                    sender=sender, recipient=address, body=text, now=now,
                    public_url=current_app.config["PUBLIC_URL"]))
                outcomes.append(result.sent or result.outcome == "permanent")
                sent += 1 if result.sent else 0
            if all(outcomes):
                done["notice_sent_at"] = now
        elif part == "slack":
            db.session.rollback()  # no transaction stays open over the POST
            result = post_text(current_app.config["SLACK_WEBHOOK_URL"],
                               f":rotating_light: MONITOR: {text}",
                               timeout=float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"]))
            if result.outcome in ("sent", "final"):
                done["slack_sent_at"] = now
            if result.outcome != "sent":
                log.warning("proposal %s: Slack notice not sent (%s)", p.id, result.error)
        with write_transaction():
            db.session.execute(db.update(MonitorProposal)
                               .where(MonitorProposal.id == p.id)
                               .values(notice_claimed_until=now, **done))
    return sent
