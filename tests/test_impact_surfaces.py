"""Participants read the impact block everywhere an incident is told (issue 13, point 6):
the front page and the incident page, the outage and resolution emails (participant and
coach copies, through a real SMTP server), the feeds (feedparser) and the API's update
body; the resolution email names the data-gap window, or keeps the playbook's sentence."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest
from bs4 import BeautifulSoup

from statuspage import incidents
from statuspage.data_impact import DataImpact
from statuspage.extensions import db
from tests.conftest import soup
from tests.smtp import MAIL_CONFIG, make_subscriber, smtp, tick  # noqa: F401  (fixtures)
from tests.test_mail import OUTAGE, RESTORED

UTC = timezone.utc
PLAYBOOK = Path(__file__).parent / "data" / "incident-response-playbook.md"
#: 13:05 to 13:50 UTC on 26 November 2026, in Berlin.
WINDOW = "14:05 and 14:50 CET"
GAP = f"Entries between {WINDOW} may be missing"
SENTENCE = ("If you were unable to log entries during the outage (between 14:05 and 14:50 "
            "CET), you can still add them now with the correct date and time.")
BLOCK = ["Your data: Some entries may be missing",
         "What you need to do: Re-enter the entries that may be missing"]


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, SITE_TIMEZONE="Europe/Berlin", **MAIL_CONFIG)
    with app.app_context():
        yield app


def words(text: str) -> str:
    return " ".join(text.split())


def playbook_sentence() -> str:
    text = PLAYBOOK.read_text()
    found = re.search(r"If you were unable to log entries.*?date and time\.", text, re.DOTALL)
    return words(found.group(0))


def set_impact(incident, actor, clock, status="identified", window=True, **fields):
    """Staff post an update that sets the block (a window of 14:05 to 14:50 CET)."""
    impact = DataImpact(
        data_status=fields.get("data_status", "some_entries_missing"),
        user_action=fields.get("user_action", "reenter_entries"),
        data_gap_from=datetime(2026, 11, 26, 13, 5, tzinfo=UTC) if window else None,
        data_gap_until=datetime(2026, 11, 26, 13, 50, tzinfo=UTC) if window else None)
    incidents.post_update(incident, incidents.UpdateText(
        status=status, impact="Entries were not saved.", actions="Restored the database.",
        data_impact=impact), actor=actor, now=clock())
    db.session.commit()


@pytest.fixture
def outage(clock, responder, components, make_incident):
    """A SEV-1 declared at 13:00 UTC; at 13:55 staff say what it means for the data."""
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    incident = make_incident(responder, components[:2], severity="SEV-1")
    clock.advance(minutes=55)
    set_impact(incident, responder, clock)
    return incident


# --- Pages, feed, API ----------------------------------------------------------------------


def test_the_front_page_and_the_incident_page_show_the_block(client, outage):
    for url in ("/", f"/incidents/{outage.id}"):
        block = soup(client.get(url)).select_one(f"#incident-{outage.id} .impact-block")
        pairs = [(words(row.dt.get_text()), words(row.dd.get_text()))
                 for row in block.select("div")]
        assert pairs == [("Your data", "Some entries may be missing"),
                         ("What you need to do", "Re-enter the entries that may be missing"),
                         ("Data gap", GAP)]


def test_no_block_until_staff_say_something(client, responder, components, make_incident):
    incident = make_incident(responder, components[:1])
    for url in ("/", f"/incidents/{incident.id}"):
        assert not soup(client.get(url)).select(".impact-block")


def test_the_feed_carries_the_block_on_the_newest_entry(client, outage):
    for path in ("/feed.rss", "/feed.atom"):
        parsed = feedparser.parse(client.get(path).get_data())
        newest, older = parsed.entries[0], parsed.entries[1]
        body = words(BeautifulSoup(newest.summary, "html.parser").get_text(" "))
        for line in BLOCK + [f"Data gap: {GAP}"]:
            assert line in body
        # The first update did not say it: the block is what is true now.
        assert "Your data" not in older.summary


def test_the_api_update_body_appends_the_block(client, outage):
    [incident] = client.get("/api/v2/incidents.json").get_json()["incidents"]
    newest, older = incident["incident_updates"]
    assert newest["body"].splitlines()[-3:] == BLOCK + [f"Data gap: {GAP}"]
    assert newest["body"].startswith("Impact: Entries were not saved.")
    assert "Your data" not in older["body"]


# --- Emails --------------------------------------------------------------------------------


def emails(smtp, address, subject):  # noqa: F811
    [msg] = [m for m in smtp.to(address) if m.subject == subject]
    html = words(BeautifulSoup(msg.html(), "html.parser").get_text(" "))
    return msg.text(), words(msg.text()), html


def test_outage_and_resolution_emails_carry_the_block_and_name_the_window(
        smtp, clock, outage, responder, make_subscriber):  # noqa: F811
    make_subscriber("pat@example.test")
    make_subscriber("coach@example.test", audience="coach")
    tick()
    for address in ("pat@example.test", "coach@example.test"):
        raw, text, html = emails(smtp, address, OUTAGE)
        assert "\n".join(BLOCK + [f"Data gap: {GAP}"]) in raw
        for body in (text, html):
            assert words(" ".join(BLOCK)) in body and GAP in body
    clock.advance(minutes=5)
    incidents.post_update(outage, incidents.UpdateText(
        status="resolved", impact="None.", actions="Fixed."), actor=responder, now=clock())
    db.session.commit()
    tick()
    for address in ("pat@example.test", "coach@example.test"):
        raw, text, html = emails(smtp, address, RESTORED)
        for body in (text, html):
            assert SENTENCE in body
            assert words(" ".join(BLOCK)) in body
            assert playbook_sentence() not in body
        assert max(len(line) for line in raw.split("Best regards")[0].splitlines()) <= 76


def test_without_a_window_the_playbooks_sentence_stays_word_for_word(
        smtp, clock, responder, components, make_incident, make_subscriber):  # noqa: F811
    make_subscriber("pat@example.test")
    make_subscriber("coach@example.test", audience="coach")
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    set_impact(incident, responder, clock, status="resolved", window=False,
               data_status="safe", user_action="nothing")
    tick()
    sentence = playbook_sentence()
    assert sentence.startswith("If you were unable to log entries during the outage, you")
    for address in ("pat@example.test", "coach@example.test"):
        raw, text, html = emails(smtp, address, RESTORED)
        assert sentence in text and sentence in html
        assert "Your data: Safe\nWhat you need to do: Nothing\n" in raw
        assert "between" not in text


def test_a_window_across_midnight_names_both_dates(
        smtp, clock, responder, components, make_incident, make_subscriber):  # noqa: F811
    make_subscriber("pat@example.test")
    clock.set(datetime(2026, 11, 26, 22, 30, tzinfo=UTC))  # 23:30 in Berlin
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()  # the outage email: the resolution goes to those it reached
    clock.advance(minutes=44)
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="None.", actions="Fixed.", data_impact=DataImpact(
            "some_entries_missing", None, clock() - timedelta(minutes=65),
            clock() - timedelta(minutes=10))), actor=responder, now=clock())
    db.session.commit()
    tick()
    _, text, html = emails(smtp, "pat@example.test", RESTORED)
    window = "between 26 November 23:40 and 27 November 00:35 CET"
    assert f"during the outage ({window}), you can still add" in text
    assert f"({window})" in html


def test_the_window_is_named_in_each_subscribers_own_zone(
        smtp, clock, outage, responder, make_subscriber):  # noqa: F811
    """A coach in New York reads the data-gap window in New York time (issue 13 point 4)."""
    make_subscriber("pat@example.test")
    far = make_subscriber("ny@example.test", audience="coach")
    far.timezone = "America/New_York"
    db.session.commit()
    tick()
    clock.advance(minutes=5)
    incidents.post_update(outage, incidents.UpdateText(
        status="resolved", impact="None.", actions="Fixed."), actor=responder, now=clock())
    db.session.commit()
    tick()
    _raw, text, _html = emails(smtp, "ny@example.test", RESTORED)
    assert "(between 08:05 and 08:50 EST)" in words(text)
    _raw, text, _html = emails(smtp, "pat@example.test", RESTORED)
    assert f"({'between ' + WINDOW})" in words(text)
