"""The new-incident form filled from a monitor's proposal (one click to publish)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..clock import utcnow
from ..forms import to_local_input
from ..models import MonitorProposal
from ..outbox.rules import current_settings
from .outages import title_for


def proposal_prefill(form, proposal: MonitorProposal, tz: ZoneInfo
                     ) -> tuple[list[int], dict[int, str]]:
    """Fill ``form`` (an IncidentForm) from ``proposal``: title, severity, Investigating,
    started at the first failed check, the update's text; (checked components, their
    statuses): the component in major outage."""
    component = proposal.component
    form.issue.data = title_for(component)
    form.severity.data = proposal.severity
    form.status.data = "investigating"
    form.started_at.data = to_local_input(proposal.first_failed_at, tz)
    form.impact.data = f"{component.name} is not responding."
    form.actions.data = "We are investigating."
    return [component.id], {component.id: "major_outage"}


def outage_email_at_once(proposal: MonitorProposal) -> bool:
    """Publishing now sends the outage email at once: the severity is one emailed, and the
    first failed check is more than the delay (30 minutes) ago."""
    settings = current_settings()
    return (proposal.severity in settings.severities
            and utcnow() - proposal.first_failed_at > settings.delay)
