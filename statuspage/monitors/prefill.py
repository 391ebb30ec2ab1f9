"""The new-incident form filled from a monitor's proposal (one click to publish)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

from ..clock import utcnow
from ..forms import to_local_input
from ..models import MonitorProposal
from ..outbox.rules import current_settings, format_delay, outage_email_due_at
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


@dataclass(frozen=True)
class OutageEmailWhen:
    """When the outage email of the incident a proposal publishes will go, as the form
    says it: the configured delay (OUTAGE_EMAIL_DELAY_SECONDS) after the first failed
    check, when the incident starts."""

    due_at: datetime
    #: Publishing now sends it at once: its time is past.
    at_once: bool
    #: The delay in words ("30 minutes").
    delay_text: str


def outage_email_when(proposal: MonitorProposal) -> Optional[OutageEmailWhen]:
    """When publishing ``proposal`` makes the outage email go, or None when its severity
    gets none."""
    settings = current_settings()
    due_at = outage_email_due_at(proposal.severity, proposal.first_failed_at,
                                 severities=settings.severities, delay=settings.delay)
    if due_at is None:
        return None
    return OutageEmailWhen(due_at, utcnow() > due_at, format_delay(settings.delay))

