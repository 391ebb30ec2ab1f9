"""The read model: the front page, the API and the feeds tell the same last change."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone

import feedparser
import pytest

from statuspage import incidents, queries
from statuspage.extensions import db
from tests.conftest import T0, soup

#: Every /api/v2 body carries page.updated_at.
API_PATHS = ["/api/v2/summary.json", "/api/v2/status.json", "/api/v2/components.json",
             "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json",
             "/api/v2/scheduled-maintenances.json"]


def front_page_says(client) -> datetime | None:
    """The front page's "Last updated", or None where it says "never"."""
    line = soup(client.get("/")).select_one(".last-updated")
    time = line.select_one("time")
    if time is None:
        assert line.get_text(" ", strip=True) == "Last updated never"
        return None
    return datetime.fromisoformat(time["datetime"])


def api_says(client, path: str = "/api/v2/summary.json") -> datetime:
    return datetime.fromisoformat(client.get(path).get_json()["page"]["updated_at"])


def feed_says(client, path: str) -> datetime:
    feed = feedparser.parse(client.get(path).get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    return datetime.fromtimestamp(calendar.timegm(feed.feed.updated_parsed), timezone.utc)


def assert_all_say(client, expected: datetime) -> None:
    """``/``, every /api/v2 body and both site feeds report ``expected`` (the front page
    writes ``queries.NEVER`` as "never")."""
    front = front_page_says(client)
    said = {
        "/": queries.NEVER if front is None else front,
        **{path: api_says(client, path) for path in API_PATHS},
        "/feed.atom": feed_says(client, "/feed.atom"),
        "/feed.rss": feed_says(client, "/feed.rss"),
    }
    assert said == {where: expected for where in said}
    with_db = queries.last_public_change()
    assert with_db == expected


def post(incident, actor, clock, status="identified", **fields):
    incidents.post_update(
        incident,
        incidents.UpdateText(status=status, impact=fields.pop("impact", "Still slow."),
                             actions=fields.pop("actions", "Working on it."), **fields),
        actor=actor, now=clock(),
    )
    db.session.commit()


def test_an_empty_page_changed_never(client, clock):
    assert_all_say(client, queries.NEVER)
    clock.advance(hours=5)  # a fixed answer, not "now": the bodies stay the same
    assert_all_say(client, queries.NEVER)
    assert client.get("/api/v2/summary.json").get_data() == \
        client.get("/api/v2/summary.json").get_data()


def test_components_alone_changed_when_they_were_added(client, components, clock):
    clock.advance(hours=2)
    assert_all_say(client, T0)


def test_every_public_change_moves_the_last_change_everywhere(client, admin, components,
                                                              make_incident, clock):
    clock.advance(minutes=30)
    incident = make_incident(admin, components[:1])
    assert_all_say(client, T0 + timedelta(minutes=30))

    clock.advance(minutes=10)
    post(incident, admin, clock)  # an update
    assert_all_say(client, T0 + timedelta(minutes=40))

    clock.advance(minutes=5)  # a component changes after the last update
    incidents.set_component_status(components[2], "degraded_performance", actor=admin,
                                   now=clock())
    db.session.commit()
    assert_all_say(client, T0 + timedelta(minutes=45))

    clock.advance(minutes=5)  # the issue is corrected
    incidents.edit_incident(incident, actor=admin, now=clock(), title="Sign-in fails",
                            severity=incident.severity, component_ids=[components[0].id],
                            started_at=incident.started_at)
    db.session.commit()
    assert_all_say(client, T0 + timedelta(minutes=50))

    clock.advance(minutes=5)  # health data pasted by mistake is redacted
    incidents.redact_update(incident.updates[0], actor=admin, now=clock())
    db.session.commit()
    assert_all_say(client, T0 + timedelta(minutes=55))

    clock.advance(minutes=5)
    post(incident, admin, clock, status="resolved")
    clock.advance(days=30)  # time passing alone changes nothing
    assert_all_say(client, T0 + timedelta(minutes=60))


def test_an_update_time_counts_even_where_the_incident_row_lags(client, admin, components,
                                                              make_incident, clock):
    # A row written some other way (an import, a fix by hand) may leave the incident's
    # updated_at behind its newest update: the page still shows that update, so it counts.
    incident = make_incident(admin, components[:1])
    clock.advance(minutes=20)
    post(incident, admin, clock)
    db.session.execute(db.update(type(incident)).where(type(incident).id == incident.id)
                       .values(updated_at=T0))
    db.session.commit()
    assert_all_say(client, T0 + timedelta(minutes=20))


@pytest.mark.parametrize("path", ["/", "/api/v2/summary.json", "/feed.atom"])
def test_the_last_change_is_one_query(app, client, admin, components, make_incident, clock,
                                      path):
    from tests.conftest import counting_selects

    make_incident(admin, components[:1])

    def selects():
        with app.app_context(), counting_selects() as statements:
            assert client.get(path).status_code == 200
        return [s for s in statements if "max(" in s.lower()]

    assert len(selects()) == 1
