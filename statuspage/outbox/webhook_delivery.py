"""Delivering webhook events: claim, build, sign, POST, record; disable a failing webhook.

Run by the notifier's tick (``deliver_due_webhooks``), beside its emails, in the webhooks'
run (``http_channels``: WEBHOOK_WORKERS workers, so a slow receiver holds up only one):

1. Each worker claims a due delivery with a lease, as the emails are claimed (PostgreSQL:
   ``FOR UPDATE SKIP LOCKED``; SQLite: ``BEGIN IMMEDIATE``): pending and past its next
   attempt, or ``sending`` with an expired lease (its notifier died). Only the oldest
   unfinished delivery of each webhook is due: a webhook's events go one at a time, in
   order, each waiting until the one before was sent or finally failed.
2. Its payload is built now, from the state now (a redaction made before the send is in
   it), signed, POSTed (``webhook_http``), and its result committed at once: sent (2xx),
   retried later with backoff (timeout, connection error, 5xx, 429; up to
   WEBHOOK_MAX_ATTEMPTS), or failed for good (any other answer). A notifier killed
   mid-send loses nothing: its claim is taken again once the lease ends, so at most the
   one POST in flight is made twice (its ``Webhook-Id`` lets a receiver see that).
3. WEBHOOK_MAX_FAILURES deliveries in a row failed for good disable the webhook; then
   the tick emails the admins about every webhook so disabled (``tell_admins``).

Not held: a hold on an incident stops its subscriber emails only; webhooks report what
the public page already shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Optional
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from .. import api_shape, audit, mail, queries
from ..clock import utcnow
from ..extensions import db
from ..models import (
    AuditEvent,
    Component,
    Maintenance,
    StaffUser,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from ..transactions import write_transaction
from . import http_channels, webhook_http
from .rules import current_settings, retry_delay
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


@dataclass
class WebhookReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    disabled: int = 0
    released: int = 0
    statuses: list[str] = field(default_factory=list)


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


# --- Claim and record ------------------------------------------------------------------


def claim_batch(now: datetime, settings: WebhookSettings, *,
                limit: Optional[int] = None) -> list[ClaimedWebhook]:
    """Commits: claim each active webhook's oldest unfinished delivery, if it is due (at
    most ``limit``, else NOTIFIER_BATCH_SIZE, of them)."""
    claim_token = secrets.token_hex(16)
    earlier = aliased(WebhookDelivery)
    with write_transaction():
        due = sa.or_(
            sa.and_(WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now),
            sa.and_(WebhookDelivery.status == "sending", WebhookDelivery.lease_until < now),
        )
        waits = (sa.select(earlier.id)
                 .where(earlier.webhook_id == WebhookDelivery.webhook_id,
                        earlier.event_id < WebhookDelivery.event_id,
                        earlier.status.in_(("pending", "sending")))
                 .exists())
        ids = db.session.scalars(
            db.select(WebhookDelivery.id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(due, Webhook.active.is_(True), ~waits)
            .order_by(WebhookDelivery.event_id, WebhookDelivery.id)
            .limit(limit or settings.batch_size)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        ).all()
        if not ids:
            return []
        rows = db.session.execute(
            db.select(WebhookDelivery.id, WebhookDelivery.attempts, Webhook.id,
                      Webhook.url, Webhook.secret, WebhookDelivery.event_id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.event_id)
        ).all()
        db.session.execute(
            db.update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
            .values(status="sending", lease_until=now + settings.lease,
                    claim_token=claim_token))
    return [ClaimedWebhook(d, claim_token, a, w, u, s, e) for d, a, w, u, s, e in rows]


def _ours(item: ClaimedWebhook):
    return sa.and_(WebhookDelivery.id == item.delivery_id,
                   WebhookDelivery.claim_token == item.claim_token,
                   WebhookDelivery.status == "sending")


def record_result(item: ClaimedWebhook, result: webhook_http.PostResult, *,
                  now: datetime, settings: WebhookSettings, rand: float) -> str:
    """Commits: the delivery's new status (``sent``, ``pending`` for a retry, ``failed``,
    or ``cancelled`` when its subject is gone); a final failure counts against its
    webhook, which is disabled at WEBHOOK_MAX_FAILURES in a row."""
    attempts = item.attempts + 1
    if result.outcome == "sent":
        status, next_at = "sent", None
    elif result.outcome == "gone":
        status, next_at = "cancelled", None
    elif result.outcome == "retry" and attempts < settings.max_attempts:
        status = "pending"
        next_at = now + retry_delay(attempts, base=settings.retry_base,
                                    cap=settings.retry_max, rand=rand)
    else:
        status, next_at = "failed", None
    values: dict[str, Any] = dict(
        status=status, attempts=attempts if result.outcome != "gone" else item.attempts,
        lease_until=None, claim_token=None, last_status_code=result.status_code,
        last_error=(result.error or None) and result.error[:300])
    if status == "sent":
        values["sent_at"] = now
    if next_at is not None:
        values["next_attempt_at"] = next_at
    with write_transaction():
        done = db.session.execute(
            db.update(WebhookDelivery).where(_ours(item)).values(**values)).rowcount
        if done != 1:
            log.warning("webhook delivery %s: its lease had passed to another notifier",
                        item.delivery_id)
            return status
        webhook = db.session.get(Webhook, item.webhook_id, with_for_update=True)
        if webhook is None:
            return status
        if status == "sent":
            webhook.consecutive_failures = 0
        elif status == "failed":
            webhook.consecutive_failures += 1
            if webhook.active and webhook.consecutive_failures >= settings.max_failures:
                set_active(webhook, False, actor=None, now=now,
                           action="webhook.auto_disable")
                status = "disabled"
    return status


# --- Telling the admins ------------------------------------------------------------------


def webhooks_to_tell_admins_of() -> list[Webhook]:
    """Disabled webhooks whose automatic disabling admins have not been emailed about
    yet (the audit trail says which: nothing is lost when the email cannot go now)."""
    inactive = list(db.session.scalars(db.select(Webhook).where(Webhook.active.is_(False))))
    if not inactive:
        return []
    last: dict[str, str] = {}
    for target_id, action in db.session.execute(
        db.select(AuditEvent.target_id, AuditEvent.action)
        .where(AuditEvent.target_type == "webhooks",
               AuditEvent.target_id.in_([str(w.id) for w in inactive]),
               AuditEvent.action.in_(("webhook.auto_disable", "webhook.admins_emailed")))
        .order_by(AuditEvent.id)
    ):
        last[target_id] = action
    return [w for w in inactive if last.get(str(w.id)) == "webhook.auto_disable"]


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


def tell_admins(smtp: mail.SMTPSession, now: datetime, settings: WebhookSettings) -> int:
    """Commits: email every active admin about each webhook disabled automatically (via
    the tick's SMTP session: staff are not subscribers, so the subscriber outbox's rows
    do not fit them); recorded in the audit trail once all went, retried next tick if
    not."""
    told = 0
    webhooks = webhooks_to_tell_admins_of()
    if not webhooks:
        return 0
    admins = list(db.session.scalars(
        db.select(StaffUser.email).where(StaffUser.role == "admin",
                                         StaffUser.active.is_(True))))
    sender = mail.smtp_settings(current_app._get_current_object()).sender
    for webhook in webhooks:
        ok = True
        for email in admins:
            result = smtp.send(email, admin_message(webhook, email, sender=sender, now=now,
                                                    max_failures=settings.max_failures))
            ok = ok and (result.sent or result.outcome == "permanent")
        if not ok:
            log.warning("could not email the admins about webhook %s; next tick", webhook.id)
            continue
        with write_transaction():
            audit.record(None, "webhook.admins_emailed", db.session.get(Webhook, webhook.id),
                         now=now, after={"admins": len(admins)})
        told += 1
    return told


# --- The tick's part ---------------------------------------------------------------------


def deliver_due_webhooks(now: datetime, *, stop: Callable[[], bool] = lambda: False,
                         beat: Callable[[], None] = lambda: None,
                         rng: Callable[[], float] = lambda: 0.5) -> WebhookReport:
    """Commits step by step: send every due webhook delivery (the module docstring), by
    WEBHOOK_WORKERS workers at once, each claiming one delivery at a time: a slow
    receiver holds one worker, for at most its deadline, and the other webhooks' events go
    on the others. The admins hear of a disabled webhook from the tick (``tell_admins``).
    """
    settings = WebhookSettings.current()
    report = WebhookReport()
    counting = threading.Lock()
    deadline = time.monotonic() + settings.lease.total_seconds() / 2

    def one() -> bool:
        if stop() or time.monotonic() > deadline:
            return False
        batch = claim_batch(utcnow(), settings, limit=1)
        if not batch:
            return False
        item = batch[0]
        beat()
        sent_at = utcnow()
        built = request_for(item, settings, sent_at)
        db.session.rollback()  # no transaction stays open over the POST
        if built is None:
            result = webhook_http.PostResult("gone", None, "what it reported was deleted")
        else:
            result = webhook_http.post(
                item.url, built[0], built[1], timeout=settings.timeout,
                allow_loopback_http=settings.allow_loopback_http)
        status = record_result(item, result, now=utcnow(), settings=settings, rand=rng())
        with counting:
            report.statuses.append(status)
            if status == "sent":
                report.sent += 1
            elif status == "pending":
                report.retrying += 1
            elif status in ("failed", "disabled"):
                report.failed += 1
                report.disabled += status == "disabled"
        log.info("webhook delivery %s (event %s to webhook %s): %s %s",
                 item.delivery_id, item.event_id, item.webhook_id, status,
                 result.error or result.status_code or "")
        return True

    http_channels.run_workers(current_app._get_current_object(), settings.workers, one,
                              name="webhooks")
    return report
