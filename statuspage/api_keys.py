"""The write API's keys: made by an admin (the key shown once), revoked, and checked on
every request to ``/api/v1``.

A key is 256 random bits; only its SHA-256 is stored (a key is not a password: nobody
chooses it, so a fast hash is enough and a lookup by hash is one indexed query). Like the
incident domain, every function takes the actor and ``now``, records an audit event,
flushes and never commits, except where its name ends in ``_and_commit``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Optional

from . import audit
from .audit import SystemActor
from .errors import NotAllowed, ValidationError
from .extensions import db
from .models import API_KEY_NAME_MAX, ApiKey, StaffUser
from .text import clean_text
from .transactions import write_transaction

#: How the keys begin, so that a leaked one is recognisable (e.g. by secret scanners).
KEY_PREFIX = "mtsp_"
#: last_used_at is written at most this often per key (a GET then needs no write).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def actor_for(key: ApiKey) -> SystemActor:
    """Who the key's writes are by, in the audit log: ``api-key:<name>``."""
    return SystemActor(f"api-key:{key.name}")


def _require_admin(actor: StaffUser) -> None:
    if actor is None or not actor.is_admin:
        raise NotAllowed("Only an admin can manage API keys.")


def create_key(name: str, *, actor: StaffUser, now: datetime) -> tuple[ApiKey, str]:
    """A new key named ``name``: (the row, the key). The key is shown to the admin once;
    only its hash is kept."""
    _require_admin(actor)
    name = clean_text(name, single_line=True)
    if not name:
        raise ValidationError({"name": "Name the tool that will use this key."})
    if len(name) > API_KEY_NAME_MAX:
        raise ValidationError({"name": f"At most {API_KEY_NAME_MAX} characters."})
    taken = db.session.scalar(db.select(ApiKey.id).where(
        ApiKey.name == name, ApiKey.revoked_at.is_(None)))
    if taken is not None:
        raise ValidationError({"name": "A key with this name is in use: choose another "
                                       "(the audit log tells keys apart by name)."})
    key = new_key()
    row = ApiKey(name=name, key_hash=key_hash(key), prefix=key[:len(KEY_PREFIX) + 4],
                 created_at=now, created_by_id=actor.id)
    db.session.add(row)
    audit.record(actor, "api_key.create", row, now=now, after={"name": name})
    return row, key


def revoke_key(row: ApiKey, *, actor: StaffUser, now: datetime) -> None:
    """Revoke a key: every later request with it gets 401 (audited)."""
    _require_admin(actor)
    if row.revoked_at is not None:
        raise ValidationError({"key": "This key is already revoked."})
    row.revoked_at = now
    audit.record(actor, "api_key.revoke", row, now=now, after={"name": row.name})
    db.session.flush()


def all_keys() -> list[ApiKey]:
    """Active keys first, then revoked ones; newest first in each."""
    return list(db.session.scalars(db.select(ApiKey).order_by(
        ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())))


def find_active(key: Optional[str]) -> Optional[ApiKey]:
    """The active key row for ``key`` as sent, or None (unknown, revoked or malformed)."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    digest = key_hash(key)
    row = db.session.scalar(db.select(ApiKey).where(ApiKey.key_hash == digest))
    if row is None or row.revoked_at is not None:
        return None
    # The lookup is by hash; compare again in constant time all the same.
    return row if hmac.compare_digest(row.key_hash, digest) else None


def note_use(row: ApiKey, now: datetime) -> None:
    """Set ``last_used_at`` in the caller's transaction (to the minute)."""
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        db.session.flush()


def note_use_and_commit(key_id: int, now: datetime) -> None:
    """Commits: ``note_use`` in a write transaction of its own (for a read request)."""
    with write_transaction():
        row = db.session.get(ApiKey, key_id)
        if row is not None:
            note_use(row, now)
