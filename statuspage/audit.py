"""Append-only audit trail, written in the same transaction as the change it records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Union

from .extensions import db
from .models import AuditEvent, StaffUser


@dataclass(frozen=True)
class SystemActor:
    """An actor that is not a staff member: a monitor or a write-API key.

    ``label`` is what the audit log shows ("monitor:Login health", "api-key:PagerDuty"). It is
    never an admin, never an incident's commander and never an update's ``posted_by``.
    """

    label: str
    is_admin: bool = False
    id: None = None


#: Whoever changes something: a staff member, a system actor or nobody (the notifier).
Actor = Union[StaffUser, SystemActor, None]


def staff_or_none(actor: Actor) -> Optional[StaffUser]:
    """The staff member behind ``actor``, or None for a system actor."""
    return actor if isinstance(actor, StaffUser) else None


def actor_label(actor: Actor, fallback: str = "system") -> str:
    if isinstance(actor, SystemActor):
        return actor.label[:64]
    return f"staff:{actor.id}" if actor is not None else fallback


def record(
    actor: Actor,
    action: str,
    target: Any,
    *,
    now: datetime,
    before: Optional[dict] = None,
    after: Optional[dict] = None,
    system_label: str = "system",
) -> AuditEvent:
    """Add an audit event for ``action`` on ``target`` (a model instance); flushes first.

    Never put a subscriber's email address or update text that may hold health data in
    ``before``/``after``: the audit log is read by every admin.
    """
    db.session.flush()  # the target's id
    event = AuditEvent(
        at=now,
        actor_id=actor.id if isinstance(actor, StaffUser) else None,
        actor_label=actor_label(actor, system_label),
        action=action,
        target_type=getattr(target, "__tablename__", type(target).__name__.lower()),
        target_id=str(getattr(target, "id", "")) or None,
        before=before,
        after=after,
    )
    db.session.add(event)
    return event
