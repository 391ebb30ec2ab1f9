"""Cadence reminders sent to an incident's commander: one row per due time."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .vocab import _in

#: cadence: the next update is due soon or overdue (SEV-1/2).
REMINDER_KINDS = ("cadence",)


class SentReminder(db.Model):
    """A reminder queued for one due time of one incident. The unique key is what makes it
    one email per due time, whatever the notifiers do; its email (a ``StaffEmail`` of kind
    "cadence") says whether it went."""

    __tablename__ = "sent_reminders"
    __table_args__ = (
        UniqueConstraint("incident_id", "due_at", "kind"),
        CheckConstraint(f"kind IN {_in(REMINDER_KINDS)}", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime]
