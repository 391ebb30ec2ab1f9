"""Subscribers: subscribe (double opt-in), confirm, unsubscribe, and the admin's export and delete.

Tokens are signed with SECRET_KEY, one salt per purpose, and carry the subscriber's opaque
``public_id``, never the address. Like every domain module, these functions take ``now``,
flush and never commit. No function here sends mail: confirmation and "manage" emails are
outbox rows that the notifier sends on its next tick.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Optional

from flask import current_app
from sqlalchemy.exc import IntegrityError

from . import audit
from .addresses import parse_subscriber_address
from .extensions import db
from .errors import NotAllowed, ValidationError
from .models import AUDIENCES, Delivery, Notification, StaffUser, Subscriber
from .outbox import queue
from .present import iso
from .tokens import CONFIRM, UNSUBSCRIBE, InvalidToken, read_token

EMAIL_ERROR = "Enter an email address, like name@example.org."
AUDIENCE_ERROR = "Choose participant or coach."


# --- Finding subscribers ---------------------------------------------------------------------------


def find_by_email(raw: Optional[str]) -> Optional[Subscriber]:
    address = parse_subscriber_address(raw)
    if address is None:
        return None
    return db.session.scalar(db.select(Subscriber).where(Subscriber.email == address))


def find_by_public_id(public_id: str) -> Optional[Subscriber]:
    return db.session.scalar(db.select(Subscriber).where(Subscriber.public_id == public_id))


# --- Subscribing -------------------------------------------------------------------------


def subscribe(email: Optional[str], audience: Optional[str], *, now: datetime) -> None:
    """Ask for the emails. The caller shows the same answer whatever happened here.

    New, pending, unsubscribed or bouncing address: (again) pending, and a confirmation
    email is queued. Confirmed address: a "manage your subscription" email is queued
    instead. Either at most once per SUBSCRIBE_RESEND_SECONDS per address.
    """

    errors = {}
    address = parse_subscriber_address(email)
    if address is None:
        errors["email"] = EMAIL_ERROR
    if audience not in AUDIENCES:
        errors["audience"] = AUDIENCE_ERROR
    if errors:
        raise ValidationError(errors)

    subscriber = _get_or_create(address, audience, now)
    if subscriber.status == "confirmed":
        kind = "manage"
    else:
        if subscriber.status != "pending":
            subscriber.status = "pending"
            subscriber.bounced_at = None
        subscriber.audience = audience
        subscriber.requested_at = now
        kind = "confirm"
    db.session.flush()
    if not _mailed_recently(subscriber, now):
        queue.enqueue_subscriber_email(kind, subscriber, now=now)


def _get_or_create(address: str, audience: str, now: datetime) -> Subscriber:
    existing = db.session.scalar(db.select(Subscriber).where(Subscriber.email == address))
    if existing is not None:
        return existing
    subscriber = Subscriber(
        public_id=secrets.token_urlsafe(12), email=address, audience=audience,
        status="pending", created_at=now, requested_at=now,
    )
    try:
        with db.session.begin_nested():  # two forms for one new address at once
            db.session.add(subscriber)
    except IntegrityError:
        return db.session.scalars(
            db.select(Subscriber).where(Subscriber.email == address)
        ).one()
    return subscriber


def _mailed_recently(subscriber: Subscriber, now: datetime) -> bool:
    since = now - timedelta(seconds=int(current_app.config["SUBSCRIBE_RESEND_SECONDS"]))
    return db.session.scalar(
        db.select(Delivery.id)
        .join(Notification, Delivery.notification_id == Notification.id)
        .where(
            Delivery.subscriber_id == subscriber.id,
            Notification.kind.in_(("confirm", "manage")),
            Notification.created_at > since,
        )
        .limit(1)
    ) is not None


def subscriber_for_confirm_token(token: str) -> Subscriber:
    """The subscriber a confirmation link is for, changing nothing (the GET)."""
    max_age = int(current_app.config["SUBSCRIBE_CONFIRM_MAX_AGE_SECONDS"])
    subscriber = find_by_public_id(read_token(CONFIRM, token, max_age))
    if subscriber is None or subscriber.status not in ("pending", "confirmed"):
        raise InvalidToken()
    return subscriber


def confirm(token: str, *, now: datetime) -> Subscriber:
    """Confirm a pending subscriber (the POST); confirming twice is harmless."""
    subscriber = subscriber_for_confirm_token(token)
    if subscriber.status == "pending":
        subscriber.status = "confirmed"
        subscriber.confirmed_at = now
        db.session.flush()
    return subscriber


def subscriber_for_unsubscribe_token(token: str) -> Optional[Subscriber]:
    """The subscriber an unsubscribe link is for (None: already deleted), changing nothing."""
    return find_by_public_id(read_token(UNSUBSCRIBE, token))


def unsubscribe(token: str, *, now: datetime) -> None:
    """Stop every email to this subscriber at once. Unsubscribing twice is harmless."""
    subscriber = subscriber_for_unsubscribe_token(token)
    if subscriber is None:
        return
    if subscriber.status != "unsubscribed":
        subscriber.status = "unsubscribed"
        subscriber.unsubscribed_at = now
    db.session.execute(
        db.update(Delivery)
        .where(Delivery.subscriber_id == subscriber.id, Delivery.status == "pending")
        .values(status="cancelled")
    )
    db.session.flush()


def purge_unconfirmed(now: datetime) -> int:
    """Delete subscribers left unconfirmed for UNCONFIRMED_SUBSCRIBER_MAX_AGE_DAYS."""
    days = int(current_app.config["UNCONFIRMED_SUBSCRIBER_MAX_AGE_DAYS"])
    result = db.session.execute(
        db.delete(Subscriber).where(
            Subscriber.status == "pending",
            Subscriber.requested_at < now - timedelta(days=days),
        )
    )
    return result.rowcount or 0


# --- Admin -------------------------------------------------------------------------------


def counts() -> dict[tuple[str, str], int]:
    """(audience, status) -> how many."""
    rows = db.session.execute(
        db.select(Subscriber.audience, Subscriber.status, db.func.count(Subscriber.id))
        .group_by(Subscriber.audience, Subscriber.status)
    )
    return {(audience, status): n for audience, status, n in rows}


def delete_subscriber(subscriber: Subscriber, *, actor: StaffUser, now: datetime) -> None:
    """An admin deletes a subscriber and their delivery history (audited, without the
    address)."""
    if not actor.is_admin:
        raise NotAllowed("Only an admin can delete a subscriber.")
    audit.record(actor, "subscriber.delete", subscriber, now=now,
                 before={"subscriber": subscriber.public_id, "audience": subscriber.audience,
                         "status": subscriber.status})
    db.session.execute(db.delete(Delivery).where(Delivery.subscriber_id == subscriber.id))
    db.session.delete(subscriber)
    db.session.flush()


def export_subscriber(subscriber: Subscriber, *, actor: StaffUser, now: datetime) -> dict:
    """Everything held about one subscriber, for an admin answering an access request
    (audited with the opaque id, never the address)."""
    if not actor.is_admin:
        raise NotAllowed("Only an admin can export a subscriber's data.")
    rows = db.session.execute(
        db.select(Delivery, Notification.kind, Notification.incident_id)
        .join(Notification, Delivery.notification_id == Notification.id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.created_at, Delivery.id)
    ).all()
    audit.record(actor, "subscriber.export", subscriber, now=now,
                 after={"subscriber": subscriber.public_id, "deliveries": len(rows)})
    return {
        "exported_at": iso(now),
        "subscriber": {
            "id": subscriber.public_id,
            "email": subscriber.email,
            "audience": subscriber.audience,
            "status": subscriber.status,
            "created_at": iso(subscriber.created_at),
            "requested_at": iso(subscriber.requested_at),
            "confirmed_at": iso(subscriber.confirmed_at),
            "unsubscribed_at": iso(subscriber.unsubscribed_at),
            "bounced_at": iso(subscriber.bounced_at),
        },
        "deliveries": [
            {
                "incident_id": incident_id,
                "kind": kind,
                "status": delivery.status,
                "attempts": delivery.attempts,
                "created_at": iso(delivery.created_at),
                "sent_at": iso(delivery.sent_at),
                "last_error": delivery.last_error,
            }
            for delivery, kind, incident_id in rows
        ],
    }
