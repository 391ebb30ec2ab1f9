"""The whole story in a real browser (issue 6, item 6).

A responder signs in, declares an incident and posts updates through to Resolved; a
visitor, in another browser context (no cookie shared), sees each update on the public
page and the incident's permalink, subscribes, receives the confirmation email over real
SMTP (one notifier tick) and confirms. axe-core checks every page on the way.

The app runs as in production: the render cache on (its freshness check runs at most
once per second, so the visitor's page is polled until the update shows, within a bound).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from statuspage.extensions import db
from statuspage.models import Incident, Subscriber
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    live_url,
    needs_browser,
    new_page,
    sign_in,
    wait_for_text,
)
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, needs_browser]


@pytest.fixture
def app(make_app, smtp):
    """The app as served for real: public render cache on, mail to the test SMTP server."""
    app = make_app(PUBLIC_CACHE=True, MAIL_PORT=smtp.port, **MAIL_CONFIG)
    with app.app_context():
        yield app


def _post_update(staff, *, status: str, impact: str, actions: str) -> None:
    staff.locator("#status").select_option(status)
    staff.locator("#impact").fill(impact)
    staff.locator("#actions").fill(actions)
    with staff.expect_navigation():
        staff.get_by_role("button", name="Post update").click()
    assert "Update posted" in staff.locator(".flashes").inner_text()
    assert_accessible(staff, f"staff incident page after {status}")


def _visitor_sees(visitor, incident_id: int, *texts: str) -> None:
    for path in ("/", f"/incidents/{incident_id}"):
        for text in texts:
            wait_for_text(visitor, path, text)
        assert_accessible(visitor, path)


def test_an_incident_from_declaration_to_resolution_seen_by_a_visitor(
        app, new_page, responder, components, clock, smtp):
    staff, visitor = new_page(), new_page()

    visitor.goto("/")
    assert "All Systems Operational" in visitor.locator("#overall-status").inner_text()
    assert_accessible(visitor, "/ before")

    # The responder signs in and declares the incident.
    staff.goto("/staff/login")
    assert_accessible(staff, "/staff/login")
    sign_in(staff, responder.email)
    assert_accessible(staff, "dashboard")
    staff.get_by_role("link", name="Declare an incident").click()
    assert_accessible(staff, "new incident form")
    staff.get_by_label("Issue: a brief description").fill("Saving entries fails")
    staff.locator("#severity-SEV-2").check()
    staff.get_by_label("Saving entries").first.check()
    staff.locator("#impact").fill("Participants cannot save meals or readings.")
    staff.locator("#actions").fill("We are investigating the database.")
    staff.locator("#workaround").fill("Write entries down and add them later.")
    staff.get_by_role("button", name="Declare incident").click()
    staff.wait_for_url(re.compile(r"/staff/incidents/\d+$"))
    assert "Incident declared" in staff.locator(".flashes").inner_text()
    assert_accessible(staff, "staff incident page")
    incident_id = int(urlsplit(staff.url).path.rsplit("/", 1)[1])

    _visitor_sees(visitor, incident_id, "Saving entries fails",
                  "Participants cannot save meals or readings.",
                  "Write entries down and add them later.",
                  "If you have urgent health concerns, please contact your healthcare "
                  "provider directly.")

    # Each update, then what the visitor sees.
    steps = [
        ("identified", "Saving fails for about half of the participants.",
         "A full disk on the database server was found."),
        ("monitoring", "Saving works again; we are watching it.",
         "The disk was enlarged."),
        ("resolved", "Saving works normally.", "The cause is fixed."),
    ]
    for status, impact, actions in steps[:2]:
        clock.advance(minutes=20)
        _post_update(staff, status=status, impact=impact, actions=actions)
        _visitor_sees(visitor, incident_id, impact, actions)

    # Resolved: the front page says all is well again and lists the incident as resolved
    # (its timeline folded away); the permalink shows the last update.
    status, impact, actions = steps[2]
    clock.advance(minutes=20)
    _post_update(staff, status=status, impact=impact, actions=actions)
    wait_for_text(visitor, "/", "All Systems Operational")
    assert "Saving entries fails" in visitor.locator("section.recent").inner_text()
    assert "urgent health concerns" not in visitor.locator("main").inner_text()
    assert_accessible(visitor, "/ after")
    wait_for_text(visitor, f"/incidents/{incident_id}", impact)
    assert_accessible(visitor, "incident page after")
    visitor.goto(f"/incidents/{incident_id}")
    assert "Resolved" in visitor.locator("main").inner_text()
    timeline = visitor.locator("main").inner_text()
    for _, impact, _ in steps:
        assert impact in timeline  # the whole timeline stays on the permalink
    db.session.rollback()  # a fresh read: the server wrote in its own thread
    assert db.session.get(Incident, incident_id).resolved_at == clock()


def test_a_visitor_subscribes_and_confirms(app, new_page, smtp, clock):
    visitor = new_page()
    visitor.goto("/")
    # The header's one "Get updates" entry leads to email, feeds and the calendar (issue 11).
    visitor.get_by_role("link", name="Get updates", exact=True).click()
    visitor.get_by_role("link", name="Subscribe by email", exact=True).click()
    assert_accessible(visitor, "/subscribe")
    visitor.get_by_label("Email address").fill("pat@example.test")
    visitor.get_by_label("Participant").check()
    visitor.get_by_role("button", name="Subscribe").click()
    visitor.wait_for_url(re.compile(r"/subscribe/check-inbox$"))
    assert_accessible(visitor, "/subscribe/check-inbox")

    # The notifier sends the confirmation email over real SMTP.
    tick()
    (message,) = smtp.to("pat@example.test")
    link = re.search(r"https://status\.example\.test(/confirm/\S+)", message.text())
    assert link is not None, message.text()
    visitor.goto(link.group(1))
    assert_accessible(visitor, "confirm page")
    db.session.rollback()  # a fresh read: the server wrote in its own thread
    assert db.session.scalars(db.select(Subscriber.status)).one() == "pending"  # a GET
    with visitor.expect_navigation():
        visitor.get_by_role("button", name="Confirm my subscription").click()
    assert_accessible(visitor, "confirmed page")
    db.session.rollback()  # a fresh read: the server wrote in its own thread
    assert db.session.scalars(db.select(Subscriber.status)).one() == "confirmed"
    # The public pages still set no cookie for the visitor.
    cookies = visitor.context.cookies()
    visitor.goto("/")
    assert visitor.context.cookies() == cookies
