"""What staff see of an incident's emails: whom the outage email will reach and why, due
when, held or not, how many sent, waiting, retrying, failed; whether the notifier is
running. Reads only."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from flask import current_app

from .. import heartbeat
from ..extensions import db
from ..models import Delivery, Incident
from .audience import Reach, outage_reach
from .queue import incident_notification
from .rules import current_settings, format_delay, outage_email_due_at
# What the record shows of the contacts' notices (read beside their rows, in staff_notices):
# the one read of the outbox an operation module makes, through here.
from .staff_notices import summary as staff_notices_sent  # noqa: F401
from .paging_status import timeline_events as pages_sent  # noqa: F401


@dataclass
class DeliveryCounts:
    """One notification's deliveries, by what became of them."""

    total: int = 0
    sent: int = 0
    waiting: int = 0  # not tried yet
    retrying: int = 0  # failed temporarily, will try again (or being sent again)
    failed: int = 0
    cancelled: int = 0


def delivery_counts(notification_id: int) -> DeliveryCounts:
    """Count the deliveries of one notification (one GROUP BY)."""
    counts = DeliveryCounts()
    rows = db.session.execute(
        db.select(Delivery.status, Delivery.attempts, db.func.count(Delivery.id))
        .where(Delivery.notification_id == notification_id)
        .group_by(Delivery.status, Delivery.attempts)
    )
    for status, attempts, n in rows:
        tried = attempts > 0
        counts.total += n
        if status == "sent":
            counts.sent += n
        elif status == "failed":
            counts.failed += n
        elif status == "cancelled":
            counts.cancelled += n
        elif tried:
            counts.retrying += n
        else:
            counts.waiting += n
    return counts


@dataclass
class EmailStatus:
    """The emails of one incident, for the staff incident page."""

    severity_emailed: bool
    held: bool
    #: Held by no staff member: a write-API key's ``deliver_notifications: false``.
    held_by_api: bool
    due_at: Optional[datetime]
    minutes_left: Optional[int]
    resolved_before_due: bool
    outage: Optional[DeliveryCounts]
    resolution: Optional[DeliveryCounts]
    notifier_running: bool
    can_send_now: bool
    can_hold: bool
    delay_text: str = ""
    severities: list[str] = field(default_factory=list)
    #: Before the outage email goes: whom it would reach now ("N of M subscribers").
    reach: Optional[Reach] = None


def email_status(incident: Incident, now: datetime) -> EmailStatus:
    """The emails of ``incident`` as the staff incident page shows them at ``now``."""
    settings = current_settings()
    outage = incident_notification(incident.id, "outage")
    resolution = incident_notification(incident.id, "resolution")
    due_at = outage_email_due_at(incident.severity, incident.started_at,
                                 severities=settings.severities, delay=settings.delay)
    enqueued = outage is not None and outage.enqueued_at is not None
    minutes_left = None
    if due_at is not None and due_at > now:
        minutes_left = math.ceil((due_at - now).total_seconds() / 60)
    holds = [n for n in (outage, resolution) if n is not None and n.held_at is not None]
    held = bool(holds)
    resolution_counts = (delivery_counts(resolution.id)
                         if resolution is not None and resolution.enqueued_at is not None
                         else None)
    still_to_go = resolution_counts is not None and (
        resolution_counts.waiting + resolution_counts.retrying > 0)
    max_age = heartbeat.max_age_seconds(current_app.config)
    return EmailStatus(
        severity_emailed=due_at is not None,
        held=held,
        held_by_api=held and all(n.held_by_id is None for n in holds),
        due_at=due_at,
        minutes_left=minutes_left,
        resolved_before_due=incident.is_resolved and not enqueued,
        outage=delivery_counts(outage.id) if enqueued else None,
        resolution=resolution_counts,
        notifier_running=heartbeat.is_fresh(now, max_age),
        can_send_now=not incident.is_resolved and not enqueued,
        can_hold=not held and (not incident.is_resolved or still_to_go),
        delay_text=format_delay(settings.delay),
        severities=sorted(settings.severities),
        reach=(outage_reach([c.id for c in incident.components], incident.severity)
               if not enqueued and not incident.is_resolved else None),
    )
