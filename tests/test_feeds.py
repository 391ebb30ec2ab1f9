"""RSS and Atom feeds, read the way feed readers read them (feedparser)."""

from __future__ import annotations

import calendar

import feedparser
import pytest
from bs4 import BeautifulSoup

from statuspage import incidents
from statuspage.extensions import db
from tests.conftest import counting_selects

PUBLIC_URL = "https://status.example.test"
FORMATS = {
    "rss": ("/feed.rss", "rss20", "application/rss+xml; charset=utf-8"),
    "atom": ("/feed.atom", "atom10", "application/atom+xml; charset=utf-8"),
}


def post(incident, actor, clock, status="identified", minutes=10, **fields):
    """Post the next update ``minutes`` later through the domain, committed."""
    clock.advance(minutes=minutes)
    update = incidents.post_update(
        incident,
        incidents.UpdateText(
            status=status,
            impact=fields.pop("impact", "Users cannot sign in."),
            actions=fields.pop("actions", "We found the cause."),
            **fields,
        ),
        actor=actor,
        now=clock(),
    )
    db.session.commit()
    return update


def fetch(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response, feedparser.parse(response.get_data())


def epoch(dt) -> int:
    return int(dt.timestamp())


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_feed_is_valid(client, fmt):
    path, version, content_type = FORMATS[fmt]
    response, feed = fetch(client, path)
    assert response.headers["Content-Type"] == content_type
    assert feed.version == version
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries == []
    assert feed.feed.title == "Metabolic-Tracker Status"
    self_links = [link.href for link in feed.feed.links if link.rel == "self"]
    assert self_links == [PUBLIC_URL + path]
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_update_is_an_entry_newest_first(client, admin, components, make_incident, clock,
                                              fmt):
    path, version, _ = FORMATS[fmt]
    login_incident = make_incident(admin, components[:1], title="Login not working",
                                   impact="Users cannot sign in.",
                                   actions="We are investigating.")
    first = login_incident.updates[0]
    second = post(login_incident, admin, clock, "identified", workaround="Use the web app.",
                  next_update_at=clock.now.replace(hour=13, minute=30),
                  actions="A certificate expired; renewing it.")

    response, feed = fetch(client, path)
    assert feed.version == version and not feed.bozo
    assert [e.title for e in feed.entries] == [
        "[Identified] Login not working",
        "[Investigating] Login not working",
    ]
    newest = feed.entries[0]
    assert newest.link == f"{PUBLIC_URL}/incidents/{login_incident.id}"
    assert newest.id == f"{PUBLIC_URL}/incidents/{login_incident.id}#update-{second.id}"
    assert feed.entries[1].id.endswith(f"#update-{first.id}")
    assert calendar.timegm(newest.published_parsed) == epoch(second.posted_at)
    if fmt == "atom":  # RSS items have no updated date of their own
        assert calendar.timegm(newest.updated_parsed) == epoch(second.posted_at)
    assert calendar.timegm(feed.entries[1].published_parsed) == epoch(first.posted_at)

    text = BeautifulSoup(newest.content[0].value if fmt == "atom" else newest.description,
                         "html.parser").get_text()
    assert "Impact: Users cannot sign in." in text
    assert "Actions: A certificate expired; renewing it." in text
    assert "Workaround: Use the web app." in text
    assert "Next Update: 2026-11-26 13:30 UTC" in text
    older = BeautifulSoup(feed.entries[1].get("description", ""), "html.parser").get_text(" ")
    assert "Workaround" not in older and "Next Update" not in older


def test_rss_guid_is_not_a_permalink_and_atom_has_published(client, admin, components,
                                                             make_incident):
    make_incident(admin, components[:1])
    rss = client.get("/feed.rss").get_data(as_text=True)
    assert 'isPermaLink="false"' in rss
    atom = client.get("/feed.atom").get_data(as_text=True)
    assert "<published>" in atom and "<updated>" in atom
    assert f'<link href="{PUBLIC_URL}/feed.atom" rel="self"' in atom


@pytest.mark.parametrize("fmt", FORMATS)
def test_entry_ids_are_stable(client, admin, components, make_incident, clock, fmt):
    path = FORMATS[fmt][0]
    incident = make_incident(admin, components[:1])
    post(incident, admin, clock, "identified")
    _, before = fetch(client, path)
    _, again = fetch(client, path)
    ids = [e.id for e in before.entries]
    assert [e.id for e in again.entries] == ids

    # A new update, an edit of the issue and a redaction add or change entries; the
    # entries already there keep their ids.
    post(incident, admin, clock, "monitoring")
    incidents.edit_incident(incident, actor=admin, now=clock(), title="Sign-in failing",
                            severity=incident.severity,
                            component_ids=[c.id for c in incident.components],
                            started_at=incident.started_at)
    incidents.redact_update(incident.updates[-1], actor=admin, now=clock())
    db.session.commit()
    _, after = fetch(client, path)
    assert len(after.entries) == 3
    assert [e.id for e in after.entries][1:] == ids
    assert after.entries[0].title == "[Monitoring] Sign-in failing"


def test_redacted_update_shows_redacted(client, admin, components, make_incident, clock):
    incident = make_incident(admin, components[:1], impact="Patient 4411 glucose 9.1 leaked",
                             actions="Checking logs", workaround="Write it down")
    incidents.redact_update(incident.updates[0], actor=admin, now=clock())
    db.session.commit()
    for path in ("/feed.rss", "/feed.atom"):
        body = client.get(path).get_data(as_text=True)
        assert "4411" not in body and "Write it down" not in body
        assert body.count("[redacted]") >= 3  # Impact, Actions, Workaround


def test_feed_holds_the_50_newest_updates(client, admin, components, make_incident, clock):
    incident = make_incident(admin, components[:1])
    posted = [incident.updates[0]]
    for _ in range(54):
        posted.append(post(incident, admin, clock, "investigating", minutes=1))
    for path in ("/feed.rss", "/feed.atom"):
        _, feed = fetch(client, path)
        assert len(feed.entries) == 50
        expected = [u.id for u in reversed(posted)][:50]
        assert [int(e.id.rsplit("-", 1)[1]) for e in feed.entries] == expected


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_component_feed_holds_only_its_incidents(client, admin, components, make_incident,
                                                 clock, fmt):
    login, saving, charts = components[0], components[1], components[2]
    login_incident = make_incident(admin, [login], title="Login not working")
    clock.advance(minutes=5)
    saving_incident = make_incident(admin, [saving], title="Entries not saving")
    clock.advance(minutes=5)
    both = make_incident(admin, [login, saving], title="Everything slow", severity="SEV-3")
    post(saving_incident, admin, clock, "identified")

    def titles(component):
        response, feed = fetch(client, f"/components/{component.id}/feed.{fmt}")
        assert feed.version == FORMATS[fmt][1] and not feed.bozo
        assert response.headers["Content-Type"] == FORMATS[fmt][2]
        self_links = [link.href for link in feed.feed.links if link.rel == "self"]
        assert self_links == [f"{PUBLIC_URL}/components/{component.id}/feed.{fmt}"]
        assert component.name in feed.feed.title
        return [e.title for e in feed.entries], {e.link for e in feed.entries}

    login_titles, login_links = titles(login)
    assert login_titles == ["[Investigating] Everything slow",
                            "[Investigating] Login not working"]
    assert login_links == {f"{PUBLIC_URL}/incidents/{both.id}",
                           f"{PUBLIC_URL}/incidents/{login_incident.id}"}
    saving_titles, _ = titles(saving)
    assert saving_titles == ["[Identified] Entries not saving", "[Investigating] Everything slow",
                             "[Investigating] Entries not saving"]
    assert titles(charts) == ([], set())


@pytest.mark.parametrize("path", ["/components/9999/feed.rss", "/components/9999/feed.atom",
                                  "/components/99999999999999999999/feed.rss",
                                  "/components/0/feed.atom", "/components/abc/feed.rss"])
def test_unknown_component_feed_is_404(client, components, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_conditional_get(client, admin, components, make_incident, clock, fmt):
    path = FORMATS[fmt][0]
    incident = make_incident(admin, components[:1])
    first = client.get(path)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"].startswith("public")

    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    unchanged = client.get(path, headers={"If-Modified-Since": last_modified})
    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    assert client.get(path).headers["ETag"] == etag  # the same bytes every time

    post(incident, admin, clock, "identified")
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    later = client.get(path, headers={"If-Modified-Since": last_modified})
    assert later.status_code == 200


def test_component_feed_conditional_get(client, admin, components, make_incident):
    make_incident(admin, components[:1])
    path = f"/components/{components[0].id}/feed.atom"
    etag = client.get(path).headers["ETag"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304


def test_feeds_use_a_fixed_number_of_queries(app, client, admin, components, make_incident,
                                            clock):
    from tests.maintenance_support import add_update, make_window

    incident = make_incident(admin, components[:1])
    window = make_window(clock(), components[:1])
    add_update(window, clock(), impact="Saving pauses.")
    paths = ["/feed.rss", "/feed.atom", f"/components/{components[0].id}/feed.rss"]

    def counts():
        result = []
        for path in paths:
            # A fresh app context: a fresh session, as every real request has.
            with app.app_context(), counting_selects() as statements:
                assert client.get(path).status_code == 200
            result.append(len(statements))
        return result

    few = counts()
    # The component (per-component feeds), the updates and their incidents, the
    # maintenance updates and their windows; the windows as scheduled and their moves
    # (issue 23).
    assert max(few) <= 7
    for n in range(6):
        clock.advance(minutes=1)
        other = make_incident(admin, components[: 1 + n % 3], title=f"Incident {n}",
                              component_statuses={components[0].id: "partial_outage"})
        post(other, admin, clock, "identified", minutes=1)
        add_update(make_window(clock(), components[: 1 + n % 3], title=f"Window {n}"),
                   clock(), impact="Saving pauses.")
    post(incident, admin, clock, "resolved")
    assert counts() == few
