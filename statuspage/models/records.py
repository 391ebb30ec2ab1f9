"""Append-only records: the audit trail, used form submissions, notifier heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .incidents import StaffUser


class AuditEvent(db.Model):
    """Who changed what, when. Append-only: rows are never updated or deleted."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    #: The staff user, or None for the system (the notifier, a CLI command).
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    #: Who it was, kept even if the account is later renamed: "staff:3", "system", "cli".
    actor_label: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[Optional[str]] = mapped_column(String(64))
    before: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    after: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)

    actor: Mapped[Optional[StaffUser]] = relationship()


@event.listens_for(AuditEvent, "before_update")
def _audit_is_append_only_update(mapper, connection, target):
    raise RuntimeError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only_delete(mapper, connection, target):
    raise RuntimeError("audit events are append-only")


class UsedSubmission(db.Model):
    """A staff form's one-time ``submission_id``, once a POST carrying it was stored, and
    what that POST produced: the unique key makes a repeated or concurrent submission
    fail to store twice, and the row tells the repeat what the first one did."""

    __tablename__ = "used_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: What the form did: "incident.open", "incident.update", "incident.edit", ...
    action: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"))
    update_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("incident_updates.id", ondelete="CASCADE"))
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    used_at: Mapped[datetime]


class NotifierHeartbeat(db.Model):
    """Each notifier process writes its last tick here; a health check reads the newest."""

    __tablename__ = "notifier_heartbeats"

    #: "host:pid" of the notifier process.
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    beat_at: Mapped[datetime]
