"""The maintenance calendar (``/maintenance.ics``), read back with a real iCalendar parser
(``icalendar``): one event per window, a UID that stays, a SEQUENCE that rises with each
reschedule, STATUS:CANCELLED once called off, and RFC 5545's lines (CRLF, folded at 75
octets, escaped text)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import icalendar

from statuspage import ical
from tests.maintenance_support import add_update, make_window, reschedule


def events(client) -> dict[str, "icalendar.Event"]:
    response = client.get("/maintenance.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def utc(value):
    return value.astimezone(timezone.utc)


def test_one_event_per_window_with_its_times_in_utc(client, components, clock):
    window = make_window(clock(), components[:2], title="Database upgrade",
                         starts_in=timedelta(days=2))
    found = events(client)
    uid = f"maintenance-{window.id}@status.example.test"
    assert list(found) == [uid]
    event = found[uid]
    assert utc(event.decoded("DTSTART")) == window.scheduled_for
    assert utc(event.decoded("DTEND")) == window.scheduled_until
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert str(event["SUMMARY"]) == "Metabolic-Tracker maintenance: Database upgrade"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert int(event["SEQUENCE"]) == 0
    assert str(event["URL"]) == f"https://status.example.test/maintenance/{window.id}"
    assert event.get("DTSTAMP") is not None
    description = str(event["DESCRIPTION"])
    assert "The app will not save entries during the upgrade." in description
    assert f"Affected: {components[0].name}, {components[1].name}" in description


def test_a_reschedule_keeps_the_uid_and_raises_the_sequence(client, components, clock):
    window = make_window(clock(), components[:1])
    uid = f"maintenance-{window.id}@status.example.test"
    before = events(client)[uid]
    clock.advance(hours=1)
    reschedule(window, clock(), by=timedelta(hours=3))
    after = events(client)[uid]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert utc(after.decoded("DTSTART")) == utc(before.decoded("DTSTART")) + timedelta(hours=3)
    assert utc(after.decoded("DTSTAMP")) > utc(before.decoded("DTSTAMP"))
    clock.advance(hours=1)
    reschedule(window, clock(), by=timedelta(days=1))
    again = events(client)[uid]
    assert int(again["SEQUENCE"]) > int(after["SEQUENCE"])


def test_a_cancelled_window_stays_in_the_calendar_as_cancelled(client, components, clock):
    window = make_window(clock(), components[:1])
    clock.advance(hours=1)
    add_update(window, clock(), "cancelled", actions="No longer needed.")
    event = events(client)[f"maintenance-{window.id}@status.example.test"]
    assert str(event["STATUS"]) == "CANCELLED"


def test_upcoming_and_recent_windows_only(client, components, clock):
    old = make_window(clock(), components[:1], title="Long ago", status="completed",
                      starts_in=timedelta(days=-60))
    recent = make_window(clock(), components[:1], title="Last week", status="completed",
                         starts_in=timedelta(days=-7))
    running = make_window(clock(), components[:1], title="Now", status="in_progress",
                          starts_in=timedelta(minutes=-5))
    found = events(client)
    ids = {uid.split("@")[0] for uid in found}
    assert ids == {f"maintenance-{recent.id}", f"maintenance-{running.id}"}
    assert f"maintenance-{old.id}" not in ids


def test_text_is_escaped_and_lines_are_folded_crlf(client, components, clock):
    title = "Upgrade; step 1, then \\ step 2 — Überarbeitung " + "é" * 60
    window = make_window(clock(), components[:1], title=title,
                         description="Line one.\nLine two, with a comma; and more.")
    raw = client.get("/maintenance.ics").data
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # never folded inside a character
    event = events(client)[f"maintenance-{window.id}@status.example.test"]
    assert str(event["SUMMARY"]).endswith(title)
    assert "Line one.\nLine two, with a comma; and more." in str(event["DESCRIPTION"])


def test_empty_calendar_is_valid(client):
    calendar = icalendar.Calendar.from_ical(client.get("/maintenance.ics").data)
    assert str(calendar["VERSION"]) == "2.0"
    assert calendar.walk("VEVENT") == []


def test_conditional_get(client, components, clock):
    make_window(clock(), components[:1])
    first = client.get("/maintenance.ics")
    again = client.get("/maintenance.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def one_event_calendar(summary: str, description: str = "") -> bytes:
    calendar = ical.new_calendar("Name", "status.example.test", "Tests")
    start = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)
    calendar.add_component(ical.new_event(
        "one@status.example.test", start=start, end=start + timedelta(hours=1),
        changed=start, created=start, sequence=0, summary=summary, description=description))
    return ical.to_bytes(calendar)


def test_escape_and_fold_by_rfc_5545():
    assert ical.Text("a\\b;c,d\ne").to_ical() == b"a\\\\b\\;c\\,d\\ne"
    lines = one_event_calendar("x" * 200).decode().split("\r\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("SUMMARY:"))
    pieces = [lines[first]]
    while lines[first + len(pieces)].startswith(" "):
        pieces.append(lines[first + len(pieces)])
    assert len(pieces) > 1
    assert all(len(p.encode()) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(pieces)) == "SUMMARY:" + "x" * 200


HARD_TEXT = (
    "Upgrade; step 1, then step 2 \u2014 \u00dcberarbeitung der Datenbank, "
    "\u30c7\u30fc\u30bf\u30d9\u30fc\u30b9\u306e\u79fb\u884c " + "\U0001F680" * 30 +
    " \u00e9" * 40 + "\nsecond line; with a comma, here\n\nC:\\New folder\\notes "
    "(a backslash before N and n), a\\;b a\\,c, ends with a backslash \\")


def test_hard_text_comes_back_as_it_was_written():
    # Long lines folded across multi-byte characters (2, 3 and 4 octets), every character
    # TEXT escapes, blank lines, and a backslash before "N", which icalendar's own TEXT
    # type would have turned into a line break.
    raw = one_event_calendar(HARD_TEXT[:120], HARD_TEXT)
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")
    event = icalendar.Calendar.from_ical(raw).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == HARD_TEXT[:120]
    assert str(event["DESCRIPTION"]) == HARD_TEXT


def test_the_feed_carries_hard_text_as_written(client, components, clock):
    title = "C:\\New; a, b \u2014 \u00dcberarbeitung " + "\u00e9" * 50 + " \U0001F527" * 10
    description = "Line one; with a comma, here.\n\nLine three \u2014 \\N is no break. " * 4
    workaround = "Write it down\\n on paper, then enter it; sorry."
    window = make_window(clock(), components[:1], title=title, description=description,
                         workaround=workaround)
    raw = client.get("/maintenance.ics").data
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line
    event = events(client)[f"maintenance-{window.id}@status.example.test"]
    assert str(event["SUMMARY"]) == f"Metabolic-Tracker maintenance: {title}"
    assert str(event["DESCRIPTION"]) == (
        f"{description.strip()}\n\nAffected: {components[0].name}\n\n"
        f"Workaround: {workaround}\n\n"
        f"Updates: https://status.example.test/maintenance/{window.id}")
