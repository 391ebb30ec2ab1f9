"""Signed tokens for links in emails: one salt per purpose, timestamps from the app's clock.

A token carries a subscriber's opaque ``public_id``, never the address. It is signed with
SECRET_KEY; a token made for one purpose is refused for another.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

from .clock import utcnow

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
#: The preferences page (/subscription/<token>): no expiry; it dies with the subscriber
#: (a deleted subscriber's public_id is never reused).
PREFERENCES = "preferences"
_PURPOSES = (CONFIRM, UNSUBSCRIBE, PREFERENCES)
#: Longer than any token we make; anything longer is refused before it is parsed.
_TOKEN_MAX = 200


class InvalidToken(Exception):
    """Tampered, truncated, for another purpose, or for a subscriber who is gone."""


class ExpiredToken(InvalidToken):
    """Genuine but too old (confirmation links last 48 hours)."""


class _ClockSigner(TimestampSigner):
    """Timestamps from the app's clock, so tests can age a token without sleeping."""

    def get_timestamp(self) -> int:
        return int(utcnow().timestamp())


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in _PURPOSES:
        raise ValueError(purpose)
    return _made(current_app.config["SECRET_KEY"], purpose)


@lru_cache(maxsize=32)
def _made(secret_key, purpose: str) -> URLSafeTimedSerializer:
    """One serializer per key and purpose (its keys are derived once, not per token: two
    tokens go into every subscriber email of a fan-out). The clock is read per token."""
    return URLSafeTimedSerializer(secret_key, salt=f"statuspage.subscriber.{purpose}",
                                  signer=_ClockSigner)


def make_token(purpose: str, public_id: str) -> str:
    return _serializer(purpose).dumps(public_id)


def read_token(purpose: str, token: str, max_age: Optional[int] = None) -> str:
    """The public_id a token carries, or InvalidToken / ExpiredToken."""
    if not token or len(token) > _TOKEN_MAX:
        raise InvalidToken()
    try:
        value = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ExpiredToken() from exc
    except (BadSignature, ValueError, TypeError, UnicodeError) as exc:
        raise InvalidToken() from exc
    if not isinstance(value, str) or not value:
        raise InvalidToken()
    return value


def confirm_token(subscriber_public_id: str) -> str:
    return make_token(CONFIRM, subscriber_public_id)


def unsubscribe_token(subscriber_public_id: str) -> str:
    return make_token(UNSUBSCRIBE, subscriber_public_id)


def preferences_token(subscriber_public_id: str) -> str:
    return make_token(PREFERENCES, subscriber_public_id)
