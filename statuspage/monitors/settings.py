"""The monitors admins set (``/staff/monitors``) and MONITOR_TARGETS seeds: validation,
create, edit, mute, delete (each audited), and the idempotent seeding by name.

Bounds: interval 10 s to 1 day, timeout 1 to 60 s (and below the interval), failures and
successes 1 to 20; severity one of SEV-1..4; the component must exist; the URL follows
``probe``'s rule (http(s), never link-local, the host resolved).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Optional

from .. import audit
from ..audit import Actor
from ..errors import ValidationError
from ..extensions import db
from ..models import NAME_MAX, SEVERITIES, Component, Monitor
from ..numbers import whole_number
from ..severity import CHOICE_ERROR, MONITOR_DEFAULT
from ..text import clean_text
from . import probe

BOUNDS = {"interval": (10, 86400), "timeout": (1, 60), "failures": (1, 20),
          "successes": (1, 20)}
DEFAULTS = {"interval": 30, "timeout": 5, "failures": 3, "successes": 2,
            "severity": MONITOR_DEFAULT, "auto_publish": False}
KEYS = ("name", "url", "component", "interval", "timeout", "failures", "successes",
        "severity", "auto_publish")


@dataclass
class MonitorFields:
    name: str
    url: str
    component_id: int
    interval: int
    timeout: int
    failures: int
    successes: int
    severity: str
    auto_publish: bool


def _number(value: Any, key: str, errors: dict) -> int:
    low, high = BOUNDS[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    number = whole_number(value, signed=True)  # ASCII digits only (issue 21)
    if number is None:
        errors[key] = f"Enter a whole number from {low} to {high}."
        return DEFAULTS[key]
    if not low <= number <= high:
        errors[key] = f"Enter a whole number from {low} to {high}."
    return number


def clean(raw: Mapping[str, Any], *, component_id: Optional[int],
          resolver: probe.Resolver = probe.system_resolver,
          existing: Optional[Monitor] = None) -> MonitorFields:
    """The checked fields, or ValidationError with a message per field."""
    errors: dict[str, str] = {}
    name = clean_text(str(raw.get("name") or ""), single_line=True)
    if not name:
        errors["name"] = "Give the monitor a name."
    elif len(name) > NAME_MAX:
        errors["name"] = f"At most {NAME_MAX} characters."
    else:
        clash = db.session.scalar(db.select(Monitor.id).where(Monitor.name == name))
        if clash is not None and (existing is None or clash != existing.id):
            errors["name"] = "Another monitor has this name."
    url = str(raw.get("url") or "").strip()
    if len(url) > 2000:
        errors["url"] = "At most 2000 characters."
    else:
        try:
            probe.check_url(url, resolver)
        except probe.RefusedURL as exc:
            errors["url"] = str(exc)
    if component_id is None or db.session.get(Component, component_id) is None:
        errors["component"] = "Choose a component."
    numbers = {key: _number(raw.get(key, DEFAULTS[key]), key, errors) for key in BOUNDS}
    if "interval" not in errors and "timeout" not in errors and (
            numbers["timeout"] >= numbers["interval"]):
        errors["timeout"] = "The timeout must be shorter than the interval."
    severity = str(raw.get("severity") or DEFAULTS["severity"])
    if severity not in SEVERITIES:
        errors["severity"] = CHOICE_ERROR
    auto = raw.get("auto_publish", False)
    if not isinstance(auto, bool):
        auto = str(auto).strip().lower() in ("1", "true", "y", "yes", "on")
    if errors:
        raise ValidationError(errors)
    return MonitorFields(name=name, url=url, component_id=component_id or 0,
                         severity=severity, auto_publish=auto, **numbers)


def _state(m: Monitor) -> dict:
    """What the audit log keeps (no URL: it may name internal hosts; admins see it here)."""
    return {"name": m.name, "component_id": m.component_id, "interval": m.interval_seconds,
            "timeout": m.timeout_seconds, "failures": m.failures, "successes": m.successes,
            "severity": m.severity, "auto_publish": m.auto_publish, "muted": m.muted}


def _apply(m: Monitor, f: MonitorFields) -> None:
    m.name, m.url, m.component_id = f.name, f.url, f.component_id
    m.interval_seconds, m.timeout_seconds = f.interval, f.timeout
    m.failures, m.successes = f.failures, f.successes
    m.severity, m.auto_publish = f.severity, f.auto_publish


def create(fields: MonitorFields, *, actor: Actor, now: datetime) -> Monitor:
    """Add a monitor (audited; flushes). Its first check is due at once."""
    m = Monitor(created_at=now, updated_at=now, state="unknown", muted=False,
                consecutive_failures=0, consecutive_successes=0)
    _apply(m, fields)
    db.session.add(m)
    audit.record(actor, "monitor.create", m, now=now, after=_state(m))
    return m


def edit(m: Monitor, fields: MonitorFields, *, actor: Actor, now: datetime) -> Monitor:
    """Change a monitor's settings (audited; flushes). A new URL or component starts its
    state over."""
    before = _state(m)
    if (fields.url, fields.component_id) != (m.url, m.component_id):
        m.state, m.consecutive_failures, m.consecutive_successes = "unknown", 0, 0
        m.failing_since, m.proposal_id, m.next_check_at = None, None, None
    _apply(m, fields)
    m.updated_at = now
    audit.record(actor, "monitor.edit", m, now=now, before=before, after=_state(m))
    db.session.flush()
    return m


def set_muted(m: Monitor, muted: bool, *, actor: Actor, now: datetime) -> None:
    """Mute (no checks, no proposals) or unmute (its state starts over; audited)."""
    if m.muted == muted:
        return
    m.muted = muted
    m.state, m.consecutive_failures, m.consecutive_successes = "unknown", 0, 0
    m.failing_since, m.proposal_id, m.next_check_at = None, None, None
    m.updated_at = now
    audit.record(actor, "monitor.mute" if muted else "monitor.unmute", m, now=now,
                 after={"muted": muted})
    db.session.flush()


def delete(m: Monitor, *, actor: Actor, now: datetime) -> None:
    """Delete a monitor with its checks and proposals (audited; flushes)."""
    audit.record(actor, "monitor.delete", m, now=now, before=_state(m))
    db.session.delete(m)
    db.session.flush()


# --- MONITOR_TARGETS -----------------------------------------------------------------------


def parse_targets(value: Any) -> list[dict]:
    """MONITOR_TARGETS as a list of dicts (a JSON string or a list), or ValueError saying
    what is wrong in words. The values themselves are checked when seeding."""
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"MONITOR_TARGETS is not valid JSON ({exc.msg} at character "
                             f"{exc.pos}).") from None
    if not isinstance(value, list):
        raise ValueError("MONITOR_TARGETS must be a JSON list of objects.")
    for n, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise ValueError(f"MONITOR_TARGETS entry {n} must be an object.")
        unknown = sorted(set(item) - set(KEYS))
        if unknown:
            raise ValueError(f"MONITOR_TARGETS entry {n} has unknown key(s) "
                             f"{', '.join(unknown)}; the keys are {', '.join(KEYS)}.")
        for key in ("name", "url", "component"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ValueError(f"MONITOR_TARGETS entry {n} needs \"{key}\" (a string).")
    return value


def seed_targets(targets: list[dict], *, now: datetime,
                 resolver: probe.Resolver = probe.system_resolver) -> int:
    """Add the MONITOR_TARGETS monitors not yet there by name (flushes); how many were
    added. ValueError naming the entry and the field when one is not valid. A monitor that
    exists is left as admins set it."""
    added = 0
    actor = audit.SystemActor("config:MONITOR_TARGETS")
    for n, item in enumerate(targets, 1):
        name = clean_text(str(item["name"]), single_line=True)
        if db.session.scalar(db.select(Monitor.id).where(Monitor.name == name)) is not None:
            continue
        component_id = db.session.scalar(
            db.select(Component.id).where(Component.name == item["component"].strip()))
        try:
            fields = clean({**DEFAULTS, **item}, component_id=component_id, resolver=resolver)
        except ValidationError as exc:
            detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
            raise ValueError(f"MONITOR_TARGETS entry {n} ({name}): {detail}") from None
        create(fields, actor=actor, now=now)
        db.session.flush()
        added += 1
    return added


def as_form_data(m: Monitor) -> dict:
    return {"name": m.name, "url": m.url, "component": m.component_id,
            "interval": m.interval_seconds, "timeout": m.timeout_seconds,
            "failures": m.failures, "successes": m.successes, "severity": m.severity,
            "auto_publish": m.auto_publish}


