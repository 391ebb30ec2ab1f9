"""Fixtures: an app on each database (built by the migrations), a clock, factories.

Every test that uses ``app`` runs on SQLite and, when ``TEST_DATABASE_URL`` is set, on
PostgreSQL too. The schema is built once per session by ``flask db upgrade``: for SQLite a
migrated file is copied per test; for PostgreSQL a database of our own is created for the
session (so parallel runs never meet) and every table is emptied after each test.
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from statuspage import create_app
from statuspage.extensions import db

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


class Clock:
    """A clock the code takes as its ``CLOCK``; tests move it by hand."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now

    def set(self, value: datetime) -> None:
        self.now = value


def _base_config(database_url: str, instance_path: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "PUBLIC_URL": "https://status.example.test",
        # Tests sign admins in with a password alone; tests/test_two_factor.py sets it.
        "REQUIRE_2FA_ROLES": "",
        # The subscriber-email tests count every message the SMTP server gets; the
        # commanders' reminders are tested on their own (tests/test_cadence_reminders.py).
        "CADENCE_REMINDERS": False,
    }


def _migrate(database_url: str, instance_path: str) -> None:
    import flask_migrate

    app = create_app(_base_config(database_url, instance_path))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(f"sqlite:///{path}", str(folder))
    return path


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory):
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    base_url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1)
                        if base.startswith("postgresql://") else base)
    name = f"statuspage_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base_url.set(database=name).render_as_string(hide_password=False)
    _migrate(url, str(tmp_path_factory.mktemp("pg-migrate")))
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A migrated, empty database for one test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_url")
    yield url
    _empty_postgresql(url)


def _empty_postgresql(url: str) -> None:
    """Empty every table and restart every sequence, as TRUNCATE ... RESTART IDENTITY would.

    DELETE, children first, is several times faster than TRUNCATE for the few rows a test
    leaves (TRUNCATE gives each of the ~60 tables a new file), and the suite empties the
    database once per PostgreSQL test. A table the models do not know (none today) is
    truncated all the same.
    """
    from statuspage.extensions import db

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        present = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        ordered = [t.name for t in reversed(db.metadata.sorted_tables) if t.name in present]
        for name in ordered:
            conn.exec_driver_sql(f'DELETE FROM "{name}"')
        unknown = present - set(ordered)
        if unknown:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in sorted(unknown))
                                 + " RESTART IDENTITY CASCADE")
        conn.exec_driver_sql(
            "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
            "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace")
    engine.dispose()


@pytest.fixture
def clock():
    return Clock()


class FreshGlobalsClient(FlaskClient):
    """A test client whose every request starts with an empty ``g``, as in production.

    The ``app`` fixture keeps one app context open for the whole test, and Flask reuses it
    for the client's requests, so ``g`` would carry Flask-Login's cached user and
    Flask-WTF's cached CSRF token from one request (and one client) to the next.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def make_app(database_url, tmp_path, clock, monkeypatch):
    """Build an app on this test's database; extra config as keyword arguments."""
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    monkeypatch.setenv("STATUSPAGE_INSTANCE_PATH", str(instance))
    apps = []

    def build(**overrides):
        config = _base_config(database_url, str(instance))
        config["CLOCK"] = clock
        config.update(overrides)
        app = create_app(config)
        app.test_client_class = FreshGlobalsClient
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- Factories ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def password_hash():
    from statuspage.accounts import hash_password

    return hash_password(PASSWORD)


@pytest.fixture
def make_staff(app, clock, password_hash):
    from statuspage.models import StaffUser

    counter = iter(range(1, 10_000))

    def make(role="responder", email=None, **fields):
        user = StaffUser(
            email=email or f"{role}{next(counter)}@example.test",
            role=role,
            password_hash=password_hash,
            created_at=clock(),
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def admin(make_staff):
    return make_staff("admin", email="admin@example.test")


@pytest.fixture
def responder(make_staff):
    return make_staff("responder", email="responder@example.test")


@pytest.fixture
def components(app, clock):
    """The playbook's default components, as ``flask seed`` makes them."""
    from statuspage.seed import seed_components
    from statuspage.models import Component

    seed_components(clock())
    db.session.commit()
    return list(db.session.scalars(db.select(Component).order_by(Component.position)))


@pytest.fixture
def make_incident(app, clock):
    """Open an incident through the domain; returns it committed."""
    from statuspage import incidents

    def make(actor, components, *, title="Login not working", severity="SEV-2",
             status="investigating", impact="Users cannot sign in.",
             actions="We are investigating.", workaround="", next_update_at=None,
             started_at=None, component_statuses=None):
        incident = incidents.open_incident(
            actor=actor, now=clock(), title=title, severity=severity,
            component_ids=[c.id for c in components], started_at=started_at,
            update=incidents.UpdateText(
                status=status, impact=impact, actions=actions, workaround=workaround,
                next_update_at=next_update_at, component_statuses=component_statuses or {},
            ),
        )
        db.session.commit()
        return incident

    return make


# --- Pages -------------------------------------------------------------------------------


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def form_fields(response, form_selector: str = "form") -> dict:
    """The named inputs of a form on the page, with their current values (CSRF included)."""
    form = soup(response).select_one(form_selector)
    assert form is not None, f"no {form_selector} on the page"
    fields = {}
    for el in form.select("input[name], textarea[name], select[name]"):
        if el.name == "input" and el.get("type") in ("checkbox", "radio") and not el.has_attr(
            "checked"
        ):
            continue
        if el.name == "select":
            chosen = el.select_one("option[selected]") or el.select_one("option")
            fields[el["name"]] = chosen.get("value", chosen.text) if chosen else ""
        elif el.name == "textarea":
            fields[el["name"]] = el.text
        else:
            fields[el["name"]] = el.get("value", "")
    return fields


def login(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    page = client.get("/staff/login")
    data = form_fields(page)
    data.update(email=email, password=password)
    url = "/staff/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data=data)


@pytest.fixture
def admin_client(app, admin):
    c = app.test_client()
    response = login(c, admin.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return c


@pytest.fixture
def responder_client(app, responder):
    c = app.test_client()
    response = login(c, responder.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return c


@contextmanager
def counting_selects():
    """Collect the SELECT statements the app sends while the block runs."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)
