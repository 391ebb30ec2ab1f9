"""On-call rotations (admin, /staff/on-call) and overrides: who is primary and secondary
at a time, until when, the next handover, each person's shifts (their calendar feed), and
the handover messages ("You are on call until ...").

The arithmetic (shifts keep the first handover's wall time in SITE_TIMEZONE; an override
wins; of several rotations of a role the lowest id counts) is ``paging.schedule``'s.
Before a rotation's first handover nobody of it is on call; with no rotation of a role
started, that role is the contacts' On-call Engineer (primary) or Secondary On-call
(secondary), as before rotations.

Functions take the actor and ``now``, audit, flush and never commit; except
``queue_due_handovers``, the notifier's, which commits in its own write transactions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from flask import current_app

from .. import audit, contacts
from ..addresses import normalise_staff_email
from ..errors import NotAllowed, ValidationError
from ..extensions import db
from ..models import NAME_MAX, StaffUser
from ..models.paging import HANDOVER_EVERY, ROTATION_ROLES, Rotation, RotationOverride
from ..outbox.pages import PageText, queue_page
from ..text import clean_text
from ..transactions import write_transaction
from .schedule import (PERIOD_DAYS, OverridePlan, RoleSchedule, RotationPlan,
                       next_handover, shift_index)

#: How each role is named to people.
ROLE_NAMES = {"primary": "Primary on-call", "secondary": "Secondary on-call"}
#: The contacts' role a role falls back to without rotations.
CONTACT_ROLE = {"primary": "oncall", "secondary": "secondary_oncall"}
EVERY_NAMES = {"day": "Every day", "week": "Every week"}
#: At most this many members in a rotation.
MAX_MEMBERS = 100
#: A handover message goes when the notifier sees the new turn within this time of its
#: start (a notifier stopped for longer sends none for that turn).
HANDOVER_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class OnCall:
    """Who is on call in a role at a time, and until when (None: no end known)."""

    email: str
    until: Optional[datetime]
    rotation_id: Optional[int]  # None: the contacts' On-call Engineer / Secondary On-call
    override: bool = False


def site_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


def local_text(value: datetime, tz: Optional[ZoneInfo] = None) -> str:
    """``2026-03-09 09:00 EDT (America/New_York)``: a time as a page says it."""
    tz = tz or site_zone()
    return f"{value.astimezone(tz):%Y-%m-%d %H:%M %Z} ({tz.key})"


# --- Reading -------------------------------------------------------------------------------


def rotations(role: Optional[str] = None) -> list[Rotation]:
    query = db.select(Rotation).order_by(Rotation.id)
    if role is not None:
        query = query.where(Rotation.role == role)
    return list(db.session.scalars(query))


def plan_of(rotation: Rotation) -> RotationPlan:
    return RotationPlan(rotation.id, rotation.name, tuple(rotation.member_list),
                        PERIOD_DAYS[rotation.handover_every], rotation.handover_at)


def schedule(role: str, tz: Optional[ZoneInfo] = None) -> RoleSchedule:
    """The role's rotations and overrides, loaded once, for the arithmetic."""
    rows = rotations(role)
    overrides = db.session.scalars(db.select(RotationOverride).where(
        RotationOverride.rotation_id.in_([r.id for r in rows]))) if rows else []
    return RoleSchedule([plan_of(r) for r in rows],
                        [OverridePlan(o.id, o.rotation_id, o.member, o.starts_at, o.ends_at,
                                      o.created_at) for o in overrides],
                        tz or site_zone())


def on_call(role: str, now: datetime) -> Optional[OnCall]:
    """Who is on call as ``role`` ("primary" or "secondary") at ``now``: an override
    covering ``now`` wins, else the rotation's member whose turn it is; without any
    rotation of that role started, the contacts' On-call Engineer (primary) or Secondary
    On-call (secondary), if set. None: nobody."""
    plans = schedule(role)
    turn = plans.turn_at(now)
    if turn is not None:
        return OnCall(turn.email, plans.next_change(now), turn.rotation_id,
                      turn.override_id is not None)
    email = contacts.contacts()[CONTACT_ROLE[role]].email
    return OnCall(email, plans.next_change(now), None) if email else None


def next_handover_of(rotation: Rotation, now: datetime) -> datetime:
    """The rotation's next handover after ``now`` (its first, before it starts)."""
    return next_handover(plan_of(rotation), now, site_zone())


def member_now(rotation: Rotation, now: datetime) -> Optional[str]:
    """Whose turn it is in this rotation, overrides aside (None before it starts)."""
    plan = plan_of(rotation)
    k = shift_index(plan, now, site_zone())
    return plan.members[k % len(plan.members)] if k >= 0 and plan.members else None


def shadowed(rotation: Rotation) -> Optional[Rotation]:
    """The rotation of the same role with a lower id, which counts instead of this one."""
    return db.session.scalar(db.select(Rotation).where(
        Rotation.role == rotation.role, Rotation.id < rotation.id).order_by(Rotation.id))


def overrides(now: datetime) -> list[RotationOverride]:
    """The overrides not yet over, by start."""
    return list(db.session.scalars(db.select(RotationOverride).where(
        RotationOverride.ends_at > now).order_by(RotationOverride.starts_at,
                                                 RotationOverride.id)))


@dataclass(frozen=True)
class NowPanel:
    """The "On call now" panel: each role's person (None: nobody), the next handover."""

    primary: Optional[OnCall]
    secondary: Optional[OnCall]
    next_handover: Optional[datetime]
    #: Rotation id -> name, for "(rotation X)".
    rotation_names: dict
    #: Roles with more than one rotation (only the lowest id counts).
    doubled: tuple


def now_panel(now: datetime) -> NowPanel:
    rows = rotations()
    upcoming = [next_handover_of(r, now) for r in rows if r.member_list]
    roles = [r.role for r in rows]
    return NowPanel(on_call("primary", now), on_call("secondary", now),
                    min(upcoming) if upcoming else None, {r.id: r.name for r in rows},
                    tuple(role for role in ROTATION_ROLES if roles.count(role) > 1))


@dataclass(frozen=True)
class Shift:
    """A stretch one person is on call in one role (a rotation's shift or an override)."""

    role: str
    start: datetime
    end: datetime
    rotation_id: int
    rotation_name: str
    override_id: Optional[int]
    shift: int
    #: The rotation's last change, or the override's making (the calendar's DTSTAMP).
    changed: datetime


def shifts_of(email: str, start: datetime, end: datetime) -> list[Shift]:
    """``email``'s turns from ``start`` to ``end``, in both roles, by start."""
    email = normalise_staff_email(email)
    rows = {r.id: r for r in rotations()}
    found = []
    for role in ROTATION_ROLES:
        plans = schedule(role)
        made = {o.id: o.created_at for o in plans.overrides}
        for seg in plans.segments(start, end):
            turn = seg.turn
            if turn.email == email:
                rotation = rows[turn.rotation_id]
                found.append(Shift(role, seg.start, seg.end, rotation.id, rotation.name,
                                   turn.override_id, turn.shift,
                                   made.get(turn.override_id, rotation.updated_at)))
    return sorted(found, key=lambda s: (s.start, s.role))


# --- Changing ------------------------------------------------------------------------------


@dataclass
class RotationFields:
    """A rotation as typed; ``handover_at`` already parsed from the site's zone (a parse
    problem is in ``errors``)."""

    name: str = ""
    role: str = ""
    members: str = ""
    handover_every: str = ""
    handover_at: Optional[datetime] = None
    errors: dict = field(default_factory=dict)


@dataclass
class OverrideFields:
    rotation_id: Optional[int] = None
    member: str = ""
    starts_at: Optional[datetime] = None
    ends_at: Optional[datetime] = None
    errors: dict = field(default_factory=dict)


def _admin(actor) -> None:
    if not getattr(actor, "is_admin", False):
        raise NotAllowed()


def _active_staff(email: str) -> bool:
    return db.session.scalar(db.select(StaffUser.id).where(
        StaffUser.email == email, StaffUser.active.is_(True))) is not None


def active_emails(emails) -> set[str]:
    """Which of ``emails`` are active staff accounts."""
    emails = list(emails)
    return set(db.session.scalars(db.select(StaffUser.email).where(
        StaffUser.email.in_(emails), StaffUser.active.is_(True)))) if emails else set()


def _clean_members(text: str, errors: dict) -> list[str]:
    members = [normalise_staff_email(line) for line in (text or "").splitlines()]
    members = [m for m in members if m]
    if not members:
        errors["members"] = "Add at least one member: a staff email per line, in order."
    elif len(members) > MAX_MEMBERS:
        errors["members"] = f"At most {MAX_MEMBERS} members."
    else:
        unknown = [m for m in members if not _active_staff(m)]
        if unknown:
            errors["members"] = ("Not an active staff account: " + ", ".join(unknown)
                                 + ". Each line must be the email of a staff member.")[:500]
    return members


def _check_rotation(fields: RotationFields, rotation: Optional[Rotation]) -> dict:
    errors = dict(fields.errors)
    name = clean_text(fields.name, single_line=True)
    if not name:
        errors["name"] = "Give the rotation a name, e.g. “Primary, weekly”."
    elif len(name) > NAME_MAX:
        errors["name"] = f"At most {NAME_MAX} characters."
    else:
        same = db.session.scalar(db.select(Rotation).where(
            db.func.lower(Rotation.name) == name.lower()))
        if same is not None and same is not rotation:
            errors["name"] = "Another rotation has this name."
    if fields.role not in ROTATION_ROLES:
        errors["role"] = "Choose Primary or Secondary."
    members = _clean_members(fields.members, errors)
    if fields.handover_every not in HANDOVER_EVERY:
        errors["handover_every"] = "Choose every day or every week."
    if fields.handover_at is None and "handover_at" not in errors:
        errors["handover_at"] = ("Enter the first handover's date and time, for example "
                                 "2026-11-26T09:00.")
    if errors:
        raise ValidationError(errors)
    return {"name": name, "role": fields.role, "members": "\n".join(members),
            "handover_every": fields.handover_every, "handover_at": fields.handover_at}


def _shown(values: dict) -> dict:
    return {k: v.astimezone(timezone.utc).isoformat() if isinstance(v, datetime) else v
            for k, v in values.items()}


def create_rotation(fields: RotationFields, *, actor, now: datetime) -> Rotation:
    _admin(actor)
    values = _check_rotation(fields, None)
    rotation = Rotation(**values, created_at=now, updated_at=now)
    db.session.add(rotation)
    db.session.flush()
    audit.record(actor, "rotation.create", rotation, now=now, after=_shown(values))
    return rotation


def edit_rotation(rotation: Rotation, fields: RotationFields, *, actor,
                  now: datetime) -> bool:
    """False when nothing changed."""
    _admin(actor)
    values = _check_rotation(fields, rotation)
    before = {k: getattr(rotation, k) for k in values}
    changed = {k: v for k, v in values.items() if before[k] != v}
    if not changed:
        return False
    for key, value in changed.items():
        setattr(rotation, key, value)
    rotation.updated_at = now
    db.session.flush()
    audit.record(actor, "rotation.edit", rotation, now=now,
                 before=_shown({k: before[k] for k in changed}), after=_shown(changed))
    return True


def delete_rotation(rotation: Rotation, *, actor, now: datetime) -> None:
    """The rotation and its overrides."""
    _admin(actor)
    db.session.execute(db.delete(RotationOverride).where(
        RotationOverride.rotation_id == rotation.id))
    audit.record(actor, "rotation.delete", rotation, now=now,
                 before={"name": rotation.name, "role": rotation.role})
    db.session.delete(rotation)
    db.session.flush()


def create_override(fields: OverrideFields, *, actor, now: datetime) -> RotationOverride:
    _admin(actor)
    errors = dict(fields.errors)
    rotation = db.session.get(Rotation, fields.rotation_id) if fields.rotation_id else None
    if rotation is None:
        errors["rotation"] = "Choose one of the rotations."
    member = normalise_staff_email(fields.member)
    if not member:
        errors["member"] = "Enter the email of the staff member who will be on call."
    elif not _active_staff(member):
        errors["member"] = f"Not an active staff account: {member[:254]}."
    for name, value in (("starts_at", fields.starts_at), ("ends_at", fields.ends_at)):
        if value is None and name not in errors:
            errors[name] = "Enter a date and time, for example 2026-11-26T14:30."
    if fields.starts_at and fields.ends_at and "ends_at" not in errors:
        if fields.ends_at <= fields.starts_at:
            errors["ends_at"] = "The override must end after it starts."
        elif fields.ends_at <= now:
            errors["ends_at"] = "This override would already be over: enter a later end."
    if errors:
        raise ValidationError(errors)
    override = RotationOverride(rotation_id=rotation.id, member=member,
                                starts_at=fields.starts_at, ends_at=fields.ends_at,
                                created_at=now, created_by=getattr(actor, "email", None))
    db.session.add(override)
    db.session.flush()
    audit.record(actor, "rotation.override", override, now=now, after=_shown({
        "rotation": rotation.name, "member": member, "starts_at": fields.starts_at,
        "ends_at": fields.ends_at}))
    return override


def delete_override(override: RotationOverride, *, actor, now: datetime) -> None:
    _admin(actor)
    audit.record(actor, "rotation.override_delete", override, now=now, before=_shown({
        "rotation_id": override.rotation_id, "member": override.member,
        "starts_at": override.starts_at, "ends_at": override.ends_at}))
    db.session.delete(override)
    db.session.flush()


# --- Handover messages ---------------------------------------------------------------------


def handover_key(rotation_id: int, start: datetime) -> str:
    return f"handover:{rotation_id}:{start.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"


def _parse_key(key: str) -> Optional[tuple[int, datetime]]:
    try:
        _, rotation_id, start = key.split(":", 2)
        return int(rotation_id), datetime.fromisoformat(start)
    except ValueError:
        return None


def handover_text(page, now: datetime) -> Optional[PageText]:
    """The handover page's ``outbox.pages.PageText`` ("You are on call as ... until ..."),
    or None (cancel it): the rotation is gone, the turn is someone else's now (an
    override), or it is already over."""
    parsed = _parse_key(page.key)
    rotation = parsed and db.session.get(Rotation, parsed[0])
    if rotation is None:
        return None
    start = parsed[1]
    plans = schedule(rotation.role)
    turn = plans.turn_at(start)
    if turn is None or turn.email != page.recipient:
        return None
    until = plans.next_change(start)
    if until is not None and until <= now:
        return None
    role = ROLE_NAMES[rotation.role]
    where = f"an override in {rotation.name}" if turn.override_id else rotation.name
    if until is None:
        body = f"You are on call as {role} ({where}). No handover after you is planned."
    else:
        body = f"You are on call as {role} until {local_text(until)} ({where})."
    return PageText(title=f"You are on call: {role}", body=body)


def _queue_role(role: str, now: datetime) -> int:
    plans = schedule(role)
    turn = plans.turn_at(now)
    started = turn and plans.turn_started(now, now - HANDOVER_WINDOW)
    if not started:
        return 0
    before = plans.turn_at(started - timedelta(microseconds=1))
    if before is not None and before.email == turn.email:
        return 0  # the same person stays on call: nothing to hand over
    page = queue_page(key=handover_key(turn.rotation_id, started), kind="handover",
                      recipient=turn.email, now=now, roles=ROLE_NAMES[role])
    return 0 if page is None else 1


def queue_due_handovers(now: datetime) -> int:
    """Commits (a write transaction per role): the handover message of each turn that
    began within ``HANDOVER_WINDOW`` to its person, once (the page's key is the rotation
    and the turn's start). The number queued."""
    if db.session.scalar(db.select(Rotation.id).limit(1)) is None:
        db.session.rollback()
        return 0  # no rotation: no write lock taken
    queued = 0
    for role in ROTATION_ROLES:
        with write_transaction():
            queued += _queue_role(role, now)
    return queued
