"""Tables and their invariants. No mail, no url_for, no commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import Base, db

# --- Vocabularies ----------------------------------------------------------------------

COMPONENT_STATUSES = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)
COMPONENT_STATUS_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded Performance",
    "partial_outage": "Partial Outage",
    "major_outage": "Major Outage",
    "under_maintenance": "Under Maintenance",
}

#: Incident statuses in the playbook's order (an update may also go back; Resolved is final
#: until an admin reopens the incident).
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
INCIDENT_STATUS_LABELS = {s: s.capitalize() for s in INCIDENT_STATUSES}

SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")

ROLES = ("admin", "responder")

# Text limits, shared by the forms and the database.
ISSUE_MAX = 200
TEXT_MAX = 5000
NAME_MAX = 100
DESCRIPTION_MAX = 500
EMAIL_MAX = 254


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# --- Tables -----------------------------------------------------------------------------

incident_components = Table(
    "incident_components",
    Base.metadata,
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("component_id", ForeignKey("components.id", ondelete="CASCADE"), primary_key=True),
)


class Component(db.Model):
    __tablename__ = "components"
    __table_args__ = (CheckConstraint(f"status IN {_in(COMPONENT_STATUSES)}", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="")
    group_name: Mapped[Optional[str]] = mapped_column(String(NAME_MAX))
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(32), default="operational")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def status_label(self) -> str:
        return COMPONENT_STATUS_LABELS[self.status]

    def __repr__(self) -> str:
        return f"<Component {self.id} {self.name!r} {self.status}>"


class StaffUser(db.Model):
    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint(f"role IN {_in(ROLES)}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="responder")
    active: Mapped[bool] = mapped_column(default=True)
    #: Bumped on logout-everywhere and password change; sessions carry it and die with it.
    session_version: Mapped[int] = mapped_column(default=1)
    #: The user must choose a new password at next login (after an admin reset).
    must_change_password: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[Optional[datetime]]
    created_at: Mapped[datetime]

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<StaffUser {self.id} {self.role}>"


class Incident(db.Model):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(f"status IN {_in(INCIDENT_STATUSES)}", name="status"),
        CheckConstraint(f"severity IN {_in(SEVERITIES)}", name="severity"),
        Index("ix_incidents_resolved_at", "resolved_at"),
        Index("ix_incidents_started_at", "started_at"),
        # Issue 5: costs that do not grow with history. The open incidents, found without
        # reading the resolved ones; the newest change, without reading every incident.
        Index("ix_incidents_unresolved", "started_at",
              sqlite_where=text("status != 'resolved'"),
              postgresql_where=text("status != 'resolved'")),
        Index("ix_incidents_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(ISSUE_MAX))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="investigating")
    started_at: Mapped[datetime]
    resolved_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    #: A recurrence links to the incident it repeats.
    previous_incident_id: Mapped[Optional[int]] = mapped_column(ForeignKey("incidents.id"))

    created_by: Mapped[Optional[StaffUser]] = relationship(foreign_keys=[created_by_id])
    components: Mapped[list[Component]] = relationship(
        secondary=incident_components, order_by="Component.position, Component.name"
    )
    updates: Mapped[list["IncidentUpdate"]] = relationship(
        back_populates="incident",
        order_by="IncidentUpdate.posted_at.desc(), IncidentUpdate.id.desc()",
        cascade="all, delete-orphan",
    )
    previous_incident: Mapped[Optional["Incident"]] = relationship(remote_side=[id])

    @property
    def is_resolved(self) -> bool:
        return self.status == "resolved"

    @property
    def status_label(self) -> str:
        return INCIDENT_STATUS_LABELS[self.status]

    @property
    def latest_update(self) -> Optional["IncidentUpdate"]:
        return self.updates[0] if self.updates else None

    def __repr__(self) -> str:
        return f"<Incident {self.id} {self.severity} {self.status}>"


class IncidentUpdate(db.Model):
    __tablename__ = "incident_updates"
    __table_args__ = (
        CheckConstraint(f"status IN {_in(INCIDENT_STATUSES)}", name="status"),
        Index("ix_incident_updates_incident_posted", "incident_id", "posted_at"),
        Index("ix_incident_updates_posted_at", "posted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    impact: Mapped[str] = mapped_column(Text)
    actions: Mapped[str] = mapped_column(Text)
    workaround: Mapped[str] = mapped_column(Text, default="")
    next_update_at: Mapped[Optional[datetime]]
    posted_at: Mapped[datetime]
    posted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    #: Set when an admin redacted the text (health data pasted by mistake).
    redacted_at: Mapped[Optional[datetime]]

    incident: Mapped[Incident] = relationship(back_populates="updates")
    posted_by: Mapped[Optional[StaffUser]] = relationship()
    component_changes: Mapped[list["ComponentChange"]] = relationship(
        back_populates="update", cascade="all, delete-orphan", order_by="ComponentChange.id"
    )

    @property
    def status_label(self) -> str:
        return INCIDENT_STATUS_LABELS[self.status]

    @property
    def is_redacted(self) -> bool:
        return self.redacted_at is not None

    def __repr__(self) -> str:
        return f"<IncidentUpdate {self.id} of {self.incident_id} {self.status}>"


class ComponentChange(db.Model):
    """A component status change made by an update."""

    __tablename__ = "component_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(
        ForeignKey("incident_updates.id", ondelete="CASCADE"), index=True
    )
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    old_status: Mapped[str] = mapped_column(String(32))
    new_status: Mapped[str] = mapped_column(String(32))

    update: Mapped[IncidentUpdate] = relationship(back_populates="component_changes")
    component: Mapped[Component] = relationship()


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


# --- Subscribers and the outbox (issue 3) -----------------------------------------------

AUDIENCES = ("participant", "coach")
SUBSCRIBER_STATUSES = ("pending", "confirmed", "unsubscribed", "bouncing")
NOTIFICATION_KINDS = ("outage", "resolution", "confirm", "manage")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


class Subscriber(db.Model):
    """Someone who asked for the outage and all-clear emails.

    ``public_id`` is the opaque id that tokens, logs and audit events carry; the email
    address appears nowhere but here and in the messages sent to it.
    """

    __tablename__ = "subscribers"
    __table_args__ = (
        CheckConstraint(f"audience IN {_in(AUDIENCES)}", name="audience"),
        CheckConstraint(f"status IN {_in(SUBSCRIBER_STATUSES)}", name="status"),
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

    def __repr__(self) -> str:  # never the address
        return f"<Subscriber {self.public_id} {self.audience} {self.status}>"


class Notification(db.Model):
    """One email to many: an incident's outage or resolution email, or one confirm/manage
    email. At most one of each kind per incident, ever (the unique constraint)."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"kind IN {_in(NOTIFICATION_KINDS)}", name="kind"),
        UniqueConstraint("incident_id", "kind", name="uq_notifications_incident_id_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE")
    )
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


# --- The site version (issue 5: statuspage/site_state.py) -------------------------------


class SiteState(db.Model):
    """One row: the version of everything the public sees, bumped in the same transaction
    as every publicly visible change, so that every process's rendered pages and the
    static export know when to render again."""

    __tablename__ = "site_state"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    changed_at: Mapped[datetime]


class SiteChange(db.Model):
    """Which incident pages a version changed (incident_id None: every one), so the static
    publisher renders only those again. Pruned by the publisher after a day."""

    __tablename__ = "site_changes"
    __table_args__ = (Index("ix_site_changes_version", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    incident_id: Mapped[Optional[int]]
    at: Mapped[datetime]
