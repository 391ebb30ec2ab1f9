"""The on-call notice of a monitor's proposal: one email to each on-call address, and one
#incidents message when Slack is configured, once per outage.

"Once" is the proposal's: one row per outage (unique on the monitor and its first failed
check, and a flapping monitor reuses its row). When a proposal opens (the event
``ProposalOpened``, in the monitor's transaction) its emails (``staff_email``, kind
"monitor", one per address: unique) and its Slack message are queued; the delivery engine
sends them (the staff email and Slack channels), retrying failed sends. A proposal more
than ``GIVE_UP`` old is not told any more (its unsent email is cancelled).
The notice names the component, the severity, since when and the last error (staff only:
never a public surface), never the monitor's URL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from flask import current_app

from .. import contacts, mail
from ..extensions import db
from ..models import MonitorProposal, StaffUser
from ..present import local_time
from . import slack, staff_email

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


def notice_text(p: MonitorProposal) -> str:
    tz = slack.site_tz()
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    what = ("The incident was opened automatically (Investigating)." if p.auto_published
            else f"Publish it in one click on the staff dashboard:\n{base}/staff/")
    last = (p.last_errors or [{}])[-1].get("error", "")
    return (f"The monitor \"{p.monitor.name}\" finds {p.component.name} down since "
            f"{local_time(p.first_failed_at, tz)}.\n"
            f"Proposed severity: {p.severity}.\nLast error: {last}\n\n{what}\n")


def queue_notice(proposal: MonitorProposal, *, now: datetime) -> None:
    """In the caller's transaction: the proposal's emails to on call and, with Slack set,
    its #incidents message (flushes)."""
    db.session.flush()
    staff_email.queue("monitor", proposal.id, on_call_addresses(), now=now)
    if slack.configured():
        slack.queue_monitor(f":rotating_light: MONITOR: {notice_text(proposal)}", now=now)


def render(proposal_id: int, recipient: str, *, sender: str,
           now: datetime) -> Optional[bytes]:
    """The on-call email (the staff email channel), or None once the proposal is more than
    ``GIVE_UP`` old."""
    p = db.session.get(MonitorProposal, proposal_id)
    if p is None or p.created_at < now - GIVE_UP:
        return None
    site = current_app.config["SITE_NAME"]
    return mail.staff_message(
        subject=f"{site} monitor: {p.component.name} is down ({p.severity})",
        sender=sender, recipient=recipient, body=notice_text(p), now=now,
        public_url=current_app.config["PUBLIC_URL"])
