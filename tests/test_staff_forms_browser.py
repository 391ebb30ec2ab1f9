"""The incident forms' scripts in Chromium (issue 11): a status other than Operational
ticks "affected", ticking "affected" suggests the severity's usual status, the issue's
live counter, and the confirmations done by keyboard alone. axe checks the pages."""

from __future__ import annotations

import pytest

from statuspage.extensions import db
from statuspage.models import IncidentUpdate
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    live_url,
    needs_browser,
    new_page,
    page,
    sign_in,
)

pytestmark = [pytest.mark.browser, needs_browser]


def test_component_rows_and_counter_on_the_new_incident_form(page, responder, components):
    sign_in(page, responder.email)
    page.goto("/staff/incidents/new")
    assert_accessible(page, "new incident form")
    saving, photos = components[1], components[3]
    page.locator("#severity-SEV-1").check()
    page.locator(f"#component-{saving.id}").check()
    assert page.locator(f"#component_status-{saving.id}").input_value() == "major_outage"
    page.locator(f"#component_status-{photos.id}").select_option("partial_outage")
    assert page.locator(f"#component-{photos.id}").is_checked()

    issue = page.locator("#issue")
    issue.fill("x" * 229)  # a paste longer than the limit is kept, and counted
    assert issue.input_value() == "x" * 229
    count = page.locator("#issue-count")
    assert count.inner_text() == "229 of 200 characters: 29 too many"
    issue.fill("Saving entries fails")
    assert count.inner_text() == "20 of 200 characters"


def test_redact_is_confirmed_by_keyboard(page, app, admin, components, make_incident):
    incident = make_incident(admin, components[:1], impact="Jane's readings were lost")
    update_id = incident.updates[0].id
    sign_in(page, admin.email)
    page.goto(f"/staff/incidents/{incident.id}")
    assert_accessible(page, "incident page with confirmations")
    form = page.locator(f"#update-{update_id} form.redact")
    button = form.get_by_role("button", name="Redact this update's text")
    button.focus()
    page.keyboard.press("Enter")  # the browser asks for the tick first: nothing posted
    assert page.url.endswith(f"/staff/incidents/{incident.id}")
    db.session.rollback()
    assert db.session.get(IncidentUpdate, update_id).redacted_at is None
    form.locator("input[name=confirm]").focus()
    page.keyboard.press("Space")
    button.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "replaced by [redacted]" in page.locator(".flashes").inner_text()
    db.session.rollback()
    assert db.session.get(IncidentUpdate, update_id).redacted_at is not None
