"""Notices to the playbook's contacts: on declaration, and the escalation.

On declaration, in the same transaction (``queue_for``, called by the incident domain on
open and on edit): a SEV-1/2 incident tells the matrix's Primary roles for its type, a
SEV-1 also its Executive column, and an incident whose health data may be affected the
Clinical Lead, whatever its severity. Raising the severity or ticking health data later
queues what the new state requires and was not yet queued. When a SEV-1/2 incident's
response target (``targets``) passes without acknowledgement, the notifier's tick queues
the matrix's Escalate To roles (``queue_due_escalations``).

Paging (issue 24) replaces two of them for a severity that pages: the On-call Engineer's
declaration notice is the page to the primary on call (with its ack link, ``paging``), and
the escalation chain replaces the escalation email at the response target. The matrix's
other notices (the Security Lead's, the Executive column, the Clinical Lead) stay emails.

"Once": a ``StaffNotice`` row per (incident, kind, address), unique in the database,
inserted with ON CONFLICT DO NOTHING, and its email (``staff_email``, kind "notice"),
queued in the same transaction; a person in several roles is one address, one email. The
delivery engine sends it (the staff email channel) and says whether it went. Like the
cadence reminders these are the responders' mail: a hold (subscriber emails) does not stop
them. A resolved incident is told nothing more: an email still unsent when it resolves is
cancelled. The email says only the title, severity, type, commander and the staff link.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .. import contacts, mail, queries, targets
from ..extensions import db
from ..models import Incident, StaffEmail, StaffNotice
from ..severity import SEVERITIES
from ..transactions import write_transaction
from . import staff_email
from .slack import incident_commander

log = logging.getLogger("statuspage.notifier")
KIND_LABELS = {"primary": "Declaration notice (Primary)",
               "executive": "Declaration notice (Executive)",
               "clinical": "Health data notice (Clinical Lead)",
               "escalation": "Escalation (response target missed)"}


def required(incident: Incident) -> dict[str, tuple[str, ...]]:
    """kind -> roles, for the notices the incident's state calls for at declaration."""
    if incident.is_resolved:
        return {}
    kinds: dict[str, tuple[str, ...]] = {}
    info = SEVERITIES[incident.severity]
    for column in info.staff_notices:
        kinds[column] = contacts.roles_for(incident.incident_type, column)
        if column == "primary" and info.pages:  # the page to the primary on call instead
            kinds[column] = tuple(role for role in kinds[column] if role != "oncall")
    if incident.health_data_affected:
        kinds["clinical"] = ("clinical_lead",)
    return kinds


def _insert_once(incident_id: int, kind: str, roles: tuple[str, ...], now: datetime) -> None:
    rows = [{"incident_id": incident_id, "kind": kind, "email": email,
             "roles": ", ".join(names)[:400], "created_at": now}
            for email, names in contacts.addresses_for(roles).items()]
    if not rows:
        log.info("incident %s: no contact address for the %s notice", incident_id, kind)
        return
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(StaffNotice).values(rows).on_conflict_do_nothing(
        index_elements=["incident_id", "kind", "email"]))
    for notice_id, email in db.session.execute(
            db.select(StaffNotice.id, StaffNotice.email)
            .where(StaffNotice.incident_id == incident_id, StaffNotice.kind == kind)):
        staff_email.queue("notice", notice_id, [email], now=now)


def queue_for(incident: Incident, *, now: datetime) -> None:
    """Queue, in the caller's transaction, the declaration notices the incident's state
    calls for and that were not queued before (flushes)."""
    db.session.flush()
    for kind, roles in required(incident).items():
        _insert_once(incident.id, kind, roles, now)


def escalation_due(incident: Incident, now: datetime) -> bool:
    """A SEV-1/2 incident, open and not acknowledged, past its response target; never one
    that pages (its escalation chain replaces the email)."""
    info = SEVERITIES[incident.severity]
    if (incident.is_resolved or not info.escalates or info.pages
            or incident.acknowledged_at is not None):
        return False
    tz = ZoneInfo(current_app.config["SITE_TIMEZONE"])
    response = SEVERITIES[incident.severity].response_span
    return now > targets.deadline(incident.started_at, response, tz)


def queue_due_escalations(now: datetime) -> None:
    """Commits: queue the Escalate To notices of every incident whose response target
    passed without acknowledgement and that was not escalated yet (once per address)."""
    escalated = set(db.session.scalars(
        db.select(StaffNotice.incident_id)
        .join(Incident, Incident.id == StaffNotice.incident_id)
        .where(StaffNotice.kind == "escalation", Incident.status != "resolved")))
    due = [i.id for i in queries.open_incidents()
           if i.id not in escalated and escalation_due(i, now)]
    db.session.rollback()
    for incident_id in due:
        with write_transaction():
            incident = db.session.get(Incident, incident_id)  # read afresh under the lock
            if incident is not None and escalation_due(incident, now):
                _insert_once(incident.id, "escalation",
                             contacts.roles_for(incident.incident_type, "escalate"), now)


def render(notice_id: int, recipient: str, *, sender: str, now: datetime) -> Optional[bytes]:
    """The notice's email (the staff email channel), or None once its incident resolved."""
    notice = db.session.get(StaffNotice, notice_id)
    incident = notice and db.session.get(Incident, notice.incident_id)
    if incident is None or incident.is_resolved:
        return None
    return message(notice, incident, sender=sender, now=now)


def message(notice: StaffNotice, incident: Incident, *, sender: str, now: datetime) -> bytes:
    """The contact's email: the incident's title, severity, type, commander and staff
    link; no update text, nothing of any participant."""
    site = current_app.config["SITE_NAME"]
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    if notice.kind == "escalation":
        response = targets.span_text(SEVERITIES[incident.severity].response_span)
        opening = (f"{incident.severity} incident: its response target ({response}) passed "
                   "without acknowledgement. The escalation matrix names you to step in.")
        subject = f"{site} {incident.severity} escalation: {incident.title}"
    elif notice.kind == "clinical":
        opening = (f"{incident.severity} incident declared: health data may be affected, "
                   "so the Clinical Lead is told.")
        subject = f"{site} {incident.severity}: health data may be affected"
    else:
        opening = (f"{incident.severity} incident declared. The escalation matrix names you "
                   "for it.")
        subject = f"{site} {incident.severity} incident declared: {incident.title}"
    return mail.staff_message(
        subject=subject, sender=sender, recipient=notice.email, now=now, public_url=base,
        body=(
            f"{opening}\nYour role: {notice.roles}.\n\n"
            f"Incident: {incident.title}\n"
            f"Severity: {incident.severity}\n"
            f"Type: {contacts.type_name(incident.incident_type)}\n"
            f"Incident Commander: {incident_commander(incident)}\n\n"
            f"{base}/staff/incidents/{incident.id}\n"
        ),
    )


def summary(incident_id: int) -> list[tuple[datetime, str]]:
    """(time, text) per kind of notice sent, for the record: how many contacts and which
    roles, never the addresses."""
    rows = db.session.execute(
        db.select(StaffNotice, StaffEmail.sent_at)
        .join(StaffEmail, (StaffEmail.kind == "notice")
              & (StaffEmail.subject_id == StaffNotice.id))
        .where(StaffNotice.incident_id == incident_id, StaffEmail.status == "sent")
        .order_by(StaffEmail.sent_at, StaffNotice.id)).all()
    found: dict[str, tuple[datetime, int, list[str]]] = {}
    for row, sent_at in rows:
        at, count, roles = found.get(row.kind, (sent_at, 0, []))
        roles += [r for r in row.roles.split(", ") if r not in roles]
        found[row.kind] = (at, count + 1, roles)
    return [(at, f"{KIND_LABELS[kind]} emailed to {count} contact"
                 f"{'' if count == 1 else 's'} ({', '.join(roles)})")
            for kind, (at, count, roles) in found.items()]
