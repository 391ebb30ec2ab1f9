"""Notices to the key contacts (issue 14, point 4): on declaration the matrix's Primary
(SEV-1/2), the Executive column (SEV-1) and the Clinical Lead (health data may be affected)
are emailed through the outbox and a real SMTP server on loopback, each address once per
incident and kind of notice, through repeated ticks and a claim retaken after a crash;
raising the severity later sends what the new state calls for, once; an incident with
no commander reminds the On-call Engineer; a resolved incident gets nothing.

Paging (issue 24, "Decided after review") changed two of them for the severities that
page: the On-call Engineer's declaration notice is the page to the primary on call (an
email with an ack link here, kind "page"), and the escalation chain replaces the Escalate
To email at the response target."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage import contacts, incidents, roles
from statuspage.extensions import db
from statuspage.models import StaffEmail, StaffNotice
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)

PEOPLE = {
    "oncall": ("Olga Oncall", "oncall@example.test"),
    "tech_lead": ("Tess Tech", "tech@example.test"),
    "clinical_lead": ("Cleo Clinic", "clinical@example.test"),
    "security_lead": ("Sam Secure", "security@example.test"),
    "executive_sponsor": ("Eve Sponsor", "sponsor@example.test"),
    "cto": ("Chris CTO", "cto@example.test"),
    "ceo": ("Cary CEO", "ceo@example.test"),
    "legal": ("Lee Legal", "legal@example.test"),
    "support": ("Sue Support", "support@example.test"),
    "coach_lead": ("Cody Coach", "coach@example.test"),
}


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG, SITE_TIMEZONE="Europe/Berlin")
    with app.app_context():
        yield app


@pytest.fixture
def people(app, admin, clock):
    contacts.save({role: contacts.ContactValue(*value) for role, value in PEOPLE.items()},
                  None, actor=admin, now=clock())
    db.session.commit()


def paged(smtp):  # noqa: F811
    """The recipients of the pages' emails (issue 24), in order."""
    return [m.to for m in smtp.messages if "/ack/" in m.text()]


def notices(smtp):  # noqa: F811
    """(recipient, subject) of every notice to a contact, in order."""
    return [(m.to, m.subject) for m in smtp.messages
            if "declared" in m.subject or "escalation" in m.subject
            or "health data" in m.subject]


def declare(actor, components, clock, *, severity="SEV-2", incident_type=None,
            health=False, title="App down for everyone"):
    incident = incidents.open_incident(
        actor=actor, now=clock(), title=title, severity=severity,
        component_ids=[components[0].id], incident_type=incident_type,
        health_data_affected=health,
        update=incidents.UpdateText(status="investigating", impact="No one can sign in.",
                                    actions="We are investigating."))
    db.session.commit()
    return incident


def test_a_sev1_security_incident_mails_primary_and_executive_roles_once_each(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock, severity="SEV-1",
                       incident_type="security")
    tick()
    tick()  # a second tick, and a second notifier, find nothing left to send
    sent = notices(smtp)
    assert sorted(to for to, _ in sent) == sorted([
        "security@example.test",  # Primary: On-call + Security (the On-call is paged)
        "cto@example.test", "legal@example.test",  # Executive: CTO + Legal
    ])
    # The On-call Engineer's notice is the page; the Security Lead is paged as well.
    assert sorted(paged(smtp)) == ["oncall@example.test", "security@example.test"]
    [email] = [m for m in smtp.to("security@example.test") if "declared" in m.subject]
    assert email.subject == "Metabolic-Tracker SEV-1 incident declared: App down for everyone"
    text = email.text()
    assert "Type: Security" in text and "Severity: SEV-1" in text
    assert "Incident Commander: responder@example.test" in text
    assert f"/staff/incidents/{incident.id}" in text
    assert "No one can sign in." not in text  # no update text
    assert "Your role: Security Lead." in text
    assert db.session.scalar(db.select(db.func.count()).select_from(StaffNotice)) == 3


def test_a_person_in_several_roles_gets_one_email_per_notice(
        app, clock, smtp, people, admin, responder, components):  # noqa: F811
    contacts.save({**{r: contacts.ContactValue(*v) for r, v in PEOPLE.items()},
                   "security_lead": contacts.ContactValue("Olga", "oncall@example.test")},
                  None, actor=admin, now=clock())
    db.session.commit()
    declare(responder, components, clock, severity="SEV-2", incident_type="security")
    tick()
    [(to, subject)] = notices(smtp)
    assert to == "oncall@example.test"
    [notice] = [m for m in smtp.to("oncall@example.test") if "declared" in m.subject]
    assert "Your role: Security Lead." in notice.text()  # On-call Engineer: the page
    assert paged(smtp) == ["oncall@example.test"]  # one page, in both roles


def test_no_type_pages_the_oncall_engineer_and_sev3_tells_no_contact(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock, severity="SEV-2")
    declare(responder, components, clock, severity="SEV-3", title="Charts slow")
    tick()
    assert notices(smtp) == []  # the On-call Engineer's notice is the page
    assert paged(smtp) == ["oncall@example.test"]


def test_health_data_tells_the_clinical_lead_at_any_severity(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock, severity="SEV-4", health=True)
    tick()
    [(to, subject)] = notices(smtp)
    assert to == "clinical@example.test"
    assert subject == "Metabolic-Tracker SEV-4: health data may be affected"


def test_raising_the_severity_later_sends_the_new_notices_once(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock, severity="SEV-3",
                       incident_type="data_loss")
    tick()
    assert notices(smtp) == []

    def edit(severity, health=False):
        incidents.edit_incident(
            incident, actor=responder, now=clock(), title=incident.title, severity=severity,
            component_ids=[c.id for c in incident.components],
            started_at=incident.started_at,
            declaration=contacts.Declaration("data_loss", health))
        db.session.commit()

    edit("SEV-2")
    tick()
    assert notices(smtp) == []  # the On-call Engineer is paged instead
    assert paged(smtp) == ["oncall@example.test"]
    edit("SEV-1")
    tick()
    edit("SEV-2")  # lowered and raised again: nothing new
    edit("SEV-1", health=True)
    tick()
    tick()
    assert sorted(to for to, _ in notices(smtp)) == sorted([
        "cto@example.test", "sponsor@example.test", "clinical@example.test"])
    assert paged(smtp) == ["oncall@example.test"]


def test_a_notice_claimed_by_a_notifier_that_crashed_goes_once_the_lease_ran_out(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock, severity="SEV-1")  # the Executive's notice
    # A notifier claimed it and died before sending: its lease stands for 5 minutes.
    db.session.execute(db.update(StaffEmail).values(
        status="sending", claim_token="a-notifier-that-died",
        lease_until=clock() + timedelta(minutes=5)))
    db.session.commit()
    tick()
    assert notices(smtp) == []
    clock.advance(minutes=5, seconds=1)
    tick()
    tick()
    assert [to for to, _ in notices(smtp)] == ["sponsor@example.test"]


def test_a_second_notice_row_for_the_same_address_is_refused(
        app, clock, responder, components):
    incident = declare(responder, components, clock, severity="SEV-2")
    for _ in range(2):
        db.session.add(StaffNotice(incident_id=incident.id, kind="primary",
                                   email="x@example.test", roles="On-call Engineer",
                                   created_at=clock()))
    with pytest.raises(Exception, match="(?i)unique"):
        db.session.commit()
    db.session.rollback()


def test_a_refused_send_is_tried_again_after_its_backoff(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock, severity="SEV-1")
    smtp.refuse_all()
    tick()
    assert notices(smtp) == []
    smtp.reset()
    clock.advance(seconds=10)
    tick()
    assert notices(smtp) == []  # the first retry waits about NOTIFIER_RETRY_BASE_SECONDS
    clock.advance(seconds=30)
    tick()
    tick()
    assert [to for to, _ in notices(smtp)] == ["sponsor@example.test"]


def test_the_chain_replaces_the_escalation_email_when_the_response_target_passes(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock, severity="SEV-1", incident_type="phi_exposure")
    tick()
    before = len(notices(smtp))
    clock.advance(minutes=15, seconds=1)  # 15 minutes passed, no acknowledgement
    tick()
    clock.advance(minutes=15)
    tick()
    assert len(notices(smtp)) == before  # no Escalate To email (Legal, Clinical Lead)...
    assert [s for _, s in notices(smtp) if "escalation" in s] == []
    # ...the chain paged instead: the primary, then (no secondary set) the Tech Lead.
    assert paged(smtp) == ["oncall@example.test", "tech@example.test"]


def test_an_acknowledged_incident_is_not_escalated(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock, severity="SEV-2")
    clock.advance(minutes=30)
    roles.acknowledge(incident, actor=responder, now=clock())
    db.session.commit()
    clock.advance(hours=2)
    tick()
    assert [s for _, s in notices(smtp) if "escalation" in s] == []


def test_a_resolved_incident_gets_nothing(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock, severity="SEV-1", health=True)
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="Fixed.", actions="Rolled back."),
        actor=responder, now=clock())
    db.session.commit()
    clock.advance(hours=3)
    tick()
    incidents.edit_incident(
        incident, actor=responder, now=clock(), title=incident.title, severity="SEV-1",
        component_ids=[c.id for c in incident.components], started_at=incident.started_at,
        declaration=contacts.Declaration("security", True))
    db.session.commit()
    tick()
    assert notices(smtp) == []


def test_a_hold_stops_subscriber_emails_not_the_contacts_notices(
        app, clock, smtp, people, admin, responder, components):  # noqa: F811
    from statuspage.outbox import queue

    incident = declare(responder, components, clock, severity="SEV-1")
    queue.hold_emails(incident, actor=admin, now=clock())
    db.session.commit()
    tick()
    assert [to for to, _ in notices(smtp)] == ["sponsor@example.test"]
    assert paged(smtp) == ["oncall@example.test"]


def test_an_incident_without_a_commander_reminds_the_oncall_engineer(
        app, clock, smtp, people, responder, components):  # noqa: F811
    app.config["CADENCE_REMINDERS"] = True
    incident = declare(responder, components, clock, severity="SEV-1")
    incident.commander = None  # as an incident opened by a monitor
    db.session.commit()
    clock.advance(minutes=14)
    tick()
    tick()
    reminders = [m for m in smtp.to("oncall@example.test") if "next update" in m.subject]
    assert len(reminders) == 1
    assert "reminded as the On-call Engineer" in reminders[0].text()
    assert smtp.to("responder@example.test") == []


def test_the_record_lists_the_acknowledgement_commander_changes_and_notices(
        app, clock, smtp, people, responder, make_staff, components):  # noqa: F811
    from statuspage import record

    other = make_staff(email="ic@example.test", display_name="Ira Commander")
    incident = declare(responder, components, clock, severity="SEV-1",
                       incident_type="app_down")
    tick()  # the page to the On-call Engineer, the Executive notice
    clock.advance(minutes=16)
    tick()  # the chain's step 1 (no Secondary On-call set: no one), no escalation email
    clock.advance(minutes=1)
    roles.set_roles(incident, commander_id=other.id, comms_lead_id=None, actor=responder,
                    now=clock())
    db.session.commit()
    clock.advance(minutes=1)
    roles.acknowledge(incident, actor=other, now=clock())
    db.session.commit()
    draft = record.draft(incident)
    rows = [line for line in draft.splitlines() if line.startswith("| ")]
    texts = [row.split(" | ", 1)[1] for row in rows[1:]]  # after the header
    assert texts[0].startswith("Incident declared (SEV-1, Investigating)")
    assert texts[1:] == [
        "Declaration notice (Executive) emailed to 1 contact (CTO) |",
        "Paged Olga Oncall (Primary on-call), first page: email: sent |",
        "Incident Commander: Ira Commander |",
        "Acknowledged by the Incident Commander (Ira Commander) |",
        "Page acknowledged by Ira Commander: the paging stopped |",
    ]
    assert "@example.test" not in "\n".join(texts[1:])
