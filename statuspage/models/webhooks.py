"""Webhook subscribers, the public changes they are told of, and each delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Base, db
from .incidents import Component, StaffUser
from .vocab import DELIVERY_STATUSES, WEBHOOK_EVENT_KINDS, _in

webhook_components = Table(
    "webhook_components",
    Base.metadata,
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    Column("component_id", ForeignKey("components.id", ondelete="CASCADE"), primary_key=True),
)


class Webhook(db.Model):
    """A URL an admin registered: every public change (of its components, or of everything)
    is POSTed to it in Statuspage's webhook shape, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    #: The HMAC key; shown to the admin once, kept to sign every delivery.
    secret: Mapped[str] = mapped_column(String(128))
    #: "all" or "some" (then ``components``).
    scope: Mapped[str] = mapped_column(String(8), default="all")
    active: Mapped[bool] = mapped_column(default=True)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    disabled_at: Mapped[Optional[datetime]]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime]

    created_by: Mapped[Optional[StaffUser]] = relationship()
    components: Mapped[list[Component]] = relationship(secondary=webhook_components)


class WebhookEvent(db.Model):
    """One public change, written in the transaction that made it; its payload is built
    when it is sent, from the state then (so a redaction reaches it)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint(f"kind IN {_in(WEBHOOK_EVENT_KINDS)}", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"))
    maintenance_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("maintenances.id", ondelete="CASCADE"))
    component_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"))
    #: For a component change: {"old_status": ..., "new_status": ...}; the components an
    #: incident change touched: {"component_ids": [...]}.
    detail: Mapped[Optional[dict]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class WebhookDelivery(db.Model):
    """One event to one webhook: at most one, ever; sent in event order per webhook."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {_in(DELIVERY_STATUSES)}", name="status"),
        UniqueConstraint("webhook_id", "event_id",
                         name="uq_webhook_deliveries_webhook_id_event_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[Optional[datetime]]
    claim_token: Mapped[Optional[str]] = mapped_column(String(32))
    created_at: Mapped[datetime]
    sent_at: Mapped[Optional[datetime]]
    #: The last answer: an HTTP status, or what went wrong (timeout, refused address ...).
    last_status_code: Mapped[Optional[int]]
    last_error: Mapped[Optional[str]] = mapped_column(String(300))

    webhook: Mapped[Webhook] = relationship()
    event: Mapped[WebhookEvent] = relationship()
