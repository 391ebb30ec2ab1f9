"""Issue 23 in real Chromium, at 375 and 1280 px, light and dark: the front page of a new
install with maintenance running and to come. Maintenance comes before the components (on
a phone's first screen), a running window shows its workaround, the uptime says in words
what a few minutes held; on a phone the bars show 30 days, each at least 8 px wide and
24 px tall, and "Show all 90 days" shows the rest; a card's times, its data-gap window's
too, are in the reader's zone with its name. axe finds nothing; nothing scrolls sideways.
Screenshots are kept in the test's tmp_path.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from statuspage import incidents
from statuspage.data_impact import DataImpact
from statuspage.extensions import db
from statuspage.models import CoverageInterval
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
)
from tests.maintenance_support import make_window

pytestmark = [pytest.mark.browser, needs_browser]

UTC = timezone.utc
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
BARS = "ol.bars"


@pytest.fixture
def new_install(app, admin, components, clock):
    """Installed at 12:00 (the components seeded, the notifier started); a partial outage
    from 12:02 to 12:07; at 12:09, a window running with a workaround and one to come."""
    start = clock()
    db.session.add(CoverageInterval(source="notifier", started_at=start,
                                    ended_at=start + timedelta(minutes=9)))
    db.session.commit()
    for minutes, status in ((2, "partial_outage"), (7, "operational")):
        clock.set(start + timedelta(minutes=minutes))
        incidents.set_component_status(components[0], status, actor=admin, now=clock())
        db.session.commit()
    clock.set(start + timedelta(minutes=9))
    running = make_window(clock(), components[2:3], title="Charts upgrade",
                          status="in_progress", starts_in=timedelta(minutes=-5),
                          description="Charts may not load.",
                          workaround="Your entries are saved; look at the charts later.")
    upcoming = make_window(clock(), components[:2], title="Database upgrade",
                           starts_in=timedelta(days=2))
    return {"running": running.id, "upcoming": upcoming.id}


def top(page, selector: str) -> float:
    return page.evaluate("(s) => document.querySelector(s).getBoundingClientRect().top"
                         " + window.scrollY", selector)


def bar_boxes(page, n: int = 0) -> list[dict]:
    """The drawn boxes of the bars shown in the ``n``th list."""
    return page.evaluate("""(n) => Array.from(document.querySelectorAll('ol.bars')[n]
        .children).map(li => li.getBoundingClientRect())
        .filter(r => r.width > 0).map(r => ({width: r.width, height: r.height}))""", n)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_maintenance_first_and_uptime_in_words(new_install, new_page, viewport, scheme,
                                               tmp_path):
    page = new_page(viewport=viewport, color_scheme=scheme)
    page.goto("/")
    page.screenshot(path=str(tmp_path / f"front-{viewport['width']}-{scheme}.png"),
                    full_page=True)
    assert horizontal_overflow(page) <= 0
    running, upcoming = "section.running", "section.upcoming"
    assert top(page, running) < top(page, upcoming) < top(page, "section.components")
    if viewport is PHONE:  # the running window is on the first screen
        assert top(page, running) < PHONE["height"]
    card = page.locator(f"#maintenance-{new_install['running']}")
    workaround = card.locator("dl.window-texts > div", has_text="Workaround")
    assert workaround.is_visible()
    assert workaround.locator("dd").inner_text() == \
        "Your entries are saved; look at the charts later."
    summary = page.locator("li.component-row .uptime-summary").first.inner_text()
    assert summary == "Since 12:00 UTC today: 5 minutes of partial outage"
    assert "%" not in page.locator("li.component-row").first.inner_text()
    assert_accessible(page, f"/ at {viewport['width']} px ({scheme})")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_on_a_phone_30_wide_days_and_the_rest_a_tap_away(new_install, new_page, scheme,
                                                         tmp_path):
    page = new_page(viewport=PHONE, has_touch=True, is_mobile=True, color_scheme=scheme)
    page.goto("/")
    shown = bar_boxes(page)
    assert len(shown) == 30
    assert min(b["width"] for b in shown) >= 8 and min(b["height"] for b in shown) >= 24
    toggle = page.locator("button.bars-toggle").first  # the first component's
    assert toggle.is_visible() and toggle.inner_text() == "Show all 90 days"
    assert toggle.get_attribute("aria-expanded") == "false"
    assert toggle.bounding_box()["height"] >= 24
    # Home goes to the first day shown, not to a hidden one.
    page.locator(f"{BARS} > li:last-child").first.focus()
    page.keyboard.press("Home")
    assert page.evaluate("() => document.activeElement.getBoundingClientRect().width") >= 8
    assert page.evaluate("() => Array.from(document.activeElement.parentNode.children)"
                         ".indexOf(document.activeElement)") == 60
    toggle.tap()
    shown = bar_boxes(page)
    assert len(shown) == 90 and min(b["width"] for b in shown) >= 8
    assert toggle.inner_text() == "Show the last 30 days"
    assert toggle.get_attribute("aria-expanded") == "true"
    assert horizontal_overflow(page) <= 0
    page.locator(f"{BARS} > li:first-child").first.tap()  # 90 days ago: its tooltip fits
    tip = page.locator(f"{BARS} > li:first-child .tip").first.bounding_box()
    assert tip["x"] >= 0 and tip["x"] + tip["width"] <= PHONE["width"]
    page.screenshot(path=str(tmp_path / f"bars-all-375-{scheme}.png"), full_page=True)
    assert_accessible(page, f"/ at 375 px, all days shown ({scheme})")
    toggle.tap()
    assert len(bar_boxes(page)) == 30


def test_on_a_desktop_all_90_days_and_no_button(new_install, new_page):
    page = new_page(viewport=DESKTOP)
    page.goto("/")
    assert len(bar_boxes(page)) == 90
    assert not page.get_by_role("button", name="Show all 90 days").first.is_visible()


def test_without_script_a_phone_shows_all_days_in_rows_of_30(new_install, new_page, tmp_path):
    page = new_page(viewport=PHONE, java_script_enabled=False)
    page.goto("/")
    page.screenshot(path=str(tmp_path / "front-375-no-script.png"), full_page=True)
    shown = bar_boxes(page)
    assert len(shown) == 90 and min(b["width"] for b in shown) >= 8
    assert horizontal_overflow(page) <= 0


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_a_cards_times_are_all_in_the_readers_zone(app, admin, components, clock, new_page,
                                                   viewport, scheme, tmp_path):
    app.config["SITE_TIMEZONE"] = "Europe/Berlin"
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    incident = incidents.open_incident(
        actor=admin, now=clock(), title="Entries not saved", severity="SEV-1",
        component_ids=[components[0].id], update=incidents.UpdateText(
            status="investigating", impact="Entries are not saved.", actions="Looking."))
    db.session.commit()
    clock.advance(minutes=55)
    incidents.post_update(incident, incidents.UpdateText(
        status="identified", impact="Entries were not saved.", actions="Restored.",
        next_update_at=clock() + timedelta(minutes=30),
        data_impact=DataImpact(
            data_status="some_entries_missing", user_action="reenter_entries",
            data_gap_from=datetime(2026, 11, 26, 13, 5, tzinfo=UTC),
            data_gap_until=datetime(2026, 11, 26, 13, 50, tzinfo=UTC))),
        actor=admin, now=clock())
    db.session.commit()
    page = new_page(viewport=viewport, color_scheme=scheme, timezone_id="Asia/Tokyo")
    page.goto("/")
    card = page.locator(f"#incident-{incident.id}")
    text = card.inner_text()
    page.screenshot(path=str(tmp_path / f"card-{viewport['width']}-{scheme}.png"))
    # 13:05 to 13:50 UTC is 22:05 to 22:50 in Tokyo (UTC+9), as the update's time is.
    assert "Entries between 22:05 and 22:50 GMT+9 may be missing" in text
    assert "22:55 GMT+9" in text and "23:25 GMT+9" in text
    assert "CET" not in text and "UTC" not in text
    assert_accessible(page, f"/ in Tokyo at {viewport['width']} px ({scheme})")
