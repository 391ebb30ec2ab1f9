"""Staff and sign-in writes while another process writes (SQLite).

The notifier writes between a view's read and its write: a view that read in a deferred
transaction then fails its write at once with "database is locked" (SQLite refuses to upgrade a
stale read snapshot, whatever the busy timeout). Every request that may write begins with the
write lock instead, so the other writer waits, not the person at the form.

The other writer here is a second SQLite connection that writes exactly when the request sends
its first write statement: no threads and no sleeping, the interleaving is fixed.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from statuspage.extensions import db
from statuspage.models import IncidentUpdate, StaffUser

from .conftest import PASSWORD, form_fields, login
from .staff_support import declare, post_update

WRITES = ("INSERT", "UPDATE", "DELETE")


class OtherWriter:
    """Commits a write on its own connection just before the request's first write."""

    def __init__(self, path: str):
        self.path = path
        self.armed = False
        self.outcomes: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if not self.armed or not statement.lstrip().upper().startswith(WRITES):
            return
        self.armed = False
        other = sqlite3.connect(self.path, timeout=0.05, isolation_level=None)
        try:
            other.execute("CREATE TABLE IF NOT EXISTS other_writer (n INTEGER)")
            other.execute("INSERT INTO other_writer VALUES (1)")
            self.outcomes.append("wrote")
        except sqlite3.OperationalError:
            self.outcomes.append("waited")  # the request holds the lock: the other one waits
        finally:
            other.close()


@pytest.fixture
def other_writer(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock; PostgreSQL locks rows")
    writer = OtherWriter(db.engine.url.database)
    sa.event.listen(db.engine, "before_cursor_execute", writer)
    yield writer
    sa.event.remove(db.engine, "before_cursor_execute", writer)


def test_an_update_posted_while_another_process_writes_is_saved(app, responder_client,
                                                                components, other_writer):
    declare(responder_client, components[:1])
    incident_id = db.session.scalar(db.select(db.func.max(IncidentUpdate.incident_id)))
    other_writer.armed = True
    response = post_update(responder_client, incident_id, impact="Still down for some.")
    assert response.status_code in (302, 303), response.status_code
    assert other_writer.outcomes == ["waited"]
    db.session.rollback()
    impacts = db.session.scalars(db.select(IncidentUpdate.impact)).all()
    assert "Still down for some." in impacts


def test_a_failed_sign_in_is_counted_while_another_process_writes(app, client, responder,
                                                                  other_writer):
    page = client.get("/staff/login")
    data = form_fields(page)
    data.update(email=responder.email, password="not the password")
    other_writer.armed = True
    response = client.post("/staff/login", data=data)
    assert response.status_code == 401
    assert other_writer.outcomes == ["waited"]
    db.session.rollback()
    assert db.session.get(StaffUser, responder.id).failed_logins == 1


def test_sign_out_while_another_process_writes(app, client, responder, other_writer):
    assert login(client, responder.email, PASSWORD).status_code == 302
    page = client.get("/staff/")
    token = form_fields(page, "form[action$='/logout']")["csrf_token"]
    other_writer.armed = True
    response = client.post("/staff/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert other_writer.outcomes == ["waited"]
    assert client.get("/staff/").status_code == 302  # signed out
