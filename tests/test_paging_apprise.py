"""The chain through the real ``apprise`` package (issue 24, "Done when"): a SEV-1 at night
reaches the primary on call's phone by SMS (Apprise's ``json://`` as the SMS provider) and
push (a loopback ntfy-compatible server), with the ack link; a receiver answering 500 gets
retries and the next step still goes on time; the link pushed to the phone stops the
chain for everyone, and the ways not yet sent are cancelled. SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from statuspage import contacts
from statuspage.extensions import db
from tests.conftest import soup
from tests.ntfy_receiver import ntfy  # noqa: F401  (fixture)
from tests.paging_support import (NIGHT, PEOPLE, PRIMARY, SECONDARY, chain_of,  # noqa: F401
                                  declare, pages, smtp)
from tests.smtp import MAIL_CONFIG, tick
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

OLGA_PHONE = "+4915112345678"


@pytest.fixture
def app(make_app, smtp, receiver, clock):  # noqa: F811
    clock.set(NIGHT)
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG, SITE_TIMEZONE="Europe/Berlin",
                   PAGE_ESCALATION_MINUTES=1.5, PAGE_REPEAT_LIMIT=2,
                   SMS_URL=f"json://127.0.0.1:{receiver.port}/sms",
                   PAGE_ALLOW_PRIVATE_HOSTS=True, PAGE_TIMEOUT_SECONDS=0.5,
                   PAGE_MAX_ATTEMPTS=3)
    with app.app_context():
        yield app


@pytest.fixture
def on_call(app, admin, make_staff, clock, ntfy):  # noqa: F811
    make_staff(email=PRIMARY, display_name="Olga Oncall", phone=OLGA_PHONE,
               page_urls=ntfy.url("olga-Zq81"))
    make_staff(email=SECONDARY, display_name="Sid Second", page_urls=ntfy.url("sid-Pw42"))
    contacts.save({role: contacts.ContactValue(*value) for role, value in PEOPLE.items()},
                  None, actor=admin, now=clock())
    db.session.commit()


def test_a_sev1_at_night_reaches_the_phone_and_the_link_stops_the_chain(
        app, clock, smtp, ntfy, receiver, on_call, responder, components):  # noqa: F811
    incident = declare(responder, components, clock, title="Database unresponsive")
    ntfy.answer(500)  # the push server fails once: tried again later
    tick()
    [sms] = receiver.requests
    assert sms.path == f"/sms/{OLGA_PHONE}"
    assert "/ack/" in sms.json["message"]
    assert ntfy.received() == []
    clock.advance(minutes=1)
    tick()
    [push] = ntfy.received("olga-Zq81")
    assert push.title == "Metabolic-Tracker SEV-1: Database unresponsive"
    assert "Paged as: Primary on-call" in push.message
    clock.advance(seconds=30)  # one period: the secondary, on time despite the retry
    tick()
    assert [p.title for p in ntfy.received("sid-Pw42")] == [
        "Metabolic-Tracker SEV-1: Database unresponsive"]
    assert pages() == [(0, PRIMARY, "Primary on-call"), (1, SECONDARY, "Secondary on-call")]

    # Olga acknowledges from the link on her phone.
    link = re.search(r"https?://[^/\s]+(/ack/\S+)", push.message).group(1)
    client = app.test_client()
    page = client.get(link)
    done = client.post(link, data={"csrf_token": soup(page).select_one(
        "input[name=csrf_token]")["value"]})
    assert done.status_code == 200
    assert chain_of(incident).acknowledged_by == "Olga Oncall"
    clock.advance(minutes=10)
    tick()
    assert [s for s, _, _ in pages()] == [0, 1]  # no Tech Lead: the chain stopped
    assert len(ntfy.received("olga-Zq81")) == 1 and len(receiver.requests) == 1


def test_a_proposal_published_as_an_incident_reaches_the_phone_once(
        app, clock, smtp, ntfy, receiver, on_call, responder, components):  # noqa: F811
    from statuspage import events, incidents
    from statuspage.models import MonitorProposal, PageSend
    from statuspage.monitors import outages
    from tests.monitor_support import make_monitored

    proposal = db.session.get(MonitorProposal, make_monitored(components, clock)["proposal"])
    events.record(events.ProposalOpened(proposal), now=clock())
    db.session.commit()
    tick()
    clock.advance(seconds=40)
    outages.publish(proposal, actor=responder, now=clock(), title="App not ready",
                    severity="SEV-1", component_ids=[components[2].id],
                    update=incidents.UpdateText(status="investigating", impact="x",
                                                actions="y"))
    db.session.commit()
    tick()
    tick()
    assert [p.title for p in ntfy.received("olga-Zq81")] == [
        "Metabolic-Tracker SEV-2 proposed: Charts & dashboards is down"]
    assert len(receiver.requests) == 1  # one SMS: the incident's own first page made way
    assert db.session.scalar(db.select(db.func.count()).select_from(PageSend)) == 2
    clock.advance(minutes=1)  # 1.5 minutes after the proposal's page: the secondary
    tick()
    assert [p.title for p in ntfy.received("sid-Pw42")] == [
        "Metabolic-Tracker SEV-1: App not ready"]
