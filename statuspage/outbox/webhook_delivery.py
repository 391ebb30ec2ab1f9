"""Webhook events: their rows as the engine's queue, their payload built and signed, a
failing webhook disabled, the admins told.

Sent by the delivery engine through the webhook channel (``channels.webhook``), beside
the emails, in the webhooks' run (``http_channels``: WEBHOOK_WORKERS workers, so a slow
receiver holds up only one):

1. Each worker claims one due delivery with a lease (``engine.claim``), as the emails are
   claimed. Only the oldest unfinished delivery of each webhook is due
   (``in_order_of``): a webhook's events go one at a time, in order, each waiting until
   the one before was sent or finally failed.
2. Its payload is built now, from the state now (a redaction made before the send is in
   it), signed, POSTed (``webhook_http``), and its result committed at once: sent (2xx),
   retried later with backoff (timeout, connection error, 5xx, 429; up to
   WEBHOOK_MAX_ATTEMPTS), or failed for good (any other answer). A notifier killed
   mid-send loses nothing: its claim is taken again once the lease ends, so at most the
   one POST in flight is made twice (its ``Webhook-Id`` lets a receiver see that).
3. WEBHOOK_MAX_FAILURES deliveries in a row failed for good disable the webhook, and
   queue, in the same transaction, an email to every active admin (``tell_admins``; the
   staff email channel sends it, and the audit trail says so once all went).

Not held: a hold on an incident stops its subscriber emails only; webhooks report what
the public page already shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from .. import api_shape, mail, queries
from ..extensions import db
from ..models import (
    AuditEvent,
    Component,
    Maintenance,
    StaffEmail,
    StaffUser,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from . import staff_email
from .channel import Answer
from .engine import Queue
from .rules import current_settings
from .webhooks import allow_loopback_http, set_active

log = logging.getLogger("statuspage.notifier")

SIGNATURE_HEADER = "X-Statuspage-Signature"
#: The delivery's id (the Standard Webhooks convention's name): one per event and webhook,
#: the same on every retry of it, so that a receiver can drop one it has had already.
ID_HEADER = "Webhook-Id"


@dataclass(frozen=True)
class WebhookSettings:
    timeout: float
    max_attempts: int
    max_failures: int
    batch_size: int
    lease: timedelta
    retry_base: float
    retry_max: float
    allow_loopback_http: bool
    documentation_url: str
    workers: int = 1

    @classmethod
    def current(cls) -> "WebhookSettings":
        config, outbox = current_app.config, current_settings()
        return cls(
            timeout=float(config["WEBHOOK_TIMEOUT_SECONDS"]),
            max_attempts=max(1, int(config["WEBHOOK_MAX_ATTEMPTS"])),
            max_failures=max(1, int(config["WEBHOOK_MAX_FAILURES"])),
            batch_size=outbox.batch_size, lease=outbox.lease,
            retry_base=outbox.retry_base, retry_max=outbox.retry_max,
            allow_loopback_http=allow_loopback_http(),
            documentation_url=config["WEBHOOK_DOCUMENTATION_URL"],
            workers=max(1, int(config["WEBHOOK_WORKERS"])),
        )


@dataclass(frozen=True)
class ClaimedWebhook:
    delivery_id: int
    claim_token: str
    attempts: int
    webhook_id: int
    url: str
    secret: str
    event_id: int


# --- Signature and payload (pure over loaded rows) --------------------------------------


def sign(secret: str, timestamp: int, body: bytes, delivery_id: str) -> str:
    """The signature header's value: ``t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">,
    v2=<hex HMAC-SHA256 of "id.t.body">``. v2 covers the Webhook-Id too, so that a replay
    cannot pass for a new delivery by changing it; v1 stays for receivers written before."""
    def mac(signed: bytes) -> str:
        return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()

    v1 = mac(f"{timestamp}.".encode() + body)
    v2 = mac(f"{delivery_id}.{timestamp}.".encode() + body)
    return f"t={timestamp},v1={v1},v2={v2}"


def delivery_id(item: "ClaimedWebhook") -> str:
    """The Webhook-Id of a delivery: its row's id (one row per event and webhook, kept
    through its retries)."""
    return str(item.delivery_id)


def unsubscribe_url(webhook_id: int) -> str:
    """The staff page that disables this webhook (``meta.unsubscribe``)."""
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return f"{base}/staff/webhooks/{webhook_id}/disable"


def build_payload(event: WebhookEvent, webhook_id: int, documentation_url: str
                  ) -> Optional[dict[str, Any]]:
    """The body for this event as things stand now, or None when what it reported is gone
    (deleted since)."""
    page = api_shape.current_page()
    current = queries.current_status()
    body: dict[str, Any] = {
        "meta": {"unsubscribe": unsubscribe_url(webhook_id),
                 "documentation": documentation_url},
        "page": {"id": page.id, "status_indicator": current.indicator,
                 "status_description": current.description},
    }
    if event.kind == "incident":
        incident = queries.incident_with_timeline(event.incident_id or 0)
        if incident is None:
            return None
        tz = ZoneInfo(current_app.config["SITE_TIMEZONE"])
        body["incident"] = api_shape.incident_json(incident, page, tz)
    elif event.kind == "component":
        component = db.session.get(Component, event.component_id or 0)
        if component is None:
            return None
        detail = event.detail or {}
        new_status = detail.get("new_status", component.status)
        body["component_update"] = {
            "id": str(event.id), "created_at": api_shape.iso(event.created_at),
            "old_status": detail.get("old_status", new_status), "new_status": new_status,
            "component_id": str(component.id)}
        body["component"] = {"id": str(component.id),
                             "name": api_shape.component_json(component, page)["name"],
                             "status": new_status,
                             "created_at": api_shape.iso(component.created_at)}
    else:
        maintenance = db.session.get(Maintenance, event.maintenance_id or 0)
        if maintenance is None:
            return None
        # The API's shape; a cancelled window says "cancelled", which the API lists (with
        # no such status) leave out but a webhook must be able to tell.
        tz = ZoneInfo(current_app.config["SITE_TIMEZONE"])
        body["scheduled_maintenance"] = api_shape.maintenance_json(maintenance, page, tz)
    return body


def request_for(item: ClaimedWebhook, settings: WebhookSettings, now: datetime
                ) -> Optional[tuple[bytes, dict[str, str]]]:
    """(body, headers) of this delivery, built now; None when its subject is gone."""
    event = db.session.get(WebhookEvent, item.event_id)
    payload = build_payload(event, item.webhook_id, settings.documentation_url) \
        if event is not None else None
    if payload is None:
        return None
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "statuspage-webhooks/1",
        "X-Statuspage-Event": str(item.event_id),
        ID_HEADER: delivery_id(item),
        SIGNATURE_HEADER: sign(item.secret, int(now.timestamp()), body, delivery_id(item)),
    }
    return body, headers


# --- The rows, as the engine's queue ----------------------------------------------------


class WebhookDeliveries(Queue):
    """``webhook_deliveries`` for the engine: an active webhook's rows, in event order per
    webhook; a final failure counts against its webhook, which is disabled at
    WEBHOOK_MAX_FAILURES in a row (``after_failure``); a send sets the count back to 0."""

    def load(self, ids: list[int], token: str, now: datetime
             ) -> tuple[list[ClaimedWebhook], list[int]]:
        rows = db.session.execute(
            db.select(WebhookDelivery.id, WebhookDelivery.attempts, Webhook.id,
                      Webhook.url, Webhook.secret, WebhookDelivery.event_id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.event_id)
        ).all()
        return [ClaimedWebhook(d, token, a, w, u, s, e) for d, a, w, u, s, e in rows], []

    def after_sent(self, conn: sa.Connection, item: ClaimedWebhook, now: datetime,
                   ours: bool) -> None:
        if ours:
            conn.execute(sa.update(Webhook.__table__)
                         .where(Webhook.__table__.c.id == item.webhook_id)
                         .values(consecutive_failures=0))

    def after_failure(self, item: ClaimedWebhook, status: str, answer: Answer,
                      now: datetime) -> str:
        if status != "failed":
            return status
        webhook = db.session.get(Webhook, item.webhook_id, with_for_update=True)
        if webhook is None:
            return status
        webhook.consecutive_failures += 1
        max_failures = max(1, int(current_app.config["WEBHOOK_MAX_FAILURES"]))
        if webhook.active and webhook.consecutive_failures >= max_failures:
            set_active(webhook, False, actor=None, now=now, action="webhook.auto_disable")
            tell_admins(webhook, now)
            return "disabled"
        return status


WEBHOOK_DELIVERIES = WebhookDeliveries(
    WebhookDelivery.__table__,
    joins=[(Webhook.__table__, Webhook.id == WebhookDelivery.webhook_id)],
    claimable=[Webhook.active.is_(True)],
    order_by=[WebhookDelivery.event_id, WebhookDelivery.id],
    in_order_of=("webhook_id", "event_id"))


# --- Telling the admins ------------------------------------------------------------------


def tell_admins(webhook: Webhook, now: datetime) -> None:
    """In the failure's transaction, as the webhook is disabled automatically: an email to
    every active admin (``staff_email``, kind "webhook", about the audit event of the
    disabling: once per disabling)."""
    event_id = db.session.scalar(
        db.select(AuditEvent.id).where(AuditEvent.target_type == "webhooks",
                                       AuditEvent.target_id == str(webhook.id),
                                       AuditEvent.action == "webhook.auto_disable")
        .order_by(AuditEvent.id.desc()).limit(1))
    admins = db.session.scalars(
        db.select(StaffUser.email).where(StaffUser.role == "admin",
                                         StaffUser.active.is_(True)))
    staff_email.queue("webhook", event_id, admins, now=now)


def render_admin_email(event_id: int, recipient: str, *, sender: str,
                       now: datetime) -> Optional[bytes]:
    """The admins' email (the staff email channel), or None once the webhook is enabled
    again (or gone)."""
    event = db.session.get(AuditEvent, event_id)
    webhook = event and db.session.get(Webhook, int(event.target_id))
    if webhook is None or webhook.active:
        return None
    max_failures = max(1, int(current_app.config["WEBHOOK_MAX_FAILURES"]))
    return admin_message(webhook, recipient, sender=sender, now=now,
                         max_failures=max_failures)


def admins_told(execute: Any, event_id: int, now: datetime) -> None:
    """In the transaction of the last of a disabling's emails to finish: the audit trail
    says the admins were emailed (as it always has), once none is left to send."""
    emails = StaffEmail.__table__
    left = execute(sa.select(sa.func.count()).select_from(emails).where(
        emails.c.kind == "webhook", emails.c.subject_id == event_id,
        emails.c.status.in_(("pending", "sending")))).scalar()
    if left:
        return
    events = AuditEvent.__table__
    target, sent = execute(sa.select(events.c.target_id, sa.select(sa.func.count())
                                     .select_from(emails)
                                     .where(emails.c.kind == "webhook",
                                            emails.c.subject_id == event_id,
                                            emails.c.status == "sent")
                                     .scalar_subquery())
                           .where(events.c.id == event_id)).one()
    execute(sa.insert(events).values(
        at=now, actor_id=None, actor_label="system", action="webhook.admins_emailed",
        target_type="webhooks", target_id=target, before=None, after={"admins": sent}))


def admin_message(webhook: Webhook, recipient: str, *, sender: str, now: datetime,
                  max_failures: int) -> bytes:
    site = current_app.config["SITE_NAME"]
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return mail.staff_message(
        subject=f"{site} status: a webhook was disabled",
        sender=sender, recipient=recipient, now=now, public_url=base,
        body=(
            f"The webhook to {webhook.url} was disabled: its last {max_failures} "
            "notifications failed for good (see its recent attempts).\n\n"
            "Nothing more is sent to it. Once the receiver works again, enable it at\n"
            f"{base}/staff/webhooks\n"
        ),
    )
