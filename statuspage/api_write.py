"""The write API's requests (Atlassian Statuspage's v1 subset) turned into the incident
domain's operations, with the API key as actor.

Reads Statuspage's field names (``incident[name]``, ``incident[status]``, ``incident[body]``,
``incident[components]``, ``incident[component_ids]``, ``incident[impact_override]``,
``incident[deliver_notifications]``, ``component[status]``) from JSON or from the
form-encoded shape, checks their types, and calls ``open_incident``, ``post_update``,
``edit_incident`` and ``set_component_status``: the staff forms' rules, and every message
they cause, follow. Never commits (the view does, once). Anything a client can send that
does not fit is an ``ApiError`` (422, ``{"error": ...}``), never an exception of another
kind.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping, Optional

from . import events, incidents
from .audit import SystemActor
from .errors import ValidationError
from .extensions import db
from .forms import parse_id
from .models import INCIDENT_STATUSES, TEXT_MAX, Component, Incident
from .severity import API_DEFAULT as DEFAULT_SEVERITY
from .severity import BY_IMPACT as IMPACT_SEVERITY

#: Statuses of Statuspage's incident object that are not an incident's here.
OTHER_STATUSES = ("postmortem", "scheduled", "in_progress", "verifying", "completed")
#: The Actions line of an update whose body does not give one, by status.
DEFAULT_ACTIONS = {
    "investigating": "We are investigating.",
    "identified": "The cause has been identified and a fix is being worked on.",
    "monitoring": "A fix has been applied and we are monitoring the results.",
    "resolved": "This incident has been resolved.",
}
#: The template's lines that ``incident[body]`` may hold.
TEMPLATE_LABELS = {"impact": "impact", "actions": "actions", "workaround": "workaround"}
_LABEL_LINE = re.compile(r"^\s*(impact|actions|workaround)\s*:\s?(.*)$", re.IGNORECASE)
#: How many nested form keys and components one request may name.
MAX_ITEMS = 100
#: Our domain's field -> the API's, for the error message.
API_FIELDS = {
    "issue": "incident[name]", "severity": "incident[impact_override]",
    "status": "incident[status]", "impact": "incident[body]", "actions": "incident[body]",
    "workaround": "incident[body]", "components": "incident[component_ids]",
    "component_statuses": "incident[components]",
}


class ApiError(Exception):
    """A request the API refuses: ``status`` (401, 404, 422) and Statuspage's ``error``."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


def validation_message(exc: ValidationError) -> str:
    """The domain's messages by field, as one ``error`` string in the API's field names."""
    parts = []
    for field, message in exc.errors.items():
        parts.append(f"{API_FIELDS.get(field, field)}: {message}")
    return " ".join(dict.fromkeys(parts))


# --- Reading the request ----------------------------------------------------------------


_KEY = re.compile(r"^([a-z_]+)((?:\[[^\[\]]*\])*)$")


def nested_form(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Rails-style form keys as Statuspage takes them -> nested values:
    ``incident[components][3]=major_outage`` -> {"incident": {"components": {"3": ...}}},
    ``incident[component_ids][]=3`` -> {"incident": {"component_ids": ["3"]}}."""
    if len(items) > MAX_ITEMS:
        raise ApiError(f"At most {MAX_ITEMS} fields.")
    root: dict[str, Any] = {}
    for key, value in items:
        match = _KEY.match(key)
        if not match:
            continue  # not one of Statuspage's keys (e.g. api_key): ignored
        path = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        if len(path) > 3:
            raise ApiError(f"Unexpected field {key[:80]}.")
        node: Any = root
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            if part == "":
                if not last or not isinstance(node, list):
                    raise ApiError(f"Unexpected field {key[:80]}.")
                node.append(value)
                break
            if not isinstance(node, dict):
                raise ApiError(f"Unexpected field {key[:80]}.")
            if last:
                node[part] = value
            else:
                following = path[depth + 1]
                default: Any = [] if following == "" else {}
                node = node.setdefault(part, default)
    return root


def section(payload: Any, name: str) -> dict[str, Any]:
    """``payload[name]``, which must be an object."""
    if not isinstance(payload, dict) or not isinstance(payload.get(name), dict):
        raise ApiError(f"The request must hold an object \"{name}\".")
    return payload[name]


def _string(data: Mapping, key: str, prefix: str, *, limit: int = TEXT_MAX
            ) -> Optional[str]:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(f"{prefix}[{key}] must be a string.")
    if len(value) > limit:
        raise ApiError(f"{prefix}[{key}]: at most {limit} characters.")
    return value


def _flag(data: Mapping, key: str) -> bool:
    value = data.get(key, True)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
        return value.lower() in ("true", "1")
    raise ApiError(f"incident[{key}] must be true or false.")


def _component_id(value: Any, field: str) -> int:
    number = parse_id(str(value)) if isinstance(value, (str, int)) \
        and not isinstance(value, bool) else None
    if number is None or db.session.get(Component, number) is None:
        raise ApiError(f"{field}: unknown component {str(value)[:40]!r}.")
    return number


def _component_statuses(data: Mapping) -> dict[int, str]:
    value = data.get("components")
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        raise ApiError("incident[components] must map component ids to statuses.")
    statuses = {}
    for key, status in value.items():
        if not isinstance(status, str):
            raise ApiError("incident[components] must map component ids to statuses.")
        statuses[_component_id(key, "incident[components]")] = status
    return statuses


def _component_ids(data: Mapping) -> Optional[list[int]]:
    value = data.get("component_ids")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ApiError("incident[component_ids] must be a list of component ids.")
    return [_component_id(v, "incident[component_ids]") for v in value]


def _status(data: Mapping) -> Optional[str]:
    status = _string(data, "status", "incident", limit=40)
    if status is None:
        return None
    if status in OTHER_STATUSES:
        raise ApiError(f"incident[status]: {status} is not supported here: incidents are "
                       "investigating, identified, monitoring or resolved.")
    if status not in INCIDENT_STATUSES:
        raise ApiError("incident[status] must be investigating, identified, monitoring "
                       "or resolved.")
    return status


def impact_override(data: Mapping) -> Optional[str]:
    """``incident[impact_override]`` as sent (checked), or None: the answer echoes it."""
    impact = _string(data, "impact_override", "incident", limit=40)
    if impact is not None and impact not in IMPACT_SEVERITY:
        raise ApiError("incident[impact_override] must be none, minor, major or critical.")
    return impact


def _severity(data: Mapping) -> Optional[str]:
    impact = impact_override(data)
    return IMPACT_SEVERITY[impact] if impact is not None else None


def parse_body(body: str) -> Optional[dict[str, str]]:
    """The template's fields when ``body`` holds its lines (``Impact:``, ``Actions:``,
    ``Workaround:``), else None. A line without a label continues the field above it;
    lines before the first label are the update's text, its Actions."""
    fields: dict[str, list[str]] = {}
    current = None
    for line in body.splitlines():
        match = _LABEL_LINE.match(line)
        if match:
            current = TEMPLATE_LABELS[match.group(1).lower()]
            fields.setdefault(current, []).append(match.group(2))
        elif current is not None:
            fields[current].append(line)
        elif line.strip():
            fields.setdefault("actions", []).append(line)
    if not any(_LABEL_LINE.match(line) for line in body.splitlines()):
        return None
    return {name: "\n".join(lines).strip() for name, lines in fields.items()}


def _update_text(status: str, body: Optional[str], statuses: dict[int, str],
                 fallback_impact: str, notify: bool) -> incidents.UpdateText:
    """The update a request makes. ``body`` is the update's text as Statuspage shows it
    ("Saving meals works again."): its Actions line, where the status's own sentence
    stands otherwise; only the template's labelled lines set the Impact or Workaround.
    Without them the Impact is ``fallback_impact`` (the last update's, or the name), and
    none on Resolved: an all-clear does not repeat what was experienced."""
    parsed = parse_body(body) if body else None
    if parsed is None:
        parsed = {"actions": (body or "").strip()}
    if status == "resolved":
        fallback_impact = ""
    return incidents.UpdateText(
        status=status, impact=parsed.get("impact") or fallback_impact,
        actions=parsed.get("actions") or DEFAULT_ACTIONS[status],
        workaround=parsed.get("workaround", ""), component_statuses=statuses,
        notify_subscribers=notify)


# --- Operations -------------------------------------------------------------------------


def _domain(operation, *args, **kwargs):
    try:
        return operation(*args, **kwargs)
    except ValidationError as exc:
        raise ApiError(validation_message(exc)) from None


def create_incident(data: Mapping, *, actor: SystemActor, now: datetime) -> Incident:
    """POST ``incidents``: open an incident (investigating unless ``status`` says)."""
    name = _string(data, "name", "incident", limit=1000)
    if not name or not name.strip():
        raise ApiError("incident[name] is required.")
    status = _status(data) or "investigating"
    severity = _severity(data) or DEFAULT_SEVERITY
    body = _string(data, "body", "incident", limit=3 * TEXT_MAX)
    statuses = _component_statuses(data)
    component_ids = _component_ids(data) or []
    notify = _flag(data, "deliver_notifications")
    text = _update_text(status, body, statuses, name.strip(), notify)
    incident = _domain(incidents.open_incident, actor=actor, now=now, title=name,
                       severity=severity, component_ids=component_ids, update=text)
    if not notify:
        events.record(events.NotificationsDeclined(incident, actor), now=now)
    return incident


def update_incident(incident: Incident, data: Mapping, *, actor: SystemActor,
                    now: datetime) -> Incident:
    """PATCH ``incidents/<id>``: ``name``, ``impact_override`` and ``component_ids``
    correct the incident (as staff's edit does); ``status``, ``body`` and ``components``
    post an update (the status stays when not given)."""
    name = _string(data, "name", "incident", limit=1000)
    severity = _severity(data)
    component_ids = _component_ids(data)
    status = _status(data)
    body = _string(data, "body", "incident", limit=3 * TEXT_MAX)
    statuses = _component_statuses(data)
    notify = _flag(data, "deliver_notifications")
    if name is not None or severity is not None or component_ids is not None:
        _domain(incidents.edit_incident, incident, actor=actor, now=now,
                title=incident.title if name is None else name,
                severity=severity or incident.severity,
                component_ids=([c.id for c in incident.components]
                               if component_ids is None else component_ids),
                started_at=incident.started_at)
    if status is not None or body is not None or statuses:
        latest = incident.latest_update
        if latest is not None and latest.is_redacted:
            latest = None  # "[redacted]" is never carried into a new update
        fallback = latest.impact if latest is not None else incident.title
        text = _update_text(status or incident.status, body, statuses, fallback, notify)
        if body is None and latest is not None and text.status != "resolved":
            text.workaround = latest.workaround
        _domain(incidents.post_update, incident, text, actor=actor, now=now)
    if not notify and not incident.is_resolved:
        events.record(events.NotificationsDeclined(incident, actor), now=now)
    return incident


def update_component(component: Component, data: Mapping, *, actor: SystemActor,
                     now: datetime) -> Component:
    """PATCH ``components/<id>``: ``component[status]`` (the only field read)."""
    status = _string(data, "status", "component", limit=40)
    if status is None:
        raise ApiError("component[status] is required.")
    try:
        incidents.set_component_status(component, status, actor=actor, now=now,
                                       source="api")
    except ValidationError:
        raise ApiError("component[status] must be operational, degraded_performance, "
                       "partial_outage, major_outage or under_maintenance.") from None
    return component
