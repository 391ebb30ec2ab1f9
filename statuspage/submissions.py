"""One-time submission ids of the staff forms: a repeated POST changes nothing.

Each staff form carries a hidden ``submission_id`` made when the form was shown. The
first POST that carries it stores a ``UsedSubmission`` row in the same transaction as its
change; a repeat (a double click, a resent form, a second responder's tab) finds the row
and is told what the first one did. Two concurrent first POSTs cannot both commit: the
unique key refuses the second (on SQLite the write lock already serialises them, so the
second finds the row). A POST without an id (a script) is accepted as before.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Optional

from .extensions import db
from .models import Incident, IncidentUpdate, StaffUser, UsedSubmission

#: What a form's id looks like (``new_submission_id``); anything else is ignored.
_VALID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_submission_id() -> str:
    """A fresh id for a form being shown."""
    return secrets.token_urlsafe(24)


def parse_submission_id(value: object) -> Optional[str]:
    """The id a POST carried, or None (absent, or not one of ours: treated as absent)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if _VALID.fullmatch(value) else None


def find_used(submission_id: Optional[str]) -> Optional[UsedSubmission]:
    """The stored use of this id, if a POST carrying it was already stored."""
    if submission_id is None:
        return None
    return db.session.scalar(
        db.select(UsedSubmission).where(UsedSubmission.submission_id == submission_id)
    )


def remember(
    submission_id: Optional[str], action: str, result: object, *,
    actor: Optional[StaffUser], now: datetime,
) -> None:
    """Store that ``submission_id`` produced ``result`` (flushes: a concurrent first use
    raises ``IntegrityError`` here or at the commit). Nothing for a POST without an id."""
    if submission_id is None:
        return
    incident_id = update_id = None
    if isinstance(result, IncidentUpdate):
        incident_id, update_id = result.incident_id, result.id
    elif isinstance(result, Incident):
        incident_id = result.id
    db.session.add(UsedSubmission(
        submission_id=submission_id, action=action, incident_id=incident_id,
        update_id=update_id, actor_id=actor.id if actor is not None else None, used_at=now,
    ))
    db.session.flush()
