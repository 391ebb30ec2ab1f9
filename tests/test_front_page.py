"""The participants' front page (issue 11): the gravest incident first, the impact in
words (never "SEV-n" on a public surface), durations in minutes and hours, history by
month in SITE_TIMEZONE, one "Get updates" entry, a logo and an accent colour of the site's
own, checked when the app starts."""

from __future__ import annotations

from datetime import datetime, timezone

import feedparser
import pytest

from statuspage import incidents, subscriptions
from statuspage.extensions import db
from statuspage.present import duration_words
from statuspage.web.markers import view_markers
from tests.conftest import soup
from tests.smtp import app, make_subscriber, smtp, tick  # noqa: F401  (fixtures)

SEVERITY_CODES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")


def post(incident, actor, now, status, **fields):
    fields.setdefault("impact", "Still looking.")
    fields.setdefault("actions", "Working on it.")
    incidents.post_update(incident, incidents.UpdateText(status=status, **fields),
                          actor=actor, now=now)
    db.session.commit()


# --- No "SEV-" on a public surface ---------------------------------------------------------


def test_no_sev_on_any_public_page_feed_widget_or_subscriber_email(
        app, client, smtp, clock, admin, components, make_incident, make_subscriber):
    participant = make_subscriber(audience="participant")
    coach = make_subscriber(audience="coach")
    made = [make_incident(admin, components[n:n + 1], title=f"Problem {n}", severity=code)
            for n, code in enumerate(SEVERITY_CODES)]
    subscriptions.subscribe("new.reader@example.test", "participant", now=clock())
    db.session.commit()
    clock.advance(minutes=31)
    tick()  # the outage emails of the SEV-1 and SEV-2, the confirmation email
    for incident in made:
        post(incident, admin, clock(), "resolved", impact="Working again.")
    tick()  # the resolution emails

    paths = ["/", "/history", "/updates", "/subscribe", "/embed", "/embed.css",
             "/badge.svg", "/feed.rss", "/feed.atom", "/theme.css", "/maintenance.ics"]
    paths += [f"/incidents/{i.id}" for i in made]
    paths += [f"/components/{c.id}/feed.{fmt}" for c in components for fmt in ("rss", "atom")]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "SEV-" not in response.get_data(as_text=True), path
    # The cacheable views are every public surface the export carries: all were read.
    cacheable = {rule.rule for rule in view_markers(app).cacheable_rules}
    assert {p for p in cacheable if "<" not in p} <= set(paths) | {"/api/v2/summary.json", "/api/v2/status.json",
                         "/api/v2/components.json", "/api/v2/incidents.json",
                         "/api/v2/incidents/unresolved.json",
                         "/api/v2/scheduled-maintenances.json",
                         "/api/v2/scheduled-maintenances/upcoming.json",
                         "/api/v2/scheduled-maintenances/active.json",
                         "/favicon.ico"}  # the icon: an image (tests/test_i23_staff.py)

    received = {m.to: [] for m in smtp.messages}
    for m in smtp.messages:
        received[m.to].append(m)
    assert len(received[participant.email]) == 4  # two outage, two resolution emails
    assert len(received[coach.email]) == 4
    assert received["new.reader@example.test"]  # the confirmation email
    for m in smtp.messages:
        for part in (m.subject, m.text(), m.html()):
            assert "SEV-" not in part, (m.to, m.subject)


def test_the_api_keeps_its_impact(client, admin, components, make_incident):
    """The SEV stays where machines read it: the API's ``impact``."""
    make_incident(admin, components[:1], severity="SEV-1")
    body = client.get("/api/v2/incidents/unresolved.json").get_json()
    assert body["incidents"][0]["impact"] == "critical"


# --- Durations -----------------------------------------------------------------------------


@pytest.mark.parametrize("seconds, words", [
    (0, "less than a minute"), (17, "less than a minute"), (59.9, "less than a minute"),
    (60, "1 minute"), (12 * 60 + 59, "12 minutes"), (3600, "1 hour"),
    (2 * 3600 + 5 * 60, "2 hours 5 minutes"), (3600 + 60, "1 hour 1 minute"),
    (47 * 3600, "47 hours"), (50 * 3600, "2 days 2 hours"), (3 * 86400, "3 days"),
    (-5, "less than a minute"),
])
def test_durations_in_minutes_and_hours(seconds, words):
    assert duration_words(seconds) == words


def test_an_incident_seconds_old_says_less_than_a_minute(client, admin, components,
                                                          make_incident, clock):
    incident = make_incident(admin, components[:1])
    clock.advance(seconds=17)
    for path in ("/", f"/incidents/{incident.id}", "/history"):
        meta = soup(client.get(path)).select_one(".incident-meta").get_text(" ", strip=True)
        assert "Ongoing for less than a minute" in meta, path
        assert " s" not in meta.replace("Ongoing for", "")
    clock.advance(hours=2, minutes=4, seconds=50)
    meta = soup(client.get("/")).select_one(".incident-meta").get_text(" ", strip=True)
    assert "Ongoing for 2 hours 5 minutes" in meta


# --- History by month ----------------------------------------------------------------------


@pytest.mark.parametrize("zone, months", [
    ("UTC", ["November 2026", "October 2026"]),
    # 23:30 UTC on 30 November is 08:30 on 1 December in Tokyo.
    ("Asia/Tokyo", ["December 2026", "November 2026", "October 2026"]),
])
def test_history_is_grouped_by_month_in_the_site_zone(app, client, admin, components,
                                                      make_incident, clock, zone, months):
    app.config["SITE_TIMEZONE"] = zone
    for title, start in [("October one", datetime(2026, 10, 2, 9, 0)),
                         ("Mid November", datetime(2026, 11, 12, 9, 0)),
                         ("Last night", datetime(2026, 11, 30, 23, 30))]:
        clock.set(start.replace(tzinfo=timezone.utc))
        make_incident(admin, components[:1], title=title)
    page = soup(client.get("/history"))
    sections = page.select("section.history-month")
    assert [s.h2.get_text() for s in sections] == months
    grouped = {s.h2.get_text(): [a.get_text() for a in s.select("article h3 a")]
               for s in sections}
    assert grouped["October 2026"] == ["October one"]
    if zone == "UTC":
        assert grouped["November 2026"] == ["Last night", "Mid November"]
    else:
        assert grouped["December 2026"] == ["Last night"]
        assert grouped["November 2026"] == ["Mid November"]


# --- Get updates ---------------------------------------------------------------------------


def test_one_get_updates_entry_leads_to_email_and_feeds(client, components):
    for path in ("/", "/history", "/subscribe"):
        nav = soup(client.get(path)).select_one("header nav")
        assert [a.get_text() for a in nav.select("a")] == ["History", "Get updates"]
        assert nav.select_one("a[href='/updates']") is not None
    page = soup(client.get("/updates"))
    assert page.h1.get_text() == "Get updates"
    hrefs = [a["href"] for a in page.select("main a[href]")]
    assert hrefs[:3] == ["/subscribe", "/feed.rss", "/feed.atom"]
    assert f"/components/{components[0].id}/feed.atom" in hrefs
    for href in hrefs[1:]:
        if not href.endswith((".rss", ".atom")):
            continue  # the maintenance calendar (tests/test_maintenance_ical.py)
        feed = feedparser.parse(client.get(href).get_data())
        assert not feed.bozo, href


def test_get_updates_is_cacheable_and_exported(app, runner, tmp_path):
    assert "public.get_updates" in view_markers(app).cacheable
    assert runner.invoke(args=["publish", str(tmp_path / "out")]).exit_code == 0
    assert "Get updates" in (tmp_path / "out" / "updates" / "index.html").read_text()
    assert "--accent: #0f766e" in (tmp_path / "out" / "theme.css").read_text()


# --- Logo and accent colour ----------------------------------------------------------------


@pytest.mark.parametrize("colour", ["#ffff00", "#7fb3d5", "#0f766", "teal", ""])
def test_an_unreadable_or_malformed_accent_colour_stops_the_app(make_app, colour):
    with pytest.raises(RuntimeError, match="ACCENT_COLOR") as raised:
        make_app(ACCENT_COLOR=colour)
    if colour in ("#ffff00", "#7fb3d5"):
        assert "4.5:1" in str(raised.value) and "too light" in str(raised.value)


def test_a_readable_accent_colour_is_the_headers(make_app):
    app = make_app(ACCENT_COLOR="#1E3A8A")
    with app.app_context():
        css = app.test_client().get("/theme.css")
        assert css.status_code == 200 and css.content_type.startswith("text/css")
        assert "--accent: #1e3a8a;" in css.get_data(as_text=True)


def test_the_default_mark_is_the_sites_own(client):
    logo = soup(client.get("/")).select_one("header .brand img")
    assert logo["src"] == "/static/img/mark.svg" and logo["alt"] == ""
    assert client.get(logo["src"]).status_code == 200


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
       b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe"
       b"\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def test_site_logo_is_served_by_the_app_and_carried_by_the_export(make_app, tmp_path):
    (tmp_path / "instance" / "brand.png").write_bytes(PNG)
    app = make_app(SITE_LOGO="brand.png")  # relative to instance/
    with app.app_context():
        client = app.test_client()
        logo = soup(client.get("/")).select_one("header .brand img")
        assert logo["src"] == "/logo.png"
        served = client.get("/logo.png")
        assert served.status_code == 200 and served.content_type == "image/png"
        assert served.data == PNG
        # The site's own image: the page's CSP (img-src 'self') lets it show.
        assert "img-src 'self'" in client.get("/").headers["Content-Security-Policy"]
        result = app.test_cli_runner().invoke(args=["publish", str(tmp_path / "out")])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "out" / "logo.png").read_bytes() == PNG


@pytest.mark.parametrize("value, why", [
    ("missing.png", "cannot be read"), ("brand.gif", "must be one of"),
    ("empty.svg", "between 1 and"),
])
def test_a_logo_that_cannot_be_shown_stops_the_app(make_app, tmp_path, value, why):
    (tmp_path / "instance" / "empty.svg").write_bytes(b"")
    (tmp_path / "instance" / "brand.gif").write_bytes(b"GIF89a")
    with pytest.raises(RuntimeError, match=why):
        make_app(SITE_LOGO=value)
