"""Two-factor sign-in for staff: TOTP (RFC 6238), recovery codes, who must use it, reset.

TOTP as authenticator apps expect it: HMAC-SHA-1, 30-second steps, 6 digits; a code of
the step before or after is accepted too (clocks drift). The codes themselves come from
``pyotp``; what it cannot know stays here. A code is accepted once: the account keeps the
last step used, and that step and every older one are refused after; the step is moved on
by one conditional UPDATE, so that of several sign-ins racing with one code exactly one is
accepted (``pyotp``'s ``verify`` says yes or no, not which step matched, so the window is
walked here, step by step).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Optional
from urllib.parse import quote, urlencode

import pyotp

from . import audit
from .errors import NotAllowed, ValidationError
from .extensions import db
from .models import RecoveryCode, StaffUser

STEP_SECONDS = 30
DIGITS = 6
#: Steps before and after now whose codes are accepted.
DRIFT_STEPS = 1
RECOVERY_CODES = 10
WRONG_CODE = "That code did not work. Enter the current code from your app."
#: A wrong code at sign-in (an app code or a recovery code is asked for): nothing about
#: waiting, as nothing is locked (issue 23, point 6).
WRONG_SIGN_IN_CODE = ("That code did not work. Enter the current code from your app, or "
                      "one of your recovery codes.")


def wait_words(seconds: float) -> str:
    """How long a lockout has left, rounded up: "30 seconds", "90 seconds", "15 minutes"
    (seconds under two minutes, so that 61 seconds is not "2 minutes")."""
    seconds = max(1, int(-(-seconds // 1)))
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def locked_out(seconds: float) -> str:
    """This account is locked (too many failed sign-ins): what to do, and for how long."""
    return (f"Too many failed sign-ins to this account: wait {wait_words(seconds)}, then "
            "enter the current code from your app.")


def limited(seconds: float) -> str:
    """Too many attempts came from this address (LOGIN_RATE_LIMIT), and for how long."""
    return (f"Too many sign-in attempts came from your network: try again in "
            f"{wait_words(seconds)}.")


def new_secret() -> str:
    """A 160-bit secret (RFC 4226's recommended length): 32 base32 characters, no padding."""
    return pyotp.random_base32(length=32)


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code of ``step`` (RFC 6238: the HOTP counter is the time step)."""
    return pyotp.TOTP(secret, digits=DIGITS, digest=hashlib.sha1,
                      interval=STEP_SECONDS).generate_otp(step)


def _clean(code: str) -> str:
    """People type codes with spaces or dashes ("123 456", "abcd-efgh"): drop them."""
    return "".join(ch for ch in (code or "") if ch.isalnum()).lower()


def _matching_step(secret: str, code: str, now: datetime,
                   last_step: Optional[int]) -> Optional[int]:
    """The step whose code ``code`` is, within the drift and newer than ``last_step``."""
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):  # "١" is no digit here
        return None
    current = time_step(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue  # used already (or older than a used one): a replay
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def _spend_step(user: StaffUser, step: int, *conditions) -> bool:
    """Record ``step`` as the account's last used step, unless it or a newer one is used
    already (or ``conditions`` do not hold): True when this call spent it.

    One UPDATE that only matches an unspent step, as for recovery codes: PostgreSQL makes
    a concurrent sign-in with the same code wait for this one's commit, then finds no row.
    """
    spent = db.session.execute(
        db.update(StaffUser)
        .where(StaffUser.id == user.id,
               db.or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
               *conditions)
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.expire(user, ["totp_last_step"])  # read again when next wanted
    return spent


def provisioning_uri(user: StaffUser, issuer: str) -> str:
    """The ``otpauth://`` URI the QR code carries (Google Authenticator's key format).

    Not ``pyotp``'s ``provisioning_uri``: it leaves out algorithm, digits and period when
    they are the defaults and writes the label and spaces otherwise, so the QR code that
    staff scan would change; this one stays as it has always been.
    """
    label = quote(f"{issuer}:{user.email}")
    query = urlencode({"secret": user.totp_secret, "issuer": issuer, "algorithm": "SHA1",
                       "digits": DIGITS, "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"


def required_for(user: StaffUser, roles_setting: str) -> bool:
    """Whether ``user``'s role is in REQUIRE_2FA_ROLES (comma-separated; empty: no one)."""
    roles = {part.strip() for part in (roles_setting or "").split(",") if part.strip()}
    return user.role in roles


def needs_enrolment(user: StaffUser, roles_setting: str) -> bool:
    return required_for(user, roles_setting) and not user.has_two_factor


# --- Enrolment -------------------------------------------------------------------------


def start_enrolment(user: StaffUser) -> str:
    """Give ``user`` a pending secret (kept until confirmed or replaced); returns it."""
    if user.has_two_factor:
        raise ValidationError({"code": "Two-factor sign-in is already on."})
    if not user.totp_secret:
        user.totp_secret = new_secret()
        user.totp_last_step = None
    return user.totp_secret


def confirm_enrolment(user: StaffUser, code: str, *, now: datetime) -> list[str]:
    """Turn 2FA on when ``code`` is right for the pending secret; the recovery codes.

    The codes are returned once, in clear, to be shown once; only their hashes are kept.
    """
    if user.has_two_factor or not user.totp_secret:
        raise ValidationError({"code": "Start again: open the two-factor page."})
    step = _matching_step(user.totp_secret, _clean(code), now, user.totp_last_step)
    # Two tabs confirming at once: one turns 2FA on, and only its codes are kept.
    if step is None or not _spend_step(user, step, StaffUser.totp_enabled_at.is_(None)):
        raise ValidationError({"code": WRONG_CODE})
    user.totp_enabled_at = now
    codes = _replace_recovery_codes(user, now)
    audit.record(user, "staff.2fa_enable", user, now=now)
    return codes


def _hash_code(code: str) -> str:
    # The codes are random (50 bits each, ten tries per minute at most): a plain SHA-256
    # cannot be reversed by guessing, and unlike Argon2 it costs nothing to check all ten.
    return hashlib.sha256(_clean(code).encode("ascii")).hexdigest()


def _new_recovery_code() -> str:
    """Ten base32 characters (50 bits) as "xxxxx-xxxxx", easy to read and type."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()[:10]
    return f"{raw[:5]}-{raw[5:]}"


def _replace_recovery_codes(user: StaffUser, now: datetime) -> list[str]:
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(code),
                                    created_at=now) for code in codes)
    return codes


def unused_recovery_codes(user: StaffUser) -> int:
    return db.session.scalar(
        db.select(db.func.count()).select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ) or 0


# --- Sign-in -----------------------------------------------------------------------------


def verify_code(user: StaffUser, code: str, *, now: datetime) -> Optional[str]:
    """Check a sign-in code: "totp" or "recovery" when right (and spend it), else None.

    A TOTP code moves the account's last used step forward; a recovery code is marked
    used. The caller counts a None as a failed sign-in and commits either way.
    """
    if not user.has_two_factor or not user.totp_secret:
        return None
    cleaned = _clean(code)
    step = _matching_step(user.totp_secret, cleaned, now, user.totp_last_step)
    if step is not None:
        # Not spent: another sign-in used this code (or a newer one) meanwhile, a replay.
        return "totp" if _spend_step(user, step) else None
    if len(cleaned) != 10:
        return None
    # Marked used in one UPDATE that only matches an unused code: two sign-ins racing with
    # the same code cannot both spend it.
    spent = db.session.execute(
        db.update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
               RecoveryCode.code_hash == _hash_code(cleaned))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent:
        audit.record(user, "staff.2fa_recovery_code", user, now=now,
                     after={"left": unused_recovery_codes(user)})
        return "recovery"
    return None


# --- Turning off, reset ---------------------------------------------------------------


def clear(user: StaffUser) -> None:
    """Remove the second factor: secret, last step and recovery codes."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def turn_off(user: StaffUser, code: str, *, roles_setting: str, now: datetime) -> None:
    """The user turns their own 2FA off with a current code (not when their role needs it)."""
    if required_for(user, roles_setting):
        raise NotAllowed("Your role must use two-factor sign-in.")
    if verify_code(user, code, now=now) is None:
        raise ValidationError({"code": WRONG_CODE})
    clear(user)
    audit.record(user, "staff.2fa_disable", user, now=now)


def reset(user: StaffUser, *, actor: Optional[StaffUser], now: datetime,
          system_label: str = "cli") -> None:
    """An admin (or the CLI, ``actor`` None) clears someone's second factor; audited."""
    if actor is not None and not actor.is_admin:
        raise NotAllowed("Only an admin can reset a second factor.")
    had = user.has_two_factor
    clear(user)
    audit.record(actor, "staff.2fa_reset", user, now=now, system_label=system_label,
                 before={"two_factor": had}, after={"two_factor": False})

