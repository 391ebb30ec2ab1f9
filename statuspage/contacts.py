"""The playbook's key contacts and its escalation matrix (admin, /staff/contacts).

Each role (``models.CONTACT_ROLES``) has a name and an address, both optional; the address
follows the staff grammar (``addresses.is_plain_address``). The matrix says, per incident
type, which roles are its Primary, Escalate To and Executive; a cell never saved is the
playbook's table (``PLAYBOOK_MATRIX``). An incident without a type uses ``UNTYPED``: the
On-call Engineer first, then the Tech Lead, then the Executive Sponsor (the playbook's Key
Contacts: "Any SEV-1/2", "SEV-1 escalation").

Functions take the actor and ``now``, audit, flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Optional

from . import audit
from .addresses import is_plain_address, normalise_staff_email
from .errors import ValidationError
from .extensions import db
from .models import (
    CONTACT_ROLES,
    INCIDENT_TYPES,
    MATRIX_COLUMNS,
    NAME_MAX,
    Contact,
    EscalationCell,
    StaffUser,
)
from .text import clean_text

ROLE_NAMES = dict(CONTACT_ROLES)
TYPE_NAMES = dict(INCIDENT_TYPES)
COLUMN_NAMES = dict(MATRIX_COLUMNS)

#: The playbook's "Escalation Matrix", its abbreviations spelt out ("On-call + Security":
#: the On-call Engineer and the Security Lead; "Clinical": the Clinical Lead; "Sponsor":
#: the Executive Sponsor; "-": no one).
PLAYBOOK_MATRIX: dict[str, dict[str, tuple[str, ...]]] = {
    "app_down": {"primary": ("oncall",), "escalate": ("tech_lead",),
                 "executive": ("cto",)},
    "data_loss": {"primary": ("oncall",), "escalate": ("tech_lead", "clinical_lead"),
                  "executive": ("cto", "executive_sponsor")},
    "security": {"primary": ("oncall", "security_lead"), "escalate": ("security_lead",),
                 "executive": ("cto", "legal")},
    "phi_exposure": {"primary": ("security_lead",), "escalate": ("legal", "clinical_lead"),
                     "executive": ("ceo",)},
    "performance": {"primary": ("oncall",), "escalate": ("tech_lead",), "executive": ()},
    "user_impact": {"primary": ("support",), "escalate": ("coach_lead",),
                    "executive": ("clinical_lead",)},
}
#: An incident declared without a type.
UNTYPED = {"primary": ("oncall",), "escalate": ("tech_lead",),
           "executive": ("executive_sponsor",)}


class _Contacts:
    """The audit's target: the contacts page as a whole."""

    __tablename__ = "contacts"
    id = ""


_CONTACTS = _Contacts()


@dataclass
class ContactValue:
    name: str = ""
    email: str = ""


def type_name(incident_type: Optional[str]) -> str:
    """The playbook's words for a type; "Not given" for none."""
    return TYPE_NAMES.get(incident_type or "", "Not given")


def contacts() -> dict[str, ContactValue]:
    """Every role's contact, in the playbook's order (empty where none is set)."""
    rows = {c.role: c for c in db.session.scalars(db.select(Contact))}
    return {role: ContactValue(rows[role].name or "", rows[role].email or "")
            if role in rows else ContactValue() for role in ROLE_NAMES}


def matrix() -> dict[str, dict[str, tuple[str, ...]]]:
    """type -> column -> roles: the saved cells over the playbook's table."""
    cells = {t: dict(c) for t, c in PLAYBOOK_MATRIX.items()}
    for cell in db.session.scalars(db.select(EscalationCell)):
        cells[cell.incident_type][cell.matrix_column] = tuple(
            r for r in cell.roles.split(",") if r in ROLE_NAMES)
    return cells


def roles_for(incident_type: Optional[str], column: str) -> tuple[str, ...]:
    """The roles of one column for an incident of this type (None: ``UNTYPED``)."""
    if incident_type not in TYPE_NAMES:
        return UNTYPED[column]
    return matrix()[incident_type][column]


def addresses_for(roles: tuple[str, ...]) -> dict[str, list[str]]:
    """address -> the role names it holds among ``roles`` (one entry per address: a person
    in several roles is told once). Roles without an address are left out."""
    people = contacts()
    found: dict[str, list[str]] = {}
    for role in roles:
        email = people[role].email
        if email:
            found.setdefault(email, []).append(ROLE_NAMES[role])
    return found


def check_contacts(values: Mapping[str, ContactValue], errors: dict) -> dict:
    cleaned = {}
    for role in ROLE_NAMES:
        value = values.get(role, ContactValue())
        name = clean_text(value.name, single_line=True)
        email = normalise_staff_email(value.email or "")
        if len(name) > NAME_MAX:
            errors[f"{role}_name"] = f"At most {NAME_MAX} characters."
        if email and not is_plain_address(email):
            errors[f"{role}_email"] = "Enter an email address like name@example.org."
        cleaned[role] = ContactValue(name, email)
    return cleaned


def check_matrix(cells: Mapping[str, Mapping[str, list[str]]], errors: dict) -> dict:
    """The cells as chosen; a cell keeps the order of the roles it had (the playbook's
    "Legal + Clinical"), roles added to it follow in the playbook's order of roles."""
    before = matrix()
    cleaned: dict[str, dict[str, tuple[str, ...]]] = {}
    for incident_type in TYPE_NAMES:
        cleaned[incident_type] = {}
        for column in COLUMN_NAMES:
            chosen = list(cells.get(incident_type, {}).get(column, []))
            if any(role not in ROLE_NAMES for role in chosen):
                errors[f"{incident_type}_{column}"] = "Choose among the roles listed."
            kept = [r for r in before[incident_type][column] if r in chosen]
            cleaned[incident_type][column] = tuple(
                kept + [r for r in ROLE_NAMES if r in chosen and r not in kept])
    return cleaned


def save(values: Optional[Mapping[str, ContactValue]],
         cells: Optional[Mapping[str, Mapping[str, list[str]]]],
         *, actor: StaffUser, now: datetime) -> bool:
    """Store the contacts and the matrix (None: kept as they are); audited, with what
    changed. False when nothing changed."""
    errors: dict[str, str] = {}
    before_people, before_table = contacts(), matrix()
    people = check_contacts(before_people if values is None else values, errors)
    table = check_matrix(before_table if cells is None else cells, errors)
    if errors:
        raise ValidationError(errors)
    changed_people = {r: v for r, v in people.items() if v != before_people[r]}
    changed_cells = {(t, c): roles for t, row in table.items() for c, roles in row.items()
                     if roles != before_table[t][c]}
    if not changed_people and not changed_cells:
        return False
    for role, value in changed_people.items():
        row = db.session.get(Contact, role) or Contact(role=role)
        row.name, row.email, row.updated_at = value.name or None, value.email or None, now
        db.session.add(row)
    for (incident_type, column), roles in changed_cells.items():
        row = db.session.get(EscalationCell, (incident_type, column)) or EscalationCell(
            incident_type=incident_type, matrix_column=column)
        row.roles, row.updated_at = ",".join(roles), now
        db.session.add(row)
    db.session.flush()
    audit.record(
        actor, "contacts.save", _CONTACTS, now=now,
        before={"contacts": {r: vars(before_people[r]) for r in changed_people},
                "matrix": {f"{t}.{c}": list(before_table[t][c]) for t, c in changed_cells}},
        after={"contacts": {r: vars(v) for r, v in changed_people.items()},
               "matrix": {f"{t}.{c}": list(r) for (t, c), r in changed_cells.items()}})
    return True


def clean_type(value: Optional[str], errors: dict) -> Optional[str]:
    """An incident type as the declaration form sends it: empty is none."""
    value = (value or "").strip()
    if value and value not in TYPE_NAMES:
        errors["incident_type"] = "Choose one of the incident types, or leave it empty."
    return value if value in TYPE_NAMES else None


@dataclass
class Declaration:
    """The declaration's fields for the contacts: the matrix's row, and health data."""

    incident_type: Optional[str]
    health_data_affected: bool

    def apply(self, incident) -> None:
        incident.incident_type = self.incident_type
        incident.health_data_affected = self.health_data_affected


def clean_declaration(value: Declaration, errors: dict) -> Declaration:
    return Declaration(clean_type(value.incident_type, errors),
                       bool(value.health_data_affected))
