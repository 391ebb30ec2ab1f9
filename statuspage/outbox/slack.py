"""Slack's #incidents channel: the playbook's messages, queued with the change they tell of.

When SLACK_WEBHOOK_URL is set, the incident domain calls ``on_declared``, ``on_update`` and
``on_resolved`` in the transaction of the change; each writes one SlackMessage whose text
is fixed then, in the playbook's words (plain text: Slack renders the emoji codes):

- declared: SEV-1 ":rotating_light: SEV-1 INCIDENT DECLARED", SEV-2 ":warning: SEV-2
  INCIDENT", SEV-3/4 the "METABOLIC-TRACKER STATUS UPDATE" block;
- every later update: the status update block;
- resolution: ":white_check_mark: INCIDENT RESOLVED" with the duration and the staff-only
  root cause, resolution and review date.

Also a cadence reminder naming the commander (``outbox.reminders``) and a monitor's
proposal (``outbox.monitor_notices``: no incident yet, so none is named on the row).

Times are in SITE_TIMEZONE with its name. The notifier sends them (``slack_delivery``).
Not held: a hold on an incident stops its subscriber emails only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Optional
from zoneinfo import ZoneInfo

from flask import current_app

from ..extensions import db
from ..models import Incident, IncidentUpdate, SlackMessage
from ..present import (  # incident_commander: also outbox.slack's word for it
    REDACTED,
    incident_commander,
    local_time,
    status_update_block,
)
from ..severity import SEVERITIES


def configured() -> bool:
    """Whether Slack messages are queued at all (SLACK_WEBHOOK_URL is set)."""
    return bool((current_app.config.get("SLACK_WEBHOOK_URL") or "").strip())


def site_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


# --- The texts (pure over loaded rows) ---------------------------------------------------


def duration_text(start: datetime, end: datetime) -> str:
    """``2 hours 5 minutes`` (whole minutes, rounded down)."""
    minutes = max(0, int((end - start).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return (f"{hours} hour{'' if hours == 1 else 's'} "
            f"{minutes} minute{'' if minutes == 1 else 's'}")


def review_text(review_on: Optional[date]) -> str:
    if review_on is None:
        return "Post-incident review not yet scheduled"
    return f"Post-incident review scheduled for {review_on.isoformat()}"


def declared_text(incident: Incident, update: IncidentUpdate, tz: ZoneInfo) -> str:
    """The declaration block for the incident's severity (the playbook's words: the
    severity table says which block and which of these lines)."""
    declared = SEVERITIES[incident.severity].slack_declared
    if declared is None:
        return status_update_block(incident, update, tz)
    heading, labels = declared
    values = {
        "Description": incident.title,
        "Time Detected": local_time(incident.started_at, tz),
        "Impact": update.impact,
        "Incident Commander": incident_commander(incident),
        "Investigating": incident_commander(incident),
        "Status": update.status_label.upper(),
    }
    return "\n".join([heading] + [f"{label}: {values[label]}" for label in labels])


def resolved_text(incident: Incident, tz: ZoneInfo) -> str:
    """The playbook's ":white_check_mark: INCIDENT RESOLVED" block."""
    end = incident.resolved_at or incident.updated_at
    return "\n".join([
        ":white_check_mark: INCIDENT RESOLVED",
        f"Duration: {duration_text(incident.started_at, end)}",
        f"Root Cause: {incident.root_cause or 'Not recorded'}",
        f"Resolution: {incident.resolution or 'Not recorded'}",
        f"Follow-up: {review_text(incident.review_on)}",
    ])


# --- Queueing (the domain calls these; flush, never commit) -------------------------------


def _queue(incident: Optional[Incident], kind: str, text: str, now: datetime
           ) -> Optional[SlackMessage]:
    if not configured():
        return None
    message = SlackMessage(incident_id=incident and incident.id, kind=kind, text=text,
                           status="pending",
                           attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(message)
    db.session.flush()
    return message


def on_declared(incident: Incident, update: IncidentUpdate, *, now: datetime
                ) -> Optional[SlackMessage]:
    """Queue the declaration block (flushes; None when Slack is not configured)."""
    return _queue(incident, "declared", declared_text(incident, update, site_tz()), now)


def on_update(incident: Incident, update: IncidentUpdate, *, now: datetime
              ) -> Optional[SlackMessage]:
    """Queue the status update block of a later update (flushes)."""
    return _queue(incident, "update", status_update_block(incident, update, site_tz()), now)


def on_resolved(incident: Incident, *, now: datetime) -> Optional[SlackMessage]:
    """Queue the resolved block (flushes)."""
    return _queue(incident, "resolved", resolved_text(incident, site_tz()), now)


def queue_reminder(incident: Incident, text: str, *, now: datetime
                   ) -> Optional[SlackMessage]:
    """Queue a cadence reminder naming the commander (flushes; ``outbox.reminders``)."""
    return _queue(incident, "reminder", text, now)


def queue_monitor(text: str, *, now: datetime) -> Optional[SlackMessage]:
    """Queue a monitor's proposal (no incident yet; flushes; ``outbox.monitor_notices``)."""
    return _queue(None, "monitor", text, now)


def redact_unsent(incident_id: int, texts: list[str]) -> None:
    """An update is redacted: its text leaves the incident's messages not yet sent
    (flushes). What Slack already has is left to a Slack admin to delete."""
    texts = sorted((t for t in texts if t), key=len, reverse=True)
    if not texts:
        return
    for message in db.session.scalars(
            db.select(SlackMessage).where(SlackMessage.incident_id == incident_id,
                                          SlackMessage.status.in_(("pending", "sending")))):
        for text in texts:
            message.text = message.text.replace(text, REDACTED)
    db.session.flush()


# --- What the staff incident page shows ---------------------------------------------------


@dataclass(frozen=True)
class MessageState:
    """One Slack message as staff see it."""

    kind: str
    state: str  # waiting / sending / sent / retrying / failed / cancelled
    attempts: int
    error: Optional[str]
    at: datetime
    text: str


def _state(message: SlackMessage) -> str:
    if message.status == "pending":
        return "retrying" if message.attempts else "waiting"
    return message.status


def messages_for(incident_id: int) -> list[MessageState]:
    """The incident's Slack messages, oldest first."""
    rows = db.session.scalars(
        db.select(SlackMessage).where(SlackMessage.incident_id == incident_id)
        .order_by(SlackMessage.id))
    return [MessageState(m.kind, _state(m), m.attempts, m.last_error,
                         m.sent_at or m.next_attempt_at, m.text) for m in rows]
