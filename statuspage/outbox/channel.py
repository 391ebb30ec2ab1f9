"""The channel interface. A channel is one way of reaching a person: it renders a message for its target, sends it, and says what the
answer means. The engine (``outbox.engine``) does everything else, once for every channel:
it claims the rows with a lease, asks again before each send whether the row is still
wanted, marks the answer the moment it comes, retries with backoff, gives up, and releases
what it did not try.

A channel names the rows it sends (``queue``: an ``engine.Queue``, the description of its
table), opens one connection per engine worker (``connect``: an SMTP session, an HTTP
client...), and for each claimed row ``render``s the payload from the state the engine's
recheck read just before, then ``send``s it and answers with an ``Answer``.
"""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Optional

from flask import Flask


class Outcome(str, enum.Enum):
    """What the target's answer means."""

    SENT = "sent"  # accepted: never send it again
    RETRY = "retry"  # try again later (with backoff, up to the channel's attempts)
    GIVE_UP = "give_up"  # this message will never go: failed for good
    BAD_ADDRESS = "bad_address"  # the target itself is gone: failed, and the target told


@dataclass(frozen=True)
class Answer:
    """A send's result, as the channel reads it. ``error`` never holds the address."""

    outcome: Outcome
    code: Optional[int] = None
    error: str = ""
    #: The server asks the whole channel to go slower (SMTP 421/451): the engine pauses
    #: every worker of the channel, growing while the answers keep coming.
    slow_down: bool = False
    #: Nobody answered, or the server refuses us whatever the target: the rest of the
    #: worker's claim would meet the same door.
    unreachable: bool = False

    @property
    def sent(self) -> bool:
        return self.outcome is Outcome.SENT


class Channel:
    """One way of reaching a person (the module docstring). Subclasses set ``name`` and
    ``queue`` and write the four methods; they define no claim, lease or mark."""

    name: str = ""
    #: The rows it sends: an ``engine.Queue``.
    queue: Any
    #: Channels that send through the same provider share one pace in a process (its
    #: MAIL_MAX_PER_SECOND, its slow-down): "smtp" for the subscribers' and the staff's
    #: email. Empty: a pace of the channel's own.
    pace_group: str = ""

    def policy(self, config: Mapping) -> Any:
        """Its ``engine.Policy``: workers, pace, lease, batch and retries (from the
        configuration)."""
        raise NotImplementedError

    def connect(self, app: Flask) -> AbstractContextManager[Any]:
        """One connection per engine worker, kept from message to message."""
        raise NotImplementedError

    def render(self, connection: Any, item: Any, version: Hashable) -> Any:
        """The payload for ``item``'s target, from the ``version`` of its subject that
        the recheck just read (None: nothing to send any more, the row is cancelled)."""
        raise NotImplementedError

    def send(self, connection: Any, item: Any, payload: Any) -> Answer:
        """Send; never raises for the target's or the network's trouble."""
        raise NotImplementedError

    # --- Optional: opening a message while the one before is being marked ---------------

    #: A channel whose message opens in a step that delivers nothing (the SMTP envelope)
    #: sets this and writes the three methods below: the engine then opens the next
    #: message while it marks the one just sent, and sends its body once the mark is
    #: committed, so a crash still resends at most the one message in flight per worker.
    overlaps: bool = False

    def prepare(self, connection: Any, item: Any) -> Optional[Answer]:
        """Open ``item``'s message (nothing delivered yet); a failure's ``Answer`` (the
        message is then closed), or None."""
        raise NotImplementedError

    def finish(self, connection: Any, item: Any, payload: Any) -> Answer:
        """Send the payload of the message ``prepare`` opened, and read the answer."""
        raise NotImplementedError

    def cancel(self, connection: Any, item: Any) -> None:
        """Close the message ``prepare`` opened, unsent (never raises)."""
        raise NotImplementedError

    def describe(self, item: Any) -> str:
        """The row, for the log (never an address)."""
        return f"{self.name} {item.delivery_id}"
