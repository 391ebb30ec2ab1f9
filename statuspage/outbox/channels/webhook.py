"""Webhooks: each event to each active webhook, built and signed from the state at the
moment of sending (``webhook_delivery``), POSTed through ``webhook_http`` (the address
rule, the deadline, no redirect). Its rows are ``webhook_deliveries``, in event order per
webhook. A 2xx is sent; a timeout, a connection error, a 5xx or a 429 is tried again
later (up to WEBHOOK_MAX_ATTEMPTS); any other answer, or a refused address, gives up.
Its workers are WEBHOOK_WORKERS (one delivery each at a time, so a slow receiver holds
one of them for at most WEBHOOK_TIMEOUT_SECONDS).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Hashable, Iterator, Mapping, Optional

from flask import Flask

from ...clock import utcnow
from ...extensions import db
from .. import engine, webhook_http
from ..channel import Answer, Channel, Outcome
from ..webhook_delivery import (
    WEBHOOK_DELIVERIES,
    ClaimedWebhook,
    WebhookSettings,
    request_for,
)

OUTCOMES = {"sent": Outcome.SENT, "retry": Outcome.RETRY, "final": Outcome.GIVE_UP}


def answer_of(result: webhook_http.PostResult) -> Answer:
    """What a POST's result means for the engine (``webhook_http.classify``'s reading)."""
    return Answer(OUTCOMES[result.outcome], result.status_code, result.error)


class WebhookChannel(Channel):
    name = "webhook"
    queue = WEBHOOK_DELIVERIES

    def policy(self, config: Mapping) -> engine.Policy:
        return engine.Policy.from_config(
            config, workers=max(1, int(config["WEBHOOK_WORKERS"])), batch_size=1,
            attempts_key="WEBHOOK_MAX_ATTEMPTS")

    @contextmanager
    def connect(self, app: Flask) -> Iterator[WebhookSettings]:
        yield WebhookSettings.current()

    def render(self, settings: WebhookSettings, item: ClaimedWebhook,
               version: Hashable) -> Optional[tuple[bytes, dict[str, str]]]:
        try:
            return request_for(item, settings, utcnow())
        finally:
            db.session.rollback()  # no transaction stays open over the POST

    def send(self, settings: WebhookSettings, item: ClaimedWebhook,
             payload: tuple[bytes, dict[str, str]]) -> Answer:
        body, headers = payload
        return answer_of(webhook_http.post(item.url, body, headers, timeout=settings.timeout,
                                           allow_loopback_http=settings.allow_loopback_http))

    def describe(self, item: ClaimedWebhook) -> str:
        return (f"webhook delivery {item.delivery_id} (event {item.event_id} to webhook "
                f"{item.webhook_id})")
