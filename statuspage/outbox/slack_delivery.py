"""Sending the Slack messages: claim with a lease, POST, record; run by the notifier's tick.

As the webhooks (``webhook_delivery``): a batch of due messages is claimed with a lease
(PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite ``BEGIN IMMEDIATE``), only the oldest
unfinished message of each incident is due (an incident's messages go in order), each
result is committed at once: sent (2xx), retried with backoff (timeout, connection error,
5xx, 429; up to WEBHOOK_MAX_ATTEMPTS) or failed (any other answer). A notifier killed
mid-send loses nothing: its claim is taken again once the lease ends.

The URL is SLACK_WEBHOOK_URL, sent to as the webhooks are (``statuspage.outbound``'s
public policy, issue 22): https to public addresses only, loopback and plain http to it
with WEBHOOK_ALLOW_LOOPBACK_HTTP; no redirect followed, the whole exchange within its
deadline, the answer read up to a cap.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

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


def post_text(url: str, text: str, *, timeout: float,
              allow_loopback_http: Optional[bool] = None) -> webhook_http.PostResult:
    """POST ``{"text": ...}`` to an incoming webhook; never raises for network trouble.
    ``allow_loopback_http``: WEBHOOK_ALLOW_LOOPBACK_HTTP unless given."""
    if allow_loopback_http is None:
        allow_loopback_http = bool(current_app.config.get("WEBHOOK_ALLOW_LOOPBACK_HTTP"))
    try:
        outbound.parse_url(url)
    except outbound.Refused:
        return webhook_http.PostResult("final", None, "SLACK_WEBHOOK_URL is not a URL")
    body = json.dumps({"text": escape(text)}, ensure_ascii=False).encode()
    return outbound.post(
        url, body, {"Content-Type": "application/json; charset=utf-8",
                    "User-Agent": "statuspage-slack/1"}, timeout=timeout,
        policy=outbound.public("Slack messages", allow_loopback=allow_loopback_http))


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



