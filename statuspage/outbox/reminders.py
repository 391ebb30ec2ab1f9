"""Cadence reminders: a SEV-1/2 incident's next update is due soon or overdue.

Each tick, for every open SEV-1 or SEV-2 incident whose next update
(``queries.next_update_due``) falls within CADENCE_REMINDER_LEAD_SECONDS or has passed, the
Incident Commander gets one email per due time, and #incidents one Slack message naming
them when Slack is configured. "One" is the database's: a SentReminder row unique on
(incident, due time, kind), written with its email (``staff_email``, kind "cadence") and
its Slack message in one transaction, so two notifiers or two ticks never queue it twice.
The delivery engine sends the email (the staff email channel), retrying a failed send, as
long as that due time is still the incident's: once the update is posted or the incident
resolved, an unsent reminder is cancelled.

An incident without an active commander reminds the On-call Engineer contact
(``contacts``) instead; with no address set for that role either, it is skipped (logged).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Optional

import sqlalchemy as sa
from flask import current_app

from .. import contacts, mail, queries
from ..extensions import db
from ..models import Incident, SentReminder, StaffUser
from ..present import local_time
from ..severity import SEVERITIES
from ..transactions import write_transaction
from . import slack, staff_email

log = logging.getLogger("statuspage.notifier")

def lead_time() -> timedelta:
    return timedelta(seconds=int(current_app.config["CADENCE_REMINDER_LEAD_SECONDS"]))


def due_now(now: datetime) -> list[tuple[Incident, datetime]]:
    """(incident, due time) for every open SEV-1/2 incident whose update is due within the
    lead time or overdue."""
    lead = lead_time()
    found = []
    for incident in queries.open_incidents():
        if not SEVERITIES[incident.severity].reminds_commander:
            continue
        due = queries.next_update_due(incident, now)
        if due is not None and due - lead <= now:
            found.append((incident, due))
    return found


def slack_text(incident: Incident, due: datetime, now: datetime) -> str:
    """The #incidents reminder, naming the commander."""
    when = "was due" if due <= now else "is due"
    return "\n".join([
        f":alarm_clock: UPDATE {'OVERDUE' if due <= now else 'DUE'}: "
        f"{incident.severity} {incident.title}",
        f"Incident Commander: {slack.incident_commander(incident)}",
        f"The next update {when} at {local_time(due, slack.site_tz())}",
    ])


def queue_one(incident: Incident, due: datetime, recipient: str, now: datetime) -> bool:
    """Commits: queue the reminder for this due time (its row, its email, its Slack
    message), unless it was queued before; whether it was queued now."""
    try:
        with write_transaction():
            if incident.is_resolved:  # read afresh in this transaction
                return False
            if db.session.scalar(db.select(SentReminder.id).where(
                    SentReminder.incident_id == incident.id, SentReminder.due_at == due,
                    SentReminder.kind == "cadence")) is not None:
                return False
            row = SentReminder(incident_id=incident.id, due_at=due, kind="cadence",
                               recipient_id=incident.commander_id, created_at=now)
            db.session.add(row)
            db.session.flush()
            slack.queue_reminder(incident, slack_text(incident, due, now), now=now)
            staff_email.queue("cadence", row.id, [recipient], now=now)
            return True
    except sa.exc.IntegrityError:  # another notifier queued it first
        return False


def recipient_for(incident: Incident) -> Optional[str]:
    """The commander's address; without an active commander, the On-call Engineer's."""
    commander: Optional[StaffUser] = incident.commander
    if commander is not None and commander.active:
        return commander.email
    return contacts.contacts()["oncall"].email or None


def message(incident: Incident, due: datetime, recipient: str, *, sender: str,
            now: datetime) -> bytes:
    """The commander's email: title, severity, the due time and the staff link (no
    participant data)."""
    site = current_app.config["SITE_NAME"]
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    state = "overdue" if due <= now else "due soon"
    if incident.commander is not None and incident.commander.active:
        opening = f"You are the Incident Commander of {incident.severity} \"{incident.title}\"."
    else:  # no commander: the On-call Engineer is reminded
        opening = (f"{incident.severity} \"{incident.title}\" has no Incident Commander: "
                   "you are reminded as the On-call Engineer.")
    return mail.staff_message(
        subject=f"{site} {incident.severity}: the next update is {state}",
        sender=sender, recipient=recipient, now=now, public_url=base,
        body=(
            f"{opening}\n\n"
            f"Its next update {'was' if due <= now else 'is'} due at "
            f"{local_time(due, slack.site_tz())}. Post it at\n"
            f"{base}/staff/incidents/{incident.id}\n"
        ),
    )


def queue_due_reminders(now: datetime) -> int:
    """Commits: queue the reminder of each incident whose update is due (see the module
    docstring); the number queued."""
    if not current_app.config.get("CADENCE_REMINDERS", True):
        return 0
    queued = 0
    for incident, due in due_now(now):
        recipient = recipient_for(incident)
        if recipient is None:
            log.info("incident %s: update due, no commander nor On-call Engineer address",
                     incident.id)
            continue
        queued += queue_one(incident, due, recipient, now)
    return queued


def render(reminder_id: int, recipient: str, *, sender: str,
           now: datetime) -> Optional[bytes]:
    """The reminder's email (the staff email channel), or None once its due time is no
    longer the incident's (the update was posted, or the incident resolved)."""
    reminder = db.session.get(SentReminder, reminder_id)
    incident = reminder and db.session.get(Incident, reminder.incident_id)
    if incident is None or incident.is_resolved:
        return None
    due = queries.next_update_due(incident, now)
    if due is None or abs((due - reminder.due_at).total_seconds()) >= 1:
        return None
    return message(incident, reminder.due_at, recipient, sender=sender, now=now)
