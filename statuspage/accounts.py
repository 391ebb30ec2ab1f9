"""Staff accounts: password hashing, login attempts (both steps), creation, passwords."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import audit, two_factor
from .addresses import is_plain_address, normalise_staff_email
from .extensions import db
from .errors import NotAllowed, ValidationError
from .models import NAME_MAX, ROLES, StaffUser
from .text import clean_text

# OWASP's argon2id baseline (m=19 MiB, t=2, p=1) is the library's floor; these are above it.
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)

PASSWORD_MIN = 12
PASSWORD_MAX = 256
#: Consecutive failures allowed before the account is locked for a while.
FREE_FAILURES = 5
MAX_LOCK = timedelta(minutes=15)

# Verifying against this keeps a login for an unknown email as slow as a real one.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> Optional[str]:
    if len(password) < PASSWORD_MIN:
        return f"Use at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"Use at most {PASSWORD_MAX} characters."
    return None


def authenticate(email: str, password: str, *, now: datetime) -> Optional[StaffUser]:
    """The user if the password is right and the account active and not locked.

    Counts failures on the account, so every worker and host sees the same count, and
    locks it with a growing backoff after ``FREE_FAILURES``; attempts at once are decided
    one after another (``_lock_account``). Upgrades an old hash. The caller commits either
    way (the counter must be kept on failure too).
    """
    user = db.session.scalar(
        db.select(StaffUser).where(StaffUser.email == normalise_staff_email(email))
    )
    # One Argon2 verification on every path (unknown, locked, inactive, wrong, right), so
    # the time of the answer tells nothing about which accounts exist or are locked.
    password_ok = _verify(_DUMMY_HASH if user is None else user.password_hash, password)
    if user is None:
        return None
    _lock_account(user)  # after the slow check: the lock is held for a moment only
    if user.locked_until is not None and user.locked_until > now:
        return None
    if not user.active or not password_ok:
        _count_failure(user, now)
        return None
    if not user.has_two_factor:
        # With a second factor, only a right code clears the count: else a known password
        # would reset the backoff between rounds of guessed codes.
        _clear_failures(user)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def authenticate_code(user: StaffUser, code: str, *, now: datetime) -> Optional[str]:
    """The second step of a sign-in: "totp" or "recovery" if ``code`` is right, else None.

    A wrong code counts as a failed sign-in (the same counter and lockout as passwords);
    a locked or inactive account is refused. The caller commits either way.
    """
    _lock_account(user)
    if not user.active or (user.locked_until is not None and user.locked_until > now):
        return None
    kind = two_factor.verify_code(user, code, now=now)
    if kind is None:
        _count_failure(user, now)
        return None
    _clear_failures(user)
    return kind


def _lock_account(user: StaffUser) -> None:
    """Read the account again under a row lock held until the caller commits.

    PostgreSQL: ``FOR UPDATE``, so that sign-in attempts on one account at once are decided
    one after another, each on the count and the lockout the one before left (read without
    it, 40 wrong passwords at once counted one, and all 40 were tried). SQLite: a plain
    read, as a sign-in's POST holds the write lock from its first statement already.
    """
    db.session.refresh(user, with_for_update=True)


def _count_failure(user: StaffUser, now: datetime) -> None:
    user.failed_logins += 1
    if user.failed_logins >= FREE_FAILURES:
        backoff = timedelta(seconds=30 * 2 ** (user.failed_logins - FREE_FAILURES))
        user.locked_until = now + min(backoff, MAX_LOCK)


def _clear_failures(user: StaffUser) -> None:
    user.failed_logins = 0
    user.locked_until = None


def create_staff(
    email: str, role: str, password: str, *, actor: Optional[StaffUser], now: datetime,
    must_change_password: bool = False, system_label: str = "cli",
) -> StaffUser:
    if actor is not None and not actor.is_admin:
        raise NotAllowed("Only an admin can create staff accounts.")
    errors = {}
    email = normalise_staff_email(email)
    if not is_plain_address(email):
        errors["email"] = "Enter a valid email address."
    elif db.session.scalar(db.select(StaffUser.id).where(StaffUser.email == email)):
        errors["email"] = "There is already an account with this email."
    if role not in ROLES:
        errors["role"] = "Choose admin or responder."
    problem = check_password_rules(password)
    if problem:
        errors["password"] = problem
    if errors:
        raise ValidationError(errors)
    user = StaffUser(email=email, role=role, password_hash=hash_password(password),
                     active=True, created_at=now, must_change_password=must_change_password)
    db.session.add(user)
    audit.record(actor, "staff.create", user, now=now, after={"role": role},
                 system_label=system_label)
    return user


def change_password(user: StaffUser, current: str, new: str, *, now: datetime) -> None:
    """The user changes their own password; their other sessions end."""
    errors = {}
    if not _verify(user.password_hash, current):
        errors["current_password"] = "Your current password is not right."
    problem = check_password_rules(new)
    if problem:
        errors["new_password"] = problem
    elif new == current:
        errors["new_password"] = "Choose a password different from the current one."
    if errors:
        raise ValidationError(errors)
    set_password(user, new, actor=user, now=now)


def set_password(user: StaffUser, new: str, *, actor: Optional[StaffUser], now: datetime,
                 must_change: bool = False, system_label: str = "cli") -> None:
    problem = check_password_rules(new)
    if problem:
        raise ValidationError({"password": problem})
    user.password_hash = hash_password(new)
    user.must_change_password = must_change
    user.failed_logins = 0
    user.locked_until = None
    user.session_version += 1
    audit.record(actor, "staff.password", user, now=now, system_label=system_label,
                 after={"must_change_password": must_change})


def reset_password(user: StaffUser, *, actor: StaffUser, now: datetime) -> str:
    """An admin resets another's password: a one-time password, shown once."""
    if not actor.is_admin:
        raise NotAllowed("Only an admin can reset a password.")
    one_time = generate_password()
    set_password(user, one_time, actor=actor, now=now, must_change=True)
    return one_time


def set_role_and_active(user: StaffUser, *, role: str, active: bool, actor: StaffUser,
                        now: datetime) -> None:
    if not actor.is_admin:
        raise NotAllowed("Only an admin can manage staff accounts.")
    if role not in ROLES:
        raise ValidationError({"role": "Choose admin or responder."})
    if user.id == actor.id and (role != "admin" or not active):
        raise ValidationError({"role": "You cannot demote or deactivate yourself."})
    before = {"role": user.role, "active": user.active}
    after = {"role": role, "active": active}
    if before == after:
        return
    user.role = role
    user.active = active
    if not active:
        user.session_version += 1
    audit.record(actor, "staff.edit", user, now=now, before=before, after=after)


def set_display_name(user: StaffUser, name: str, *, actor: StaffUser, now: datetime) -> None:
    """Your own display name (an admin may set anyone's); empty: the address is shown."""
    if user.id != actor.id and not actor.is_admin:
        raise NotAllowed("Only an admin can name another account.")
    cleaned = clean_text(name, single_line=True)
    if len(cleaned) > NAME_MAX:
        raise ValidationError({"display_name": f"At most {NAME_MAX} characters."})
    before, after = {"display_name": user.display_name}, {"display_name": cleaned or None}
    if before == after:
        return
    user.display_name = cleaned or None
    audit.record(actor, "staff.display_name", user, now=now, before=before, after=after)


def end_sessions(user: StaffUser) -> None:
    """Logout everywhere: every session cookie of this user stops working."""
    user.session_version += 1


def generate_password() -> str:
    return secrets.token_urlsafe(15)
