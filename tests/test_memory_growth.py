"""A web worker's memory does not grow with staff writes (issue 21, point 6), in-process.

SQLite's driver keeps every SQL text it ran compiled (128 per connection, each connection
of the pool its own), and SQLite's memory for a statement with ``IN (?, ?, ...)`` grows
with its length. The public pages loaded their rows' timelines with such lists
(``selectinload``, the history page's ids): one new text for each count of incidents a
page showed, so each incident opened or resolved during an outage made every worker
compile (and keep) new statements for every page read. In a served soak that opened and
resolved incidents, SQLite's memory grew from 4 to 11 MiB per worker in two minutes.

Here: staff write through the write API while every public page is read; after a warm-up
no new SQL text may appear, however many incidents are opened, updated and resolved.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from statuspage import api_keys
from statuspage.extensions import db

#: Every public page a reader asks for during an outage (what ``memory_soak`` reads, and
#: the pages that list incidents, updates or their timelines).
PAGES = ("/", "/history", "/feed.rss", "/feed.atom", "/embed", "/badge.svg",
         "/api/v2/summary.json", "/api/v2/incidents.json",
         "/api/v2/incidents/unresolved.json", "/api/v2/status.json")


class Staff:
    """Writes through the write API as a monitoring tool would, one minute apart."""

    def __init__(self, client, clock, key: str, component_ids: list[int]):
        self.client, self.clock, self.component_ids = client, clock, component_ids
        self.headers = {"Authorization": f"OAuth {key}", "Content-Type": "application/json"}
        self.page = client.get("/api/v2/status.json").get_json()["page"]["id"]
        self.n = 0

    def _send(self, method: str, path: str, body: dict) -> dict:
        self.clock.advance(minutes=1)
        self.n += 1
        response = self.client.open(f"/api/v1/pages/{self.page}{path}", method=method,
                                    headers=self.headers, data=json.dumps(body))
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        return response.get_json()

    def open(self) -> int:
        component = self.component_ids[self.n % len(self.component_ids)]
        return int(self._send("POST", "/incidents", {"incident": {
            "name": f"Incident {self.n}", "status": "investigating",
            "body": f"Impact: entries slow to save ({self.n})\nActions: investigating",
            "components": {str(component): "partial_outage"}}})["id"])

    def update(self, incident: int, status: str = "identified") -> None:
        self._send("PATCH", f"/incidents/{incident}", {"incident": {
            "status": status, "body": f"Impact: entries slow to save ({self.n})"}})


def read_every_page(client, incidents=()) -> None:
    for path in (*PAGES, *(f"/incidents/{i}" for i in incidents)):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)


@pytest.fixture
def sql_texts(app):
    """Every distinct SQL text the app sends (what the driver compiles and keeps)."""
    texts: set[str] = set()

    def before(conn, cursor, statement, parameters, context, executemany):
        texts.add(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    yield texts
    sa.event.remove(db.engine, "before_cursor_execute", before)


@pytest.fixture
def staff(app, client, clock, admin, components):
    _, key = api_keys.create_key("Soak", actor=admin, now=clock())
    db.session.commit()
    return Staff(client, clock, key, [c.id for c in components])


def _new(texts: set[str], seen: set[str]) -> list[str]:
    """The texts not seen before, each by what follows its FROM (where they differ)."""
    # The cause is a list of ids whose length follows the data: a text with ``IN (`` that
    # was not seen. (A fixed text, such as one lazy load, may first appear late.)
    return sorted(" ".join(t.split())[-500:] for t in texts - seen if " IN (" in t)


def test_incidents_opened_and_resolved_add_no_sql_text(client, staff, sql_texts):
    """Each incident resolved stays on the front page for days and in the feeds and the
    API: the pages show one more incident each time, with the same statements."""
    def one_incident():
        incident = staff.open()
        read_every_page(client, [incident])
        staff.update(incident)
        read_every_page(client, [incident])
        staff.update(incident, "resolved")
        read_every_page(client, [incident])

    # A fixed text may first appear late (a lazy load on one path): what must not happen
    # is a text that keeps varying with the incidents shown, so the last rounds add none.
    for _ in range(6):
        one_incident()
    seen = set(sql_texts)
    for _ in range(4):
        one_incident()
    assert _new(sql_texts, seen) == []
