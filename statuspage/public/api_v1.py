"""The write API: Atlassian Statuspage's REST API v1 subset under ``/api/v1/pages/<page_id>``
(components, incidents), so that monitoring and chat tools that post to Statuspage drive
this page by changing only the base URL.

Authenticated by ``Authorization: OAuth <key>`` only (a key made at ``/staff/api-keys``):
never by the session cookie (the blueprint is cookieless, see ``web.markers``) and never by
a key in the URL (Statuspage's OpenAPI description names the header only; a URL ends up in
logs). CSRF does not apply: a browser cannot send the header across sites without CORS,
which this API does not grant. Each key is rate-limited (``API_RATE_LIMIT``). Errors are
Statuspage's ``{"error": "..."}`` with 401, 404, 413, 422 or 429. Writes go through
``api_write`` (the incident domain, the key as actor) and are committed once, here.
"""

from __future__ import annotations

import hashlib
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify, request
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from .. import api_keys, api_shape, api_write, queries
from ..api_write import ApiError
from ..clock import utcnow
from ..extensions import csrf, db
from ..forms import parse_id
from ..models import Component, Incident
from ..ratelimit import rate_limit

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1/pages/<page_id>")
csrf.exempt(bp)

#: The longest list ``incidents`` answers (Statuspage's ``limit`` maximum is 100).
LIST_LIMIT = 100


# --- Authentication, errors, rate limit ---------------------------------------------------


def sent_key() -> str:
    """The key of ``Authorization: OAuth <key>`` (Statuspage also sends ``Bearer``-less
    ``OAuth``; any other scheme is no key)."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.strip().partition(" ")
    return key.strip() if scheme.lower() == "oauth" else ""


def limit_key() -> str:
    """Who the rate limit counts: the key sent (hashed), or the address without one."""
    key = sent_key()
    if key:
        return "api-key:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]
    return "api-addr:" + (get_remote_address() or "")


def _error(message: str, status: int):
    response = jsonify(error=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'OAuth realm="statuspage"'
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    db.session.rollback()  # nothing a refused request did is kept
    return _error(exc.message, exc.status)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    db.session.rollback()
    messages = {400: "The request could not be read.", 404: "Not found.",
                405: "Method not allowed.", 413: "The request is too large.",
                429: "Rate limit exceeded: too many requests with this key."}
    # (Flask-Limiter adds Retry-After and X-RateLimit-* to a 429 after this.)
    return _error(messages.get(exc.code or 400, exc.name), exc.code or 400)


@bp.before_request
def _authenticate():
    """401 unless a live key is sent; 404 unless ``page_id`` is this page's."""
    key = api_keys.find_active(sent_key())
    if key is None:
        raise ApiError("Could not authenticate: send Authorization: OAuth <your API key>.",
                       401)
    if (request.view_args or {}).get("page_id") != api_shape.current_page().id:
        raise ApiError("Not found.", 404)
    g.api_key_id = key.id
    g.api_actor = api_keys.actor_for(key)
    if request.method in ("POST", "PATCH", "PUT"):
        api_keys.note_use(key, utcnow())  # committed with the change, or rolled back
    else:
        api_keys.note_use_and_commit(key.id, utcnow())


@bp.after_request
def _private(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _payload() -> Any:
    """The body: JSON, or Statuspage's form-encoded shape."""
    if request.is_json:
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # "[[[[...": nested deeper than the parser goes
            data = None
        if data is None:
            raise ApiError("The body is not valid JSON.")
        return data
    return api_write.nested_form(list(request.form.items(multi=True)))


def _get(model, object_id: str):
    number = parse_id(object_id)
    row = db.session.get(model, number) if number is not None else None
    if row is None:
        raise ApiError("Not found.", 404)
    return row


# --- Shapes -------------------------------------------------------------------------------


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


def component_v1(component: Component) -> dict[str, Any]:
    body = api_shape.component_json(component, api_shape.current_page())
    body["automation_email"] = None
    return body


def incident_v1(incident: Incident, impact_override: str | None = None) -> dict[str, Any]:
    """The v2 incident object and v1's own keys (``null`` where nothing here holds them).

    ``impact_override``: as the request sent it (a POST or PATCH echoes it, as Statuspage
    does; nothing stores it, so a GET says ``null`` and ``impact`` gives the severity)."""
    body = api_shape.incident_json(incident, api_shape.current_page(), _tz())
    body.update({
        "impact_override": impact_override, "metadata": {}, "postmortem_body": None,
        "postmortem_body_last_updated_at": None, "postmortem_ignored": False,
        "postmortem_notified_subscribers": False, "postmortem_notified_twitter": False,
        "postmortem_published_at": None, "scheduled_for": None, "scheduled_until": None,
        "scheduled_remind_prior": False, "scheduled_reminded_at": None,
        "scheduled_auto_in_progress": False, "scheduled_auto_completed": False,
    })
    for update in body["incident_updates"]:
        update.update({"custom_tweet": None, "tweet_id": None, "twitter_updated_at": None,
                       "wants_twitter_update": False})
    return body


# --- Views ----------------------------------------------------------------------------------

#: One count per key across every view of the API (``API_RATE_LIMIT``).
per_key_limit = rate_limit("API_RATE_LIMIT", methods=("GET", "POST", "PATCH", "PUT"),
                           key_func=limit_key, shared_scope="api_v1")



@bp.get("/components")
@per_key_limit
def components(page_id: str):
    return jsonify([component_v1(c) for c in queries.all_components()])


@bp.get("/components/<component_id>")
@per_key_limit
def component(page_id: str, component_id: str):
    return jsonify(component_v1(_get(Component, component_id)))


@bp.route("/components/<component_id>", methods=["PATCH", "PUT"])
@per_key_limit
def update_component(page_id: str, component_id: str):
    row = _get(Component, component_id)
    data = api_write.section(_payload(), "component")
    api_write.update_component(row, data, actor=g.api_actor, now=utcnow())
    db.session.commit()
    return jsonify(component_v1(row))


@bp.get("/incidents")
@per_key_limit
def incidents(page_id: str):
    """Newest first; ``limit`` (at most 100) per ``page`` (from 1)."""
    limit = min(parse_id(request.args.get("limit", LIST_LIMIT)) or LIST_LIMIT, LIST_LIMIT)
    page = min(parse_id(request.args.get("page", 1)) or 1, 1_000_000)
    rows = queries.recent_incidents(limit, offset=limit * (page - 1))
    return jsonify([incident_v1(i) for i in rows])


@bp.post("/incidents")
@per_key_limit
def create_incident(page_id: str):
    data = api_write.section(_payload(), "incident")
    incident = api_write.create_incident(data, actor=g.api_actor, now=utcnow())
    db.session.commit()
    return jsonify(incident_v1(incident, api_write.impact_override(data))), 201


@bp.get("/incidents/<incident_id>")
@per_key_limit
def incident(page_id: str, incident_id: str):
    return jsonify(incident_v1(_get(Incident, incident_id)))


@bp.route("/incidents/<incident_id>", methods=["PATCH", "PUT"])
@per_key_limit
def update_incident(page_id: str, incident_id: str):
    row = _get(Incident, incident_id)
    data = api_write.section(_payload(), "incident")
    api_write.update_incident(row, data, actor=g.api_actor, now=utcnow())
    db.session.commit()
    return jsonify(incident_v1(row, api_write.impact_override(data)))
