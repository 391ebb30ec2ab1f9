"""Unbound extensions and the declarative base, bound to the app in ``create_app``."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A datetime that is always timezone-aware UTC in Python, on every database.

    SQLite keeps no offset, so the value is stored as naive UTC there and given its
    ``tzinfo`` back on the way out. Naive datetimes are refused: they are a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text, e.g. from a func.max()
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()


# --- Rate limits (Flask-Limiter) ---------------------------------------------------------


def rate_limit(config_key: str, *, methods: tuple[str, ...] = ("POST",), deduct_when=None):
    """Limit a view per client address to the limit named by ``config_key``.

    For example ``@rate_limit("SUBSCRIBE_RATE_LIMIT")`` under the ``@bp.route`` decorator.
    The limit string ("10 per minute;50 per hour") is read from the config at each request;
    ``deduct_when(response)`` decides whether a request counts (e.g. failures only). The
    counts live in ``RATELIMIT_STORAGE_URI`` (Redis in production: every worker and host
    shares them; ``memory://`` counts per process).

    The view is only marked here: ``init_rate_limits`` wraps it with the limiter of each
    app, so that every app (one per test) has its own limiter, storage and key prefix.
    """

    def mark(view):
        view.rate_limit = (config_key, tuple(methods), deduct_when)
        return view

    return mark


def init_rate_limits(app: Flask) -> Limiter:
    """Give ``app`` a Limiter of its own and wrap every view marked by ``rate_limit``.

    Call after the blueprints are registered. The limiter is ``limiter_for(app)``.
    """
    limiter = Limiter(key_func=get_remote_address, swallow_errors=True,
                      headers_enabled=True)
    limiter.init_app(app)
    app.extensions["statuspage_limiter"] = limiter
    for endpoint, view in list(app.view_functions.items()):
        marked = getattr(view, "rate_limit", None)
        if marked is None:
            continue
        config_key, methods, deduct_when = marked
        app.view_functions[endpoint] = limiter.limit(
            lambda key=config_key: app.config[key], methods=list(methods),
            deduct_when=deduct_when, key_func=get_remote_address,
        )(view)
    return limiter


def limiter_for(app: Flask) -> Limiter:
    return app.extensions["statuspage_limiter"]


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
