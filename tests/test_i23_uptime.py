"""Issue 23, point 2: uptime on a new install. No percentage until a day (or the 90-day
figure) holds 12 hours of known time: words before that ("Since 11:08 UTC today: 5 minutes
of partial outage"); the 90-day figure says how many days it is over when not all 90.

Statuses change through the domain functions; the page is read with BeautifulSoup.
(The bars on a phone are in tests/test_i23_front_page_browser.py.)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from statuspage import components as components_domain
from statuspage import incidents, uptime
from statuspage.extensions import db
from statuspage.models import CoverageInterval
from tests.conftest import soup

UTC = timezone.utc
#: A new install: the component made and the notifier started at 11:08.
INSTALLED = datetime(2026, 11, 26, 11, 8, tzinfo=UTC)


def cover(start: datetime, end: datetime) -> None:
    db.session.add(CoverageInterval(source="notifier", started_at=start, ended_at=end))
    db.session.commit()


def set_status(component, status, admin, clock, at: datetime) -> None:
    clock.set(at)
    incidents.set_component_status(component, status, actor=admin, now=clock())
    db.session.commit()


def installed(admin, clock, *, running_until: datetime):
    """A component made at 11:08, this page running since, partial outage 11:10-11:15."""
    clock.set(INSTALLED)
    sync = components_domain.create_component(
        components_domain.ComponentFields(name="Sync"), actor=admin, now=clock())
    db.session.commit()
    cover(INSTALLED, running_until)
    set_status(sync, "partial_outage", admin, clock, INSTALLED + timedelta(minutes=2))
    set_status(sync, "operational", admin, clock, INSTALLED + timedelta(minutes=7))
    return sync


def row_of(page, name="Sync"):
    for row in page.select("li.component-row.with-uptime"):
        if row.select_one(".component-name").get_text(strip=True) == name:
            return row
    raise AssertionError(f"no row for {name}")


def summary(row) -> str:
    return row.select_one(".uptime-summary").get_text(" ", strip=True)


def today_tip(row) -> str:
    return row.select("ol.bars > li")[-1].get_text(" ", strip=True)


def test_nine_minutes_after_the_install_the_page_says_what_happened_in_words(
        client, admin, clock):
    installed(admin, clock, running_until=INSTALLED + timedelta(minutes=9))
    clock.set(INSTALLED + timedelta(minutes=9))
    row = row_of(soup(client.get("/")))
    assert summary(row) == "Since 11:08 UTC today: 5 minutes of partial outage"
    assert today_tip(row) == "26 Nov 2026 Since 11:08 UTC: 5 minutes of partial outage"
    # No percentage anywhere in the row: 83 % would read as "down a sixth of the time".
    assert "%" not in row.get_text()
    assert "u-partial_outage" in row.select("ol.bars > li")[-1]["class"]


def test_with_12_hours_of_known_time_a_day_shows_its_percentage(client, admin, clock):
    installed(admin, clock, running_until=INSTALLED + timedelta(hours=13))
    clock.set(INSTALLED + timedelta(hours=11, minutes=59))
    row = row_of(soup(client.get("/")))
    assert "%" not in row.get_text()
    assert today_tip(row).endswith("Since 11:08 UTC: 5 minutes of partial outage")

    clock.set(INSTALLED + timedelta(hours=12))
    row = row_of(soup(client.get("/")))
    shown = uptime.format_percent(100 - 0.3 * 5 / (12 * 60) * 100)
    assert summary(row) == f"{shown} uptime over the 1 day we have data for"
    assert today_tip(row) == f"26 Nov 2026 {shown}, Partial Outage"


def test_the_90_day_figure_names_the_days_it_is_over(client, admin, clock):
    installed(admin, clock, running_until=INSTALLED + timedelta(days=2))
    clock.set(INSTALLED + timedelta(days=1, hours=2))  # 13:08 the next day
    row = row_of(soup(client.get("/")))
    known = (24 + 2) * 60
    shown = uptime.format_percent(100 - 0.3 * 5 / known * 100)
    assert summary(row) == f"{shown} uptime over the 2 days we have data for"
    # Yesterday was known from 11:08 to midnight: 12 h 52 min, enough for a percentage.
    tips = [li.get_text(" ", strip=True) for li in row.select("ol.bars > li")[-2:]]
    assert tips[0].startswith("26 Nov 2026 99.") and tips[0].endswith("Partial Outage")
    assert tips[1] == "27 Nov 2026 100.00 %, Operational"


def test_a_past_day_with_a_few_hours_of_data_says_them(client, admin, clock):
    clock.set(INSTALLED)
    sync = components_domain.create_component(
        components_domain.ComponentFields(name="Sync"), actor=admin, now=clock())
    db.session.commit()
    cover(INSTALLED, INSTALLED + timedelta(hours=3))  # stopped at 14:08
    cover(INSTALLED + timedelta(days=1), INSTALLED + timedelta(days=3))
    set_status(sync, "degraded_performance", admin, clock, INSTALLED + timedelta(hours=1))
    set_status(sync, "operational", admin, clock, INSTALLED + timedelta(hours=1, minutes=20))
    clock.set(INSTALLED + timedelta(days=2))
    row = row_of(soup(client.get("/")))
    first_day = row.select("ol.bars > li")[-3].get_text(" ", strip=True)
    assert first_day == ("26 Nov 2026 3 hours of data: 20 minutes of degraded performance")


def test_a_day_stored_by_the_rollup_says_the_same_words(client, admin, clock):
    clock.set(INSTALLED)
    sync = components_domain.create_component(
        components_domain.ComponentFields(name="Sync"), actor=admin, now=clock())
    db.session.commit()
    evening = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
    cover(evening, evening + timedelta(days=2))  # the notifier started at 20:00
    set_status(sync, "under_maintenance", admin, clock, evening + timedelta(hours=1))
    set_status(sync, "operational", admin, clock, evening + timedelta(hours=1, minutes=30))
    clock.set(datetime(2026, 11, 27, 13, 0, tzinfo=UTC))
    before = row_of(soup(client.get("/")))
    first_day = before.select("ol.bars > li")[-2].get_text(" ", strip=True)
    assert first_day == "26 Nov 2026 4 hours of data: 30 minutes under maintenance"
    assert summary(before) == "100.00 % uptime over the 2 days we have data for"
    assert uptime.roll_up(clock(), timezone.utc, 95.0) >= 1  # 26 Nov is stored now
    db.session.commit()
    after = row_of(soup(client.get("/")))
    assert [li.get_text(" ", strip=True) for li in after.select("ol.bars > li")] == \
        [li.get_text(" ", strip=True) for li in before.select("ol.bars > li")]
    assert summary(after) == summary(before)


def test_the_legend_says_the_threshold(client, admin, clock):
    installed(admin, clock, running_until=INSTALLED + timedelta(minutes=9))
    clock.set(INSTALLED + timedelta(minutes=9))
    legend = " ".join(soup(client.get("/")).select_one(".uptime-legend").get_text().split())
    assert "a day with less than 12 hours of data says what happened in words" in legend


def test_with_all_90_days_known_the_figure_is_over_the_last_90_days(client, admin, clock):
    clock.set(INSTALLED - timedelta(days=100))
    components_domain.create_component(
        components_domain.ComponentFields(name="Sync"), actor=admin, now=clock())
    db.session.commit()
    cover(clock(), INSTALLED)
    clock.set(INSTALLED)
    assert summary(row_of(soup(client.get("/")))) == "100.00 % uptime over the last 90 days"
