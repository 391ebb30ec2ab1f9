"""The subscribers' email: rendered from the templates (``compose``), sent over SMTP
(``mail``), one SMTP connection per engine worker. Its rows are the ``deliveries``
(``outbox.deliveries``: one per notification and subscriber).

What an SMTP answer means: 2xx sent; 5xx for the recipient, the address is bad (the
subscriber is marked bouncing); anything else (4xx, a dropped connection, a timeout) try
again later. A 421 or 451 also asks the whole channel to slow down; when the server cannot
be reached or refuses us as a sender, the rest of the worker's claim waits for the next
tick.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Hashable, Iterator, Mapping, Optional

from flask import Flask

from ... import mail
from ...clock import utcnow
from .. import engine
from ..compose import Renderer, list_id
from ..deliveries import DELIVERIES
from ..rules import Claimed, pause_after_claim
from ..channel import Answer, Channel, Outcome

#: SMTP answers that ask the client to go slower (a provider's rate limit answers these).
SLOW_DOWN_CODES = frozenset({421, 451})


def answer_of(result: mail.SendResult) -> Answer:
    """What an SMTP result means for the engine."""
    if result.sent:
        return Answer(Outcome.SENT)
    outcome = Outcome.BAD_ADDRESS if result.outcome == "permanent" else Outcome.RETRY
    return Answer(outcome, result.code, result.error,
                  slow_down=result.code in SLOW_DOWN_CODES,
                  unreachable=result.server_down)


@dataclass
class Connection:
    """A worker's: its SMTP session and its renderer (which caches rendered bodies)."""

    smtp: mail.SMTPSession
    renderer: Renderer
    sender: str
    list_id: str


class EmailChannel(Channel):
    name = "email"
    queue = DELIVERIES
    pace_group = "smtp"

    def policy(self, config: Mapping) -> engine.Policy:
        return engine.Policy.from_config(
            config, attempts_key="NOTIFIER_MAX_ATTEMPTS",
            max_per_second=engine.per_second_setting(config.get("MAIL_MAX_PER_SECOND")),
            pause_after_claim=pause_after_claim(config))

    @contextmanager
    def connect(self, app: Flask) -> Iterator[Connection]:
        settings = mail.smtp_settings(app)
        with mail.SMTPSession(settings) as smtp:
            yield Connection(smtp, Renderer(app), settings.sender, list_id(app.config))

    def render(self, connection: Connection, item: Claimed, version: Hashable) -> bytes:
        return connection.renderer.message_bytes(
            item, sender=connection.sender, list_id=connection.list_id, now=utcnow(),
            version=version)

    def send(self, connection: Connection, item: Claimed, payload: bytes) -> Answer:
        return answer_of(connection.smtp.send(item.email, payload))

    # The envelope opens while the message before is being marked sent (``overlaps``).
    overlaps = True

    def prepare(self, connection: Connection, item: Claimed) -> Optional[Answer]:
        result = connection.smtp.begin(item.email)
        return None if result is None else answer_of(result)

    def finish(self, connection: Connection, item: Claimed, payload: bytes) -> Answer:
        return answer_of(connection.smtp.finish(item.email, payload))

    def cancel(self, connection: Connection, item: Claimed) -> None:
        connection.smtp.cancel()

    def describe(self, item: Claimed) -> str:
        return (f"delivery {item.delivery_id} ({item.kind} to subscriber "
                f"{item.subscriber_public_id})")
