"""Subscribers and the outbox's rows: one notification to many, one delivery each."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Base, db
from .incidents import Component, Incident
from .vocab import (
    AUDIENCES,
    DELIVERY_STATUSES,
    EMAIL_MAX,
    MAINTENANCE_NOTICES,
    NOTIFICATION_KINDS,
    SUBSCRIBER_STATUSES,
    SUBSCRIPTION_SCOPES,
    _in,
)


subscriber_components = Table(
    "subscriber_components",
    Base.metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("component_id", ForeignKey("components.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_subscriber_components_component_id", "component_id"),
)


class Subscriber(db.Model):
    """Someone who asked for the outage and all-clear emails.

    ``public_id`` is the opaque id that tokens, logs and audit events carry; the email
    address appears nowhere but here and in the messages sent to it.
    """

    __tablename__ = "subscribers"
    __table_args__ = (
        CheckConstraint(f"audience IN {_in(AUDIENCES)}", name="audience"),
        CheckConstraint(f"status IN {_in(SUBSCRIBER_STATUSES)}", name="status"),
        CheckConstraint(f"scope IN {_in(SUBSCRIPTION_SCOPES)}", name="scope"),
        Index("ix_subscribers_status_requested_at", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    audience: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    #: The last time the form was sent for this address (pending ones expire from it).
    requested_at: Mapped[datetime]
    confirmed_at: Mapped[Optional[datetime]]
    unsubscribed_at: Mapped[Optional[datetime]]
    bounced_at: Mapped[Optional[datetime]]
    #: "all" (the default), or "some": the components in ``components`` only.
    scope: Mapped[str] = mapped_column(String(8), default="all", server_default="all")
    #: An IANA zone name for the times in their emails; None: SITE_TIMEZONE.
    timezone: Mapped[Optional[str]] = mapped_column(String(64))
    maintenance_notices: Mapped[bool] = mapped_column(default=True, server_default=true())
    #: When their only chosen components were deleted and they fell back to "all" (their
    #: preferences page says so once, then clears it).
    scope_fallback_at: Mapped[Optional[datetime]]

    components: Mapped[list[Component]] = relationship(secondary=subscriber_components)

    def __repr__(self) -> str:  # never the address
        return f"<Subscriber {self.public_id} {self.audience} {self.status}>"


class Notification(db.Model):
    """One email to many: an incident's outage or resolution email, a maintenance window's
    notice, or one confirm/manage email. At most one of each kind per incident, and one per
    window, notice, schedule revision and reminder offset, ever (the unique constraints)."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"kind IN {_in(NOTIFICATION_KINDS)}", name="kind"),
        UniqueConstraint("incident_id", "kind", name="uq_notifications_incident_id_kind"),
        CheckConstraint(f"notice IS NULL OR notice IN {_in(MAINTENANCE_NOTICES)}",
                        name="notice"),
        UniqueConstraint("maintenance_id", "notice", "revision", "offset_minutes",
                         name="uq_notifications_maintenance_notice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE")
    )
    maintenance_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("maintenances.id", ondelete="CASCADE")
    )
    #: For kind "maintenance": which notice, of which schedule revision of the window, and
    #: for a reminder how many minutes before the start (0 for the other notices).
    notice: Mapped[Optional[str]] = mapped_column(String(16))
    revision: Mapped[Optional[int]]
    offset_minutes: Mapped[Optional[int]]
    #: Random, part of every Message-ID, so ids never repeat across databases.
    token: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    #: When the Delivery rows were written (None: held before it was due).
    enqueued_at: Mapped[Optional[datetime]]
    #: An admin holds the incident's emails (a false alarm); nothing is sent while set.
    held_at: Mapped[Optional[datetime]]
    held_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))

    incident: Mapped[Optional[Incident]] = relationship()
    deliveries: Mapped[list["Delivery"]] = relationship(
        back_populates="notification", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} incident={self.incident_id}>"


class Delivery(db.Model):
    """One notification to one subscriber: at most one, ever (the unique constraint)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {_in(DELIVERY_STATUSES)}", name="status"),
        UniqueConstraint(
            "notification_id", "subscriber_id", name="uq_deliveries_notification_id_subscriber_id"
        ),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_subscriber_id", "subscriber_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: Temporary failures so far.
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    #: While ``sending``: the claim is this process's until then; afterwards anyone's.
    lease_until: Mapped[Optional[datetime]]
    claim_token: Mapped[Optional[str]] = mapped_column(String(32))
    created_at: Mapped[datetime]
    sent_at: Mapped[Optional[datetime]]
    #: The SMTP reply code and text of the last failure, the address taken out.
    last_error: Mapped[Optional[str]] = mapped_column(String(300))

    notification: Mapped[Notification] = relationship(back_populates="deliveries")
    subscriber: Mapped[Subscriber] = relationship()

    def __repr__(self) -> str:
        return f"<Delivery {self.id} n={self.notification_id} {self.status}>"
