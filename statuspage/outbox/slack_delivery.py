"""Sending the Slack messages: claim with a lease, POST, record; run by the notifier's tick.

As the webhooks (``webhook_delivery``): a batch of due messages is claimed with a lease
(PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite ``BEGIN IMMEDIATE``), only the oldest
unfinished message of each incident is due (an incident's messages go in order), each
result is committed at once: sent (2xx), retried with backoff (timeout, connection error,
5xx, 429; up to WEBHOOK_MAX_ATTEMPTS) or failed (any other answer). A notifier killed
mid-send loses nothing: its claim is taken again once the lease ends.

The URL is SLACK_WEBHOOK_URL, set by an operator, so the webhooks' address rule does not
apply; still no redirect is followed, the whole exchange ends by its deadline
(``statuspage.outbound``) and the answer is read up to ``webhook_http.MAX_RESPONSE_BYTES``.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from .. import outbound
from ..clock import utcnow
from ..extensions import db
from ..models import SlackMessage
from ..transactions import write_transaction
from . import webhook_http
from .rules import current_settings, retry_delay

log = logging.getLogger("statuspage.notifier")


@dataclass(frozen=True)
class Claimed:
    message_id: int
    claim_token: str
    attempts: int
    text: str


@dataclass
class SlackReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0


def escape(text: str) -> str:
    """Slack's escaping of plain text: ``&``, ``<`` and ``>`` (a ``<`` starts a link)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post_text(url: str, text: str, *, timeout: float) -> webhook_http.PostResult:
    """POST ``{"text": ...}`` to an incoming webhook; never raises for network trouble."""
    body = json.dumps({"text": escape(text)}, ensure_ascii=False).encode()
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError
    except ValueError:
        return webhook_http.PostResult("final", None, "SLACK_WEBHOOK_URL is not a URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if parts.scheme == "https" else 80
    try:
        response = outbound.exchange(
            "POST", scheme=parts.scheme, host=parts.hostname, port=port or default_port,
            path=path, headers={"Content-Type": "application/json; charset=utf-8",
                                "User-Agent": "statuspage-slack/1"},
            body=body, deadline=outbound.Deadline(timeout),
            max_body=webhook_http.MAX_RESPONSE_BYTES)
    except TimeoutError:
        return webhook_http.PostResult("retry", None, "timed out")
    except (OSError, http.client.HTTPException) as exc:
        text_ = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return webhook_http.PostResult("retry", None, text_[:300])
    status = response.status
    outcome = webhook_http.classify(status)  # a redirect is "final": never followed
    return webhook_http.PostResult(outcome, status, "" if outcome == "sent" else
                                   f"HTTP {status}")


def claim_batch(now: datetime) -> list[Claimed]:
    """Commits: claim each incident's oldest unfinished message, if it is due."""
    settings = current_settings()
    token = secrets.token_hex(16)
    earlier = aliased(SlackMessage)
    with write_transaction():
        due = sa.or_(
            sa.and_(SlackMessage.status == "pending", SlackMessage.next_attempt_at <= now),
            sa.and_(SlackMessage.status == "sending", SlackMessage.lease_until < now))
        waits = (sa.select(earlier.id)
                 .where(earlier.incident_id == SlackMessage.incident_id,
                        earlier.id < SlackMessage.id,
                        earlier.status.in_(("pending", "sending")))
                 .exists())
        ids = db.session.scalars(
            db.select(SlackMessage.id).where(due, ~waits).order_by(SlackMessage.id)
            .limit(settings.batch_size).with_for_update(skip_locked=True)).all()
        if not ids:
            return []
        rows = db.session.execute(
            db.select(SlackMessage.id, SlackMessage.attempts, SlackMessage.text)
            .where(SlackMessage.id.in_(ids)).order_by(SlackMessage.id)).all()
        db.session.execute(
            db.update(SlackMessage).where(SlackMessage.id.in_(ids))
            .values(status="sending", lease_until=now + settings.lease, claim_token=token))
    return [Claimed(i, token, a, t) for i, a, t in rows]


def _ours(item: Claimed):
    return sa.and_(SlackMessage.id == item.message_id,
                   SlackMessage.claim_token == item.claim_token,
                   SlackMessage.status == "sending")


def record_result(item: Claimed, result: webhook_http.PostResult, *, now: datetime,
                  rand: float) -> str:
    """Commits: ``sent``, ``pending`` (a retry later, with backoff) or ``failed``."""
    settings = current_settings()
    max_attempts = max(1, int(current_app.config["WEBHOOK_MAX_ATTEMPTS"]))
    attempts = item.attempts + 1
    values: dict = dict(attempts=attempts, lease_until=None, claim_token=None,
                        last_status_code=result.status_code,
                        last_error=(result.error or None) and result.error[:300])
    if result.outcome == "sent":
        values.update(status="sent", sent_at=now)
    elif result.outcome == "retry" and attempts < max_attempts:
        values.update(status="pending", next_attempt_at=now + retry_delay(
            attempts, base=settings.retry_base, cap=settings.retry_max, rand=rand))
    else:
        values.update(status="failed")
    with write_transaction():
        done = db.session.execute(
            db.update(SlackMessage).where(_ours(item)).values(**values)).rowcount
    if done != 1:
        log.warning("slack message %s: its lease had passed to another notifier",
                    item.message_id)
    return values["status"]


def release(items: list[Claimed]) -> None:
    """Commits: give back claimed messages that were not tried."""
    if not items:
        return
    with write_transaction():
        for item in items:
            db.session.execute(db.update(SlackMessage).where(_ours(item))
                               .values(status="pending", lease_until=None,
                                       claim_token=None))


def deliver_due_slack(*, stop: Callable[[], bool] = lambda: False,
                      beat: Callable[[], None] = lambda: None,
                      rng: Callable[[], float] = lambda: 0.5) -> SlackReport:
    """Commits step by step: send every due Slack message (the module docstring)."""
    report = SlackReport()
    url = (current_app.config.get("SLACK_WEBHOOK_URL") or "").strip()
    if not url:
        return report  # queued ones wait until it is set again
    timeout = float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    deadline = time.monotonic() + current_settings().lease.total_seconds() / 2
    while not stop() and time.monotonic() <= deadline:
        batch = claim_batch(utcnow())
        if not batch:
            break
        for index, item in enumerate(batch):
            if stop() or time.monotonic() > deadline:
                release(batch[index:])
                report.released += len(batch) - index
                return report
            beat()
            result = post_text(url, item.text, timeout=timeout)
            status = record_result(item, result, now=utcnow(), rand=rng())
            if status == "sent":
                report.sent += 1
            elif status == "pending":
                report.retrying += 1
            else:
                report.failed += 1
            log.info("slack message %s: %s %s", item.message_id, status,
                     result.error or result.status_code or "")
    return report



