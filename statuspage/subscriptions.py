"""Subscribers: subscribe (double opt-in), confirm, their choices and preferences page,
unsubscribe, and the admin's export and delete.

Tokens are signed with SECRET_KEY, one salt per purpose, and carry the subscriber's opaque
``public_id``, never the address. Like every domain module, these functions take ``now``,
flush and never commit. No function here sends mail: a subscriber owed a confirmation or
"manage" link is recorded (``events``), and the outbox's rows, written there and then, are
sent by the notifier on its next tick.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable, Iterable, Optional
from zoneinfo import available_timezones

from flask import current_app
from sqlalchemy.exc import IntegrityError

from . import audit, events
from .addresses import parse_subscriber_address
from .extensions import db
from .errors import NotAllowed, ValidationError
from .models import (
    AUDIENCES,
    SUBSCRIPTION_SCOPES,
    Component,
    Delivery,
    Notification,
    StaffUser,
    Subscriber,
    subscriber_components,
)
from .numbers import parse_id
from .present import iso
from .tokens import CONFIRM, PREFERENCES, UNSUBSCRIBE, InvalidToken, read_token

EMAIL_ERROR = "Enter an email address, like name@example.org."
AUDIENCE_ERROR = "Choose participant or coach."
SCOPE_ERROR = "Choose everything, or only the features you use."
NO_COMPONENT_ERROR = "Tick at least one feature, or choose everything."
UNKNOWN_COMPONENT_ERROR = "One of the features chosen is not on this page any more: choose again."
TIMEZONE_ERROR = "Choose a time zone from the list (like Europe/Berlin)."
MAINTENANCE_ERROR = "Choose whether you want maintenance notices."


# --- Choices -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    # Area/Location names and UTC: what browsers report (Intl) and people recognise;
    # "Factory", "posixrules" and the like are left out.
    return frozenset(z for z in available_timezones()
                     if ("/" in z and not z.startswith(("posix/", "right/"))) or z == "UTC")


def known_timezones() -> list[str]:
    """The time zones a subscriber may choose (IANA names), sorted, SITE_TIMEZONE among
    them."""
    return sorted(_zones() | {current_app.config["SITE_TIMEZONE"]})


def is_known_timezone(name: Optional[str]) -> bool:
    return bool(name) and (name in _zones() or name == current_app.config["SITE_TIMEZONE"])


@dataclass(frozen=True)
class Choices:
    """What a subscriber hears about, and how times are written to them."""

    scope: str = "all"
    components: tuple[Component, ...] = ()
    #: An IANA name; None: SITE_TIMEZONE.
    timezone: Optional[str] = None
    maintenance_notices: bool = True


def check_choices(scope: Optional[str], component_ids: Iterable, timezone: Optional[str],
                  maintenance_notices: Optional[str] = "on") -> Choices:
    """The choices a form sent, or ValidationError (keys ``scope``, ``components``,
    ``timezone``, ``maintenance_notices``). Ticked components count only for ``some``;
    an empty time zone is SITE_TIMEZONE; ``maintenance_notices`` is "on" or "off"."""
    errors: dict[str, str] = {}
    scope = (scope or "all").strip()
    if scope not in SUBSCRIPTION_SCOPES:
        errors["scope"] = SCOPE_ERROR
    ids: set[int] = set()
    for value in component_ids:
        number = parse_id(value)  # ASCII digits only: "١" is no component's id
        if number is None:
            errors["components"] = UNKNOWN_COMPONENT_ERROR
            break
        ids.add(number)
    components: list[Component] = []
    if ids and "components" not in errors:
        components = list(db.session.scalars(
            db.select(Component).where(Component.id.in_(sorted(ids)))
            .order_by(Component.position, Component.name)))
        if len(components) != len(ids):
            errors["components"] = UNKNOWN_COMPONENT_ERROR
    if scope == "some" and not ids and "components" not in errors:
        errors["components"] = NO_COMPONENT_ERROR
    timezone = (timezone or "").strip() or None
    if timezone is not None and not is_known_timezone(timezone):
        errors["timezone"] = TIMEZONE_ERROR
    if maintenance_notices not in ("on", "off"):
        errors["maintenance_notices"] = MAINTENANCE_ERROR
    if errors:
        raise ValidationError(errors)
    return Choices(scope=scope, components=tuple(components) if scope == "some" else (),
                   timezone=timezone, maintenance_notices=maintenance_notices == "on")


def _apply(subscriber: Subscriber, choices: Choices) -> None:
    subscriber.scope = choices.scope
    subscriber.components = list(choices.components)
    subscriber.timezone = choices.timezone
    subscriber.maintenance_notices = choices.maintenance_notices


@dataclass(frozen=True)
class Listed:
    """A subscriber's choices as the "You are subscribed" page and the confirmation email
    list them back (``templates/_what_you_get.html`` words them)."""

    #: The features chosen, in the page's order; empty: everything.
    features: tuple[str, ...]
    maintenance_notices: bool
    #: The zone of the times in their emails (SITE_TIMEZONE when they chose none).
    timezone: str


def listed_choices(subscriber: Subscriber, site_timezone: Optional[str] = None) -> Listed:
    """``site_timezone``: SITE_TIMEZONE (read from the app's config when not given)."""
    chosen = sorted(subscriber.components, key=lambda c: (c.position, c.name, c.id))
    return Listed(
        features=tuple(c.name for c in chosen) if subscriber.scope == "some" else (),
        maintenance_notices=bool(subscriber.maintenance_notices),
        timezone=(subscriber.timezone or site_timezone
                  or current_app.config["SITE_TIMEZONE"]))


# --- Finding subscribers ---------------------------------------------------------------------------


def find_by_email(raw: Optional[str]) -> Optional[Subscriber]:
    address = parse_subscriber_address(raw)
    if address is None:
        return None
    return db.session.scalar(db.select(Subscriber).where(Subscriber.email == address))


def find_by_public_id(public_id: str) -> Optional[Subscriber]:
    return db.session.scalar(db.select(Subscriber).where(Subscriber.public_id == public_id))


# --- Subscribing -------------------------------------------------------------------------


def subscribe(email: Optional[str], audience: Optional[str], *, now: datetime,
              choices: Callable[[], Choices] = Choices) -> None:
    """Ask for the emails. The caller shows the same answer whatever happened here.

    New, pending, unsubscribed or bouncing address: (again) pending with these
    ``choices`` (a ``check_choices`` call, so that every field's error is reported at
    once), and a confirmation email is queued. Confirmed address: nothing of theirs
    changes (whoever typed it may not be them), a "manage your subscription" email with
    the link to their preferences page is queued instead. Either at most once per
    SUBSCRIBE_RESEND_SECONDS per address.
    """

    errors = {}
    address = parse_subscriber_address(email)
    if address is None:
        errors["email"] = EMAIL_ERROR
    if audience not in AUDIENCES:
        errors["audience"] = AUDIENCE_ERROR
    try:
        chosen = choices()
    except ValidationError as exc:
        errors.update(exc.errors)
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
        subscriber.scope_fallback_at = None
        _apply(subscriber, chosen)
        kind = "confirm"
    db.session.flush()
    if not _mailed_recently(subscriber, now):
        events.record(events.SubscriberNeedsLink(subscriber, kind), now=now)


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
    stop_emails(subscriber, now=now)


def stop_emails(subscriber: Subscriber, *, now: datetime) -> None:
    """Unsubscribe: nothing more goes to them, what was waiting is cancelled."""
    subscriber.scope_fallback_at = None
    if subscriber.status != "unsubscribed":
        subscriber.status = "unsubscribed"
        subscriber.unsubscribed_at = now
    events.record(events.SubscriberLeft(subscriber), now=now)
    db.session.flush()


# --- The preferences page --------------------------------------------------------------------


def subscriber_for_preferences_token(token: str) -> Subscriber:
    """The subscriber a preferences link is for, changing nothing; InvalidToken if the
    token is not one, or its subscriber was deleted."""
    subscriber = find_by_public_id(read_token(PREFERENCES, token))
    if subscriber is None:
        raise InvalidToken()
    return subscriber


def can_change_preferences(subscriber: Subscriber) -> bool:
    """Pending and confirmed subscribers have choices to change; the others subscribe
    again (double opt-in)."""
    return subscriber.status in ("pending", "confirmed")


def update_preferences(subscriber: Subscriber, audience: Optional[str],
                       choices: Callable[[], Choices], *, now: datetime) -> None:
    """Their new audience and choices, or ValidationError with nothing changed. Saving
    ends the notice that their components were deleted (``scope_fallback_at``). Emails
    already queued are not recalled: a resolution email still reaches everyone its outage
    email reached."""
    if not can_change_preferences(subscriber):
        raise ValidationError({"form": "This address is not subscribed any more: "
                                       "subscribe again to choose."})
    errors = {} if audience in AUDIENCES else {"audience": AUDIENCE_ERROR}
    try:
        chosen = choices()
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    subscriber.audience = audience
    subscriber.scope_fallback_at = None
    _apply(subscriber, chosen)
    db.session.flush()


def fall_back_to_everything(component: Component, *, now: datetime) -> int:
    """Before ``component`` is deleted: those who chose it as their only component get
    everything (``scope`` "all", ``scope_fallback_at`` set, so their preferences page
    tells them). Returns how many."""
    chose_it = db.select(subscriber_components.c.subscriber_id).where(
        subscriber_components.c.component_id == component.id)
    others = (
        db.select(subscriber_components.c.subscriber_id)
        .where(subscriber_components.c.subscriber_id == Subscriber.id,
               subscriber_components.c.component_id != component.id)
        .exists()
    )
    result = db.session.execute(
        db.update(Subscriber)
        .where(Subscriber.scope == "some", Subscriber.id.in_(chose_it), ~others)
        .values(scope="all", scope_fallback_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return result.rowcount or 0


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
                         "status": subscriber.status, **_choices_record(subscriber)})
    events.record(events.SubscriberErased(subscriber), now=now)
    db.session.delete(subscriber)
    db.session.flush()


def _choices_record(subscriber: Subscriber) -> dict:
    """Their choices, for the audit record of a deletion (component ids, not names: the
    record outlives a renaming)."""
    return {"scope": subscriber.scope,
            "components": sorted(c.id for c in subscriber.components),
            "timezone": subscriber.timezone,
            "maintenance_notices": subscriber.maintenance_notices}


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
            "scope": subscriber.scope,
            "components": [c.name for c in subscriber.components],
            "timezone": subscriber.timezone,
            "maintenance_notices": subscriber.maintenance_notices,
            "scope_fallback_at": iso(subscriber.scope_fallback_at),
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
