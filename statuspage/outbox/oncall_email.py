"""A SEV-3/4's email to the primary on call (the playbook's "SEV-3/4: Create ticket, handle
next business day"; issue 24): it pages no one. In business hours (BUSINESS_HOURS, in
SITE_TIMEZONE) the primary gets one email (StaffEmail kind "oncall", subject the incident)
in the declaration's transaction; after hours the notifier's tick queues it at the first
tick of the next business hours, to whoever is primary then (not queued ahead with a
recipient who may have handed over by then). Once per incident; none for an incident whose
primary was paged (raised, then lowered), nor once it is resolved or acknowledged.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from flask import current_app

from .. import contacts, mail, queries
from ..extensions import db
from ..models import Incident, Page, PageChain, StaffEmail
from ..paging import business_hours, rotations
from ..present import incident_commander, local_time
from ..severity import SEVERITIES
from ..transactions import write_transaction
from . import staff_email
from .paging import ROLE_WORDS, chain_of, hours, primary_paged, site_tz

log = logging.getLogger("statuspage.notifier")


def on_incident(incident: Incident, now: datetime) -> None:
    """Declared or edited: a severity that does not page, in business hours: the email."""
    if (not incident.is_resolved and not SEVERITIES[incident.severity].pages
            and business_hours.is_open(now, site_tz(), hours())):
        queue_oncall_email(incident, now)


def queue_oncall_email(incident: Incident, now: datetime) -> bool:
    """In the caller's transaction: the primary on call's email about a SEV-3/4, unless
    one went for the incident already (to anyone) or the primary was paged for it."""
    chain = chain_of("incident", incident.id)
    if (chain is not None and primary_paged(chain.id)) or db.session.scalar(
            db.select(StaffEmail.id).where(StaffEmail.kind == "oncall",
                                           StaffEmail.subject_id == incident.id).limit(1)):
        return False
    on_call = rotations.on_call("primary", now)
    if on_call is None:
        log.info("incident %s: no primary on call to email", incident.id)
        return False
    staff_email.queue("oncall", incident.id, [on_call.email], now=now)
    return True


def queue_due_oncall_emails(now: datetime) -> int:
    """Commits: in business hours, the primary's email of each open incident that does not
    page and was not told yet (declared after hours, or with no one on call then)."""
    if not business_hours.is_open(now, site_tz(), hours()):
        return 0
    told = set(db.session.scalars(db.select(StaffEmail.subject_id)
                                  .where(StaffEmail.kind == "oncall")))
    paged = set(db.session.scalars(
        db.select(PageChain.subject_id).join(Page, Page.chain_id == PageChain.id)
        .where(PageChain.subject == "incident",
               Page.roles.contains(ROLE_WORDS["primary"]))))
    due = [i.id for i in queries.open_incidents()
           if not SEVERITIES[i.severity].pages and i.acknowledged_at is None
           and i.id not in told and i.id not in paged]
    db.session.rollback()
    new = 0
    for incident_id in due:
        with write_transaction():
            incident = db.session.get(Incident, incident_id)
            if (incident is not None and not incident.is_resolved
                    and not SEVERITIES[incident.severity].pages):
                new += queue_oncall_email(incident, now)
    return new


def render(incident_id: int, recipient: str, *, sender: str, now: datetime
                  ) -> Optional[bytes]:
    """The primary's email about a SEV-3/4 (the staff email channel), or None once the
    incident resolved or now pages (its chain took over)."""
    incident = db.session.get(Incident, incident_id)
    if incident is None or incident.is_resolved or SEVERITIES[incident.severity].pages:
        return None
    site = current_app.config["SITE_NAME"]
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    info = SEVERITIES[incident.severity]
    return mail.staff_message(
        subject=f"{site} {incident.severity} incident: {incident.title}", sender=sender,
        recipient=recipient, now=now, public_url=base,
        body=(f"A {incident.severity} incident is open. It pages no one: as the primary on "
              f"call, handle it in business hours (response target: {info.response_time}, "
              "counted in business hours).\n\n"
              f"Incident: {incident.title}\n"
              f"Severity: {incident.severity} ({info.name})\n"
              f"Type: {contacts.type_name(incident.incident_type)}\n"
              f"Started: {local_time(incident.started_at, site_tz())}\n"
              f"Incident Commander: {incident_commander(incident)}\n\n"
              f"{base}/staff/incidents/{incident.id}\n"))
