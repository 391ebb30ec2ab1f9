"""Issue 23, point 1: the feeds tell of a maintenance window when it is scheduled, when it
is moved and when it is cancelled, not only when it starts and completes.

Windows go through the domain functions, as staff's clicks do; the feeds are read with
feedparser, the way feed readers read them, site-wide and per component, RSS and Atom.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import feedparser
import pytest
from bs4 import BeautifulSoup

from statuspage import maintenance
from statuspage.extensions import db

PUBLIC_URL = "https://status.example.test"
FORMATS = ("rss", "atom")


def feed(client, path: str):
    parsed = feedparser.parse(client.get(path).get_data())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def body(entry) -> str:
    """An entry's text as a reader shows it (RSS: description, Atom: content)."""
    html = (entry.get("content") or [{"value": entry.get("summary", "")}])[0]["value"]
    return BeautifulSoup(html, "html.parser").get_text(" ", strip=True)


def schedule(admin, components, now, *, title="Database upgrade",
             description="The app will not save entries during the upgrade.",
             workaround="Write entries down and add them afterwards.", starts_in=None):
    start = (now + (starts_in or timedelta(days=2))).replace(second=0, microsecond=0)
    window = maintenance.schedule(maintenance.WindowFields(
        title=title, component_ids=[c.id for c in components], scheduled_for=start,
        scheduled_until=start + timedelta(hours=2), description=description,
        workaround=workaround), actor=admin, now=now)
    db.session.commit()
    return window


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_scheduled_window_is_an_entry_at_once(client, admin, components, clock, fmt):
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc))
    window = schedule(admin, components[1:2], clock())
    entries = feed(client, f"/feed.{fmt}").entries
    assert [e.title for e in entries] == ["[Maintenance scheduled] Database upgrade"]
    entry = entries[0]
    assert entry.link == f"{PUBLIC_URL}/maintenance/{window.id}"
    assert entry.id == f"{PUBLIC_URL}/maintenance/{window.id}#scheduled"
    text = body(entry)
    assert "Window: 2026-11-28 12:00 UTC to 2026-11-28 14:00 UTC" in text
    assert "What you will notice: The app will not save entries during the upgrade." in text
    assert "Workaround: Write entries down and add them afterwards." in text
    # The feed of the component it takes has it; another component's has not.
    taken = feed(client, f"/components/{components[1].id}/feed.{fmt}").entries
    assert [e.title for e in taken] == ["[Maintenance scheduled] Database upgrade"]
    assert feed(client, f"/components/{components[0].id}/feed.{fmt}").entries == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_moving_and_cancelling_a_window_are_entries(client, admin, components, clock, fmt):
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc))
    window = schedule(admin, components[1:2], clock())
    first_id = feed(client, f"/feed.{fmt}").entries[0].id
    clock.advance(hours=1)
    start = window.scheduled_for + timedelta(days=1)
    maintenance.reschedule(window, start, start + timedelta(hours=3), actor=admin, now=clock())
    db.session.commit()
    clock.advance(hours=1)
    maintenance.cancel(window, actor=admin, now=clock())
    db.session.commit()

    for path in (f"/feed.{fmt}", f"/components/{components[1].id}/feed.{fmt}"):
        entries = feed(client, path).entries
        assert [e.title for e in entries] == [
            "[Maintenance cancelled] Database upgrade",
            "[Maintenance rescheduled] Database upgrade",
            "[Maintenance scheduled] Database upgrade"], path
        cancelled, moved, scheduled = entries
        assert "Was planned: 2026-11-29 12:00 UTC to 2026-11-29 15:00 UTC" in body(cancelled)
        assert "cancelled" in body(cancelled)
        assert body(moved) == ("Window: 2026-11-29 12:00 UTC to 2026-11-29 15:00 UTC "
                               "Moved from: 2026-11-28 12:00 UTC to 2026-11-28 14:00 UTC")
        # The scheduling keeps its id, and says the times it was scheduled for.
        assert scheduled.id == first_id
        assert "Window: 2026-11-28 12:00 UTC to 2026-11-28 14:00 UTC" in body(scheduled)
        assert len({e.id for e in entries}) == 3
        assert all(e.link == f"{PUBLIC_URL}/maintenance/{window.id}" for e in entries)
    assert feed(client, f"/components/{components[0].id}/feed.{fmt}").entries == []


def test_entries_name_the_site_zone_and_strip_what_xml_cannot_hold(app, client, admin,
                                                                  components, clock):
    app.config["SITE_TIMEZONE"] = "Europe/Berlin"
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc))
    window = maintenance.schedule(maintenance.WindowFields(
        title="Upgrade", component_ids=[components[0].id],
        scheduled_for=datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc),
        scheduled_until=datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc),
        description="Saving pauses."), actor=admin, now=clock())
    db.session.commit()
    # A row written some other way, with what XML cannot hold (feedgen would raise).
    window.description = "Saving\x1b[31m pauses\x0c."
    window.workaround = "Wait\x08 a bit."
    window.title = "Upgrade\x0b tonight"
    db.session.commit()
    for fmt in FORMATS:
        entry = feed(client, f"/feed.{fmt}").entries[0]
        assert entry.title == "[Maintenance scheduled] Upgrade tonight"
        text = body(entry)
        assert "Window: 2026-11-28 02:00 CET to 2026-11-28 04:00 CET" in text
        assert "What you will notice: Saving[31m pauses." in text
        assert "Workaround: Wait a bit." in text


def test_feeds_read_a_fixed_number_of_queries_however_many_windows_moved(
        app, client, admin, components, clock):
    from tests.conftest import counting_selects

    paths = ["/feed.atom", f"/components/{components[0].id}/feed.rss"]

    def counts():
        found = []
        for path in paths:
            with app.app_context(), counting_selects() as statements:
                assert client.get(path).status_code == 200
            found.append(len(statements))
        return found

    first = schedule(db.session.merge(admin), components[:1], clock())
    few = counts()
    for n in range(4):
        clock.advance(minutes=5)
        window = schedule(db.session.merge(admin), components[: 1 + n % 2], clock(),
                          title=f"Window {n}")
        start = window.scheduled_for + timedelta(hours=5)
        maintenance.reschedule(window, start, start + timedelta(hours=1),
                               actor=db.session.merge(admin), now=clock())
        db.session.commit()
    assert counts() == few
    titles = [e.title for e in feed(client, "/feed.atom").entries]
    assert titles.count("[Maintenance rescheduled] Window 3") == 1
    assert titles[-1] == f"[Maintenance scheduled] {first.title}"
