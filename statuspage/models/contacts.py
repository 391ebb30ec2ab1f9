"""The playbook's key contacts, its escalation matrix, and the notices sent to them."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .vocab import EMAIL_MAX, NAME_MAX, _in

#: The playbook's roles ("Key Contacts", "Escalation Matrix", "On-Call Rotation"): key, name.
CONTACT_ROLES = (
    ("oncall", "On-call Engineer"),
    ("secondary_oncall", "Secondary On-call"),
    ("tech_lead", "Tech Lead"),
    ("clinical_lead", "Clinical Lead"),
    ("security_lead", "Security Lead"),
    ("executive_sponsor", "Executive Sponsor"),
    ("cto", "CTO"),
    ("ceo", "CEO"),
    ("legal", "Legal"),
    ("coach_lead", "Coach Lead"),
    ("support", "Support"),
)
CONTACT_ROLE_KEYS = tuple(key for key, _ in CONTACT_ROLES)
#: The matrix's rows: the incident types (key, the playbook's words).
INCIDENT_TYPES = (
    ("app_down", "App Down"),
    ("data_loss", "Data Loss"),
    ("security", "Security"),
    ("phi_exposure", "PHI Exposure"),
    ("performance", "Performance"),
    ("user_impact", "User Impact"),
)
INCIDENT_TYPE_KEYS = tuple(key for key, _ in INCIDENT_TYPES)
#: The matrix's columns.
MATRIX_COLUMNS = (("primary", "Primary"), ("escalate", "Escalate To"),
                  ("executive", "Executive"))
MATRIX_COLUMN_KEYS = tuple(key for key, _ in MATRIX_COLUMNS)
#: primary, executive (on declaration, by severity), clinical (health data may be
#: affected), escalation (the response target passed without acknowledgement).
NOTICE_KINDS = ("primary", "executive", "clinical", "escalation")


class Contact(db.Model):
    """One role's person: a name and an address, both optional (no row: neither)."""

    __tablename__ = "contacts"
    __table_args__ = (CheckConstraint(f"role IN {_in(CONTACT_ROLE_KEYS)}", name="role"),)

    role: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[Optional[str]] = mapped_column(String(NAME_MAX))
    email: Mapped[Optional[str]] = mapped_column(String(EMAIL_MAX))
    updated_at: Mapped[datetime]


class EscalationCell(db.Model):
    """One cell of the matrix as an admin saved it: its roles, comma-separated (empty: no
    one). A cell without a row is the playbook's."""

    __tablename__ = "escalation_cells"
    __table_args__ = (
        CheckConstraint(f"incident_type IN {_in(INCIDENT_TYPE_KEYS)}", name="incident_type"),
        CheckConstraint(f"matrix_column IN {_in(MATRIX_COLUMN_KEYS)}", name="matrix_column"),
    )

    incident_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    matrix_column: Mapped[str] = mapped_column(String(16), primary_key=True)
    roles: Mapped[str] = mapped_column(String(400), default="")
    updated_at: Mapped[datetime]


class StaffNotice(db.Model):
    """One email to one contact about one incident: unique on (incident, kind, address),
    so a notice goes once whatever the notifiers do. Written in the transaction of the
    change that calls for it (escalations: by the notifier's tick), with its email (a
    ``StaffEmail`` of kind "notice"), which says whether it went."""

    __tablename__ = "staff_notices"
    __table_args__ = (
        UniqueConstraint("incident_id", "kind", "email"),
        CheckConstraint(f"kind IN {_in(NOTICE_KINDS)}", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    #: The role names this address holds in the notice (for the email and the record).
    roles: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime]
