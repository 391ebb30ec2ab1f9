"""The Slack messages' rows as the engine's queue, and the POST to SLACK_WEBHOOK_URL.

Sent by the delivery engine through the Slack channel (``channels.slack``), as the
webhooks: claimed with a lease, only the oldest unfinished message of each incident due
(an incident's messages go in order), each result committed at once: sent (2xx), retried
with backoff (timeout, connection error, 5xx, 429; up to WEBHOOK_MAX_ATTEMPTS) or failed
(any other answer). A notifier killed mid-send loses nothing: its claim is taken again
once the lease ends.

The URL is SLACK_WEBHOOK_URL, sent to as the webhooks are (``statuspage.outbound``'s
public policy, issue 22): https to public addresses only, loopback and plain http to it
with WEBHOOK_ALLOW_LOOPBACK_HTTP; no redirect followed, the whole exchange within its
deadline, the answer read up to a cap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from flask import current_app

from .. import outbound
from ..extensions import db
from ..models import SlackMessage
from . import webhook_http
from .engine import Queue


@dataclass(frozen=True)
class Claimed:
    delivery_id: int  # the message's row (the engine's name for it)
    claim_token: str
    attempts: int
    text: str


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


class SlackMessages(Queue):
    def load(self, ids: list[int], token: str, now: datetime
             ) -> tuple[list[Claimed], list[int]]:
        rows = db.session.execute(
            db.select(SlackMessage.id, SlackMessage.attempts, SlackMessage.text)
            .where(SlackMessage.id.in_(ids)).order_by(SlackMessage.id)).all()
        return [Claimed(i, token, a, t) for i, a, t in rows], []


SLACK_MESSAGES = SlackMessages(SlackMessage.__table__, order_by=[SlackMessage.id],
                               in_order_of=("incident_id", "id"))
