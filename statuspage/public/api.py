"""The Statuspage-compatible public JSON API (``/api/v2``), see shared/statuspage-api-v2.md.

Each endpoint is one function ``() -> dict`` that reads through statuspage.queries in a
fixed number of queries and builds the body from the loaded rows with pure helpers; the
views only serialize it. Every key is present in every object (``null`` where there is no
value, ``[]`` for nothing), ids are strings, times ISO 8601 with offset, enums only the
values the spec allows.
"""

from __future__ import annotations

from typing import Any, Sequence
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify

from .. import api_shape as shape
from .. import queries
from ..clock import utcnow
from ..models import Incident, Maintenance
from ..web.markers import cacheable

bp = Blueprint("api", __name__, url_prefix="/api/v2")

#: How many incidents ``incidents.json`` lists (the spec's "50 most recent").
INCIDENTS_LIMIT = 50
#: How many windows ``scheduled-maintenances.json`` lists.
MAINTENANCES_LIMIT = 50
#: How long a widget or proxy may reuse an answer.
CACHE_SECONDS = 30


def _site_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


def status() -> dict[str, Any]:
    current = queries.current_status()
    return {"page": shape.page_json(shape.current_page(), queries.last_public_change()),
            "status": shape.status_json(current.indicator, current.description)}


def summary() -> dict[str, Any]:
    page, tz = shape.current_page(), _site_tz()
    components = queries.all_components()
    unresolved = queries.open_incidents(with_timeline=True)
    running, upcoming = queries.front_page_maintenances(utcnow())
    taken = _taken(running)
    return {
        "page": shape.page_json(page, queries.last_public_change()),
        "status": shape.status_json(*queries.status_of(components, unresolved, taken)),
        "components": [shape.component_json(c, page, queries.shown_status(c, taken))
                       for c in components],
        "incidents": [shape.incident_json(i, page, tz) for i in unresolved],
        # Upcoming or in progress: running first, then the soonest to come.
        "scheduled_maintenances": [shape.maintenance_json(w, page, tz)
                                   for w in running + upcoming],
    }


def _taken(running: Sequence[Maintenance]):
    return frozenset(c.id for w in running for c in w.components) if running else None


def components() -> dict[str, Any]:
    page = shape.current_page()
    current = queries.current_status()
    return {"page": shape.page_json(page, queries.last_public_change()),
            "components": [shape.component_json(c, page, queries.shown_status(c, current.taken))
                           for c in current.components]}


def _incidents_body(rows: Sequence[Incident]) -> dict[str, Any]:
    page, tz = shape.current_page(), _site_tz()
    return {"page": shape.page_json(page, queries.last_public_change()),
            "incidents": [shape.incident_json(i, page, tz) for i in rows]}


def incidents() -> dict[str, Any]:
    return _incidents_body(queries.recent_incidents(INCIDENTS_LIMIT))


def unresolved_incidents() -> dict[str, Any]:
    return _incidents_body(queries.open_incidents(with_timeline=True))


def _maintenances_body(rows: Sequence[Maintenance]) -> dict[str, Any]:
    page, tz = shape.current_page(), _site_tz()
    return {"page": shape.page_json(page, queries.last_public_change()),
            "scheduled_maintenances": [shape.maintenance_json(w, page, tz) for w in rows]}


def scheduled_maintenances() -> dict[str, Any]:
    """The 50 windows that start latest, cancelled ones left out."""
    return _maintenances_body(queries.recent_maintenances(MAINTENANCES_LIMIT))


def upcoming_maintenances() -> dict[str, Any]:
    """Windows with status ``scheduled`` (not yet over), soonest first."""
    return _maintenances_body(queries.front_page_maintenances(utcnow())[1])


def active_maintenances() -> dict[str, Any]:
    """Windows in progress or being verified."""
    return _maintenances_body(queries.running_maintenances())


# --- Views -----------------------------------------------------------------------------


@bp.after_request
def _public_json(response):
    # Widgets on other sites read this API from the browser.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.setdefault("Cache-Control", f"public, max-age={CACHE_SECONDS}")
    return response


@bp.route("/status.json")
@cacheable
def status_view():
    return jsonify(status())


@bp.route("/summary.json")
@cacheable
def summary_view():
    return jsonify(summary())


@bp.route("/components.json")
@cacheable
def components_view():
    return jsonify(components())


@bp.route("/incidents.json")
@cacheable
def incidents_view():
    return jsonify(incidents())


@bp.route("/incidents/unresolved.json")
@cacheable
def unresolved_view():
    return jsonify(unresolved_incidents())


@bp.route("/scheduled-maintenances.json")
@cacheable
def scheduled_maintenances_view():
    return jsonify(scheduled_maintenances())


@bp.route("/scheduled-maintenances/upcoming.json")
@cacheable
def upcoming_maintenances_view():
    return jsonify(upcoming_maintenances())


@bp.route("/scheduled-maintenances/active.json")
@cacheable
def active_maintenances_view():
    return jsonify(active_maintenances())
