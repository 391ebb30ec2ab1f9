"""Helpers shared by the staff-area tests: a snapshot of everything staff can change,
and form posting through the real pages (CSRF token taken from the form)."""

from __future__ import annotations

from statuspage.extensions import db
from statuspage.models import (
    AuditEvent,
    Component,
    ComponentChange,
    Incident,
    IncidentUpdate,
    StaffUser,
)

from .conftest import form_fields, soup


def snapshot() -> dict:
    """Every row staff forms can touch, to assert that a refused request changed nothing."""
    db.session.expire_all()

    def count(model):
        return db.session.scalar(db.select(db.func.count()).select_from(model))

    def rows(model, *columns):
        return [
            tuple(getattr(obj, c) for c in columns)
            for obj in db.session.scalars(db.select(model).order_by(model.id))
        ]

    return {
        "counts": {m.__name__: count(m) for m in
                   (Incident, IncidentUpdate, ComponentChange, AuditEvent, Component,
                    StaffUser)},
        "incidents": rows(Incident, "id", "title", "severity", "status", "started_at",
                          "resolved_at", "previous_incident_id"),
        "updates": rows(IncidentUpdate, "id", "status", "impact", "actions", "workaround",
                        "next_update_at", "redacted_at"),
        "components": rows(Component, "id", "name", "description", "group_name", "position",
                           "status"),
        "staff": rows(StaffUser, "id", "email", "role", "active", "password_hash",
                      "session_version", "must_change_password"),
    }


def audit_events(action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    query = db.select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def submit(client, page_url: str, selector: str, *, url: str | None = None, **fields):
    """GET ``page_url``, take the form's fields (CSRF included), override, POST."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    data = form_fields(page, selector)
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return client.post(url or page_url, data=data)


def field_error(response, name: str) -> str:
    """The message shown at a form field (``<p id="<name>-error">``)."""
    tag = soup(response).select_one(f"#{name}-error")
    return tag.get_text(" ", strip=True) if tag else ""


def declare(client, affected, **fields):
    """Declare an incident through /staff/incidents/new; returns the response."""
    data = dict(
        issue="Login not working",
        severity="SEV-2",
        components=[str(c.id) for c in affected],
        status="investigating",
        impact="Participants cannot sign in.",
        actions="We are restarting the login service.",
    )
    data.update(fields)
    return submit(client, "/staff/incidents/new", "form.incident-form", **data)


def post_update(client, incident_id: int, **fields):
    data = dict(impact="Participants cannot sign in.", actions="Still on it.")
    data.update(fields)
    return submit(client, f"/staff/incidents/{incident_id}", "section.update-form form", **data)


def csrf_token(client, page_url: str = "/staff/") -> str:
    page = client.get(page_url)
    tag = soup(page).select_one("input[name=csrf_token]")
    return tag["value"]
