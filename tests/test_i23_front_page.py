"""Issue 23, point 3: a phone's first screen. Maintenance running and to come comes right
after the overall status (and the open incidents that make it), before the components; a
running window's card shows its workaround; a card's times are all in one zone: without
script all in SITE_TIMEZONE, named, the data-gap window's too, with the instants that
localtime.js shows in the reader's zone (tests/test_i23_front_page_browser.py).

Read as served, with BeautifulSoup.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from statuspage import incidents
from statuspage.data_impact import DataImpact
from statuspage.extensions import db
from tests.conftest import soup
from tests.maintenance_support import make_window

UTC = timezone.utc


def sections(page) -> list[str]:
    """The ids of the front page's parts, in order: the banner, then each section."""
    return [s.get("aria-labelledby") for s in page.select("main > section")]


def test_maintenance_comes_right_after_the_status_before_the_components(
        client, components, clock):
    make_window(clock(), components[2:3], title="Charts upgrade", status="in_progress",
                starts_in=timedelta(minutes=-10))
    make_window(clock(), components[:1], title="Database upgrade")
    assert sections(soup(client.get("/")))[:4] == [
        "overall-status", "running-heading", "upcoming-heading", "components-heading"]


def test_with_an_open_incident_maintenance_follows_it_before_the_components(
        client, admin, components, clock, make_incident):
    make_incident(admin, components[:1], title="Login not working")
    make_window(clock(), components[1:2], title="Database upgrade")
    assert sections(soup(client.get("/")))[:4] == [
        "overall-status", "current-heading", "upcoming-heading", "components-heading"]


def test_a_running_windows_card_shows_its_workaround(client, components, clock):
    running = make_window(clock(), components[1:2], title="Database upgrade",
                          status="in_progress", starts_in=timedelta(minutes=-10),
                          workaround="Write entries down and add them after 04:00.")
    upcoming = make_window(clock(), components[2:3], title="Charts upgrade",
                           workaround="Use the web app meanwhile.")
    page = soup(client.get("/"))
    card = page.select_one(f"section.running #maintenance-{running.id}")
    fields = {div.dt.get_text(strip=True): div.dd.get_text(" ", strip=True)
              for div in card.select("dl.window-texts > div")}
    assert fields == {
        "What you will notice": "The app will not save entries during the upgrade.",
        "Workaround": "Write entries down and add them after 04:00."}
    later = page.select_one(f"section.upcoming #maintenance-{upcoming.id}")
    assert "Workaround Use the web app meanwhile." in later.get_text(" ", strip=True)


def test_without_script_a_cards_times_are_all_in_the_site_zone(app, client, admin,
                                                               components, clock):
    app.config["SITE_TIMEZONE"] = "Europe/Berlin"
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    incident = incidents.open_incident(
        actor=admin, now=clock(), title="Entries not saved", severity="SEV-1",
        component_ids=[components[0].id], update=incidents.UpdateText(
            status="investigating", impact="Entries are not saved.",
            actions="We are looking.", next_update_at=clock() + timedelta(minutes=30)))
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
    page = soup(client.get("/"))
    card = page.select_one(f"#incident-{incident.id}")
    times = [t.get_text() for t in card.select("time")]
    assert times == ["2026-11-26 14:55 CET", "2026-11-26 15:25 CET"]  # posted, next update
    gap = card.select_one(".impact-block .time-window")
    assert gap.parent.get_text(" ", strip=True) == \
        "Entries between 14:05 and 14:50 CET may be missing"
    assert (gap["data-from"], gap["data-until"]) == ("2026-11-26T13:05:00+00:00",
                                                     "2026-11-26T13:50:00+00:00")
    assert "UTC" not in card.get_text()
    # The page says which zone its times are in without script.
    assert "without script they are in Europe/Berlin time" in \
        page.select_one(".site-footer").get_text(" ", strip=True)
