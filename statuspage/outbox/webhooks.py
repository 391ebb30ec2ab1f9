"""Webhook subscribers: what admins do with them, and the events the domain queues.

- ``create_webhook``, ``set_active``, ``delete_webhook``: admins only, audited; take the
  actor and ``now``, flush, never commit.
- ``queue_event``: called by the domain (``incidents``, ``components``, ``maintenance``)
  in the transaction of each public change: one WebhookEvent, and one WebhookDelivery per
  active webhook it concerns. The payload is not stored: it is built when it is sent,
  from the state then (``webhook_delivery``), so a redaction before the send reaches it.

Delivery (claims, signature, retries, disabling) is ``webhook_delivery``; a webhook URL's
form is ``webhook_http``, the address rule and the HTTP ``statuspage.outbound``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from flask import current_app

from .. import audit
from ..errors import NotAllowed, ValidationError
from ..extensions import db
from ..models import (
    Component,
    StaffUser,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    webhook_components,
)
from . import engine, webhook_http

#: How many components one webhook may name (the form sends at most MAX_FORM_PARTS).
COMPONENTS_MAX = 100


def allow_loopback_http() -> bool:
    return bool(current_app.config.get("WEBHOOK_ALLOW_LOOPBACK_HTTP"))


# --- Admin operations ------------------------------------------------------------------


def _require_admin(actor: StaffUser) -> None:
    if not actor.is_admin:
        raise NotAllowed("Only an admin can manage webhooks.")


def _state(webhook: Webhook) -> dict:
    # The secret never goes into the audit log (every admin reads it).
    return {"url": webhook.url, "scope": webhook.scope,
            "component_ids": sorted(c.id for c in webhook.components),
            "active": webhook.active}


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def create_webhook(url: str, scope: str, component_ids: Iterable[int], *,
                   actor: StaffUser, now: datetime,
                   resolver: webhook_http.Resolver = webhook_http.system_resolver
                   ) -> Webhook:
    """Register a webhook; its generated ``secret`` is shown to the admin once."""
    _require_admin(actor)
    errors: dict[str, str] = {}
    try:
        url = webhook_http.check_url(url, allow_loopback_http=allow_loopback_http(),
                                     resolver=resolver)
    except webhook_http.RefusedURL as exc:
        errors["url"] = str(exc)
    ids = list(dict.fromkeys(component_ids))
    components: list[Component] = []
    if scope not in ("all", "some"):
        errors["scope"] = "Choose everything or some components."
    elif scope == "some":
        if not ids:
            errors["components"] = "Choose at least one component."
        elif len(ids) > COMPONENTS_MAX:
            errors["components"] = f"At most {COMPONENTS_MAX} components."
        else:
            components = list(db.session.scalars(
                db.select(Component).where(Component.id.in_(ids))))
            if len(components) != len(ids):
                errors["components"] = "Unknown component."
    if errors:
        raise ValidationError(errors)
    webhook = Webhook(url=url, secret=new_secret(), scope=scope, active=True,
                      consecutive_failures=0, created_by=actor, created_at=now)
    webhook.components = components if scope == "some" else []
    db.session.add(webhook)
    audit.record(actor, "webhook.create", webhook, now=now, after=_state(webhook))
    db.session.flush()
    return webhook


def set_active(webhook: Webhook, active: bool, *, actor: Optional[StaffUser],
               now: datetime, action: Optional[str] = None) -> Webhook:
    """Enable or disable a webhook (audited). Disabling cancels what it still had to
    be sent; enabling starts afresh (failures forgotten, only later changes go)."""
    if actor is not None:
        _require_admin(actor)
    if webhook.active == active:
        return webhook
    before = _state(webhook)
    webhook.active = active
    if active:
        webhook.disabled_at = None
        webhook.consecutive_failures = 0
    else:
        webhook.disabled_at = now
        engine.cancel_unsent(WebhookDelivery.__table__,
                             WebhookDelivery.webhook_id == webhook.id, now=now,
                             expired_claims=False)
    audit.record(actor, action or ("webhook.enable" if active else "webhook.disable"),
                 webhook, now=now, before=before, after=_state(webhook))
    db.session.flush()
    return webhook


def delete_webhook(webhook: Webhook, *, actor: StaffUser, now: datetime) -> None:
    """Delete a webhook and its deliveries (audited)."""
    _require_admin(actor)
    audit.record(actor, "webhook.delete", webhook, now=now, before=_state(webhook))
    db.session.delete(webhook)
    db.session.flush()


@dataclass(frozen=True)
class Attempt:
    """One delivery as admins see it."""

    event_kind: str
    subject: str
    status: str
    attempts: int
    status_code: Optional[int]
    error: Optional[str]
    at: datetime


def recent_attempts(webhook_ids: Iterable[int], per_webhook: int = 5
                    ) -> dict[int, list[Attempt]]:
    """The newest deliveries of each webhook (what was answered, when), newest first."""
    ids = list(webhook_ids)
    if not ids:
        return {}
    rank = db.func.row_number().over(partition_by=WebhookDelivery.webhook_id,
                                     order_by=WebhookDelivery.id.desc()).label("rank")
    inner = (db.select(WebhookDelivery.id, rank)
             .where(WebhookDelivery.webhook_id.in_(ids)).subquery())
    rows = db.session.execute(
        db.select(WebhookDelivery, WebhookEvent)
        .join(inner, inner.c.id == WebhookDelivery.id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(inner.c.rank <= per_webhook)
        .order_by(WebhookDelivery.webhook_id, WebhookDelivery.id.desc())
    ).all()
    found: dict[int, list[Attempt]] = {i: [] for i in ids}
    for delivery, event in rows:
        subject = (f"incident {event.incident_id}" if event.kind == "incident" else
                   f"component {event.component_id}" if event.kind == "component" else
                   f"maintenance {event.maintenance_id}")
        found[delivery.webhook_id].append(Attempt(
            event.kind, subject, delivery.status, delivery.attempts,
            delivery.last_status_code, delivery.last_error,
            delivery.sent_at or delivery.next_attempt_at))
    return found


# --- Events ------------------------------------------------------------------------------


def queue_event(kind: str, *, now: datetime, incident_id: Optional[int] = None,
                component_id: Optional[int] = None, maintenance_id: Optional[int] = None,
                component_ids: Iterable[int] = (), detail: Optional[dict] = None
                ) -> Optional[WebhookEvent]:
    """A public change, for the webhooks it concerns, in the caller's transaction.

    ``kind``: "incident" (``incident_id``; ``component_ids`` the components it names),
    "component" (``component_id``; ``detail`` {"old_status", "new_status"}) or
    "maintenance" (``maintenance_id``; ``component_ids`` the components it takes). A
    webhook of scope "all" gets every event; one of scope "some" the events naming one
    of its components. None when no active webhook is concerned (nothing is written).
    Flushes; the caller commits.
    """
    if kind not in ("incident", "component", "maintenance"):
        raise ValueError(f"unknown webhook event kind {kind!r}")
    named = set(component_ids)
    if component_id is not None:
        named.add(component_id)
    concerned = db.select(Webhook.id).where(Webhook.active.is_(True), Webhook.scope == "all")
    if named:
        concerned = concerned.union(
            db.select(Webhook.id)
            .join(webhook_components, webhook_components.c.webhook_id == Webhook.id)
            .where(Webhook.active.is_(True), Webhook.scope == "some",
                   webhook_components.c.component_id.in_(named)))
    webhook_ids = sorted(set(db.session.scalars(concerned)))
    if not webhook_ids:
        return None
    event_detail = dict(detail or {})
    if named and kind != "component":
        event_detail["component_ids"] = sorted(named)
    event = WebhookEvent(kind=kind, incident_id=incident_id, component_id=component_id,
                         maintenance_id=maintenance_id, detail=event_detail or None,
                         created_at=now)
    db.session.add(event)
    db.session.flush()
    db.session.add_all(
        WebhookDelivery(webhook_id=webhook_id, event_id=event.id, status="pending",
                        attempts=0, next_attempt_at=now, created_at=now)
        for webhook_id in webhook_ids)
    db.session.flush()
    return event
