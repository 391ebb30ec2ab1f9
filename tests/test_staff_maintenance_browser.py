"""The staff maintenance pages in real Chromium: scheduled through the form as a person
would, started and completed from its page; axe finds no WCAG 2.1 A/AA violation on the
list, the new form (empty and with errors), a window's page and the dashboard's
maintenance block, in light and dark, at 375 and 1280 px, and nothing scrolls sideways."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from statuspage import maintenance
from statuspage.extensions import db
from statuspage.models import Maintenance
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


@pytest.fixture
def windows(app, responder, components, clock):
    """An upcoming window, one running past its end (the dashboard flags it), a completed
    one, all with long words and an update."""
    def window(title, start, hours, **extra):
        m = maintenance.schedule(maintenance.WindowFields(
            title=title, component_ids=[components[0].id, components[1].id],
            scheduled_for=start, scheduled_until=start + timedelta(hours=hours),
            description="You cannot log meals while the database is upgraded.",
            workaround="Write your meals down and enter them afterwards.", **extra),
            actor=responder, now=clock())
        db.session.commit()
        return m

    upcoming = window("Database upgrade", clock() + timedelta(days=2), 2)
    overran = window("Storage migration of the photo analysis cluster",
                     clock() + timedelta(minutes=5), 1, auto_complete=False)
    done = window("Certificate renewal", clock() + timedelta(minutes=10), 1)
    clock.advance(minutes=10)
    maintenance.start(overran, actor=responder, now=clock())
    maintenance.start(done, actor=responder, now=clock())
    maintenance.post_update(overran, maintenance.UpdateText(
        actions="Copying the data; about half is done."), actor=responder, now=clock())
    clock.advance(minutes=20)
    maintenance.complete(done, actor=responder, now=clock())
    db.session.commit()
    clock.advance(hours=1)  # the storage migration is now past its end
    return {"upcoming": upcoming.id, "overran": overran.id, "done": done.id}


def pages(windows) -> list[str]:
    return ["/staff/", "/staff/maintenance", "/staff/maintenance/new",
            f"/staff/maintenance/{windows['upcoming']}",
            f"/staff/maintenance/{windows['overran']}",
            f"/staff/maintenance/{windows['done']}"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 1280])
def test_the_maintenance_pages_pass_axe_and_fit(windows, new_page, responder, scheme, width):
    page = new_page(color_scheme=scheme, viewport={"width": width, "height": 900})
    sign_in(page, responder.email)
    for path in pages(windows):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert_accessible(page, f"{path} ({scheme}, {width} px)")
        assert horizontal_overflow(page) <= 0, f"{path} scrolls sideways at {width} px"
    page.goto("/staff/")
    expect(page.locator(".overran-warning")).to_contain_text("Storage migration")


def test_schedule_start_and_complete_in_the_browser(app, new_page, responder, components,
                                                   clock):
    page = new_page()
    sign_in(page, responder.email)
    page.get_by_role("navigation", name="Staff").get_by_role("link",
                                                             name="Maintenance").click()
    page.get_by_role("link", name="Schedule maintenance").click()
    page.get_by_role("button", name="Schedule").click()  # empty: refused, said at the fields
    assert page.locator("[aria-invalid=true]").count() >= 4
    assert_accessible(page, "new maintenance with errors")
    page.get_by_label("Title: what the work is").fill("Database upgrade")
    page.get_by_label(components[1].name).check()
    page.get_by_label("Starts").fill("2026-11-28T02:00")
    page.get_by_label("Ends").fill("2026-11-28T04:00")
    page.get_by_label("What users will notice").fill("You cannot log meals.")
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_text("Maintenance scheduled: Database upgrade.")).to_be_visible()
    db.session.rollback()  # end the read that began before the server's write
    m = db.session.scalars(db.select(Maintenance)).one()
    assert page.url.endswith(f"/staff/maintenance/{m.id}")
    page.get_by_role("button", name="Start now").click()
    expect(page.get_by_text("Maintenance started")).to_be_visible()
    expect(page.locator(".maintenance-status")).to_contain_text("In progress")
    page.get_by_role("button", name="Complete now").click()
    expect(page.locator(".maintenance-status")).to_contain_text("Completed")
    db.session.rollback()
    assert db.session.get(Maintenance, m.id).status == "completed"
