"""The error page when the database is what failed: shown without it, and for a staff POST
saying plainly whether the change was saved.

The database is made unreachable for real: PostgreSQL stops accepting connections to the
test database and ends the open ones; SQLite's file is moved away (a folder stands in its
place, which SQLite cannot open) and the pooled connections are closed.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from statuspage.extensions import db
from statuspage.models import IncidentUpdate
from statuspage.web.errors import NOT_SAVED, SAVED, UNKNOWN

from .conftest import form_fields, soup


class Outage:
    """Takes this test's database away and brings it back."""

    def __init__(self, app):
        self.app = app
        self.url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        self.down = False

    def _admin(self):
        return sa.create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def cut(self, *, between_requests: bool = True) -> None:
        """From now on no connection reaches the database (open ones included)."""
        self.down = True
        if between_requests:
            db.session.remove()  # the test's own session lets its connection go
        if self.url.get_backend_name() == "sqlite":
            path = self.url.database
            os.rename(path, path + ".away")
            os.mkdir(path)
        else:
            admin = self._admin()
            with admin.connect() as conn:
                name = self.url.database
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            admin.dispose()
        db.engine.dispose()

    def restore(self) -> None:
        if not self.down:
            return
        self.down = False
        if self.url.get_backend_name() == "sqlite":
            path = self.url.database
            os.rmdir(path)
            os.rename(path + ".away", path)
        else:
            admin = self._admin()
            with admin.connect() as conn:
                conn.exec_driver_sql(
                    f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS true')
            admin.dispose()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def outage(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error page answers
    outage = Outage(app)
    yield outage
    outage.restore()


@pytest.fixture
def incident(responder, components, make_incident):
    return make_incident(responder, components[:1], title="Glucose sync delayed")


@contextmanager
def on_commit_of_an_update(name: str, fn):
    """Run ``fn`` on ``name`` (before_commit, after_commit) of the commit that carries a
    new incident update: where the outage strikes."""
    session_class = db.session.session_factory.class_
    armed = []

    def flushed(session, _context):
        if any(isinstance(obj, IncidentUpdate) for obj in session.new):
            armed.append(True)

    def strike(session):
        if armed and not outage_struck:
            outage_struck.append(True)
            fn(session)

    outage_struck: list = []
    event.listen(session_class, "after_flush", flushed)
    event.listen(session_class, name, strike)
    try:
        yield
    finally:
        event.remove(session_class, name, strike)
        event.remove(session_class, "after_flush", flushed)
    assert outage_struck, "the change never reached its commit"


def _update_form(client, incident_id: int, impact: str) -> tuple[str, dict]:
    url = f"/staff/incidents/{incident_id}"
    data = form_fields(client.get(url), "section.update-form form")
    data.update(status="identified", impact=impact, actions="Rolling back.",
                next_update_in="30")
    return url, data


def _updates_saying(outage, impact: str) -> int:
    outage.restore()
    return db.session.scalar(sa.select(sa.func.count()).select_from(IncidentUpdate)
                             .where(IncidentUpdate.impact == impact))


def _page(response) -> tuple[str, str]:
    page = soup(response)
    return page.find("h1").get_text(strip=True), page.find("main").get_text(" ", strip=True)


def test_nothing_was_saved_when_the_database_was_down_from_the_start(
        app, outage, incident, responder_client):
    url, data = _update_form(responder_client, incident.id, "Cause found: the sync queue.")
    outage.cut()
    response = responder_client.post(url, data=data)
    assert response.status_code == 500
    title, text = _page(response)
    assert title == "Something went wrong"
    assert NOT_SAVED in text and "Internal Server Error" not in text
    assert _updates_saying(outage, "Cause found: the sync queue.") == 0


def test_a_change_saved_before_the_database_went_is_said_to_be_saved(
        app, outage, incident, responder_client):
    url, data = _update_form(responder_client, incident.id, "Cause found: the sync queue.")
    def cut(_session):
        outage.cut(between_requests=False)

    with on_commit_of_an_update("after_commit", cut):
        response = responder_client.post(url, data=data)
    assert response.status_code == 500
    assert SAVED in _page(response)[1]
    assert _updates_saying(outage, "Cause found: the sync queue.") == 1


def _drop_the_connection(outage):
    def drop(session):
        if outage.url.get_backend_name() == "sqlite":
            # The session's own connection goes (SQLite has no server to lose).
            session.connection().connection.dbapi_connection.close()
        outage.cut(between_requests=False)

    return drop


def test_a_commit_cut_short_by_the_database_says_it_cannot_tell(
        app, outage, incident, responder_client):
    url, data = _update_form(responder_client, incident.id, "Cause found: the sync queue.")
    with on_commit_of_an_update("before_commit", _drop_the_connection(outage)):
        response = responder_client.post(url, data=data)
    assert response.status_code == 500
    text = _page(response)[1]
    assert UNKNOWN in text
    assert "Look at the incident page before you post it again" in text


def test_public_visitors_and_staff_pages_get_the_plain_message(
        app, outage, incident, client, responder_client):
    outage.cut()
    for who, response in (("public", client.get("/")),
                          ("staff page", responder_client.get("/staff/"))):
        assert response.status_code == 500, who
        title, text = _page(response)
        assert title == "Something went wrong", who
        assert "Please try again in a minute" in text, who
        assert "saved" not in text, who
