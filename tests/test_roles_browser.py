"""The roles, the acknowledgement, the display name and the dashboard's targets in real
Chromium with axe-core (issue 14, point 1), at 1280 px and 375 px."""

from __future__ import annotations

import pytest

from statuspage.extensions import db
from statuspage.models import Incident
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
    sign_in,
)

pytestmark = [pytest.mark.browser, needs_browser]

TITLE = ("Participants cannot save entries or see their charts after the overnight release "
         "and the dashboard shows stale data")


@pytest.mark.parametrize("width", [1280, 375])
def test_roles_acknowledgement_and_targets_pass_axe(
        app, clock, new_page, responder, make_staff, components, make_incident, width):
    make_staff(email="lead@example.test", display_name="Robin Lead")
    incident = make_incident(responder, components[:1], severity="SEV-1", title=TITLE)
    page = new_page(viewport={"width": width, "height": 900})
    sign_in(page, responder.email)

    page.goto("/staff/password")
    page.get_by_label("Display name").fill("Sam Responder")
    page.get_by_role("button", name="Save display name").click()
    assert page.get_by_label("Display name").input_value() == "Sam Responder"
    assert_accessible(page, f"password page with the display name ({width})")

    page.goto(f"/staff/incidents/{incident.id}")
    assert page.locator(".roles .commander").inner_text() == "Sam Responder"
    page.get_by_role("button", name="Acknowledge").click()
    assert "Acknowledged" in page.locator(".roles .acknowledged").inner_text()
    page.get_by_label("Communications Lead").select_option(label="Robin Lead")
    page.get_by_role("button", name="Save roles").click()
    assert page.locator(".roles .comms-lead").inner_text() == "Robin Lead"
    assert_accessible(page, f"incident page with its roles ({width})")
    db.session.rollback()  # the live server wrote it
    assert db.session.get(Incident, incident.id).acknowledged_at is not None

    clock.advance(hours=1, minutes=50)  # the resolution target's last fifth
    page.goto("/staff/")
    row = page.locator(f"tr[data-incident-id='{incident.id}']")
    assert "Response (15 min): Met" in row.inner_text()
    assert "Resolution (2 h): Close to being missed" in row.inner_text()
    assert horizontal_overflow(page) == 0
    assert_accessible(page, f"dashboard with targets ({width})")
