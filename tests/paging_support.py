"""What the paging tests share (issue 24, the chain): an app whose mail goes to a real SMTP
server on loopback, in Europe/Berlin; the playbook's people (the On-call Engineer and the
Secondary On-call are staff accounts, the Tech Lead is a contact without one, the Security
Lead is staff); a declaration; the pages and their emails.

Import what you use::

    from tests.paging_support import app, people, smtp  # noqa: F401  (fixtures)
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from statuspage import contacts, incidents
from statuspage.extensions import db
from statuspage.models import Page, PageChain, StaffEmail
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)

#: A Thursday night in Berlin (02:00 CET): no business hours.
NIGHT = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)
PRIMARY = "olga@example.test"
SECONDARY = "sid@example.test"
TECH_LEAD = "tess@example.test"  # a contact, not a staff account
SECURITY = "sam@example.test"
PEOPLE = {
    "oncall": ("Olga Oncall", PRIMARY),
    "secondary_oncall": ("Sid Second", SECONDARY),
    "tech_lead": ("Tess Tech", TECH_LEAD),
    "security_lead": ("Sam Secure", SECURITY),
    "cto": ("Chris CTO", "cto@example.test"),
    "executive_sponsor": ("Eve Sponsor", "sponsor@example.test"),
}


@pytest.fixture
def app(make_app, smtp, clock):  # noqa: F811
    clock.set(NIGHT)
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG, SITE_TIMEZONE="Europe/Berlin",
                   PAGE_ESCALATION_MINUTES=1.5, PAGE_REPEAT_LIMIT=2)
    with app.app_context():
        yield app


@pytest.fixture
def people(app, admin, make_staff, clock):
    make_staff(email=PRIMARY, display_name="Olga Oncall")
    make_staff(email=SECONDARY, display_name="Sid Second")
    make_staff(email=SECURITY, display_name="Sam Secure")
    contacts.save({role: contacts.ContactValue(*value) for role, value in PEOPLE.items()},
                  None, actor=admin, now=clock())
    db.session.commit()


def declare(actor, components, clock, *, severity="SEV-1", incident_type=None,
            title="App down for everyone"):
    incident = incidents.open_incident(
        actor=actor, now=clock(), title=title, severity=severity,
        component_ids=[components[0].id], incident_type=incident_type,
        update=incidents.UpdateText(status="investigating", impact="No one can sign in.",
                                    actions="We are investigating."))
    db.session.commit()
    return incident


def pages() -> list[tuple[int, str, str]]:
    """(step, recipient, roles) of every page of a chain, in order (not the handovers')."""
    db.session.rollback()
    return [(p.step, p.recipient, p.roles) for p in db.session.scalars(
        db.select(Page).where(Page.kind == "chain").order_by(Page.step, Page.id))]


def chain_of(incident) -> PageChain:
    db.session.rollback()
    return db.session.scalar(db.select(PageChain).where(
        PageChain.subject == "incident", PageChain.subject_id == incident.id))


def page_mails(smtp, to=None):  # noqa: F811
    """The pages' emails (they carry an ack link), optionally to one address."""
    found = [m for m in smtp.messages if "/ack/" in m.text()]
    return [m for m in found if to is None or m.to == to]


def ack_link(mail) -> str:
    """The ack link's path in a page's email."""
    return re.search(r"https?://[^/\s]+(/ack/\S+)", mail.text()).group(1)


def email_rows(kind: str) -> list[StaffEmail]:
    db.session.rollback()
    return list(db.session.scalars(db.select(StaffEmail).where(StaffEmail.kind == kind)
                                   .order_by(StaffEmail.id)))
