"""Uptime bars (issue 15): the status history every source writes, the page's running
coverage, the rule, days in SITE_TIMEZONE (DST), "No data", the daily rollup, the bars on
``/`` and a cost of ``/`` that does not grow with history.

Time is the clock the code takes; statuses change through the domain functions, as staff,
incidents, maintenance windows (and later monitors and the API) change them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from statuspage import components as components_domain
from statuspage import coverage, heartbeat, incidents, maintenance, scheduler, uptime
from statuspage.extensions import db
from statuspage.models import CoverageInterval, StatusChange, UptimeDay
from tests.conftest import counting_selects, soup
from tests.maintenance_support import make_window

UTC = timezone.utc
GAP = 95.0  # heartbeat.max_age_seconds with the defaults


def cover(start: datetime, end: datetime) -> None:
    """This page was running from ``start`` to ``end`` (as beats every few seconds make)."""
    db.session.add(CoverageInterval(source="notifier", started_at=start, ended_at=end))
    db.session.commit()


def history(component) -> list[tuple]:
    return [(r.old_status, r.new_status, r.source, r.incident_id, r.maintenance_id)
            for r in db.session.scalars(db.select(StatusChange)
                                        .where(StatusChange.component_id == component.id)
                                        .order_by(StatusChange.at, StatusChange.id))]


def new_component(admin, now, name="Sync"):
    made = components_domain.create_component(
        components_domain.ComponentFields(name=name), actor=admin, now=now)
    db.session.commit()
    return made


def one_day(component, day: date, now: datetime, tz=UTC) -> uptime.Day:
    return uptime.compute_days([component], [day], now=now, tz=tz, max_gap_seconds=GAP)[
        (component.id, day)]


# --- The rule ------------------------------------------------------------------------------


def test_a_day_with_30_minutes_major_and_60_minutes_partial_outage(
        app, client, admin, make_incident, clock):
    start = datetime(2026, 11, 20, tzinfo=UTC)
    clock.set(start)
    sync = new_component(admin, start)
    cover(start, start + timedelta(days=3))
    # An incident puts it in major outage for 30 minutes...
    clock.set(start + timedelta(hours=10))
    incident = make_incident(admin, [sync], component_statuses={sync.id: "major_outage"})
    clock.advance(minutes=30)
    incidents.post_update(incident, incidents.UpdateText(
        "resolved", "Fixed.", "Deployed a fix."), actor=admin, now=clock())
    # ...and staff set it to partial outage for 60 minutes.
    clock.set(start + timedelta(hours=12))
    incidents.set_component_status(sync, "partial_outage", actor=admin, now=clock())
    clock.advance(minutes=60)
    incidents.set_component_status(sync, "operational", actor=admin, now=clock())
    db.session.commit()

    clock.set(start + timedelta(days=2))
    day = one_day(sync, start.date(), clock())
    assert day.percent == 100 - (30 + 0.3 * 60) / 1440 * 100
    assert day.minutes == {"operational": 1350, "major_outage": 30, "partial_outage": 60}
    assert day.no_data == 0 and day.worst == "major_outage"
    assert day.incident_ids == [incident.id]
    # Degraded performance and maintenance count as up.
    assert uptime.uptime_percent({"degraded_performance": 700, "under_maintenance": 740}) == 100

    page = soup(client.get("/"))
    bars = page.select("ol.bars")[-1].find_all("li", recursive=False)
    assert len(bars) == uptime.DAYS
    tip = bars[-3].get_text(" ", strip=True)  # two days ago
    assert tip == "20 Nov 2026 96.67 %, Major Outage Login not working"
    assert bars[-3].select_one("a")["href"] == f"/incidents/{incident.id}"
    assert "u-major_outage" in bars[-3]["class"]
    assert bars[-4].get_text(" ", strip=True) == "19 Nov 2026 No data"  # before it existed
    assert "u-none" in bars[-4]["class"]


def test_percentages_are_never_rounded_up_to_100():
    assert uptime.format_percent(100.0) == "100.00 %"
    assert uptime.format_percent(99.9999) == "99.99 %"
    assert uptime.format_percent(96.66666) == "96.67 %"
    assert uptime.format_percent(None) == "No data"


# --- Days in SITE_TIMEZONE -----------------------------------------------------------------


@pytest.mark.parametrize("day, hours", [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25),
                                        (date(2026, 10, 26), 24)])
def test_days_follow_the_site_time_zone_across_dst(app, admin, clock, day, hours):
    app.config["SITE_TIMEZONE"] = "Europe/Amsterdam"
    tz = ZoneInfo("Europe/Amsterdam")
    if True:
        clock.set(datetime(2026, 1, 1, tzinfo=UTC))
        sync = new_component(admin, clock())
        cover(clock(), datetime(2026, 12, 1, tzinfo=UTC))
        start = uptime.day_start(day, tz)
        assert start.astimezone(tz).hour == 0
        assert uptime.day_start(day + timedelta(days=1), tz) - start == timedelta(hours=hours)
        # One hour of major outage from 01:00 UTC, inside the day.
        clock.set(start + timedelta(hours=2))
        incidents.set_component_status(sync, "major_outage", actor=admin, now=clock())
        clock.advance(hours=1)
        incidents.set_component_status(sync, "operational", actor=admin, now=clock())
        db.session.commit()
        clock.set(datetime(2026, 11, 30, tzinfo=UTC))
        result = one_day(sync, day, clock(), tz)
        assert result.known == hours * 60 and result.no_data == 0
        assert result.percent == 100 - 60 / (hours * 60) * 100


# --- No data -------------------------------------------------------------------------------


def test_time_the_page_was_not_running_is_no_data_never_uptime(app, client, admin, clock):
    start = datetime(2026, 11, 20, tzinfo=UTC)
    clock.set(start - timedelta(days=1))
    sync = new_component(admin, clock())
    # Running from 00:00 to 06:00, stopped for six hours, running again from 12:00.
    cover(start - timedelta(days=1), start + timedelta(hours=6))
    cover(start + timedelta(hours=12), start + timedelta(days=1, hours=1))
    # An outage while the page was not running is not known either way...
    for at, status in ((8, "major_outage"), (9, "operational"),
                       # ...one while it ran is.
                       (13, "major_outage"), (13.5, "operational")):
        clock.set(start + timedelta(hours=at))
        incidents.set_component_status(sync, status, actor=admin, now=clock())
    db.session.commit()

    clock.set(start + timedelta(days=1, hours=1))
    day = one_day(sync, start.date(), clock())
    assert day.no_data == 6 * 60 and day.known == 18 * 60
    assert day.percent == 100 - 30 / (18 * 60) * 100
    # A day the page did not run at all says "No data", whatever the component did.
    db.session.execute(db.delete(CoverageInterval))
    db.session.commit()
    assert one_day(sync, start.date(), clock()).percent is None
    page = soup(client.get("/"))
    assert page.select_one(".uptime-summary").get_text(strip=True) == \
        "No uptime data for the last 90 days"
    assert "100.00 %" not in page.get_text()


def test_the_heartbeat_keeps_a_compact_record_of_the_running_time(app, clock):
    t = datetime(2026, 11, 20, tzinfo=UTC)
    for n in range(30):  # five minutes of ticks, 10 s apart
        heartbeat.beat(t + timedelta(seconds=10 * n), name="host:1")
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count(CoverageInterval.id))) == 1
    # Stopped for longer than the heartbeat's staleness: a new interval begins.
    later = t + timedelta(seconds=290 + GAP + 1)
    heartbeat.beat(later, name="host:1")
    heartbeat.beat(later + timedelta(seconds=5), name="host:1")
    for seconds in (3, 8):  # a monitor process can extend it too
        coverage.extend(later + timedelta(seconds=seconds), "monitor", GAP)
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count(CoverageInterval.id))) == 3
    got = coverage.intervals(t - timedelta(hours=1), t + timedelta(hours=1),
                             now=t + timedelta(hours=1), max_gap_seconds=GAP)
    assert got == [(t, t + timedelta(seconds=290)), (later, later + timedelta(seconds=8))]
    # The newest stretch is still running when its last beat is fresh: it reaches now.
    now = later + timedelta(seconds=60)
    assert coverage.intervals(later, now, now=now, max_gap_seconds=GAP) == [(later, now)]


# --- Every source writes the history -------------------------------------------------------


def test_every_change_of_status_is_kept_with_its_source(app, admin, components, make_incident,
                                                         clock):
    sync = new_component(admin, clock())
    incident = make_incident(admin, [sync], component_statuses={sync.id: "partial_outage"})
    clock.advance(minutes=5)
    incidents.post_update(incident, incidents.UpdateText("resolved", "Fixed.", "Done."),
                          actor=admin, now=clock())
    incidents.set_component_status(sync, "degraded_performance", actor=admin, now=clock())
    components_domain.update_component(
        sync, components_domain.ComponentFields(name="Sync", status="operational"),
        actor=admin, now=clock())
    db.session.commit()
    window = make_window(clock(), [sync], starts_in=timedelta(minutes=1))
    clock.advance(minutes=1)
    maintenance.start(window, actor=None, now=clock())
    clock.advance(hours=1)
    maintenance.complete(window, actor=admin, now=clock())
    db.session.commit()
    assert history(sync) == [
        (None, "operational", "staff", None, None),
        ("operational", "partial_outage", "incident", incident.id, None),
        ("partial_outage", "operational", "incident", incident.id, None),
        ("operational", "degraded_performance", "staff", None, None),
        ("degraded_performance", "operational", "staff", None, None),
        ("operational", "under_maintenance", "maintenance", None, window.id),
        ("under_maintenance", "operational", "maintenance", None, window.id),
    ]
    # The audit log still has each change, as before (the admin's edit as "component.edit").
    from statuspage.models import AuditEvent
    changes = db.session.scalars(db.select(AuditEvent.actor_label)
                                 .where(AuditEvent.action == "component.status",
                                        AuditEvent.target_id == str(sync.id))).all()
    assert len(changes) == 5 and "notifier" in changes


# --- The rollup ----------------------------------------------------------------------------


def test_the_rollup_is_idempotent_and_cuts_days_in_the_site_time_zone(app, admin, clock):
    app.config["SITE_TIMEZONE"] = "America/New_York"
    tz = ZoneInfo("America/New_York")
    if True:
        clock.set(datetime(2026, 11, 1, tzinfo=UTC))
        sync = new_component(admin, clock())
        cover(clock(), datetime(2026, 12, 1, tzinfo=UTC))
        # Major outage from 23:00 to 01:00 New York time: one hour on each day.
        clock.set(datetime(2026, 11, 20, 23, tzinfo=tz).astimezone(UTC))
        incidents.set_component_status(sync, "major_outage", actor=admin, now=clock())
        clock.advance(hours=2)
        incidents.set_component_status(sync, "operational", actor=admin, now=clock())
        db.session.commit()

        # 00:30 on the 22nd: the 21st ended, but not a heartbeat gap ago... then it did.
        clock.set(datetime(2026, 11, 22, 0, 0, 30, tzinfo=tz).astimezone(UTC))
        stored = scheduler.roll_up_uptime(clock())
        db.session.commit()
        days = {r.day: r for r in db.session.scalars(
            db.select(UptimeDay).where(UptimeDay.component_id == sync.id))}
        assert date(2026, 11, 21) not in days and date(2026, 11, 20) in days
        clock.set(datetime(2026, 11, 22, 0, 5, tzinfo=tz).astimezone(UTC))
        stored += scheduler.roll_up_uptime(clock())
        db.session.commit()
        assert scheduler.roll_up_uptime(clock()) == 0  # idempotent
        db.session.commit()
        rows = db.session.scalars(db.select(UptimeDay)
                                  .where(UptimeDay.component_id == sync.id)).all()
        assert stored == len(rows) == uptime.DAYS - 1
        days = {r.day: r for r in rows}
        for d in (date(2026, 11, 20), date(2026, 11, 21)):
            assert days[d].major_outage_minutes == 60
            assert days[d].operational_minutes == 23 * 60
            assert days[d].worst_status == "major_outage"
            assert uptime.Day.from_row(days[d]).percent == 100 - 60 / 1440 * 100
        assert days[date(2026, 10, 30)].worst_status is None  # before it existed
        assert days[date(2026, 10, 30)].no_data_minutes == 1440


# --- The page ------------------------------------------------------------------------------


def test_the_page_shows_90_bars_per_component_with_words(app, client, admin, components,
                                                          clock):
    cover(clock() - timedelta(days=2), clock() + timedelta(hours=2))
    # Seeded two days ago (rows made by `flask seed`, without history: since creation).
    db.session.execute(db.update(type(components[0])).values(
        created_at=clock() - timedelta(days=2)))
    db.session.commit()
    incidents.set_component_status(components[0], "partial_outage", actor=admin, now=clock())
    db.session.commit()
    clock.advance(hours=2)
    page = soup(client.get("/"))
    rows = page.select("li.component-row.with-uptime")
    assert len(rows) == len(components)
    first = rows[0]
    assert len(first.select("ol.bars > li")) == uptime.DAYS
    # The window's uptime in words: 2 hours at 0.3 down out of 2 days and 2 hours known.
    known = (2 * 24 + 2) * 60
    expected = uptime.format_percent(100 - 0.3 * 120 / known * 100)
    assert first.select_one(".uptime-summary").get_text(strip=True) == \
        f"{expected} uptime over the 3 days we have data for"
    today = first.select("ol.bars > li")[-1]
    assert "u-partial_outage" in today["class"] and today["tabindex"] == "0"
    assert "Partial Outage" in today.get_text()
    assert rows[1].select_one(".uptime-summary").get_text(strip=True) == \
        "100.00 % uptime over the 3 days we have data for"
    assert first.select_one("details.uptime-days[open] > summary")
    assert "Major outage" in page.select_one(".uptime-legend").get_text()


def test_the_cost_of_the_front_page_does_not_grow_with_history(app, client, admin, clock):
    admin_id = admin.id

    def build(days: int):
        start = clock() - timedelta(days=days)
        sync = new_component(db.session.get(type(admin), admin_id), start, name=f"Sync {days}")
        cover(start, clock())
        statuses = ("operational", "partial_outage", "major_outage", "degraded_performance")
        db.session.execute(db.insert(StatusChange), [
            dict(component_id=sync.id, at=start + timedelta(hours=18 * n),
                 old_status=statuses[(n - 1) % 4], new_status=statuses[n % 4],
                 source="staff")
            for n in range(1, days * 4 // 3)])
        db.session.commit()
        scheduler.roll_up_uptime(clock())
        db.session.commit()

    def cost():
        db.session.remove()
        with counting_selects() as statements:
            assert client.get("/").status_code == 200
        return statements

    build(10)
    small = cost()
    db.session.execute(db.delete(StatusChange))
    db.session.execute(db.delete(UptimeDay))
    db.session.commit()
    build(10_000)
    assert db.session.scalar(db.select(db.func.count(StatusChange.id))) >= 13_000
    large = cost()
    assert len(large) == len(small)
    # Stored days read: at most DAYS - 1 per component (today is worked out live).
    stored = db.session.scalar(db.select(db.func.count(UptimeDay.id)))
    assert stored == 2 * (uptime.DAYS - 1)


def test_the_notifiers_round_beats_and_rolls_up(app, client, admin, clock):
    # Created a day ago; the notifier then ran every 10 seconds for a minute.
    clock.advance(days=-1)
    sync = new_component(admin, clock())
    clock.advance(days=1)
    for _ in range(6):
        scheduler.notifier_round(rng=lambda: 0.5)
        clock.advance(seconds=10)
    assert db.session.scalar(db.select(db.func.count(CoverageInterval.id))) == 1
    rows = db.session.scalars(db.select(UptimeDay).where(UptimeDay.component_id == sync.id))
    by_day = {r.day: r for r in rows}
    assert len(by_day) == uptime.DAYS - 1  # every finished day, once
    yesterday = by_day[clock().date() - timedelta(days=1)]
    assert yesterday.worst_status is None and yesterday.no_data_minutes == 1440
    # Today: the minute it ran is known, said in words (issue 23: too little for a %).
    today = soup(client.get("/")).select("ol.bars > li")[-1].get_text(" ", strip=True)
    assert today == "26 Nov 2026 Since 12:00 UTC: operational throughout"
