"""Planned maintenance's public pages in real Chromium (issue 12): the front page with a
running and an upcoming window, each window's page (running, upcoming with a long title,
cancelled), the history and "Get updates", at 375 px and 1280 px, light and dark: nothing
scrolls sideways and axe finds nothing. The window shows in the reader's zone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
)
from tests.maintenance_support import add_update, make_window

pytestmark = [pytest.mark.browser, needs_browser]

PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def windows(app, admin, components, make_incident, clock):
    """A running window with updates, an upcoming one, a cancelled and a completed one,
    and an open incident beside them."""
    running = make_window(clock(), components[1:3], title="Database upgrade",
                          status="in_progress", starts_in=timedelta(minutes=-20),
                          workaround="Entries saved on the phone are kept; they sync later.")
    add_update(running, clock() - timedelta(minutes=20), "in_progress",
               impact="Saving entries pauses while the database is upgraded.",
               actions="The upgrade has begun.", next_update_at=clock() + timedelta(minutes=30))
    upcoming = make_window(
        clock(), components[3:4],
        title="Food photo analysis moves to new servers (Lebensmittelfotoanalyseserverumzug)",
        starts_in=timedelta(days=3))
    cancelled = make_window(clock(), components[:1], title="Network change", status="cancelled",
                            starts_in=timedelta(days=-1))
    make_window(clock(), components[:1], title="Storage move", status="completed",
                starts_in=timedelta(days=-4))
    incident = make_incident(admin, components[:1], title="Login slow", severity="SEV-4")
    return {"running": running.id, "upcoming": upcoming.id, "cancelled": cancelled.id,
            "incident": incident.id}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_maintenance_pages_fit_and_pass_axe(windows, new_page, viewport, scheme):
    page = new_page(viewport=viewport, color_scheme=scheme)
    for path in ("/", "/history", "/updates", f"/maintenance/{windows['running']}",
                 f"/maintenance/{windows['upcoming']}", f"/maintenance/{windows['cancelled']}"):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert horizontal_overflow(page) <= 0, f"{path} at {viewport['width']}px"
        assert_accessible(page, f"{path} at {viewport['width']}px ({scheme})")


def test_the_window_is_shown_in_the_readers_zone(windows, new_page):
    page = new_page(timezone_id="America/New_York")
    page.goto("/")
    text = page.locator(f"#maintenance-{windows['upcoming']} .window").inner_text()
    assert "UTC" not in text
    assert "EST" in text or "GMT-5" in text or "-05" in text, text
    assert page.locator("#overall-status").inner_text().endswith("Minor Service Outage")
