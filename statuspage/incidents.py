"""The incident domain: open, post updates, resolve, edit, reopen, redact.

Operations only: the checks of what staff typed are in statuspage/incident_checks.py;
reading (the front page, timelines, when the next update is due) is in statuspage/queries.py,
and the status update block staff copy is in statuspage/present.py.

Every function takes the actor and ``now``, validates before it changes anything, records
an audit event and what happened (``events``: the outbox decides who hears of it and
writes its rows there and then), flushes, and never commits: the caller commits once, so
the change, its audit event and its messages land together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from . import audit, contacts, events
from .audit import Actor
from .incident_checks import (  # UpdateText is also the callers' word: incidents.UpdateText
    MAX_BACKDATE,
    UpdateText,
    check_severity,
    check_started_at,
    clean_title,
    clean_update,
    load_components,
    with_status_set,
)
from .components import change_status, claims
from .data_impact import (
    DataImpact,
    apply_data_impact,
    check_data_impact,
    current_data_impact,
    data_impact_state,
)
from .errors import NotAllowed, ValidationError
from .extensions import db
from .models import (
    COMPONENT_STATUSES,
    Component,
    ComponentChange,
    Incident,
    IncidentUpdate,
    StaffUser,
)
from .present import REDACTED, iso

# --- Operations --------------------------------------------------------------------------


def open_incident(
    *,
    actor: Actor,
    now: datetime,
    title: str,
    severity: str,
    component_ids: Iterable[int],
    update: UpdateText,
    started_at: Optional[datetime] = None,
    previous_incident_id: Optional[int] = None,
    incident_type: Optional[str] = None,
    health_data_affected: bool = False,
) -> Incident:
    """Declare an incident with its first update (recorded: the outbox tells whom the
    declaration concerns)."""
    errors: dict[str, str] = {}
    title = clean_title(title, errors)
    incident_type = contacts.clean_type(incident_type, errors)
    check_severity(severity, errors)
    check_started_at(started_at, now, errors)
    cleaned = clean_update(update, now, errors)
    if "component_statuses" in errors:
        components = load_components(component_ids, errors)
    else:
        components = load_components(
            with_status_set(component_ids, cleaned.component_statuses), errors)
    if cleaned.status == "resolved":
        errors["status"] = "A new incident cannot start resolved."
    if cleaned.data_impact is not None:
        check_data_impact(cleaned.data_impact, DataImpact(), now, errors)
    previous = None
    if previous_incident_id is not None:
        previous = db.session.get(Incident, previous_incident_id)
        if previous is None:
            errors["previous_incident"] = "Unknown incident."
        elif not previous.is_resolved:
            errors["previous_incident"] = "A recurrence follows a resolved incident."
    if errors:
        raise ValidationError(errors)

    incident = Incident(
        title=title,
        severity=severity,
        status=cleaned.status,
        started_at=started_at or now,
        created_at=now,
        updated_at=now,
        # The declarer commands until someone else takes it; a monitor or an API key does not
        # command (nobody does until a staff member takes the incident).
        created_by=audit.staff_or_none(actor),
        commander=audit.staff_or_none(actor),
        previous_incident=previous,
        incident_type=incident_type, health_data_affected=bool(health_data_affected),
    )
    incident.components = components
    apply_data_impact(incident, cleaned.data_impact or DataImpact())
    db.session.add(incident)
    audit.record(actor, "incident.open", incident, now=now, after=_incident_state(incident))
    _add_update(incident, cleaned, actor=actor, now=now, declared=True)
    return incident


def post_update(
    incident: Incident, update: UpdateText, *, actor: Actor, now: datetime
) -> IncidentUpdate:
    """Post the next update; Resolved resolves.

    The status may move forward or back (a fix that failed during Monitoring goes back to
    Identified or Investigating); only a resolved incident takes no update (an admin
    reopens it first).
    """
    errors: dict[str, str] = {}
    cleaned = clean_update(update, now, errors)
    if incident.is_resolved:
        errors["status"] = "This incident is resolved. An admin can reopen it."
    if cleaned.data_impact is not None:
        check_data_impact(cleaned.data_impact, current_data_impact(incident), now, errors)
    if errors:
        raise ValidationError(errors)
    if cleaned.status == "resolved":
        _drop_carried(cleaned, incident.latest_update)
    return _add_update(incident, cleaned, actor=actor, now=now)


def _drop_carried(text: UpdateText, latest: Optional[IncidentUpdate]) -> None:
    """A Resolved update says nothing of what the open incident said: an Impact or a
    Workaround the same as the last update's is the one the form (or a tool) carried
    over, not one written for the all-clear, and is left empty. Participants read
    "Participants cannot save meals" under Resolved otherwise."""
    if latest is None or latest.is_redacted:
        return
    if text.impact == latest.impact:
        text.impact = ""
    if text.workaround and text.workaround == latest.workaround:
        text.workaround = ""


def _add_update(
    incident: Incident, text: UpdateText, *, actor: Actor, now: datetime,
    declared: bool = False,
) -> IncidentUpdate:
    before_status = incident.status
    impact_change = apply_data_impact(incident, text.data_impact) if text.data_impact else None
    statuses = dict(text.component_statuses)
    added = _add_affected(incident, with_status_set(text.affected_ids, statuses))
    if text.status == "resolved":
        # Every component the incident touched goes back to operational, or to the worst
        # status another open incident still claims, unless staff chose otherwise here.
        claimed = claims(excluding_incident_id=incident.id)
        for component_id in sorted(_touched_ids(incident)):
            statuses.setdefault(component_id, claimed.get(component_id, "operational"))
    update = IncidentUpdate(
        status=text.status,
        impact=text.impact,
        actions=text.actions,
        workaround=text.workaround,
        next_update_at=text.next_update_at,
        posted_at=now,
        posted_by=audit.staff_or_none(actor),
    )
    # Newest first, as the relationship loads them: latest_update is right at once.
    incident.updates.insert(0, update)
    db.session.add(update)
    for component_id, new_status in sorted(statuses.items()):
        component = db.session.get(Component, component_id)
        if component.status != new_status:
            update.component_changes.append(
                ComponentChange(component=component, old_status=component.status,
                                new_status=new_status)
            )
            _set_component_status(component, new_status, actor=actor, now=now,
                                  source="incident", incident_id=incident.id)
    incident.status = text.status
    incident.updated_at = now
    if text.status == "resolved":
        incident.resolved_at = now
        incident.root_cause = text.root_cause or None
        incident.resolution = text.resolution or None
        incident.review_on = text.review_on
    db.session.flush()  # the update's id, for the audit event
    audit.record(
        actor, "incident.update", incident, now=now,
        before={"status": before_status, **(impact_change[0] if impact_change else {})},
        after={"status": text.status, "update_id": update.id,
               **({"affected_added": added} if added else {}),
               **(impact_change[1] if impact_change else {})},
    )
    db.session.flush()
    if declared:
        events.record(events.IncidentDeclared(incident, update), now=now)
    elif text.status == "resolved":
        events.record(events.IncidentResolved(incident, update, text.notify_subscribers),
                      now=now)
    else:
        events.record(events.IncidentUpdated(incident, update), now=now)
    return update


def _add_affected(incident: Incident, component_ids: Iterable[int]) -> list[int]:
    """Name these components as affected too; the ids that were not yet."""
    have = {c.id for c in incident.components}
    added = []
    for component_id in component_ids:
        if component_id not in have:
            incident.components.append(db.session.get(Component, component_id))
            have.add(component_id)
            added.append(component_id)
    return added


def _touched_ids(incident: Incident) -> set[int]:
    """The components the incident names as affected or whose status it changed."""
    ids = {c.id for c in incident.components}
    ids.update(db.session.scalars(
        db.select(ComponentChange.component_id)
        .join(IncidentUpdate, ComponentChange.update_id == IncidentUpdate.id)
        .where(IncidentUpdate.incident_id == incident.id)
    ))
    return ids


def edit_incident(
    incident: Incident,
    *,
    actor: Actor,
    now: datetime,
    title: str,
    severity: str,
    component_ids: Iterable[int],
    started_at: datetime,
    data_impact: Optional[DataImpact] = None,
    declaration: Optional[contacts.Declaration] = None,
) -> Incident:
    """Correct an incident's issue, severity, affected components, start, impact block or
    declaration fields (None: kept); the edit is recorded (the notices a new state calls
    for follow). Audited."""
    errors: dict[str, str] = {}
    title = clean_title(title, errors)
    declaration = declaration and contacts.clean_declaration(declaration, errors)
    check_severity(severity, errors)
    components = load_components(component_ids, errors)
    if started_at is None:
        errors["started_at"] = "Enter when the incident started."
    elif started_at != incident.started_at:
        # Only a changed start is checked, against the declaration (not now): an old
        # incident keeps its start, and may have it corrected.
        if started_at > incident.created_at:
            errors["started_at"] = "The start cannot be after the incident was declared."
        elif started_at < incident.created_at - MAX_BACKDATE:
            errors["started_at"] = (
                "The start can be at most 30 days before the incident was declared."
            )
    if data_impact is not None:
        check_data_impact(data_impact, current_data_impact(incident), now, errors)
    if errors:
        raise ValidationError(errors)
    before = _incident_state(incident)
    incident.title = title
    incident.severity = severity
    incident.components = components
    incident.started_at = started_at
    if data_impact is not None:
        apply_data_impact(incident, data_impact)
    if declaration is not None:
        declaration.apply(incident)
    after = _incident_state(incident)
    if after == before:
        return incident
    incident.updated_at = now
    audit.record(actor, "incident.edit", incident, now=now, before=before, after=after)
    events.record(events.IncidentEdited(incident, before["severity"]), now=now)
    return incident


def reopen(incident: Incident, *, actor: StaffUser, now: datetime) -> Incident:
    """An admin reopens a resolved incident (audited); staff then post an update."""
    if not actor.is_admin:
        raise NotAllowed("Only an admin can reopen an incident.")
    if not incident.is_resolved:
        raise ValidationError({"status": "This incident is not resolved."})
    # Before any change: refused once the all-clear went out (nothing to undo then).
    events.record(events.IncidentReopened(incident), now=now)
    before = {"status": incident.status, "resolved_at": iso(incident.resolved_at)}
    incident.status = "investigating"
    incident.resolved_at = None
    incident.updated_at = now
    audit.record(actor, "incident.reopen", incident, now=now, before=before,
                 after={"status": incident.status, "resolved_at": None})
    db.session.flush()
    return incident


def redact_update(update: IncidentUpdate, *, actor: StaffUser, now: datetime) -> None:
    """Replace an update's text by "[redacted]" everywhere; the audit says only that."""
    if not actor.is_admin:
        raise NotAllowed("Only an admin can redact an update.")
    if update.is_redacted:
        return
    # Before the texts go: the messages not yet sent lose exactly these.
    events.record(events.UpdateRedacted(update, (update.impact, update.actions,
                                                 update.workaround)), now=now)
    update.impact = REDACTED
    update.actions = REDACTED
    update.workaround = REDACTED if update.workaround else ""
    update.redacted_at = now
    update.incident.updated_at = now
    audit.record(actor, "update.redact", update, now=now,
                 after={"incident_id": update.incident_id, "redacted": True})
    db.session.flush()


def set_component_status(
    component: Component, status: str, *, actor: Actor, now: datetime,
    source: str = "staff",
) -> None:
    """A quick status change from the dashboard (or ``source`` "api", "monitor"), outside
    any incident update."""
    if status not in COMPONENT_STATUSES:
        raise ValidationError({"status": "Unknown component status."})
    _set_component_status(component, status, actor=actor, now=now, source=source)
    db.session.flush()


def _set_component_status(component: Component, status: str, *, actor, now,
                          source: str, incident_id: Optional[int] = None) -> None:
    change_status(component, status, actor=actor, now=now, source=source,
                  incident_id=incident_id)


def _incident_state(incident: Incident) -> dict:
    return {
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "started_at": iso(incident.started_at),
        "component_ids": sorted(c.id for c in incident.components),
        "incident_type": incident.incident_type,
        "health_data_affected": incident.health_data_affected,
        **data_impact_state(current_data_impact(incident)),
    }
