"""Planned maintenance on the public side (issue 12): the front page's "Upcoming
maintenance" and running windows, the overall status, each window's page, the history,
the feeds, the export, and a flat number of queries however many windows there are.

Windows are made as rows (tests/maintenance_support.py); pages are read through the test
client and BeautifulSoup, feeds with feedparser.
"""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest

from statuspage import incidents, queries
from statuspage.extensions import db
from tests.conftest import counting_selects, soup
from tests.maintenance_support import add_update, make_window, reschedule, set_component_row

UTC_ISO = "%Y-%m-%dT%H:%M:%SZ"


def banner(client) -> str:
    return soup(client.get("/")).select_one("#overall-status").get_text(" ", strip=True)


def component_status(page, name: str) -> str:
    for row in page.select("li.component-row"):
        if row.select_one(".component-name").get_text(strip=True) == name:
            return row.select_one(".component-status").get_text(strip=True)
    raise AssertionError(f"no component {name}")


# --- The front page ----------------------------------------------------------------------


def test_front_page_lists_upcoming_maintenance_with_its_window_and_components(
        client, components, clock):
    window = make_window(clock(), components[:2], title="Database upgrade",
                         starts_in=timedelta(days=2))
    page = soup(client.get("/"))
    section = page.select_one("section.upcoming")
    assert section.h2.get_text() == "Upcoming maintenance"
    card = section.select_one(f"#maintenance-{window.id}")
    assert card.h3.a["href"] == f"/maintenance/{window.id}"
    assert card.h3.get_text(strip=True) == "Database upgrade"
    # The window as UTC instants that localtime.js shows in the reader's zone.
    times = [t["datetime"] for t in card.select(".window time")]
    assert times == [window.scheduled_for.strftime(UTC_ISO),
                     window.scheduled_until.strftime(UTC_ISO)]
    assert card.select_one(".affected").get_text() == (
        f"Affected: {components[0].name}, {components[1].name}")
    assert "The app will not save entries" in card.get_text()
    # Nothing runs yet: all is well, and no window is said to be in progress.
    assert banner(client).endswith("All Systems Operational")
    assert page.select_one("section.running") is None


def test_past_cancelled_and_running_windows_are_not_upcoming(client, components, clock):
    make_window(clock(), components[:1], title="Over", status="completed",
                starts_in=timedelta(days=-2))
    make_window(clock(), components[:1], title="Called off", status="cancelled")
    make_window(clock(), components[:1], title="Never started", starts_in=timedelta(hours=-3),
                lasts=timedelta(hours=1))
    make_window(clock(), components[:1], title="Running", status="in_progress",
                starts_in=timedelta(minutes=-10))
    page = soup(client.get("/"))
    assert page.select_one("section.upcoming") is None
    running = page.select_one("section.running")
    assert running.h2.get_text() == "Maintenance in progress"
    assert [h.get_text(strip=True) for h in running.select("h3")] == ["Running"]


def test_a_running_window_puts_the_page_under_maintenance(client, components, clock):
    # The component row is still operational: the running window alone says so.
    make_window(clock(), components[1:2], status="in_progress", starts_in=timedelta(minutes=-5))
    assert banner(client).endswith("Service Under Maintenance")
    page = soup(client.get("/"))
    assert component_status(page, components[1].name) == "Under Maintenance"
    assert component_status(page, components[0].name) == "Operational"
    for path in ("/api/v2/status.json", "/api/v2/summary.json"):
        assert client.get(path).get_json()["status"] == {
            "indicator": "maintenance", "description": "Service Under Maintenance"}
    summary = client.get("/api/v2/summary.json").get_json()
    shown = {c["name"]: c["status"] for c in summary["components"]}
    assert shown[components[1].name] == "under_maintenance"


def test_a_window_being_verified_still_counts(client, components, clock):
    make_window(clock(), components[:1], status="verifying", starts_in=timedelta(hours=-1))
    assert banner(client).endswith("Service Under Maintenance")


@pytest.mark.parametrize("severity,component_status_,expected", [
    ("SEV-2", None, "Partial System Outage"),
    ("SEV-4", None, "Minor Service Outage"),
    ("SEV-3", "major_outage", "Major System Outage"),
])
def test_an_incident_during_a_window_is_worse_and_wins(client, admin, components, clock,
                                                         make_incident, severity,
                                                         component_status_, expected):
    make_window(clock(), components[:1], status="in_progress", starts_in=timedelta(minutes=-5))
    statuses = {components[0].id: component_status_} if component_status_ else {}
    make_incident(admin, components[:1], severity=severity, component_statuses=statuses)
    assert banner(client).endswith(expected)
    assert client.get("/api/v2/status.json").get_json()["status"]["description"] == expected
    page = soup(client.get("/"))
    if component_status_:  # the worse status wins on the component too
        assert component_status(page, components[0].name) == "Major Outage"
    else:
        assert component_status(page, components[0].name) == "Under Maintenance"


def test_the_banner_returns_to_operational_when_the_window_completes(client, components, clock):
    window = make_window(clock(), components[:1], status="in_progress",
                         starts_in=timedelta(minutes=-5))
    set_component_row(components[0], "under_maintenance", clock())
    assert banner(client).endswith("Service Under Maintenance")
    clock.advance(hours=2)
    add_update(window, clock(), "completed", actions="The upgrade is done.")
    set_component_row(components[0], "operational", clock())
    assert banner(client).endswith("All Systems Operational")


# --- The window's page -------------------------------------------------------------------


def test_window_page_shows_its_updates_newest_first_in_the_compact_look(
        client, components, clock):
    window = make_window(clock(), components[:1], workaround="Write entries down.")
    add_update(window, clock(), "scheduled", impact="Saving will pause for two hours.",
               move_window=False)
    clock.advance(days=2)
    add_update(window, clock(), "in_progress", actions="The upgrade has begun.",
               next_update_at=clock() + timedelta(minutes=30))
    clock.advance(hours=2)
    add_update(window, clock(), "completed", actions="The upgrade is done.")
    response = client.get(f"/maintenance/{window.id}")
    assert response.status_code == 200
    page = soup(response)
    assert page.h1.get_text() == "Database upgrade"
    assert "Write entries down." in page.select_one("article.maintenance > dl").get_text()
    heads = [li.select_one(".status-word").get_text() for li in page.select("ol.timeline > li")]
    assert heads == ["Completed", "In progress", "Scheduled"]
    middle = page.select("ol.timeline > li")[1]
    fields = {d.dt.get_text(): d.dd.get_text() for d in middle.select("dl.fields > div")}
    assert fields["Actions"] == "The upgrade has begun."
    assert "Next update" in fields
    # A completed window promises no next update.
    first = page.select("ol.timeline > li")[0]
    assert "Next update" not in first.get_text()


def test_a_redacted_maintenance_update_shows_redacted(client, components, clock):
    window = make_window(clock(), components[:1])
    add_update(window, clock(), impact="Call 555-0100 for help", redacted_at=clock())
    text = client.get(f"/maintenance/{window.id}").get_data(as_text=True)
    assert "555-0100" not in text
    assert "[redacted]" in text


@pytest.mark.parametrize("path", ["/maintenance/999", "/maintenance/0",
                                  "/maintenance/99999999999", "/maintenance/abc"])
def test_unknown_window_is_not_found(client, components, clock, path):
    make_window(clock(), components[:1])
    assert client.get(path).status_code == 404


def test_window_page_is_cacheable(app, components, clock):
    from statuspage.web.markers import view_markers

    window = make_window(clock(), components[:1])
    assert view_markers(app).cacheable_key(f"/maintenance/{window.id}", "") is not None
    assert view_markers(app).cacheable_key("/maintenance.ics", "") is not None


# --- The history --------------------------------------------------------------------------


def test_history_lists_past_windows_beside_incidents(client, admin, components, clock,
                                                     make_incident):
    done = make_window(clock(), components[:1], title="Storage move", status="completed",
                       starts_in=timedelta(days=-3))
    called_off = make_window(clock(), components[:1], title="Network change",
                             status="cancelled", starts_in=timedelta(days=-1))
    make_window(clock(), components[:1], title="Still to come")
    incident = make_incident(admin, components[:1], title="Login not working",
                             started_at=clock() - timedelta(days=2))
    page = soup(client.get("/history"))
    titles = [h.get_text(strip=True) for h in page.select(".history-list h3")]
    assert titles == ["Network change", "Login not working", "Storage move"]
    cancelled = page.select_one(f"#maintenance-{called_off.id}")
    assert "cancelled" in cancelled["class"]
    assert cancelled.select_one(".maintenance-badge").get_text() == "Cancelled"
    assert page.select_one(f"#maintenance-{done.id} .maintenance-badge").get_text() == (
        "Completed")
    assert page.select_one(f"#incident-{incident.id}") is not None


def test_history_pages_count_windows_too(app, client, admin, components, clock, make_incident):
    app.config["HISTORY_PAGE_SIZE"] = 2
    for n in range(2):
        make_window(clock(), components[:1], title=f"Window {n}", status="completed",
                    starts_in=timedelta(days=-10 - n))
    make_incident(admin, components[:1], title="Recent", started_at=clock())
    first = soup(client.get("/history"))
    assert [h.get_text(strip=True) for h in first.select(".history-list h3")] == [
        "Recent", "Window 0"]
    second = soup(client.get("/history?page=2"))
    assert [h.get_text(strip=True) for h in second.select(".history-list h3")] == ["Window 1"]
    assert client.get("/history?page=3").status_code == 404


# --- Feeds -------------------------------------------------------------------------------


def test_maintenance_updates_are_feed_entries(client, admin, components, clock, make_incident):
    window = make_window(clock(), components[1:2], title="Database upgrade")
    clock.advance(minutes=1)
    add_update(window, clock(), "scheduled", impact="Saving pauses.", move_window=False)
    clock.advance(minutes=1)
    make_incident(admin, components[:1], title="Login not working")
    clock.advance(minutes=1)
    add_update(window, clock(), "in_progress", actions="Started.")
    for fmt in ("rss", "atom"):
        feed = feedparser.parse(client.get(f"/feed.{fmt}").data)
        titles = [e.title for e in feed.entries]
        # The window's scheduling is an entry too (issue 23), before the update posted
        # while it was scheduled.
        assert titles == ["[Maintenance in progress] Database upgrade",
                          "[Investigating] Login not working",
                          "[Maintenance scheduled] Database upgrade",
                          "[Maintenance scheduled] Database upgrade"], fmt
        entry = feed.entries[0]
        assert entry.link == f"https://status.example.test/maintenance/{window.id}"
        body = (entry.get("content") or [{"value": entry.get("summary", "")}])[0]["value"]
        assert "Window:" in body and "Started." in body
    # The component's feed has the window taking it, the other's has not.
    taken = feedparser.parse(client.get(f"/components/{components[1].id}/feed.atom").data)
    assert [e.title for e in taken.entries] == [
        "[Maintenance in progress] Database upgrade", "[Maintenance scheduled] Database upgrade",
        "[Maintenance scheduled] Database upgrade"]
    other = feedparser.parse(client.get(f"/components/{components[0].id}/feed.atom").data)
    assert [e.title for e in other.entries] == ["[Investigating] Login not working"]


def test_maintenance_entry_ids_are_stable(client, components, clock):
    window = make_window(clock(), components[:1])
    add_update(window, clock(), "scheduled", impact="Saving pauses.", move_window=False)
    before = feedparser.parse(client.get("/feed.atom").data).entries[0].id
    reschedule(window, clock(), by=timedelta(hours=3))
    clock.advance(minutes=5)
    add_update(window, clock(), "scheduled", impact="Moved three hours later.")
    ids = [e.id for e in feedparser.parse(client.get("/feed.atom").data).entries]
    # Two updates and the window's scheduling (issue 23), each its own id.
    assert before in ids and len(set(ids)) == 3


# --- Queries per render -------------------------------------------------------------------


def test_queries_do_not_grow_with_windows(app, client, admin, components, clock,
                                          make_incident):
    def window_set(n: int):
        comps = queries.all_components()  # the requests below end the test's session
        for status, starts in (("scheduled", 2), ("in_progress", -0.1), ("completed", -3),
                               ("cancelled", 4)):
            w = make_window(clock(), comps[n % 5:n % 5 + 2], title=f"{status} {n}",
                            status=status, starts_in=timedelta(days=starts + n))
            add_update(w, clock(), impact="Saving pauses.", move_window=False)
            add_update(w, clock(), actions="On track.", move_window=False)

    incident = make_incident(admin, components[:1],
                             component_statuses={components[0].id: "partial_outage"})
    window_set(0)
    first = db.session.scalars(db.select(queries.Maintenance)).first()
    paths = ["/", "/history", f"/maintenance/{first.id}", "/maintenance.ics", "/feed.atom",
             f"/components/{components[1].id}/feed.rss", "/api/v2/summary.json",
             "/api/v2/scheduled-maintenances.json",
             "/api/v2/scheduled-maintenances/upcoming.json",
             "/api/v2/scheduled-maintenances/active.json", "/api/v2/status.json",
             "/api/v2/components.json", "/badge.svg", f"/incidents/{incident.id}"]

    def counts():
        result = {}
        for path in paths:
            db.session.remove()
            with counting_selects() as statements:
                assert client.get(path).status_code == 200, path
            result[path] = len(statements)
        return result

    few = counts()
    for n in range(1, 6):
        window_set(n)
    assert counts() == few
    # "/" also draws the uptime bars (issue 15): stored days, history (2), coverage,
    # incidents, their titles.
    assert max({**few, "/": few["/"] - 6}.values()) <= 12, few


# --- Export -------------------------------------------------------------------------------


def test_the_export_holds_every_window_page_and_the_calendar(app, runner, components, clock,
                                                             tmp_path):
    windows = [make_window(clock(), components[:1], title="Upcoming"),
               make_window(clock(), components[:1], title="Done", status="completed",
                           starts_in=timedelta(days=-3)),
               make_window(clock(), components[:1], title="Called off", status="cancelled")]
    root = tmp_path / "export"
    assert runner.invoke(args=["publish", str(root)]).exit_code == 0
    client = app.test_client()
    for window in windows:
        exported = root / "maintenance" / str(window.id) / "index.html"
        assert exported.read_bytes() == client.get(f"/maintenance/{window.id}").data
    calendar = root / "maintenance.ics"
    assert calendar.read_bytes() == client.get("/maintenance.ics").data
    assert b"Called off" in calendar.read_bytes()


def test_a_window_change_is_published_in_the_next_tick(app, components, clock, tmp_path):
    from statuspage.serving.publish import Publisher

    window = make_window(clock(), components[:1], title="Database upgrade")
    publisher = Publisher(app, tmp_path / "export")
    publisher.publish_all()
    page = tmp_path / "export" / "maintenance" / str(window.id) / "index.html"
    assert b"In progress" not in page.read_bytes()
    clock.advance(days=2)
    add_update(window, clock(), "in_progress", actions="The upgrade has begun.")
    assert publisher.tick(0.0)
    assert b"The upgrade has begun." in page.read_bytes()
    front = (tmp_path / "export" / "index.html").read_bytes()
    assert b"Service Under Maintenance" in front


def test_nginx_types_the_calendar(app):
    from statuspage.serving.nginx import nginx_locations

    text = nginx_locations(app, "/srv/export", "127.0.0.1:5050")
    assert "location = /maintenance.ics" in text
    assert "text/calendar ics;" in text


def test_updates_page_links_the_calendar(client):
    page = soup(client.get("/updates"))
    links = [a["href"] for a in page.select("#by-calendar ~ ul a, section a")]
    assert "/maintenance.ics" in links
    assert "webcal://status.example.test/maintenance.ics" in links
    # Once on the page, in its place: not in the title, nor in the body's class.
    assert page.title.get_text() == "Get updates · Metabolic-Tracker Status"
    assert len(page.select("section#by-calendar, section[aria-labelledby=by-calendar]")) == 1
    assert page.body["class"] == ["public", "updates-page"]


def test_set_component_status_keeps_the_worse_of_incident_and_window(
        client, admin, components, clock):
    # Staff set the component row while a window runs: the row's worse status shows.
    make_window(clock(), components[:1], status="in_progress", starts_in=timedelta(minutes=-1))
    incidents.set_component_status(components[0], "degraded_performance", actor=admin,
                                   now=clock())
    db.session.commit()
    page = soup(client.get("/"))
    assert component_status(page, components[0].name) == "Degraded Performance"
    assert banner(client).endswith("Partially Degraded Service")
