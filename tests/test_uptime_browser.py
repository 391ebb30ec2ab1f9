"""The uptime bars in real Chromium (issue 15): a day's tooltip opens on keyboard focus (and
arrow keys move between days), on a tap at 375 px, and without script; it stays on the
screen; axe finds nothing with a tooltip open, in light and dark."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import Component, CoverageInterval
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
)

pytestmark = [pytest.mark.browser, needs_browser]

PHONE = {"width": 375, "height": 667}
TIP = "ol.bars > li:nth-last-child({n}) .tip"


@pytest.fixture
def outage_three_days_ago(app, admin, components, make_incident, clock):
    """Components seeded a week ago, this page running since, and a one-hour major outage
    of the first component three days ago."""
    db.session.execute(db.update(Component).values(created_at=clock() - timedelta(days=7)))
    db.session.add(CoverageInterval(source="notifier", started_at=clock() - timedelta(days=7),
                                    ended_at=clock()))
    db.session.commit()
    now = clock()
    clock.advance(days=-3)
    incident = make_incident(admin, components[:1], title="Login not working",
                             component_statuses={components[0].id: "major_outage"})
    clock.advance(hours=1)
    incidents.post_update(incident, incidents.UpdateText("resolved", "Fixed.", "Done."),
                          actor=admin, now=clock())
    db.session.commit()
    clock.set(now)
    return incident


def tip_box(page, n: int):
    tip = page.locator(TIP.format(n=n)).first
    return tip.bounding_box()


def is_open(page, n: int) -> bool:
    box = tip_box(page, n)
    return box is not None and box["width"] > 20 and box["height"] > 10


def test_keyboard_focus_opens_a_days_tooltip_and_arrows_move(outage_three_days_ago, new_page):
    page = new_page(viewport={"width": 1280, "height": 800})
    page.goto("/")
    assert not is_open(page, 1)
    for _ in range(60):  # Tab from the top to the first component's bars
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('ol.bars > li')"):
            break
    else:
        raise AssertionError("no bar reached by Tab")
    assert is_open(page, 1)  # today, the one tab stop of its component
    text = page.locator(TIP.format(n=1)).first.inner_text()
    assert "100.00 %" in text and "Operational" in text
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    assert is_open(page, 4) and not is_open(page, 1)
    text = page.locator(TIP.format(n=4)).first.inner_text()
    assert "Major Outage" in text and "Login not working" in text
    assert_accessible(page, "/ with a tooltip open")
    page.keyboard.press("Escape")
    assert not is_open(page, 4)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_tap_opens_a_tooltip_on_a_phone(outage_three_days_ago, new_page, scheme):
    page = new_page(viewport=PHONE, has_touch=True, is_mobile=True, color_scheme=scheme)
    page.goto("/")
    assert horizontal_overflow(page) <= 0
    page.locator("ol.bars > li:nth-last-child(4)").first.tap()
    assert is_open(page, 4)
    box = tip_box(page, 4)
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert "Login not working" in page.locator(TIP.format(n=4)).first.inner_text()
    assert_accessible(page, f"/ at 375 px with a tooltip open ({scheme})")
    page.locator("ol.bars > li:nth-last-child(2)").first.tap()  # another day: one open
    assert is_open(page, 2) and not is_open(page, 4)
    # The bars collapse on a phone.
    page.locator("details.uptime-days > summary").first.tap()
    assert not page.locator("ol.bars").first.is_visible()


def test_without_script_focus_still_opens_the_tooltip(outage_three_days_ago, new_page):
    page = new_page(viewport=PHONE, java_script_enabled=False)
    page.goto("/")
    page.locator("ol.bars > li:nth-last-child(4)").first.focus()
    assert is_open(page, 4)
    assert "Login not working" in page.locator(TIP.format(n=4)).first.inner_text()
