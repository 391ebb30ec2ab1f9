"""Health checks: live answers whatever happens; ready and db say 503 when the database is
gone or the notifier's heartbeat is stale, with a JSON reason per check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from statuspage.public import health
from statuspage import heartbeat
from statuspage.extensions import db


def beat(clock, name="notifier-1"):
    heartbeat.beat(clock(), name=name)
    db.session.commit()


def assert_cheap_and_cookieless(response):
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert response.mimetype == "application/json"


def test_live(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "pass"}
    assert_cheap_and_cookieless(response)


def test_db_answers(client):
    response = client.get("/health/db")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "pass"
    assert body["checks"]["database"]["status"] == "pass"
    assert body["checks"]["database"]["schema_revision"]
    assert_cheap_and_cookieless(response)


def test_ready_needs_a_notifier_that_ever_ran(client):
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "pass"
    assert body["checks"]["notifier"]["status"] == "fail"
    assert body["checks"]["notifier"]["last_beat_at"] is None
    assert_cheap_and_cookieless(response)


def test_ready_follows_the_heartbeat(app, client, clock):
    max_age = health.max_heartbeat_age()
    beat(clock)
    fresh = client.get("/health/ready")
    assert fresh.status_code == 200
    body = fresh.get_json()
    assert body == {"status": "pass", "checks": {
        "database": body["checks"]["database"],
        "notifier": {"status": "pass", "last_beat_at": "2026-11-26T12:00:00+00:00",
                     "age_seconds": 0, "max_age_seconds": max_age},
    }}

    clock.advance(seconds=max_age)
    assert client.get("/health/ready").status_code == 200  # exactly the allowed age

    clock.advance(seconds=1)
    stale = client.get("/health/ready")
    assert stale.status_code == 503
    notifier = stale.get_json()["checks"]["notifier"]
    assert notifier["status"] == "fail"
    assert notifier["error"] == "notifier heartbeat is stale"
    assert notifier["age_seconds"] == round(max_age) + 1
    assert stale.get_json()["checks"]["database"]["status"] == "pass"

    # The notifier comes back: ready again. /health/db never cared.
    assert client.get("/health/db").status_code == 200
    beat(clock, name="notifier-2")
    assert client.get("/health/ready").status_code == 200


def test_the_newest_of_several_notifiers_counts(client, clock):
    beat(clock, name="old-host:1")
    clock.advance(seconds=health.max_heartbeat_age() - 1)
    beat(clock, name="new-host:2")
    clock.advance(seconds=2)
    assert client.get("/health/ready").status_code == 200


def test_heartbeat_age_is_configurable(make_app, clock):
    app = make_app(NOTIFIER_HEARTBEAT_MAX_AGE_SECONDS=600)
    with app.app_context():
        beat(clock)
    clock.advance(seconds=599)
    assert app.test_client().get("/health/ready").status_code == 200
    clock.advance(seconds=2)
    assert app.test_client().get("/health/ready").status_code == 503


def _missing_database_url(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/no-such-folder/statuspage.sqlite3"
    return make_url(database_url).set(database="statuspage_no_such_db").render_as_string(
        hide_password=False)


def test_database_unreachable(make_app, database_url, tmp_path, clock):
    app = make_app(DATABASE_URL=_missing_database_url(database_url, tmp_path))
    client = app.test_client()

    live = client.get("/health/live")
    assert live.status_code == 200  # the load balancer keeps this process

    response = client.get("/health/db")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "fail"
    assert "did not answer" in body["checks"]["database"]["error"]
    assert_cheap_and_cookieless(response)

    ready = client.get("/health/ready")
    assert ready.status_code == 503
    checks = ready.get_json()["checks"]
    assert checks["database"]["status"] == "fail"
    assert checks["notifier"]["status"] == "fail"
    assert_cheap_and_cookieless(ready)
    # Nothing about where the database is.
    text = ready.get_data(as_text=True) + response.get_data(as_text=True)
    assert "no-such" not in text and "sqlite" not in text and "postgres" not in text


def _take_database_away(app, database_url):
    """Make the running app's database unreachable; returns a function that restores it."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database)
        moved = [(p, p.with_name(p.name + ".away"))
                 for p in (path, path.with_name(path.name + "-wal"),
                           path.with_name(path.name + "-shm")) if p.exists()]
        for src, dst in moved:
            src.rename(dst)

        def restore():
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            for src, _ in moved:
                for leftover in (src, src.with_name(src.name + "-wal"),
                                 src.with_name(src.name + "-shm")):
                    leftover.unlink(missing_ok=True)
            for src, dst in moved:
                dst.rename(src)

        return restore

    name = make_url(database_url).database
    admin_url = os.environ["TEST_DATABASE_URL"].replace("postgresql://",
                                                        "postgresql+psycopg://", 1)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = :name AND pid <> pg_backend_pid()"),
                     {"name": name})

    def restore():
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.dispose()

    return restore


def test_database_goes_away_and_comes_back(make_app, database_url, clock):
    app = make_app()
    with app.app_context():
        beat(clock)
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200

    restore = _take_database_away(app, database_url)
    try:
        gone = client.get("/health/db")
        assert gone.status_code == 503
        assert gone.get_json()["checks"]["database"]["status"] == "fail"
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["database"]["status"] == "fail"
        assert client.get("/health/live").status_code == 200
    finally:
        restore()

    assert client.get("/health/db").status_code == 200
    assert client.get("/health/ready").status_code == 200


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/health/db"])
def test_health_ignores_cookies(client, path):
    client.set_cookie("session", "garbage")
    response = client.get(path)
    assert response.status_code in (200, 503)
    assert "Set-Cookie" not in response.headers
