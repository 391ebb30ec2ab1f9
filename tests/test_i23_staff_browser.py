"""Issue 23 in real Chromium, at 375 and 1280 px, light and dark: the staff incident page's
Slack table fits a phone, the update form's script empties the carried Impact when Resolved
is chosen, revoking an API key waits for its tick, and the page's icon is there.

Screenshots of the staff incident page go to $I23_SCREENSHOTS (default: none taken)."""

from __future__ import annotations

import os

import pytest

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import ApiKey, Incident
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
    sign_in,
)
from tests.smtp import tick
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, needs_browser]

WIDTHS = [375, 1280]
SCHEMES = ["light", "dark"]
CARRIED = "Participants cannot save meals."
WORKAROUND = "Write meals down and enter them later."
SHOTS = os.environ.get("I23_SCREENSHOTS")


@pytest.fixture
def app(make_app, receiver):  # noqa: F811
    app = make_app(SLACK_WEBHOOK_URL=receiver.url(), WEBHOOK_TIMEOUT_SECONDS=0.5,
                   WEBHOOK_ALLOW_LOOPBACK_HTTP=True, SITE_TIMEZONE="Europe/Berlin")
    with app.app_context():
        yield app


@pytest.fixture
def slack_incident(responder, components, make_incident, receiver, clock):  # noqa: F811
    """A SEV-1 whose Slack messages did not all go: the declaration retrying after a 503,
    the next update waiting behind it."""
    incident = make_incident(responder, components[:2], severity="SEV-1",
                             title="Meal logging fails", impact=CARRIED,
                             actions="We are investigating.",
                             workaround=WORKAROUND)
    receiver.answer(503)
    tick()
    clock.advance(minutes=10)
    incidents.post_update(incident, incidents.UpdateText(
        "identified", CARRIED, "A full disk on the database server: freeing space.",
        workaround=WORKAROUND), actor=responder, now=clock())
    db.session.commit()
    return incident


def _slack_table_fits(page, width: int) -> None:
    table = page.locator("section.slack-messages table")
    assert table.count() == 1
    box = table.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
    assert horizontal_overflow(page) == 0
    text = page.locator("section.slack-messages").inner_text()
    assert "retrying (1 try: HTTP 503)" in text and "Status update" in text


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_staff_incident_pages_slack_table_fits_the_screen(
        app, new_page, responder, slack_incident, width, scheme):
    page = new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    sign_in(page, responder.email)
    page.goto(f"/staff/incidents/{slack_incident.id}")
    _slack_table_fits(page, width)
    # A card per message on a phone (each value under its column's name), rows wider up.
    first = page.locator("section.slack-messages tbody tr").first
    display = first.evaluate("tr => getComputedStyle(tr).display")
    assert display == ("flex" if width <= 400 else "table-row")
    label = first.locator("td.slack-delivery").evaluate(
        "td => getComputedStyle(td, '::before').content")
    assert ("Delivery" in label) == (width <= 400), label
    assert_accessible(page, f"staff incident page, {width} px, {scheme}")
    # The page's icon is there (no browser asks for /favicon.ico in vain).
    icon = page.locator("head link[rel~=icon]").get_attribute("href")
    got = page.request.get(icon)
    assert got.status == 200 and got.headers["content-type"].startswith("image/")
    if SHOTS:
        name = os.path.join(SHOTS, f"staff-incident-{width}-{scheme}")
        page.screenshot(path=name + "-top.png")
        page.locator("section.slack-messages").scroll_into_view_if_needed()
        page.screenshot(path=name + "-slack.png")
        page.screenshot(path=name + "-full.png", full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_choosing_resolved_empties_the_carried_impact(
        app, new_page, responder, slack_incident, width):
    page = new_page(viewport={"width": width, "height": 900})
    sign_in(page, responder.email)
    page.goto(f"/staff/incidents/{slack_incident.id}")
    impact = page.get_by_label("Impact: what users are experiencing")
    workaround = page.get_by_label("Workaround (if available)")
    status = page.get_by_label("Status", exact=True)
    assert impact.input_value() == CARRIED
    status.select_option("resolved")
    assert impact.input_value() == "" and workaround.input_value() == ""
    status.select_option("monitoring")  # not Resolved after all: the text comes back
    assert impact.input_value() == CARRIED
    assert workaround.input_value() == WORKAROUND
    status.select_option("resolved")
    page.get_by_label("Actions: what we're doing").fill("Space freed; saving works again.")
    page.get_by_role("button", name="Post update").click()
    page.locator("#resolved-heading").wait_for()
    assert horizontal_overflow(page) == 0
    db.session.rollback()  # the live server wrote it
    resolved = db.session.get(Incident, slack_incident.id).latest_update
    assert (resolved.status, resolved.impact, resolved.workaround) == ("resolved", "", "")
    # What a participant reads under Resolved.
    page.goto(f"/incidents/{slack_incident.id}")
    newest = page.locator("ol.timeline > li.update").first.inner_text()
    assert "Space freed; saving works again." in newest and CARRIED not in newest


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_revoking_an_api_key_waits_for_the_tick(app, new_page, admin, width, scheme):
    page = new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    sign_in(page, admin.email)
    page.goto("/staff/api-keys")
    page.get_by_label("Name (the tool that will use the key)").fill("Uptime monitor")
    page.get_by_role("button", name="Make the key").click()
    page.get_by_role("link", name="Back to API keys").click()
    row = page.locator("table.api-keys tbody tr").first
    row.get_by_role("button", name="Revoke Uptime monitor").click()  # not ticked
    assert page.get_by_text("API key revoked").count() == 0
    db.session.rollback()
    key = db.session.scalar(db.select(ApiKey).where(ApiKey.name == "Uptime monitor"))
    assert key.revoked_at is None
    assert horizontal_overflow(page) == 0
    assert_accessible(page, f"/staff/api-keys, {width} px, {scheme}")
    row.get_by_label("Yes, revoke this key for good").check()
    row.get_by_role("button", name="Revoke Uptime monitor").click()
    page.get_by_text("API key revoked: Uptime monitor.").wait_for()
    db.session.rollback()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
