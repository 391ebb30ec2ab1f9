"""/staff/monitors and the dashboard's proposals in real Chromium: axe finds no WCAG 2.1
A/AA violation (light and dark), every control is reached by keyboard with a visible
focus, nothing scrolls sideways at 320 px, state is said in words; and a proposal is
published in one click through the real form."""

from __future__ import annotations

import pytest

from statuspage.extensions import db
from statuspage.models import Incident, MonitorProposal
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    assert_keyboard_reachable_with_visible_focus,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
    sign_in,
)
from tests.monitor_support import make_monitored, monitor_pages

pytestmark = [pytest.mark.browser, needs_browser]


@pytest.fixture
def monitored(app, components, clock):
    return make_monitored(components, clock)


def pages(ids) -> list[str]:
    return ["/staff/", *monitor_pages(ids)]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_monitor_pages_pass_axe(monitored, new_page, admin, scheme):
    page = new_page(color_scheme=scheme)
    sign_in(page, admin.email)
    for path in pages(monitored):
        assert page.goto(path).status == 200, path
        assert_accessible(page, f"{path} ({scheme})")
    page.goto("/staff/monitors/new")
    page.get_by_role("button", name="Save monitor").click()
    assert page.locator("[aria-invalid=true]").count() >= 2
    assert_accessible(page, "monitor form with errors")


def test_the_monitor_pages_work_by_keyboard_and_on_a_phone(monitored, new_page, admin):
    page = new_page()
    sign_in(page, admin.email)
    for path in pages(monitored):
        page.goto(path)
        assert_keyboard_reachable_with_visible_focus(page, path)
    phone = new_page(viewport={"width": 320, "height": 640})
    sign_in(phone, admin.email)
    for path in pages(monitored):
        phone.goto(path)
        assert horizontal_overflow(phone) <= 0, f"{path} at 320px"
    phone.goto("/staff/monitors")
    states = phone.locator(".monitor-state").all_inner_texts()
    assert [s.split()[0] for s in states] == ["Down", "Muted"]  # words, not colour alone


def test_a_proposal_is_published_in_one_click(monitored, new_page, admin, clock):
    page = new_page()
    sign_in(page, admin.email)
    page.goto("/staff/")
    block = page.locator(".monitor-proposals")
    assert "is not responding" in block.inner_text()
    block.get_by_role("link", name="Publish the incident for").click()
    page.wait_for_url("**/staff/incidents/new?proposal=*")
    page.get_by_role("button", name="Declare incident").click()
    page.wait_for_url("**/staff/incidents/*")
    db.session.rollback()
    incident = db.session.scalars(db.select(Incident)).one()
    proposal = db.session.get(MonitorProposal, monitored["proposal"])
    assert proposal.incident_id == incident.id
    assert incident.started_at == proposal.first_failed_at
    assert incident.severity == "SEV-2" and incident.status == "investigating"
