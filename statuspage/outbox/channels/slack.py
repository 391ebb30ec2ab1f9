"""Slack #incidents: the messages queued with each change (``outbox.slack``), their text
fixed then, POSTed to SLACK_WEBHOOK_URL (``slack_delivery.post_text``), in order per
incident. A 2xx is sent; a timeout, a connection error, a 5xx or a 429 is tried again
later (up to WEBHOOK_MAX_ATTEMPTS); any other answer gives up. With no URL set, nothing
is claimed: the messages wait until it is set again.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Hashable, Iterator, Mapping

from flask import Flask

from .. import engine
from ..channel import Answer, Channel
from ..slack_delivery import SLACK_MESSAGES, Claimed, post_text
from .webhook import answer_of


class SlackChannel(Channel):
    name = "slack"
    queue = SLACK_MESSAGES

    def policy(self, config: Mapping) -> engine.Policy:
        return engine.Policy.from_config(
            config, attempts_key="WEBHOOK_MAX_ATTEMPTS")

    @staticmethod
    def configured(config: Mapping) -> bool:
        return bool((config.get("SLACK_WEBHOOK_URL") or "").strip())

    @contextmanager
    def connect(self, app: Flask) -> Iterator[tuple[str, float]]:
        yield (app.config["SLACK_WEBHOOK_URL"].strip(),
               float(app.config["WEBHOOK_TIMEOUT_SECONDS"]))

    def render(self, target: tuple[str, float], item: Claimed, version: Hashable) -> str:
        return item.text

    def send(self, target: tuple[str, float], item: Claimed, payload: str) -> Answer:
        url, timeout = target
        return answer_of(post_text(url, payload, timeout=timeout))

    def describe(self, item: Claimed) -> str:
        return f"slack message {item.delivery_id}"
