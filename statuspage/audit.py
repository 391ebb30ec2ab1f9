"""Append-only audit trail, written in the same transaction as the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from .extensions import db
from .models import AuditEvent, StaffUser


def actor_label(actor: Optional[StaffUser], fallback: str = "system") -> str:
    return f"staff:{actor.id}" if actor is not None else fallback


def record(
    actor: Optional[StaffUser],
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
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label(actor, system_label),
        action=action,
        target_type=getattr(target, "__tablename__", type(target).__name__.lower()),
        target_id=str(getattr(target, "id", "")) or None,
        before=before,
        after=after,
    )
    db.session.add(event)
    return event
