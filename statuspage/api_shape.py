"""Our rows in Atlassian Statuspage's JSON shape (shared/statuspage-api-v2.md): page, status,
component, incident and update objects.

One place for the shape, read by every surface that speaks it: the public API (``api``),
the webhook payloads (the outbox) and, later, the write API. Pure helpers over loaded rows:
every key present in every object (``null`` where there is no value), ids as strings, times
ISO 8601 with offset, enums only the values the spec allows.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, Optional
from zoneinfo import ZoneInfo

from flask import current_app

from . import present
from .models import Component, Incident, IncidentUpdate, Maintenance, MaintenanceUpdate
from .present import maintenance_url, public_text, template_lines
from .severity import SEVERITIES
from .text import clean_text

# --- Context and small pure helpers ---------------------------------------------------


@dataclass(frozen=True)
class Page:
    """What every body says about the page itself."""

    id: str
    name: str
    url: str
    time_zone: str


def current_page() -> Page:
    config = current_app.config
    name = clean_text(config["SITE_NAME"], single_line=True)
    return Page(id=page_id(name), name=name, url=config["PUBLIC_URL"],
                time_zone=config["SITE_TIMEZONE"])


def page_id(site_name: str) -> str:
    return _slug(site_name) or "statuspage"


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


def group_id(group_name: Optional[str]) -> Optional[str]:
    """A stable id for a component group, which in this project is only a name."""
    if not group_name:
        return None
    return "group-" + hashlib.sha1(group_name.encode("utf-8")).hexdigest()[:12]


#: Times as the spec writes them: UTC, with milliseconds and the offset.
iso = partial(present.iso, timespec="milliseconds")


def _line(value: Optional[str]) -> str:
    return clean_text(value, single_line=True)


# --- Objects ---------------------------------------------------------------------------


def page_json(page: Page, updated_at: datetime) -> dict[str, Any]:
    return {
        "id": page.id,
        "name": page.name,
        "url": page.url,
        "time_zone": page.time_zone,
        "updated_at": iso(updated_at),
    }


def status_json(indicator: str, description: str) -> dict[str, Any]:
    return {"indicator": indicator, "description": description}


def component_json(component: Component, page: Page,
                   status: Optional[str] = None) -> dict[str, Any]:
    """``status``: what the public sees when it is not the row's (a running window)."""
    return {
        "id": str(component.id),
        "name": _line(component.name),
        "status": status or component.status,
        "created_at": iso(component.created_at),
        "updated_at": iso(component.updated_at),
        "position": component.position,
        "description": _line(component.description) or None,
        "showcase": True,
        "start_date": component.created_at.astimezone(timezone.utc).date().isoformat(),
        "group_id": group_id(component.group_name),
        "page_id": page.id,
        "group": False,
        "only_show_if_degraded": False,
    }


def update_body(update: IncidentUpdate | MaintenanceUpdate, tz: ZoneInfo) -> str:
    """The template lines, ``Impact: ...`` one per line, without the empty ones; an
    incident's newest update adds its impact block (``Your data: ...``): what is true now,
    which an older update did not say."""
    impact, actions, workaround = public_text(update)
    lines = template_lines(impact, actions, workaround, update.next_update_at, tz)
    incident = getattr(update, "incident", None)  # a maintenance update has none
    if incident is not None and incident.latest_update is update:
        lines += present.impact_lines(incident, tz, told_at=update.posted_at)
    return "\n".join(f"{label}: {value}" for label, value in lines)


def update_json(update: IncidentUpdate, tz: ZoneInfo) -> dict[str, Any]:
    changed = update.redacted_at or update.posted_at
    return {
        "id": str(update.id),
        "status": update.status,
        "body": update_body(update, tz),
        "incident_id": str(update.incident_id),
        "created_at": iso(update.posted_at),
        "updated_at": iso(max(changed, update.posted_at)),
        "display_at": iso(update.posted_at),
        "deliver_notifications": True,
        "affected_components": [
            {
                "code": str(change.component_id),
                "name": _line(change.component.name),
                "old_status": change.old_status,
                "new_status": change.new_status,
            }
            for change in update.component_changes
        ],
    }


def first_time_in(incident: Incident, status: str) -> Optional[datetime]:
    """When the incident first reached ``status`` (from its updates), or None."""
    times = [u.posted_at for u in incident.updates if u.status == status]
    return min(times) if times else None


def incident_json(incident: Incident, page: Page, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": str(incident.id),
        "name": _line(incident.title),
        "status": incident.status,
        "impact": SEVERITIES[incident.severity].impact,
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "monitoring_at": iso(first_time_in(incident, "monitoring")),
        "resolved_at": iso(incident.resolved_at),
        "started_at": iso(incident.started_at),
        "shortlink": present.incident_url(incident.id, page.url),
        "page_id": page.id,
        "incident_updates": [update_json(u, tz) for u in incident.updates],
        "components": [component_json(c, page) for c in incident.components],
    }


# --- Endpoint bodies ------------------------------------------------------------------


# --- Scheduled maintenances (issue 12) ------------------------------------------------


def maintenance_update_json(update: MaintenanceUpdate, tz: ZoneInfo) -> dict[str, Any]:
    """A maintenance update as Statuspage's update object (its ``incident_id`` is the
    window's id; a window's updates set no component, so no ``affected_components``)."""
    changed = update.redacted_at or update.posted_at
    return {
        "id": str(update.id),
        "status": update.status,
        "body": update_body(update, tz),
        "incident_id": str(update.maintenance_id),
        "created_at": iso(update.posted_at),
        "updated_at": iso(max(changed, update.posted_at)),
        "display_at": iso(update.posted_at),
        "deliver_notifications": True,
        "affected_components": [],
    }


def maintenance_json(window: Maintenance, page: Page, tz: ZoneInfo) -> dict[str, Any]:
    """A window as Statuspage's ``scheduled_maintenance`` (never a cancelled one: the
    shape has no such status, and the API lists leave them out)."""
    return {
        "id": str(window.id),
        "name": _line(window.title),
        "status": window.status,
        "impact": "maintenance",
        "created_at": iso(window.created_at),
        "updated_at": iso(window.updated_at),
        "monitoring_at": None,
        "resolved_at": iso(window.completed_at),
        # Statuspage says when the record began until the work does: strict clients
        # take started_at for a string, never null.
        "started_at": iso(window.started_at or window.created_at),
        "shortlink": maintenance_url(window.id, page.url),
        "page_id": page.id,
        "incident_updates": [maintenance_update_json(u, tz) for u in window.updates
                             if u.status != "cancelled"],
        "components": [component_json(c, page) for c in window.components],
        "scheduled_for": iso(window.scheduled_for),
        "scheduled_until": iso(window.scheduled_until),
    }
