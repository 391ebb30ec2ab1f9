"""The internal incident record: its revisions, its action items and their reminders.

Staff-only: nothing here reaches a public page, feed, API, badge, embed, subscriber email
or static export.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .incidents import Incident, StaffUser

#: The longest record text kept (Markdown); an action item's text.
RECORD_MAX = 100_000
ACTION_ITEM_MAX = 500


class RecordRevision(db.Model):
    """One saved version of an incident's record. Rows are added, never edited, except
    that an admin may redact one (its text becomes "[redacted]")."""

    __tablename__ = "record_revisions"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    #: 1, 2, 3 ... per incident.
    number: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime]
    redacted_at: Mapped[Optional[datetime]]

    incident: Mapped[Incident] = relationship()
    author: Mapped[Optional[StaffUser]] = relationship()

    @property
    def is_redacted(self) -> bool:
        return self.redacted_at is not None


class ActionItem(db.Model):
    """A follow-up from the incident review: what, who, by when, and whether it is done."""

    __tablename__ = "action_items"
    __table_args__ = (Index("ix_action_items_incident_id", "incident_id"),
                      Index("ix_action_items_due_on", "due_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(ACTION_ITEM_MAX))
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    due_on: Mapped[date]
    done_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    incident: Mapped[Incident] = relationship()
    owner: Mapped[StaffUser] = relationship()

    @property
    def done(self) -> bool:
        return self.done_at is not None


class ActionItemReminder(db.Model):
    """The one email to an action item's owner when it falls due: one row per item and
    due date (the unique constraint makes it once, even with two notifiers); its email (a
    ``StaffEmail`` of kind "action_item") says whether it went."""

    __tablename__ = "action_item_reminders"
    __table_args__ = (UniqueConstraint("action_item_id", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_item_id: Mapped[int] = mapped_column(
        ForeignKey("action_items.id", ondelete="CASCADE"))
    due_on: Mapped[date]
    created_at: Mapped[datetime]
