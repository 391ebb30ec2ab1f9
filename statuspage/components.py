"""Managing components (admins only): create, edit, delete; every change audited.

Like the incident domain: takes the actor and ``now``, validates before it changes
anything, flushes, never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from . import audit, events, subscriptions
from .extensions import db
from .errors import NotAllowed, ValidationError
from .models import (
    COMPONENT_STATUSES,
    DESCRIPTION_MAX,
    NAME_MAX,
    Component,
    ComponentChange,
    Incident,
    IncidentUpdate,
    Maintenance,
    MaintenanceComponent,
    StaffUser,
    StatusChange,
    incident_components,
)
from .text import clean_text

POSITION_MAX = 9999

#: From best to worst: the worst claim on a component wins.
STATUS_ORDER = ("operational", "under_maintenance", "degraded_performance",
                "partial_outage", "major_outage")


def worst_status(statuses) -> str:
    """The worst of these component statuses ("operational" for none)."""
    return max(statuses, key=STATUS_ORDER.index, default="operational")


#: The statuses of a window that holds its components under maintenance.
RUNNING_WINDOW = ("in_progress", "verifying")


def claims(*, excluding_incident_id: Optional[int] = None,
           excluding_maintenance_id: Optional[int] = None) -> dict[int, str]:
    """What still holds each component at a status: component id -> the worst status
    claimed by an open incident or a running maintenance window (other than the ones
    excluded). The one place that says what is behind a component's status.

    A running window (in progress or verifying) claims each component it takes at
    "under_maintenance"; an incident's worse status wins over it.

    An open incident claims every component it touches (names as affected, or whose
    status one of its updates set): at the status its latest update for that component
    set, or "operational" when it set none. Components no open incident touches are
    absent. Three queries, however long the history.
    """
    open_ids = db.select(Incident.id).where(Incident.status != "resolved")
    if excluding_incident_id is not None:
        open_ids = open_ids.where(Incident.id != excluding_incident_id)
    found: dict[int, str] = {}
    for component_id in db.session.scalars(
        db.select(incident_components.c.component_id)
        .where(incident_components.c.incident_id.in_(open_ids))
    ):
        found[component_id] = "operational"
    latest: dict[tuple[int, int], str] = {}
    rows = db.session.execute(
        db.select(IncidentUpdate.incident_id, ComponentChange.component_id,
                  ComponentChange.new_status)
        .join(IncidentUpdate, ComponentChange.update_id == IncidentUpdate.id)
        .where(IncidentUpdate.incident_id.in_(open_ids))
        .order_by(IncidentUpdate.posted_at, IncidentUpdate.id, ComponentChange.id)
    )
    for incident_id, component_id, new_status in rows:
        latest[(incident_id, component_id)] = new_status  # later rows win
    for (_incident_id, component_id), claimed in latest.items():
        found[component_id] = worst_status((found.get(component_id, "operational"),
                                            claimed))
    running = db.select(Maintenance.id).where(Maintenance.status.in_(RUNNING_WINDOW))
    if excluding_maintenance_id is not None:
        running = running.where(Maintenance.id != excluding_maintenance_id)
    for component_id in db.session.scalars(
        db.select(MaintenanceComponent.component_id)
        .where(MaintenanceComponent.maintenance_id.in_(running))
    ):
        found[component_id] = worst_status((found.get(component_id, "operational"),
                                            "under_maintenance"))
    return found


def change_status(component: Component, status: str, *, actor: Optional[StaffUser],
                  now: datetime, source: str, incident_id: Optional[int] = None,
                  maintenance_id: Optional[int] = None,
                  system_label: str = "system", audited: bool = True) -> bool:
    """The one place a component's status changes (issue 15): sets it, keeps the change in
    its status history (``source``: incident, maintenance, staff, monitor or api), audits
    it (unless the caller's own event says it: ``audited=False``) and records the change
    (``events.ComponentChanged``). Nothing for an unchanged status; True when it changed.
    Flushes, never commits."""
    if component.status == status:
        return False
    if status not in COMPONENT_STATUSES:
        raise ValidationError({"status": "Unknown component status."})
    if audited:
        audit.record(actor, "component.status", component, now=now,
                     before={"status": component.status}, after={"status": status},
                     system_label=system_label)
    events.record(events.ComponentChanged(component, component.status, status, source),
                  now=now)
    db.session.add(StatusChange(component_id=component.id, at=now,
                                old_status=component.status, new_status=status,
                                source=source, incident_id=incident_id,
                                maintenance_id=maintenance_id))
    component.status = status
    component.updated_at = now
    return True


def _set_status_by(component: Component, status: str, *, actor: Optional[StaffUser],
                   now: datetime, maintenance_id: int) -> None:
    change_status(component, status, actor=actor, now=now, source="maintenance",
                  maintenance_id=maintenance_id, system_label="notifier")


def take_for_maintenance(taken: list[MaintenanceComponent], *,
                         actor: Optional[StaffUser], now: datetime) -> None:
    """A window starts: each component it takes goes under maintenance, unless an incident
    holds it at a worse status; the status it had is kept in ``status_before``."""
    claimed = claims()
    for row in taken:
        row.status_before = row.component.status
        _set_status_by(row.component, worst_status(
            (claimed.get(row.component.id, "operational"), "under_maintenance")),
            actor=actor, now=now, maintenance_id=row.maintenance_id)


def give_back_after_maintenance(window: Maintenance, *, actor: Optional[StaffUser],
                                now: datetime) -> None:
    """A window ends: each component it took goes to the worst status an open incident or
    another running window still claims, else operational."""
    claimed = claims(excluding_maintenance_id=window.id)
    for row in window.taken:
        _set_status_by(row.component, claimed.get(row.component.id, "operational"),
                       actor=actor, now=now, maintenance_id=window.id)


@dataclass
class ComponentFields:
    name: str
    description: str = ""
    group: str = ""
    position: int = 0
    status: str = "operational"


def _require_admin(actor: StaffUser) -> None:
    if not actor.is_admin:
        raise NotAllowed("Only an admin can manage components.")


def _clean(fields: ComponentFields, *, existing: Optional[Component]) -> ComponentFields:
    errors: dict[str, str] = {}
    cleaned = ComponentFields(
        name=clean_text(fields.name, single_line=True),
        description=clean_text(fields.description, single_line=True),
        group=clean_text(fields.group, single_line=True),
        position=fields.position,
        status=fields.status,
    )
    if not cleaned.name:
        errors["name"] = "Give the component a name."
    elif len(cleaned.name) > NAME_MAX:
        errors["name"] = f"At most {NAME_MAX} characters."
    else:
        query = db.select(Component.id).where(
            db.func.lower(Component.name) == cleaned.name.lower()
        )
        if existing is not None:
            query = query.where(Component.id != existing.id)
        if db.session.scalar(query) is not None:
            errors["name"] = "There is already a component with this name."
    if len(cleaned.description) > DESCRIPTION_MAX:
        errors["description"] = f"At most {DESCRIPTION_MAX} characters."
    if len(cleaned.group) > NAME_MAX:
        errors["group"] = f"At most {NAME_MAX} characters."
    if not isinstance(cleaned.position, int) or not 0 <= cleaned.position <= POSITION_MAX:
        errors["position"] = f"Enter a whole number from 0 to {POSITION_MAX}."
    if cleaned.status not in COMPONENT_STATUSES:
        errors["status"] = "Unknown component status."
    if errors:
        raise ValidationError(errors)
    return cleaned


def _state(component: Component) -> dict:
    return {
        "name": component.name,
        "description": component.description,
        "group": component.group_name,
        "position": component.position,
        "status": component.status,
    }


def create_component(fields: ComponentFields, *, actor: StaffUser, now: datetime) -> Component:
    _require_admin(actor)
    cleaned = _clean(fields, existing=None)
    component = Component(
        name=cleaned.name,
        description=cleaned.description,
        group_name=cleaned.group or None,
        position=cleaned.position,
        status=cleaned.status,
        created_at=now,
        updated_at=now,
    )
    db.session.add(component)
    audit.record(actor, "component.create", component, now=now, after=_state(component))
    # Its status history (and so its uptime bars) begins now.
    db.session.add(StatusChange(component_id=component.id, at=now, old_status=None,
                                new_status=component.status, source="staff"))
    db.session.flush()
    return component


def update_component(
    component: Component, fields: ComponentFields, *, actor: StaffUser, now: datetime
) -> Component:
    _require_admin(actor)
    cleaned = _clean(fields, existing=component)
    before = _state(component)
    component.name = cleaned.name
    component.description = cleaned.description
    component.group_name = cleaned.group or None
    component.position = cleaned.position
    after = {**_state(component), "status": cleaned.status}
    if after != before:
        component.updated_at = now
        audit.record(actor, "component.edit", component, now=now, before=before, after=after)
    # The status goes through the one door (its history); the edit's event audits it.
    change_status(component, cleaned.status, actor=actor, now=now, source="staff",
                  audited=False)
    db.session.flush()
    return component


def incident_count(component: Component) -> int:
    """How many incidents name this component as affected or changed its status."""
    affected = db.session.scalar(
        db.select(db.func.count())
        .select_from(incident_components)
        .where(incident_components.c.component_id == component.id)
    )
    changed = db.session.scalar(
        db.select(db.func.count(ComponentChange.id)).where(
            ComponentChange.component_id == component.id
        )
    )
    return (affected or 0) + (changed or 0)


def delete_component(component: Component, *, actor: StaffUser, now: datetime) -> None:
    """Delete a component no incident refers to; one with a history is refused.

    Deleting it would silently rewrite past incidents (the foreign keys cascade). Those
    who chose it as their only component get everything from now on (and are told).
    """
    _require_admin(actor)
    if incident_count(component):
        raise ValidationError(
            {
                "delete": "Incidents refer to this component, so deleting it would change "
                "their history. Rename it or move it to the end instead."
            }
        )
    audit.record(actor, "component.delete", component, now=now, before=_state(component))
    subscriptions.fall_back_to_everything(component, now=now)
    db.session.delete(component)
    db.session.flush()
