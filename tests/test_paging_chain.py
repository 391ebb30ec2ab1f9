"""The escalation chain (issue 24, points 3 and 4), through the real notifier tick and a
real SMTP server on loopback (a page's email way), on SQLite and PostgreSQL: a SEV-1 pages
the primary once, the secondary after one period without an answer, the Tech Lead after
two, then the last step repeats at most PAGE_REPEAT_LIMIT times; a Security incident pages
the Security Lead at once; an acknowledgement (the incident page's button) or the
resolution stops it; ticks run twice, by two notifiers at once, or after a crash send no
step twice; a monitor's proposal pages, and hands its chain to the incident it becomes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage import incidents, roles
from statuspage.extensions import db
from statuspage.models import Page
from statuspage.outbox import paging
from tests.paging_support import (PRIMARY, SECONDARY, SECURITY, TECH_LEAD, app,  # noqa: F401
                                  chain_of, declare, email_rows, page_mails, pages, people,
                                  smtp)
from tests.smtp import notifier_thread, tick


def test_a_sev1_at_night_pages_the_primary_once_then_the_secondary_then_the_tech_lead(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock)
    tick()
    tick()  # a second tick finds nothing more to page
    assert pages() == [(0, PRIMARY, "Primary on-call")]
    [mail] = page_mails(smtp)
    assert mail.to == PRIMARY
    assert mail.subject == "Metabolic-Tracker SEV-1: App down for everyone"
    text = mail.text()
    assert "Severity: SEV-1 (Critical)" in text and "Type: Not given" in text
    assert "First page" in text and "Paged as: Primary on-call" in text
    assert "Incident Commander: responder@example.test" in text
    assert "No one can sign in." not in text  # no update text
    assert "Started: 2026-11-26 02:00 CET" in text

    clock.advance(minutes=1, seconds=29)  # not yet one period (1.5 minutes)
    tick()
    assert len(page_mails(smtp)) == 1
    clock.advance(seconds=2)
    tick()
    tick()
    assert pages()[1:] == [(1, SECONDARY, "Secondary on-call")]
    [second] = page_mails(smtp, SECONDARY)
    assert ("Escalation step 1: the primary did not answer within 1.5 minutes."
            in second.text())
    clock.advance(minutes=1, seconds=30)
    tick()
    assert pages()[2:] == [(2, TECH_LEAD, "Tech Lead")]
    [third] = page_mails(smtp, TECH_LEAD)  # a contact without a staff account: email only
    assert ("Escalation step 2: the primary and secondary did not answer within "
            "1.5 minutes." in third.text())
    assert len(page_mails(smtp, PRIMARY)) == 1  # the primary was paged once
    assert chain_of(incident).acknowledged_at is None


def test_the_last_step_repeats_at_most_the_limit(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock, severity="SEV-2")
    for _ in range(12):  # 18 minutes: far past the last step (2 + PAGE_REPEAT_LIMIT 2)
        tick()
        clock.advance(minutes=1.5)
    tick()
    assert [(s, to) for s, to, _ in pages()] == [
        (0, PRIMARY), (1, SECONDARY), (2, TECH_LEAD), (3, TECH_LEAD), (4, TECH_LEAD)]
    assert len(page_mails(smtp, TECH_LEAD)) == 3
    assert "Escalation step 2, repeated (2 of 2)" in page_mails(smtp, TECH_LEAD)[-1].text()


def test_a_notifier_away_pages_the_steps_it_missed_at_once_but_no_repeat_twice(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock)
    clock.advance(minutes=5)  # the notifier was down: steps 0 to 3 are due
    tick()
    assert [(s, to) for s, to, _ in pages()] == [
        (0, PRIMARY), (1, SECONDARY), (2, TECH_LEAD), (3, TECH_LEAD)]


def test_a_security_incident_pages_the_security_lead_at_every_step(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock, severity="SEV-2", incident_type="security",
            title="Suspicious sign-ins")
    tick()
    assert pages() == [(0, PRIMARY, "Primary on-call"), (0, SECURITY, "Security Lead")]
    [mail] = page_mails(smtp, SECURITY)
    assert "Type: Security" in mail.text()
    clock.advance(minutes=1.5)
    tick()
    assert pages()[2:] == [(1, SECONDARY, "Secondary on-call"), (1, SECURITY, "Security Lead")]


def test_a_sev3_security_incident_pages_the_security_lead_alone_once(
        app, clock, smtp, people, responder, components):  # noqa: F811
    from statuspage import contacts

    incident = declare(responder, components, clock, severity="SEV-3",
                       incident_type="security")
    tick()
    assert pages() == [(0, SECURITY, "Security Lead")]  # whatever its severity
    clock.advance(minutes=10)
    tick()
    assert pages() == [(0, SECURITY, "Security Lead")]  # no step follows, no one on call
    # Raised to SEV-1 later: the chain begins then, with the primary.
    incidents.edit_incident(
        incident, actor=responder, now=clock(), title=incident.title, severity="SEV-1",
        component_ids=[c.id for c in incident.components], started_at=incident.started_at,
        declaration=contacts.Declaration("security", False))
    db.session.commit()
    tick()
    assert pages()[1:] == [(0, PRIMARY, "Primary on-call")]
    clock.advance(minutes=1.5)
    tick()
    assert pages()[2:] == [(1, SECONDARY, "Secondary on-call"), (1, SECURITY, "Security Lead")]


def test_a_person_in_several_roles_gets_one_page_per_step(
        app, admin, clock, smtp, people, responder, components):  # noqa: F811
    from statuspage import contacts

    values = {role: contacts.ContactValue(v.name, v.email)
              for role, v in contacts.contacts().items()}
    values["security_lead"] = contacts.ContactValue("Olga Oncall", PRIMARY)
    contacts.save(values, None, actor=admin, now=clock())
    db.session.commit()
    declare(responder, components, clock, incident_type="security")
    tick()
    assert pages() == [(0, PRIMARY, "Primary on-call, Security Lead")]
    assert len(page_mails(smtp, PRIMARY)) == 1


def test_the_commanders_acknowledge_button_stops_the_chain_and_cancels_unsent_ways(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock)
    tick()
    clock.advance(minutes=1.5)
    paging.queue_due_steps(clock())  # step 1 queued, not yet sent
    roles.acknowledge(db.session.get(type(incident), incident.id), actor=responder,
                      now=clock())
    db.session.commit()
    tick()
    clock.advance(minutes=10)
    tick()
    assert [(s, to) for s, to, _ in pages()] == [(0, PRIMARY), (1, SECONDARY)]
    assert page_mails(smtp, SECONDARY) == []  # its email way was cancelled
    assert [r.status for r in email_rows("page")] == ["sent", "cancelled"]
    chain = chain_of(incident)
    assert chain.acknowledged_by == "responder@example.test"


def test_the_resolution_stops_the_chain(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock)
    tick()
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="", actions="Rolled back."), actor=responder, now=clock())
    db.session.commit()
    clock.advance(minutes=10)
    tick()
    assert [(s, to) for s, to, _ in pages()] == [(0, PRIMARY)]
    assert chain_of(incident).closed_at is not None


def test_two_notifiers_at_once_and_ticks_after_a_crash_page_no_step_twice(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock)
    tick()
    clock.advance(minutes=1.5)
    with notifier_thread(app), notifier_thread(app):
        pass  # two notifiers at once
    assert [(s, to) for s, to, _ in pages()] == [(0, PRIMARY), (1, SECONDARY)]
    assert len(page_mails(smtp, SECONDARY)) == 1
    # A notifier that crashed after queueing (or a restart) queues again: the keys refuse it.
    for _ in range(3):
        assert paging.queue_due_steps(clock()) == 0
    db.session.add(Page(key=db.session.scalars(db.select(Page.key)).first(), kind="chain",
                        recipient=PRIMARY, created_at=clock()))
    with pytest.raises(Exception, match="(?i)unique"):
        db.session.commit()
    db.session.rollback()


def test_a_page_claimed_by_a_notifier_that_was_killed_goes_once_its_lease_ran_out(
        app, clock, smtp, people, responder, components):  # noqa: F811
    from statuspage.models import StaffEmail

    declare(responder, components, clock)
    paging.queue_due_steps(clock())
    db.session.execute(db.update(StaffEmail).values(
        status="sending", claim_token="a-notifier-that-was-killed",
        lease_until=clock() + timedelta(minutes=5)))
    db.session.commit()
    tick()
    assert page_mails(smtp) == []
    clock.advance(minutes=5, seconds=1)  # meanwhile steps 1 to 3 fell due
    tick()
    tick()
    assert [m.to for m in page_mails(smtp)].count(PRIMARY) == 1
    assert len(page_mails(smtp)) == 4  # the primary, the secondary, the Tech Lead twice


def test_raising_the_severity_starts_the_chain_and_a_type_change_adds_the_security_lead(
        app, clock, smtp, people, responder, components):  # noqa: F811
    from statuspage import contacts

    incident = declare(responder, components, clock, severity="SEV-3")
    tick()
    assert pages() == []

    def edit(severity, incident_type=None):
        incidents.edit_incident(
            incident, actor=responder, now=clock(), title=incident.title, severity=severity,
            component_ids=[c.id for c in incident.components],
            started_at=incident.started_at,
            declaration=contacts.Declaration(incident_type, False))
        db.session.commit()

    edit("SEV-2")
    tick()
    assert pages() == [(0, PRIMARY, "Primary on-call")]
    edit("SEV-2", "security")
    tick()
    assert pages()[1:] == [(0, SECURITY, "Security Lead")]
    assert len(page_mails(smtp, PRIMARY)) == 1


def test_no_one_on_call_pages_the_next_steps_still(
        app, admin, clock, smtp, responder, components):  # noqa: F811
    from statuspage import contacts

    contacts.save({"tech_lead": contacts.ContactValue("Tess Tech", TECH_LEAD)}, None,
                  actor=admin, now=clock())
    db.session.commit()
    incident = declare(responder, components, clock)
    tick()
    assert pages() == []
    clock.advance(minutes=1)
    incidents.edit_incident(incident, actor=responder, now=clock(), title="Still down",
                            severity="SEV-1", component_ids=[components[0].id],
                            started_at=incident.started_at)  # delays nothing
    db.session.commit()
    clock.advance(minutes=2)
    tick()
    assert pages() == [(2, TECH_LEAD, "Tech Lead")]


def test_declaration_by_the_write_api_pages_too(
        app, clock, smtp, people, components):  # noqa: F811
    from statuspage.audit import SystemActor

    declare(SystemActor("api-key:Tool"), components, clock, severity="SEV-2")
    tick()
    assert pages() == [(0, PRIMARY, "Primary on-call")]


def test_the_chain_waits_its_period_from_the_declaration_not_the_tick(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock)
    clock.advance(seconds=80)
    tick()  # the first tick comes late: step 0 only
    assert [s for s, _, _ in pages()] == [0]
    assert chain_of(incident).started_at + timedelta(minutes=1.5) > clock()


def test_the_rotations_primary_and_secondary_are_paged_and_an_override_wins(
        app, admin, make_staff, clock, smtp, people, responder, components):  # noqa: F811
    from datetime import datetime, timezone

    from statuspage.paging import rotations
    from statuspage.paging.rotations import OverrideFields, RotationFields

    for name in ("ann", "bob", "cy"):
        make_staff(email=f"{name}@example.test")
    start = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)  # Fri 09:00 CET: bob's week
    primary = rotations.create_rotation(RotationFields(
        name="Primary", role="primary", members="bob@example.test\nann@example.test",
        handover_every="week", handover_at=start), actor=admin, now=clock())
    rotations.create_rotation(RotationFields(
        name="Secondary", role="secondary", members="cy@example.test",
        handover_every="week", handover_at=start), actor=admin, now=clock())
    db.session.commit()
    declare(responder, components, clock, title="Before the override")
    tick()
    rotations.create_override(OverrideFields(
        rotation_id=primary.id, member="ann@example.test", starts_at=clock(),
        ends_at=clock() + timedelta(hours=2)), actor=admin, now=clock())
    db.session.commit()
    declare(responder, components, clock, title="With the override")
    clock.advance(minutes=1.5)
    tick()
    # The rotation's turn (bob), then the override (ann), who is not paged for the first
    # incident's past step; the secondary rotation's member, not the contacts' Secondary.
    assert [(s, to) for s, to, _ in pages()] == [
        (0, "bob@example.test"), (0, "ann@example.test"),
        (1, "cy@example.test"), (1, "cy@example.test")]
