"""Public blueprint: status page, incident page, history. No cookie is read or set.

Every view here is cookieless (statuspage.web.sessions), so any cache may keep
its responses; each render runs a fixed number of queries however many incidents exist.
"""

from __future__ import annotations

import math
import re
from typing import Optional

from flask import Blueprint, Response, abort, current_app, render_template, request

from .. import branding, heartbeat, queries, uptime
from ..clock import utcnow
from ..history import by_month, page_of
from ..models import COMPONENT_STATUS_LABELS, Maintenance
from ..present import (
    GAP_LABEL,
    MAINTENANCE_STATUS_LABELS,
    duration_words,
    iso,
    public_text,
    window_text,
)
from ..severity import PUBLIC_IMPACT, SEVERITIES
from ..subscriber_words import what_you_get
from ..web.filters import site_tz
from ..web.markers import cacheable

bp = Blueprint("public", __name__)

#: How long a browser or proxy may reuse a public page when nothing else says (the render
#: cache of statuspage/render_cache.py sets its own headers from PUBLIC_CACHE_MAX_AGE).
#: Short: this page is read during incidents.
DEFAULT_CACHE_SECONDS = 30
_PAGE_NUMBER = re.compile(r"[0-9]{1,6}")

#: Component status -> the overall-status indicator whose colour and icon it wears.
COMPONENT_TONE = {
    "operational": "none",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
    "under_maintenance": "maintenance",
}
#: Severity -> tone, so a SEV-1 label looks as grave as a major outage.
SEVERITY_TONE = {code: info.tone for code, info in SEVERITIES.items()}


_LOGO_KEY = branding.LOGO_KEY


@bp.record_once
def _check_branding(state) -> None:
    """Refuse to start on an ACCENT_COLOR whose text would be unreadable or a SITE_LOGO
    that is not there; serve the logo at ``/logo.<ext>``, a file the export carries."""
    app = state.app
    try:
        app.config["ACCENT_COLOR"] = branding.check_accent_color(app.config["ACCENT_COLOR"])
        logo = branding.read_site_logo(app.config["SITE_LOGO"], app.instance_path)
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None
    app.extensions[_LOGO_KEY] = logo
    if logo is not None:
        state.add_url_rule(f"/logo{logo[1]}", "logo", cacheable(_logo))
    state.add_url_rule("/favicon.ico", "favicon", cacheable(_favicon))
    app.context_processor(_branding)
    app.add_template_filter(duration_words, "duration_words")


def _branding() -> dict:
    """The logo's address and the icon's, for every page that extends base.html."""
    return {"site_logo_url": branding.logo_url(current_app),
            "site_icon": branding.icon_link(current_app)}


def _favicon() -> Response:
    return branding.favicon_response(current_app)


def _logo() -> Response:
    data, _suffix, content_type = current_app.extensions[_LOGO_KEY]
    return Response(data, content_type=content_type)


@bp.context_processor
def _public_helpers():
    return {"component_tone": COMPONENT_TONE, "component_labels": COMPONENT_STATUS_LABELS,
            "severity_info": SEVERITIES, "severity_tone": SEVERITY_TONE,
            "public_impact": PUBLIC_IMPACT, "maintenance_labels": MAINTENANCE_STATUS_LABELS,
            "public_text": public_text, "is_maintenance": _is_maintenance,
            "gap_label": GAP_LABEL, "data_gap": _data_gap}


def _data_gap(incident, told_at) -> Optional[dict]:
    """The impact block's data-gap window for localtime.js: its instants, and its words in
    SITE_TIMEZONE (the text without script) as ``impact_lines`` says them."""
    if incident.data_gap_from is None or incident.data_gap_until is None:
        return None
    return {"from": iso(incident.data_gap_from), "until": iso(incident.data_gap_until),
            "told": iso(told_at) if told_at is not None else "",
            "text": window_text(incident.data_gap_from, incident.data_gap_until, site_tz(),
                                told_at=told_at)}


def _is_maintenance(row) -> bool:
    """A history row that is a maintenance window (not an incident)."""
    return isinstance(row, Maintenance)


@bp.after_request
def _cacheable(response):
    seconds = int(current_app.config.get("PUBLIC_CACHE_MAX_AGE", DEFAULT_CACHE_SECONDS))
    response.headers.setdefault("Cache-Control", f"public, max-age={seconds}")
    return response


@bp.route("/")
@cacheable
def index():
    now = utcnow()
    components = queries.all_components()
    unresolved, resolved = queries.front_page_incidents(now, current_app.config["RECENT_DAYS"])
    unresolved = queries.gravest_first(unresolved)
    running, upcoming = queries.front_page_maintenances(now)
    taken = frozenset(c.id for w in running for c in w.components) if running else None
    indicator, description = queries.status_of(components, unresolved, taken)
    last_change = queries.last_public_change()
    bars, bar_titles = uptime.front_page_bars(
        components, now=now, tz=site_tz(),
        max_gap_seconds=heartbeat.max_age_seconds(current_app.config))
    return render_template(
        "public/index.html",
        bars=bars,
        bar_titles=bar_titles,
        uptime_zone=current_app.config["SITE_TIMEZONE"],
        phone_days=uptime.PHONE_DAYS,
        enough_hours=uptime.ENOUGH_KNOWN_MINUTES // 60,
        indicator=indicator,
        description=description,
        groups=queries.group_components(components),
        shown_status={c.id: queries.shown_status(c, taken) for c in components},
        unresolved=unresolved,
        running=running,
        upcoming=upcoming,
        resolved=resolved,
        recent_days=current_app.config["RECENT_DAYS"],
        # The page says "never" where the API and the feeds say queries.NEVER.
        last_updated=None if last_change == queries.NEVER else last_change,
        now=now,
    )


@bp.route("/incidents/<int:incident_id>")
@cacheable
def incident(incident_id: int):
    found = queries.incident_with_timeline(incident_id)
    if found is None:
        abort(404)
    return render_template("public/incident.html", incident=found, now=utcnow(),
                           steps=queries.update_steps(found))


@bp.route("/maintenance/<int:maintenance_id>")
@cacheable
def maintenance(maintenance_id: int):
    """A maintenance window's permalink: its times, components and updates."""
    found = queries.maintenance_with_updates(maintenance_id)
    if found is None:
        abort(404)
    return render_template("public/maintenance.html", window=found, now=utcnow())


@bp.route("/history")
@cacheable(query={"page": r"[1-9][0-9]{0,5}"})
def history():
    page = _page_number(request.args.get("page"))
    per_page = current_app.config["HISTORY_PAGE_SIZE"]
    rows, total = page_of(page, per_page)
    pages = max(1, math.ceil(total / per_page))
    if page > pages:
        abort(404)
    return render_template("public/history.html", months=by_month(rows, site_tz()),
                           page=page, pages=pages, total=total, now=utcnow())


@bp.route("/updates")
@cacheable
def get_updates():
    """Every way to hear of a change: email, the feeds (site-wide and per component)."""
    return render_template("public/updates.html", components=queries.all_components(),
                           promise=what_you_get(current_app.config))


@bp.route("/theme.css")
@cacheable
def theme_css():
    """The configured accent colour as a style sheet (the CSP allows no inline style)."""
    body = render_template("public/theme.css", accent=current_app.config["ACCENT_COLOR"])
    return Response(body, content_type="text/css; charset=utf-8")


def _page_number(raw: Optional[str]) -> int:
    """``?page=N``: absent means 1; anything but a plain positive number is not a page."""
    if raw is None:
        return 1
    if not _PAGE_NUMBER.fullmatch(raw) or int(raw) < 1:
        abort(404)
    return int(raw)
