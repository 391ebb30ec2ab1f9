"""What a check's result changes: the monitor's state, the proposed incident, the
auto-published incident and the recovery. Flushes, never commits (the runner commits the
check and all it caused in one write transaction).

- Down after ``failures`` failed checks in a row, up after ``successes`` passed ones.
- Down: one proposal per outage (unique on the monitor and its first failed check), with
  its notice queued (the event ``ProposalOpened``: the outbox queues the on-call email and
  the Slack message, see ``outbox/monitor_notices``). Down again within MONITOR_FLAP_WINDOW_SECONDS of coming back
  up: the same proposal again, no second notice.
- ``auto_publish``: the incident is opened at once by the monitor (a SystemActor, audited)
  as Investigating, its component in major_outage, ``started_at`` at the first failed check,
  so the outage email's 30-minute clock (which counts from ``started_at``) runs from there.
- A component under a running maintenance window: no proposal, no incident; the dashboard
  shows the monitor as failing during maintenance. Should it still fail once the window
  ends, the next failed check proposes.
- Up: the proposal is marked recovered. A staff-published incident gets the Resolved update
  proposed on the dashboard; an auto-published one gets a Monitoring update from the monitor
  with its component back to operational (as Statuspage-like tools do at Monitoring);
  Resolved is left to staff.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Optional

from .. import audit, events, incidents
from ..audit import Actor
from ..errors import ValidationError
from ..extensions import db
from ..models import (Component, Incident, Maintenance, MaintenanceComponent, Monitor,
                      MonitorProposal)
from ..present import iso
from . import probe

log = logging.getLogger("statuspage.monitor")

KEEP_ERRORS = 5
RUNNING = ("in_progress", "verifying")


def monitor_actor(monitor: Monitor) -> audit.SystemActor:
    return audit.SystemActor(f"monitor:{monitor.name}")


def title_for(component: Component) -> str:
    return f"{component.name} is not responding"


def under_maintenance(component_id: int) -> bool:
    """A running maintenance window takes this component."""
    return db.session.scalar(
        db.select(MaintenanceComponent.component_id)
        .join(Maintenance, Maintenance.id == MaintenanceComponent.maintenance_id)
        .where(MaintenanceComponent.component_id == component_id,
               Maintenance.status.in_(RUNNING)).limit(1)) is not None


def apply_result(monitor: Monitor, result: probe.Result, *, now: datetime,
                 flap_window: timedelta) -> None:
    """Record what one check found on the monitor, and act on a change of state."""
    monitor.last_checked_at = now
    monitor.last_ok = result.ok
    monitor.last_latency_ms = result.latency_ms
    monitor.last_status_code = result.status_code
    monitor.last_error = result.error
    monitor.updated_at = now
    if result.ok:
        monitor.consecutive_successes += 1
        monitor.consecutive_failures = 0
        if monitor.consecutive_successes >= monitor.successes and monitor.state != "up":
            was_down = monitor.state == "down"
            monitor.state = "up"
            monitor.failing_since = None
            if was_down:
                _recovered(monitor, now)
        if monitor.state == "up":
            monitor.failing_since = None
        return
    monitor.consecutive_failures += 1
    monitor.consecutive_successes = 0
    if monitor.failing_since is None:
        monitor.failing_since = now
    if monitor.consecutive_failures >= monitor.failures:
        monitor.state = "down"
    if monitor.state != "down":
        return
    proposal = db.session.get(MonitorProposal, monitor.proposal_id) if monitor.proposal_id \
        else None
    opened = False
    if proposal is None:
        if under_maintenance(monitor.component_id):
            return
        proposal, opened = _propose(monitor, now, flap_window)
    _keep_error(proposal, now, result.error or "failed", now)
    if opened:  # a new outage (not a flap): told, with the error that opened it
        events.record(events.ProposalOpened(proposal), now=now)


def _keep_error(proposal: MonitorProposal, at: datetime, error: str, now: datetime) -> None:
    errors = list(proposal.last_errors or [])
    errors.append({"at": iso(at), "error": error})
    proposal.last_errors = errors[-KEEP_ERRORS:]
    proposal.updated_at = now


def _flapping(monitor: Monitor, now: datetime, window: timedelta
              ) -> Optional[MonitorProposal]:
    """The proposal of an outage that ended less than ``window`` ago and is still live."""
    return db.session.scalar(
        db.select(MonitorProposal)
        .where(MonitorProposal.monitor_id == monitor.id,
               MonitorProposal.status != "dismissed",
               MonitorProposal.recovered_at.is_not(None),
               MonitorProposal.recovered_at >= now - window)
        .order_by(MonitorProposal.recovered_at.desc()).limit(1))


def _propose(monitor: Monitor, now: datetime, flap_window: timedelta
             ) -> tuple[MonitorProposal, bool]:
    """The outage's proposal, and whether it is a new one (not a flap's, reused)."""
    again = _flapping(monitor, now, flap_window)
    if again is not None and (again.incident is None or not again.incident.is_resolved):
        again.recovered_at = None
        monitor.proposal_id = again.id
        if again.auto_published and again.incident is not None:
            _post(again.incident, monitor, "investigating", "major_outage", now,
                  "We are investigating: it stopped responding again.")
        return again, False
    proposal = MonitorProposal(
        monitor_id=monitor.id, component_id=monitor.component_id, severity=monitor.severity,
        first_failed_at=monitor.failing_since or now, last_errors=[], status="open",
        auto_published=False, created_at=now, updated_at=now)
    db.session.add(proposal)
    db.session.flush()
    monitor.proposal_id = proposal.id
    audit.record(monitor_actor(monitor), "monitor.propose", proposal, now=now,
                 after={"monitor_id": monitor.id, "component_id": monitor.component_id,
                        "severity": monitor.severity,
                        "first_failed_at": iso(proposal.first_failed_at)})
    if monitor.auto_publish:
        _auto_publish(proposal, monitor, now)
    return proposal, True


def _update_text(component: Component, status: str, component_status: str,
                 actions: str) -> incidents.UpdateText:
    return incidents.UpdateText(
        status=status,
        impact=f"{component.name} is not responding to our automatic checks."
        if status != "monitoring" else f"{component.name} is responding again.",
        actions=actions, component_statuses={component.id: component_status})


def _auto_publish(proposal: MonitorProposal, monitor: Monitor, now: datetime) -> None:
    component = db.session.get(Component, monitor.component_id)
    try:
        incident = incidents.open_incident(
            actor=monitor_actor(monitor), now=now, title=title_for(component),
            severity=monitor.severity, component_ids=[component.id],
            started_at=proposal.first_failed_at,
            update=_update_text(component, "investigating", "major_outage",
                                "We are investigating."))
    except ValidationError as exc:  # checked before any change: the proposal stays open
        log.warning("monitor %s: could not publish (%s); left as a proposal", monitor.id,
                    exc)
        return
    proposal.status, proposal.incident_id, proposal.auto_published = \
        "published", incident.id, True


def _post(incident: Incident, monitor: Monitor, status: str, component_status: str,
          now: datetime, actions: str) -> None:
    if incident.is_resolved:
        return
    component = db.session.get(Component, monitor.component_id)
    try:
        incidents.post_update(incident, _update_text(component, status, component_status,
                                                     actions),
                              actor=monitor_actor(monitor), now=now)
    except ValidationError:  # staff changed what the monitor may post; leave it to them
        pass


def _recovered(monitor: Monitor, now: datetime) -> None:
    proposal = db.session.get(MonitorProposal, monitor.proposal_id) if monitor.proposal_id \
        else None
    monitor.proposal_id = None
    if proposal is None:
        return
    proposal.recovered_at = now
    proposal.updated_at = now
    if proposal.auto_published and proposal.incident is not None:
        _post(proposal.incident, monitor, "monitoring", "operational", now,
              "We are monitoring the recovery.")


# --- Staff: publish, dismiss -----------------------------------------------------------------


def link_published(proposal: MonitorProposal, incident: Incident, *, actor: Actor,
                   now: datetime) -> None:
    """The staff published this proposal as ``incident`` (flushes; audited)."""
    if proposal.status != "open":
        raise ValidationError({"proposal": "This proposal was already published or "
                                           "dismissed."})
    proposal.status, proposal.incident_id, proposal.updated_at = "published", incident.id, now
    audit.record(actor, "proposal.publish", proposal, now=now,
                 after={"incident_id": incident.id})
    events.record(events.ProposalClosed(proposal), now=now)


def publish(proposal: MonitorProposal, *, actor: Actor, now: datetime,
            **open_kwargs) -> Incident:
    """Open the incident from the prefilled form and link the proposal to it (flushes)."""
    if proposal.status != "open":
        raise ValidationError({"proposal": "This proposal was already published or "
                                           "dismissed."})
    incident = incidents.open_incident(actor=actor, now=now, **open_kwargs)
    link_published(proposal, incident, actor=actor, now=now)
    return incident


def dismiss(proposal: MonitorProposal, *, actor: Actor, now: datetime) -> None:
    """Staff decided it is no incident (flushes; audited). The outage under way proposes
    nothing more; the next one (after the monitor is up again) proposes again."""
    if proposal.status != "open":
        raise ValidationError({"proposal": "This proposal was already published or "
                                           "dismissed."})
    proposal.status, proposal.updated_at = "dismissed", now
    # The monitor keeps pointing at it: this outage proposes nothing more.
    audit.record(actor, "proposal.dismiss", proposal, now=now)
    events.record(events.ProposalClosed(proposal), now=now)


# --- What the dashboard shows -------------------------------------------------------------


def open_proposals() -> list[MonitorProposal]:
    return list(db.session.scalars(
        db.select(MonitorProposal).where(MonitorProposal.status == "open")
        .order_by(MonitorProposal.first_failed_at.desc())))


def resolve_proposals() -> list[MonitorProposal]:
    """Staff-published incidents whose monitor came back up: propose the Resolved update."""
    return [p for p in db.session.scalars(
        db.select(MonitorProposal).where(MonitorProposal.status == "published",
                                         MonitorProposal.auto_published.is_(False),
                                         MonitorProposal.recovered_at.is_not(None)))
        if p.incident is not None and not p.incident.is_resolved]


def failing_in_maintenance() -> list[Monitor]:
    return [m for m in db.session.scalars(
        db.select(Monitor).where(Monitor.state == "down", Monitor.muted.is_(False),
                                 Monitor.proposal_id.is_(None)).order_by(Monitor.name))
        if under_maintenance(m.component_id)]


def monitor_blocks() -> dict:
    """The dashboard's monitor block: open proposals, Resolved to propose, failing during
    maintenance."""
    return {"proposals": open_proposals(), "resolve_proposals": resolve_proposals(),
            "failing_in_maintenance": failing_in_maintenance()}
