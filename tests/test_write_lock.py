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
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from statuspage import accounts, two_factor
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


# --- Commands and a GET that write, while another process holds the write lock --------


class LockHolder:
    """Another process inside a write transaction (a row written, not committed) when the
    command or request starts. It commits at the app's first write statement, or ``HOLD``
    seconds after the app's first statement, whichever comes first: a short while, well
    inside the busy timeout (15 s). Both orders are fixed by the statements, not by luck:
    an app that read first and writes later finds its snapshot stale (SQLite then fails at
    once, "database is locked"); an app that began with the write lock waits for it."""

    HOLD = 0.3

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("CREATE TABLE IF NOT EXISTS other_writer (n INTEGER)")
        self.conn.execute("INSERT INTO other_writer VALUES (1)")
        self.guard = threading.Lock()
        self.timer: threading.Timer | None = None
        self.released = False

    def release(self) -> None:
        with self.guard:
            if not self.released:
                self.released = True
                self.conn.execute("COMMIT")

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if self.timer is None:
            self.timer = threading.Timer(self.HOLD, self.release)
            self.timer.start()
        if statement.lstrip().upper().startswith(WRITES):
            self.release()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.release()
        self.conn.close()


@pytest.fixture
def lock_holder(app):
    """Start it (``lock_holder()``) right before the command or request."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock; PostgreSQL locks rows")
    holders: list[LockHolder] = []

    def start() -> LockHolder:
        holder = LockHolder(db.engine.url.database)
        sa.event.listen(db.engine, "before_cursor_execute", holder)
        holders.append(holder)
        return holder

    yield start
    for holder in holders:
        sa.event.remove(db.engine, "before_cursor_execute", holder)
        holder.close()


def test_create_staff_while_another_process_holds_the_write_lock(app, runner, lock_holder):
    lock_holder()
    result = runner.invoke(args=["create-staff", "new@example.test", "--role", "admin"],
                           input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    db.session.rollback()
    assert db.session.scalar(db.select(StaffUser.role).where(
        StaffUser.email == "new@example.test")) == "admin"


def test_set_password_and_reset_2fa_while_another_process_holds_the_write_lock(
        app, runner, admin, clock, lock_holder):
    """The documented way back in for a locked-out admin works while the notifier writes."""
    admin.totp_secret = two_factor.new_secret()
    admin.totp_enabled_at = clock()
    admin.failed_logins, admin.locked_until = 9, clock() + timedelta(minutes=15)
    db.session.commit()
    lock_holder()
    result = runner.invoke(args=["set-password", admin.email, "--reset-2fa"],
                           input=f"{PASSWORD}x\n")
    assert result.exit_code == 0, result.output
    db.session.rollback()
    user = db.session.get(StaffUser, admin.id)
    assert not user.has_two_factor and user.locked_until is None
    assert accounts.authenticate(admin.email, f"{PASSWORD}x", now=clock()) is not None


@pytest.mark.parametrize("command", ["seed", "ensure-admin"])
def test_the_start_commands_write_while_another_process_holds_the_write_lock(
        app, runner, lock_holder, command):
    lock_holder()
    result = runner.invoke(args=[command])
    assert result.exit_code == 0, result.output


def test_the_two_factor_page_stores_its_secret_while_another_process_holds_the_write_lock(
        app, responder_client, responder, lock_holder):
    lock_holder()
    page = responder_client.get("/staff/2fa")
    assert page.status_code == 200
    db.session.rollback()
    assert db.session.get(StaffUser, responder.id).totp_secret
