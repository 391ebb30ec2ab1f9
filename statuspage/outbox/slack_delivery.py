"""The Slack messages' rows as the engine's queue, and the POST to SLACK_WEBHOOK_URL.

Sent by the delivery engine through the Slack channel (``channels.slack``), as the
webhooks: claimed with a lease, only the oldest unfinished message of each incident due
(an incident's messages go in order), each result committed at once: sent (2xx), retried
with backoff (timeout, connection error, 5xx, 429; up to WEBHOOK_MAX_ATTEMPTS) or failed
(any other answer). A notifier killed mid-send loses nothing: its claim is taken again
once the lease ends.

The URL is SLACK_WEBHOOK_URL, set by an operator, so the webhooks' address rule does not
apply; still no redirect is followed, the whole exchange ends by its deadline
(``statuspage.outbound``) and the answer is read up to ``webhook_http.MAX_RESPONSE_BYTES``.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

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


class SlackMessages(Queue):
    def load(self, ids: list[int], token: str, now: datetime
             ) -> tuple[list[Claimed], list[int]]:
        rows = db.session.execute(
            db.select(SlackMessage.id, SlackMessage.attempts, SlackMessage.text)
            .where(SlackMessage.id.in_(ids)).order_by(SlackMessage.id)).all()
        return [Claimed(i, token, a, t) for i, a, t in rows], []


SLACK_MESSAGES = SlackMessages(SlackMessage.__table__, order_by=[SlackMessage.id],
                               in_order_of=("incident_id", "id"))
