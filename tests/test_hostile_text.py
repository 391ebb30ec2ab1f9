"""Any text staff can type survives every machine-readable output: feeds, JSON, badge and
embed. Hostile text goes in twice: through the domain (cleaned on the way in) and straight
into the rows (as an old row, a bug or a manual fix could leave it), so that each output
is shown to defend itself: no 500, no raw HTML, well-formed XML, no invisible controls."""

from __future__ import annotations

import json

import feedparser
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from lxml import etree

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import Component, Incident, IncidentUpdate
from statuspage.public.widgets import render_badge

from .conftest import soup

PUBLIC_URL = "https://status.example.test"
SCRIPT = "<script>alert('x')</script>"
LINK = '<a href="javascript:alert(1)">click me</a>'
#: NUL, BEL, ESC, a right-to-left override and its pop, emoji, markup, a javascript: link.
HOSTILE = f"Login \x00broken\x07\x1b[31m \u202etxet desrever\u202c 🚑💉 {SCRIPT} {LINK} & <b>"
#: Characters that must never reach a reader.
INVISIBLE = ["\x00", "\x07", "\x1b", "\u202e", "\u202c"]

FEEDS = ["/feed.rss", "/feed.atom"]
API = ["/api/v2/status.json", "/api/v2/summary.json", "/api/v2/components.json",
       "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json",
       "/api/v2/scheduled-maintenances.json"]


def _pg_safe(value: str, database_url: str) -> str:
    # PostgreSQL refuses NUL in text outright; every other character goes in as it is.
    return value.replace("\x00", "") if database_url.startswith("postgresql") else value


@pytest.fixture
def through_the_domain(admin, components, make_incident, clock):
    incident = make_incident(admin, components[:1], title=HOSTILE, impact=HOSTILE,
                             actions=HOSTILE, workaround=HOSTILE)
    clock.advance(minutes=5)
    incidents.post_update(
        incident,
        incidents.UpdateText(status="identified", impact=f"Still\r\n{HOSTILE}",
                             actions=HOSTILE),
        actor=admin, now=clock())
    db.session.commit()
    return incident.id, components[0].id


@pytest.fixture
def straight_into_the_rows(admin, components, make_incident, clock, database_url):
    incident = make_incident(admin, components[:1], title="Placeholder")
    clock.advance(minutes=5)
    incidents.post_update(
        incident, incidents.UpdateText(status="identified", impact="x", actions="y",
                                       component_statuses={components[0].id: "major_outage"}),
        actor=admin, now=clock())
    db.session.commit()
    raw = _pg_safe(HOSTILE, database_url)
    db.session.execute(sa.update(Incident).values(title=f"{raw}\nsecond line"))
    db.session.execute(sa.update(IncidentUpdate).values(impact=f"{raw}\r\n{raw}", actions=raw,
                                                        workaround=raw))
    db.session.execute(sa.update(Component).where(Component.id == components[0].id)
                       .values(name=raw[:100], description=raw))
    db.session.commit()
    db.session.expire_all()
    stored = db.session.scalar(sa.select(IncidentUpdate.actions).limit(1))
    assert "\u202e" in stored and "\x07" in stored  # the rows really are dirty
    return incident.id, components[0].id


@pytest.fixture(params=["through_the_domain", "straight_into_the_rows"])
def hostile(request):
    return request.getfixturevalue(request.param)


def assert_clean(text: str, where: str):
    for ch in INVISIBLE:
        assert ch not in text, f"{where}: {ch!r} reached the reader"


def assert_plain_text_html(fragment: str, where: str):
    """An HTML fragment built from typed text: the markup shows as text, never as tags."""
    html = BeautifulSoup(fragment, "html.parser")
    assert html.find("script") is None, where
    assert html.find("a") is None, where
    assert html.find("b") is None, where
    text = html.get_text()
    assert SCRIPT in text and LINK in text, where
    assert "🚑💉" in text, where
    assert_clean(text, where)


def test_feeds_stay_well_formed(client, hostile):
    incident_id, component_id = hostile
    paths = FEEDS + [f"/components/{component_id}/feed.rss",
                     f"/components/{component_id}/feed.atom"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_data()
        root = etree.fromstring(body)  # strict XML: raises on anything ill-formed
        feed = feedparser.parse(body)
        assert not feed.bozo, (path, feed.get("bozo_exception"))
        assert len(feed.entries) == 2
        assert_clean(body.decode("utf-8"), path)

        if path.endswith(".rss"):
            items = root.findall("./channel/item")
            titles = [i.find("title") for i in items]
            contents = [i.findtext("description") for i in items]
        else:
            ns = "{http://www.w3.org/2005/Atom}"
            entries = root.findall(f"./{ns}entry")
            titles = [e.find(f"{ns}title") for e in entries]
            contents = [e.findtext(f"{ns}content") for e in entries]
        for title in titles:
            assert len(title) == 0  # text only, no elements
            assert title.text.startswith(("[Identified] Login broken", "[Investigating] Login"))
            assert SCRIPT in title.text and "🚑💉" in title.text
            assert "\n" not in title.text
        for content in contents:
            assert_plain_text_html(content, path)
        for entry in feed.entries:
            assert entry.link == f"{PUBLIC_URL}/incidents/{incident_id}"


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_json_carries_plain_text(client, hostile):
    incident_id, _ = hostile
    for path in API:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "application/json"
        body = json.loads(response.get_data())
        for text in _strings(body):
            assert_clean(text, path)
    incident = client.get("/api/v2/incidents.json").get_json()["incidents"][0]
    assert incident["id"] == str(incident_id)
    assert SCRIPT in incident["name"] and "🚑💉" in incident["name"]
    assert "\n" not in incident["name"]
    body = incident["incident_updates"][0]["body"]
    assert body.startswith("Impact: ")
    assert SCRIPT in body and LINK in body  # plain text, as typed: the reader escapes it


def test_embed_shows_text_not_markup(client, hostile):
    incident_id, _ = hostile
    response = client.get("/embed")
    assert response.status_code == 200
    page = soup(response)
    assert page.find("script") is None and page.find("b") is None
    links = page.select("a[href]")
    assert all(a["href"].startswith(PUBLIC_URL) for a in links)
    assert not any("javascript:" in a["href"] for a in links)
    incident_link = page.select_one("ul.embed-incidents a")
    assert incident_link["href"] == f"{PUBLIC_URL}/incidents/{incident_id}"
    assert SCRIPT in incident_link.get_text() and "🚑💉" in incident_link.get_text()
    assert_clean(response.get_data(as_text=True), "/embed")


def test_badge_is_unaffected(client, hostile):
    response = client.get("/badge.svg")
    assert response.status_code == 200
    root = etree.fromstring(response.get_data())
    description = client.get("/api/v2/status.json").get_json()["status"]["description"]
    assert root.get("aria-label") == f"Metabolic-Tracker status: {description}"
    assert [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")] == [
        "Metabolic-Tracker", description]
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))


def test_badge_escapes_its_own_words():
    svg = render_badge(HOSTILE, "critical", f"Down {SCRIPT}")
    root = etree.fromstring(svg)
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))
    assert not list(root.iter("script"))
    assert SCRIPT in root.get("aria-label")
    assert_clean(svg.decode("utf-8"), "badge")


def test_hostile_site_name(make_app):
    name = f"Tracker {SCRIPT} \u202e🚑"
    app = make_app(SITE_NAME=name)
    client = app.test_client()
    for path in FEEDS + API + ["/badge.svg", "/embed"]:
        response = client.get(path)
        assert response.status_code == 200, path
        if path.endswith((".rss", ".atom", ".svg")):
            etree.fromstring(response.get_data())
    assert soup(client.get("/embed")).find("script") is None
    assert "\u202e" not in client.get("/api/v2/status.json").get_json()["page"]["name"]
