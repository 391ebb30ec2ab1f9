"""Transactions: SQLite's set-up, and write transactions that take the write lock up front.

SQLite lets one writer in at a time. A transaction that reads first and writes later holds a
shared lock and must upgrade it; when another writer got there first, the upgrade fails at
once with "database is locked", whatever the busy timeout. A transaction that begins with
``BEGIN IMMEDIATE`` waits (up to the busy timeout) for the lock instead. So every request
that may write, and every write of the notifier, begins that way. PostgreSQL needs none of
this (row locks and ``FOR UPDATE SKIP LOCKED`` do the work there).
"""

from __future__ import annotations

from contextlib import contextmanager

from flask import Flask, request
from sqlalchemy import event

from .extensions import db

#: Requests with these methods may write: they run in one write transaction from the start.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def configure_sqlite(engine, busy_timeout_seconds: float) -> None:
    """WAL, a busy timeout, foreign keys, and transactions that we begin ourselves.

    pysqlite's own transaction handling begins late and cannot take the write lock up
    front; with it off, ``begin_immediate`` below can claim work in one write transaction.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
        cur.execute("PRAGMA foreign_keys = ON")
        if ":memory:" not in str(engine.url):
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def begin_immediate(session) -> None:
    """Make the session's next transaction take SQLite's write lock at once.

    Call before the first statement of a transaction that reads-then-writes work others
    could claim. On PostgreSQL this does nothing: use ``FOR UPDATE SKIP LOCKED`` there.
    """
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def take_write_lock() -> None:
    """End whatever read transaction the request began and begin one holding the lock."""
    db.session.commit()
    begin_immediate(db.session)


@contextmanager
def write_transaction():
    """One short write transaction, committed at the end (rolled back on an error).

    On SQLite it takes the write lock at BEGIN, so reading then writing cannot race
    another process (and never fails half-way with "database is locked" on upgrade).
    """
    db.session.rollback()  # end any read transaction left open
    begin_immediate(db.session)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _lock_before_writing() -> None:
    if request.method in WRITE_METHODS:
        take_write_lock()


def init_app(app: Flask) -> None:
    """Configure SQLite, and make every request that may write take the lock up front."""
    with app.app_context():
        configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_SECONDS"])
    # App-level, so before every blueprint's (the staff gate loads the user: a read);
    # after CSRFProtect's, registered earlier, so a forged form takes no lock.
    app.before_request(_lock_before_writing)
