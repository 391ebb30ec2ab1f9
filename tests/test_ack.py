"""Acknowledge in one tap (issue 24, point 5): the link in every page opens a page that
says which incident and who you acknowledge as, with one button; the GET changes nothing;
the POST (with its CSRF token) stops the chain for everyone, acknowledges the incident as
the staff page's button does (a staff member who answers an incident without a commander
becomes its commander), says who answered, and is audited. A link that is tampered,
expired, used twice, for another person, or for a chain someone else acknowledged gets a
clear page and changes nothing. Through the real notifier tick and SMTP on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage.audit import SystemActor
from statuspage.extensions import db
from statuspage.models import AuditEvent, Incident, Page
from statuspage.paging import acks
from tests.conftest import soup
from tests.paging_support import (PRIMARY, SECURITY, TECH_LEAD, ack_link, app,  # noqa: F401
                                  chain_of, declare, email_rows, page_mails, pages, people,
                                  smtp)
from tests.smtp import tick


def csrf_of(response) -> str:
    field = soup(response).select_one("form input[name=csrf_token]")
    return field["value"]


def tap(client, link: str):
    """Open the link, then press its button (as a phone would)."""
    page = client.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(link, data={"csrf_token": csrf_of(page)})


@pytest.fixture
def paged(app, clock, smtp, people, responder, components):  # noqa: F811
    """A SEV-1 declared at night by a monitor (no commander), the primary paged."""
    incident = declare(SystemActor("monitor:Login"), components, clock)
    tick()
    return incident


def test_the_link_opens_a_page_that_changes_nothing_and_the_button_acknowledges(
        app, clock, smtp, paged):  # noqa: F811
    client = app.test_client()
    [mail] = page_mails(smtp, PRIMARY)
    link = ack_link(mail)
    for _ in range(2):  # a mail scanner, then the person
        page = client.get(link)
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        text = soup(page).get_text(" ", strip=True)
        assert "App down for everyone" in text
        assert "You acknowledge as Olga Oncall" in text
    assert chain_of(paged).acknowledged_at is None
    assert db.session.scalar(db.select(Page.ack_used_at)) is None

    clock.advance(minutes=1)
    done = client.post(link, data={"csrf_token": csrf_of(page)})
    assert done.status_code == 200
    assert "Thank you, Olga Oncall" in soup(done).get_text(" ", strip=True)
    chain = chain_of(paged)
    assert (chain.acknowledged_at, chain.acknowledged_by) == (clock(), "Olga Oncall")
    incident = db.session.get(Incident, paged.id)
    # No commander: the staff member who answered commands it, and acknowledged it.
    assert incident.commander.email == PRIMARY
    assert incident.acknowledged_at == clock()
    actions = set(db.session.scalars(db.select(AuditEvent.action)))
    assert {"page.acknowledge", "incident.roles", "incident.acknowledge"} <= actions
    # The chain stopped: no secondary, no Tech Lead, however long no one else answers.
    clock.advance(minutes=30)
    tick()
    assert [to for _, to, _ in pages()] == [PRIMARY]


def test_used_twice_says_so_and_changes_nothing(app, clock, smtp, paged):  # noqa: F811
    client = app.test_client()
    link = ack_link(page_mails(smtp, PRIMARY)[0])
    first = client.get(link)
    assert tap(client, link).status_code == 200
    again = client.post(link, data={"csrf_token": csrf_of(first)})
    assert again.status_code == 409
    assert "Already acknowledged by Olga Oncall at 2026-11-26 02:00 CET." in \
        soup(again).get_text(" ", strip=True)
    assert client.get(link).status_code == 409  # the link's page says so too
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "page.acknowledge")) == 1


def test_a_tampered_link_and_one_for_another_person_are_refused(
        app, clock, smtp, paged):  # noqa: F811
    client = app.test_client()
    link = ack_link(page_mails(smtp, PRIMARY)[0])
    token = link.rsplit("/", 1)[1]
    tampered = "/ack/" + token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    for bad in (tampered, "/ack/" + token[:20], "/ack/" + "x" * 400, "/ack/%00"):
        response = client.get(bad)
        assert response.status_code in (400, 404), bad
        assert response.status_code == 404 or "not valid" in response.get_data(as_text=True)
        assert client.post(bad, data={}).status_code in (400, 404)
    # Signed with the site's key, but naming someone else than the page's person.
    page = db.session.scalar(db.select(Page))
    other = acks._serializer(app.config["SECRET_KEY"]).dumps(
        [page.id, "mallory@example.test", "incident", paged.id])
    response = client.get(f"/ack/{other}")
    assert response.status_code == 400
    assert "does not belong to this page" in response.get_data(as_text=True)
    # A token of another purpose (the subscribers' links) is not an ack token.
    from statuspage import tokens

    assert client.get("/ack/" + tokens.unsubscribe_token("abc")).status_code == 400
    assert chain_of(paged).acknowledged_at is None


def test_an_expired_link_is_refused(app, clock, smtp, paged):  # noqa: F811
    client = app.test_client()
    link = ack_link(page_mails(smtp, PRIMARY)[0])
    page = client.get(link)
    clock.advance(hours=24, seconds=1)
    for response in (client.get(link), client.post(link, data={"csrf_token": csrf_of(page)})):
        assert response.status_code == 410
        assert "expired" in response.get_data(as_text=True)
    assert chain_of(paged).acknowledged_at is None


def test_acknowledged_by_someone_else_first(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock, incident_type="security")
    tick()
    client = app.test_client()
    clock.advance(minutes=1)
    assert tap(client, ack_link(page_mails(smtp, SECURITY)[0])).status_code == 200
    late = client.get(ack_link(page_mails(smtp, PRIMARY)[0]))
    assert late.status_code == 409
    assert "Already acknowledged by Sam Secure at 2026-11-26 02:01 CET." in \
        soup(late).get_text(" ", strip=True)
    # The incident has a commander (its declarer): it stays theirs to acknowledge.
    incident = db.session.get(Incident, incident.id)
    assert incident.commander.email == "responder@example.test"
    assert incident.acknowledged_at is None
    assert chain_of(incident).acknowledged_by == "Sam Secure"


def test_a_contact_without_a_staff_account_is_named_and_commands_nothing(
        app, clock, smtp, paged):  # noqa: F811
    clock.advance(minutes=3)  # the Tech Lead's step
    tick()
    response = tap(app.test_client(), ack_link(page_mails(smtp, TECH_LEAD)[0]))
    assert response.status_code == 200
    assert chain_of(paged).acknowledged_by == "Tess Tech"
    incident = db.session.get(Incident, paged.id)
    assert incident.commander is None and incident.acknowledged_at is None
    [event] = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.action == "page.acknowledge"))
    assert event.actor_id is None and event.actor_label == "ack-link:Tess Tech"


def test_a_post_without_its_csrf_token_changes_nothing(
        app, clock, smtp, paged):  # noqa: F811
    client = app.test_client()
    link = ack_link(page_mails(smtp, PRIMARY)[0])
    client.get(link)
    response = client.post(link, data={})
    assert response.status_code == 400
    assert "Nothing was changed: press the button again" in response.get_data(as_text=True)
    assert soup(response).select_one("form button").get_text() == "Acknowledge"
    assert chain_of(paged).acknowledged_at is None


def test_a_resolved_incident_has_nothing_to_acknowledge(
        app, clock, smtp, paged, responder):  # noqa: F811
    from statuspage import incidents

    incidents.post_update(db.session.get(Incident, paged.id), incidents.UpdateText(
        status="resolved", impact="", actions="Restarted."), actor=responder, now=clock())
    db.session.commit()
    response = app.test_client().get(ack_link(page_mails(smtp, PRIMARY)[0]))
    assert response.status_code == 409
    assert "the incident was resolved" in response.get_data(as_text=True)


def test_the_posts_are_limited_per_address(app, clock, smtp, paged):  # noqa: F811
    app.config["ACK_RATE_LIMIT"] = "2 per minute"
    client = app.test_client()
    link = ack_link(page_mails(smtp, PRIMARY)[0])
    statuses = [client.post(link, data={}).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    assert "Too many acknowledgements" in client.post(link, data={}).get_data(as_text=True)


def test_the_page_email_says_what_and_carries_the_link_and_the_staff_row(
        app, clock, smtp, paged):  # noqa: F811
    [mail] = page_mails(smtp, PRIMARY)
    assert ack_link(mail).startswith("/ack/")
    assert "https://status.example.test/ack/" in mail.text()
    assert [r.status for r in email_rows("page")] == ["sent"]
    assert acks.LIFETIME == timedelta(hours=24)
