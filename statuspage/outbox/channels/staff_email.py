"""The staff's email: the contacts' notices, the commanders' cadence reminders, the action
items' owners, a monitor's proposal, the admins of a webhook disabled automatically
(``outbox.staff_email``: their rows), each rendered
from its subject by its kind's module when it goes, sent over SMTP, one connection per
engine worker. What an SMTP answer means is the subscribers' email's (``email.answer_of``):
2xx sent, 5xx for the recipient failed for good, anything else tried again later; a bad
address ends the message, and nothing more (staff are not subscribers: no one is marked
bouncing).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Hashable, Iterator, Mapping, Optional

from flask import Flask

from ... import mail
from ...clock import utcnow
from ...extensions import db
from .. import (action_reminders, engine, monitor_notices, oncall_email, page_texts,
                reminders, staff_notices, webhook_delivery)
from ..channel import Answer, Channel
from ..staff_email import Claimed, StaffEmails
from .email import answer_of

#: kind -> its message: (subject id, address, sender, now) -> the email, or None when
#: its subject no longer calls for it (the row is then cancelled).
RENDER: dict[str, Callable[..., Optional[bytes]]] = {
    "notice": staff_notices.render,
    "cadence": reminders.render,
    "action_item": action_reminders.render,
    "monitor": monitor_notices.render,
    "webhook": webhook_delivery.render_admin_email,
    "page": page_texts.render_email,
    "oncall": oncall_email.render,
}


@dataclass
class Connection:
    smtp: mail.SMTPSession
    sender: str


class StaffEmailChannel(Channel):
    name = "staff_email"
    #: The audit trail says when a disabling's admins were all emailed.
    queue = StaffEmails(when_done={"webhook": webhook_delivery.admins_told})
    pace_group = "smtp"

    def policy(self, config: Mapping) -> engine.Policy:
        return engine.Policy.from_config(
            config, attempts_key="NOTIFIER_MAX_ATTEMPTS",
            max_per_second=engine.per_second_setting(config.get("MAIL_MAX_PER_SECOND")))

    @contextmanager
    def connect(self, app: Flask) -> Iterator[Connection]:
        settings = mail.smtp_settings(app)
        with mail.SMTPSession(settings) as smtp:
            yield Connection(smtp, settings.sender)

    def render(self, connection: Connection, item: Claimed,
               version: Hashable) -> Optional[bytes]:
        try:
            return RENDER[item.kind](item.subject_id, item.recipient,
                                     sender=connection.sender, now=utcnow())
        finally:
            db.session.rollback()  # no transaction stays open over the send

    def send(self, connection: Connection, item: Claimed, payload: bytes) -> Answer:
        return answer_of(connection.smtp.send(item.recipient, payload))

    def describe(self, item: Claimed) -> str:
        return f"staff email {item.delivery_id} ({item.kind} {item.subject_id})"
