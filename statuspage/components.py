"""Managing components (admins only): create, edit, delete; every change audited.

Like the incident domain: takes the actor and ``now``, validates before it changes
anything, flushes, never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from . import audit
from .extensions import db
from .errors import NotAllowed, ValidationError
from .models import (
    COMPONENT_STATUSES,
    DESCRIPTION_MAX,
    NAME_MAX,
    Component,
    ComponentChange,
    StaffUser,
    incident_components,
)
from .text import clean_text

POSITION_MAX = 9999


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
    component.status = cleaned.status
    after = _state(component)
    if after != before:
        component.updated_at = now
        audit.record(actor, "component.edit", component, now=now, before=before, after=after)
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

    Deleting it would silently rewrite past incidents (the foreign keys cascade).
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
    db.session.delete(component)
    db.session.flush()
