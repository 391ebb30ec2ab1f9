"""Cadence reminders: a SEV-1/2 incident's next update is due soon or overdue.

Each tick, for every open SEV-1 or SEV-2 incident whose next update
(``queries.next_update_due``) falls within CADENCE_REMINDER_LEAD_SECONDS or has passed, the
Incident Commander gets one email per due time, and #incidents one Slack message naming
them when Slack is configured. "One" is the database's: a SentReminder row unique on
(incident, due time, kind) is claimed before sending, so two notifiers or two ticks never
send it twice; its ``sent_at`` says it went, and a failed or interrupted send is claimed
again after ``CLAIM`` and retried, as long as that due time is still the incident's.

Emails go through the tick's SMTP session (staff are not subscribers: as
``webhook_delivery.tell_admins``). A resolved incident is never reminded about. An incident
without an active commander reminds the On-call Engineer contact (``contacts``) instead;
with no address set for that role either, it is skipped (logged).
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
from . import slack

log = logging.getLogger("statuspage.notifier")

#: How long a claimed reminder is this tick's before another may try it again.
CLAIM = timedelta(minutes=5)


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


def claim(incident: Incident, due: datetime, now: datetime) -> Optional[int]:
    """Commits: claim the reminder for this due time (its id), or None when it was sent or
    another tick holds it. The first claim also queues the Slack message (once)."""
    key = (SentReminder.incident_id == incident.id, SentReminder.due_at == due,
           SentReminder.kind == "cadence")
    try:
        with write_transaction():
            if incident.is_resolved:  # read afresh in this transaction
                return None
            row = db.session.scalar(db.select(SentReminder).where(*key))
            if row is None:
                row = SentReminder(incident_id=incident.id, due_at=due, kind="cadence",
                                   recipient_id=incident.commander_id,
                                   claimed_until=now + CLAIM, created_at=now)
                db.session.add(row)
                db.session.flush()
                slack.queue_reminder(incident, slack_text(incident, due, now), now=now)
                return row.id
            if row.sent_at is not None or row.claimed_until > now:
                return None
            taken = db.session.execute(
                db.update(SentReminder)
                .where(SentReminder.id == row.id,
                       SentReminder.claimed_until == row.claimed_until)
                .values(claimed_until=now + CLAIM))
            return row.id if taken.rowcount == 1 else None
    except sa.exc.IntegrityError:  # another notifier claimed it first
        return None


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


def send_due_reminders(smtp: mail.SMTPSession, now: datetime) -> int:
    """Commits: email each commander whose incident's update is due (see the module
    docstring); the number sent."""
    if not current_app.config.get("CADENCE_REMINDERS", True):
        return 0
    sent = 0
    sender = mail.smtp_settings(current_app._get_current_object()).sender
    for incident, due in due_now(now):
        recipient = recipient_for(incident)
        if recipient is None:
            log.info("incident %s: update due, no commander nor On-call Engineer address",
                     incident.id)
            continue
        reminder_id = claim(incident, due, now)
        if reminder_id is None:
            continue
        incident = db.session.get(Incident, incident.id)
        if incident is None or incident.is_resolved:
            continue
        result = smtp.send(recipient,
                           message(incident, due, recipient, sender=sender, now=now))
        with write_transaction():
            values = ({"sent_at": now} if result.sent or result.outcome == "permanent"
                      else {"claimed_until": now})  # not sent: the next tick tries again
            db.session.execute(db.update(SentReminder)
                               .where(SentReminder.id == reminder_id).values(**values))
        if result.sent:
            sent += 1
        else:
            log.warning("incident %s: the reminder could not be sent (%s)", incident.id,
                        result.error or result.outcome)
    return sent
