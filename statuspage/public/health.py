"""Health checks: ``/health/live`` for load balancers, ``/health/ready`` and ``/health/db``
for monitors and operators (the playbook's ``curl .../health/ready | jq``).

Cheap, cookieless, never cached. A failing check answers 503 with a JSON reason per check
and never the database URL or an exception's text (which may carry it).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .. import heartbeat
from ..clock import utcnow
from ..extensions import db

bp = Blueprint("health", __name__, url_prefix="/health")

def max_heartbeat_age() -> float:
    """How old the notifier's heartbeat may be (``heartbeat.max_age_seconds``: the rule)."""
    return heartbeat.max_age_seconds(current_app.config)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def check_database() -> dict[str, Any]:
    """The database answers and holds our schema (an empty new SQLite file does not)."""
    try:
        revision = db.session.execute(
            db.text("SELECT version_num FROM alembic_version")
        ).scalar()
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"status": "fail",
                "error": f"database did not answer the check ({type(exc).__name__})"}
    if revision is None:
        return {"status": "fail", "error": "database has no schema"}
    return {"status": "pass", "schema_revision": revision}


def check_notifier(now: datetime) -> dict[str, Any]:
    """The newest notifier heartbeat is younger than the allowed age."""
    max_age = max_heartbeat_age()
    try:
        last = heartbeat.latest()
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"status": "fail", "error": f"cannot read heartbeat ({type(exc).__name__})",
                "max_age_seconds": max_age}
    if last is None:
        return {"status": "fail", "error": "no notifier has ever run",
                "last_beat_at": None, "age_seconds": None, "max_age_seconds": max_age}
    age = max(0.0, (now - last).total_seconds())
    result = {"last_beat_at": _iso(last), "age_seconds": round(age),
              "max_age_seconds": max_age}
    if age > max_age:
        return {"status": "fail", "error": "notifier heartbeat is stale", **result}
    return {"status": "pass", **result}


def check_monitor(now: datetime) -> dict[str, Any]:
    """``{"monitor": ...}`` when unmuted monitors exist: the newest monitor process
    heartbeat is younger than MONITOR_HEARTBEAT_MAX_AGE_SECONDS; else ``{}``."""
    from ..monitors import runner

    max_age = float(current_app.config["MONITOR_HEARTBEAT_MAX_AGE_SECONDS"])
    try:
        if not runner.any_configured():
            return {}
        last = runner.latest_beat()
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"monitor": {"status": "fail", "max_age_seconds": max_age,
                            "error": f"cannot read heartbeat ({type(exc).__name__})"}}
    if last is None:
        return {"monitor": {"status": "fail", "error": "no monitor process has ever run",
                            "last_beat_at": None, "max_age_seconds": max_age}}
    age = max(0.0, (now - last).total_seconds())
    result = {"last_beat_at": _iso(last), "age_seconds": round(age), "max_age_seconds": max_age}
    if age > max_age:
        return {"monitor": {"status": "fail", "error": "monitor heartbeat is stale", **result}}
    return {"monitor": {"status": "pass", **result}}


def readiness(now: datetime) -> dict[str, Any]:
    database = check_database()
    if database["status"] == "pass":
        notifier = check_notifier(now)
    else:
        notifier = {"status": "fail", "error": "database unavailable",
                    "max_age_seconds": max_heartbeat_age()}
    checks = {"database": database, "notifier": notifier}
    if database["status"] == "pass":
        checks.update(check_monitor(now))
    passed = all(c["status"] == "pass" for c in checks.values())
    return {"status": "pass" if passed else "fail", "checks": checks}


def _answer(body: dict[str, Any]):
    response = jsonify(body)
    response.status_code = 200 if body["status"] == "pass" else 503
    return response


@bp.after_request
def _never_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/live")
def live():
    """The process can serve the public page: fresh (the database answers) or the last
    rendered bytes (in memory or stored on disk). So a worker the database outage would
    leave answering 500 is taken out of the load balancer, and one with stored pages is
    not. Reads the database at most once a second per process (the render cache's check).
    """
    cache = current_app.extensions.get("statuspage.public_cache")
    if cache is not None and cache.enabled and not cache.can_serve():
        return _answer({"status": "fail",
                        "error": "database unavailable and no rendered page to serve"})
    return _answer({"status": "pass"})


@bp.route("/ready")
def ready():
    return _answer(readiness(utcnow()))


@bp.route("/db")
def database():
    result = check_database()
    return _answer({"status": result["status"], "checks": {"database": result}})
