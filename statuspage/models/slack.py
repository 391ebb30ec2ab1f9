"""Messages for Slack's #incidents channel: one row per message, sent by the notifier."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .vocab import DELIVERY_STATUSES, _in

#: declared (the declaration block), update (the status update block), resolved,
#: reminder (an update is due: names the commander), monitor (a monitor proposes an
#: incident: no incident yet, so ``incident_id`` is empty).
SLACK_MESSAGE_KINDS = ("declared", "update", "resolved", "reminder", "monitor")


class SlackMessage(db.Model):
    """One message to SLACK_WEBHOOK_URL, written in the transaction of the change it tells
    of; its text is fixed then (the channel reads what was true at that moment). Sent at
    most once, in order per incident."""

    __tablename__ = "slack_messages"
    __table_args__ = (
        CheckConstraint(f"status IN {_in(DELIVERY_STATUSES)}", name="status"),
        CheckConstraint(f"kind IN {_in(SLACK_MESSAGE_KINDS)}", name="kind"),
        Index("ix_slack_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_slack_messages_incident_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[Optional[datetime]]
    claim_token: Mapped[Optional[str]] = mapped_column(String(32))
    #: The last answer: an HTTP status, or what went wrong (timeout, connection ...).
    last_status_code: Mapped[Optional[int]]
    last_error: Mapped[Optional[str]] = mapped_column(String(300))
    sent_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime]
