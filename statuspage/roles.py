"""Incident roles: the Incident Commander, the Communications Lead, the acknowledgement.

The declarer commands an incident by default (``incidents.open_incident``); an incident
opened without a person (a monitor, the write API) has none until someone takes it. Every
change is audited; functions take the actor and ``now``, flush, never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from . import audit, events
from .errors import ValidationError
from .extensions import db
from .models import Incident, StaffUser
from .present import iso


def _staff(staff_id: Optional[int], field: str, errors: dict) -> Optional[StaffUser]:
    if staff_id is None:
        return None
    user = db.session.get(StaffUser, staff_id)
    if user is None or not user.active:
        errors[field] = "Choose an active staff member."
        return None
    return user


def _roles_state(incident: Incident) -> dict:
    return {"commander_id": incident.commander_id, "comms_lead_id": incident.comms_lead_id}


def set_roles(incident: Incident, *, commander_id: Optional[int],
              comms_lead_id: Optional[int], actor: StaffUser, now: datetime) -> None:
    """Name the Incident Commander and the Communications Lead (None: no lead). A commander,
    once there is one, cannot be removed, only replaced. Audited."""
    errors: dict[str, str] = {}
    if incident.is_resolved:
        errors["commander"] = "The incident is resolved: its roles are kept as they were."
    commander = _staff(commander_id, "commander", errors)
    if commander_id is None and incident.commander_id is not None:
        errors["commander"] = "Choose the Incident Commander."
    lead = _staff(comms_lead_id, "comms_lead", errors)
    if errors:
        raise ValidationError(errors)
    before = _roles_state(incident)
    incident.commander = commander
    incident.comms_lead = lead
    db.session.flush()
    after = _roles_state(incident)
    if after == before:
        return
    audit.record(actor, "incident.roles", incident, now=now, before=before, after=after)


def acknowledge(incident: Incident, *, actor: StaffUser, now: datetime) -> None:
    """The commander acknowledges the incident: the playbook's response target is met by
    this. Only the commander does (someone else takes the incident first). Audited."""
    if incident.is_resolved:
        raise ValidationError({"acknowledge": "The incident is resolved."})
    if incident.acknowledged_at is not None:
        raise ValidationError({"acknowledge": "The incident is already acknowledged."})
    if incident.commander_id != actor.id:
        raise ValidationError({"acknowledge": "Only the Incident Commander acknowledges: "
                                              "make yourself the commander first."})
    incident.acknowledged_at = now
    audit.record(actor, "incident.acknowledge", incident, now=now,
                 after={"acknowledged_at": iso(now)})
    events.record(events.IncidentAcknowledged(incident, actor.shown_name), now=now)
