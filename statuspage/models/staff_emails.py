"""The staff's email: one row per message to one member of staff or contact, the staff
email channel's queue (``outbox.staff_email``)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .vocab import DELIVERY_STATUSES, EMAIL_MAX, _in

#: What the message is about; ``subject_id`` is a row of the table named beside it.
#: notice: a key contact's notice (staff_notices); cadence: a commander's update is due
#: (sent_reminders); action_item: an action item fell due (action_item_reminders);
#: monitor: a monitor proposes an incident (monitor_proposals); webhook: a webhook was
#: disabled automatically, the admins are told (audit_events: its "webhook.auto_disable").
#: page: a page's email way (pages); oncall: a SEV-3/4 incident's email to the primary
#: on call, in business hours (incidents).
STAFF_EMAIL_KINDS = ("notice", "cadence", "action_item", "monitor", "webhook", "page",
                     "oncall")


class StaffEmail(db.Model):
    """One email to one address about one thing: unique on (kind, subject, address), so it
    goes once whatever the notifiers do. Written in the transaction of what calls for it;
    rendered from its subject when it goes (a subject no longer calling for it cancels it);
    claimed, marked and retried by the delivery engine like every other message."""

    __tablename__ = "staff_emails"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", "recipient"),
        CheckConstraint(f"kind IN {_in(STAFF_EMAIL_KINDS)}", name="kind"),
        CheckConstraint(f"status IN {_in(DELIVERY_STATUSES)}", name="status"),
        Index("ix_staff_emails_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int]
    recipient: Mapped[str] = mapped_column(String(EMAIL_MAX))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[Optional[datetime]]
    claim_token: Mapped[Optional[str]] = mapped_column(String(32))
    last_error: Mapped[Optional[str]] = mapped_column(String(300))
    sent_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime]
