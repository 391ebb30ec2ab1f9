"""The channels, registered in one place: every way the product reaches a person.

A channel (``base.Channel``) renders a message for its target, sends it, and says what
the answer means; the engine (``outbox.engine``, ``outbox.workers``) claims, rechecks,
marks, retries and releases for all of them. Adding one: write its module here, add an
instance to ``REGISTRY`` below (the README's "Adding a channel" goes step by step).
"""

from __future__ import annotations

from ..channel import Answer, Channel, Outcome
from .. import page_texts
from .email import EmailChannel
from .page import PageChannel
from .slack import SlackChannel
from .staff_email import StaffEmailChannel
from .webhook import WebhookChannel

#: name -> channel. The notifier's tick runs each of them (``notifier.tick``: the email in
#: the tick, the HTTP channels in runs of their own beside it, ``responders``).
REGISTRY: dict[str, Channel] = {channel.name: channel for channel in (
    EmailChannel(),
    StaffEmailChannel(),
    WebhookChannel(),
    SlackChannel(),
    PageChannel(text_of=page_texts.text_of),
)}


def get(name: str) -> Channel:
    """The registered channel of this name (KeyError for an unknown one)."""
    return REGISTRY[name]


__all__ = ["Answer", "Channel", "Outcome", "REGISTRY", "get"]
