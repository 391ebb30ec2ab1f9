"""Components, staff accounts, incidents and their updates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Base, db
from .vocab import (
    COMPONENT_STATUSES,
    COMPONENT_STATUS_LABELS,
    DATA_STATUSES,
    DESCRIPTION_MAX,
    EMAIL_MAX,
    INCIDENT_STATUSES,
    INCIDENT_STATUS_LABELS,
    ISSUE_MAX,
    NAME_MAX,
    ROLES,
    SEVERITIES,
    USER_ACTIONS,
    _in,
)


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
    __table_args__ = (
        CheckConstraint(f"role IN {_in(ROLES)}", name="role"),
        # An index, not a constraint: adding it recreates no table on SQLite (0016).
        Index("ix_staff_users_calendar_token", "calendar_token", unique=True),
    )

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
    #: Two-factor sign-in (statuspage/two_factor.py): the base32 TOTP secret, set at the
    #: start of enrolment; 2FA is on once ``totp_enabled_at`` is set (the code confirmed).
    totp_secret: Mapped[Optional[str]] = mapped_column(String(64))
    totp_enabled_at: Mapped[Optional[datetime]]
    #: The last time step a code was accepted for: that step and older are refused (replay).
    totp_last_step: Mapped[Optional[int]] = mapped_column(BigInteger)
    #: Shown instead of the address where set (the roles of an incident, Slack).
    display_name: Mapped[Optional[str]] = mapped_column(String(NAME_MAX))
    #: Paging (/staff/profile): the phone for SMS (E.164), and Apprise URLs, one per line.
    phone: Mapped[Optional[str]] = mapped_column(String(20))
    page_urls: Mapped[Optional[str]] = mapped_column(Text)
    #: The secret of the shifts' calendar feed (revocable: a new one replaces it).
    calendar_token: Mapped[Optional[str]] = mapped_column(String(64))

    @property
    def shown_name(self) -> str:
        """The display name, else the address."""
        return self.display_name or self.email

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

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
        CheckConstraint(f"data_status IN {_in(DATA_STATUSES)}", name="data_status"),
        CheckConstraint(f"user_action IS NULL OR user_action IN {_in(USER_ACTIONS)}",
                        name="user_action"),
        CheckConstraint("data_gap_until IS NULL OR data_gap_from IS NULL "
                        "OR data_gap_until > data_gap_from", name="data_gap"),
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
    #: The participants' impact block, set by staff (a clinical statement: never automatic):
    #: "Your data", "What you need to do", and the window in which entries may be missing.
    data_status: Mapped[str] = mapped_column(String(24), default="not_yet_known",
                                             server_default="not_yet_known")
    user_action: Mapped[Optional[str]] = mapped_column(String(24))
    data_gap_from: Mapped[Optional[datetime]]
    data_gap_until: Mapped[Optional[datetime]]
    #: Staff-only, given on the Resolved form: for Slack's resolved block and the record;
    #: never on a public surface, feed, API, email, webhook or export.
    root_cause: Mapped[Optional[str]] = mapped_column(Text)
    resolution: Mapped[Optional[str]] = mapped_column(Text)
    review_on: Mapped[Optional[date]]
    #: The Incident Commander (the declarer by default; None until someone takes an
    #: incident opened without a person) and the optional Communications Lead.
    commander_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    comms_lead_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    #: When the commander acknowledged: the playbook's response target is met by it.
    acknowledged_at: Mapped[Optional[datetime]]
    #: Staff-only, asked at declaration: the escalation matrix's row (models/contacts.py
    #: INCIDENT_TYPES; None: not given) and whether health data may be affected.
    incident_type: Mapped[Optional[str]] = mapped_column(String(16))
    health_data_affected: Mapped[bool] = mapped_column(default=False,
                                                       server_default=text("false"))

    commander: Mapped[Optional[StaffUser]] = relationship(foreign_keys=[commander_id])
    comms_lead: Mapped[Optional[StaffUser]] = relationship(foreign_keys=[comms_lead_id])
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
