"""A real SMTP server on loopback (aiosmtpd) that records what it receives and misbehaves
on request; and the fixtures the outbox tests share.

Import what you use into a test module::

    from tests.smtp import app, make_subscriber, smtp  # noqa: F401  (fixtures)

``app`` here overrides conftest's: the same app, with its mail settings pointing at
``smtp``. The server can answer 421/451/550 for some or all recipients, fail after the
k-th message, drop the connection, stall (longer than the client's timeout), hold one
message unanswered until the test releases it (``hold``), or be down.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Iterator, Optional

import pytest
from aiosmtpd.controller import Controller

from statuspage.extensions import db


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    #: When the server took it (time.monotonic()): the pace between messages.
    at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> EmailMessage:
        # As a mail client reads it: SMTP's CRLF line ends become plain newlines.
        return email.message_from_bytes(self.raw.replace(b"\r\n", b"\n"),
                                        policy=policy.default)

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()


class Gate:
    """One message held in DATA: ``wait_reached()`` until it is there, then ``release()``."""

    def __init__(self, number: int):
        self.number = number
        self.reached = threading.Event()
        self.released = threading.Event()
        #: The held message's envelope recipients, once reached.
        self.recipients: list[str] = []

    def wait_reached(self, timeout: float = 120.0) -> None:
        """Block until the message is being held (the timeout only turns a hang into a
        failure)."""
        if not self.reached.wait(timeout):
            pytest.fail(f"message {self.number} never reached the SMTP server")

    def release(self) -> None:
        self.released.set()


class _Handler:
    def __init__(self, server: "SMTPServer"):
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        reply = self.server._rcpt_reply(address)
        if reply is not None:
            with self.server.lock:
                self.server.refusals.append((address, time.monotonic()))
            return reply
        envelope.rcpt_tos.append(address)
        with self.server.lock:
            self.server.envelope_log.append(("rcpt", address))
        return "250 OK"

    async def handle_RSET(self, smtp, session, envelope):
        with self.server.lock:
            self.server.envelope_log.append(("rset", ""))
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        srv = self.server
        received = Received(envelope.mail_from, list(envelope.rcpt_tos),
                            envelope.original_content or envelope.content)
        with srv.lock:
            srv.data_seen += 1
            gate = srv.gates.pop(srv.data_seen, None)
        if gate is not None:
            # Hold this message's reply (the client waits, as for a slow server) until
            # the test releases it; the loop keeps serving other connections meanwhile.
            gate.recipients = list(envelope.rcpt_tos)
            gate.reached.set()
            await asyncio.get_running_loop().run_in_executor(None, gate.released.wait)
        with srv.lock:
            srv.sessions.add(id(session))
            stalled, stall_seconds = srv.stalled, srv.stall_seconds
        if stalled:
            # Answer too late: the client has timed out and gone; nothing is accepted.
            await asyncio.sleep(stall_seconds)
            with srv.lock:
                srv.rejected.append(received)
            return "451 4.4.1 Too late"
        with srv.lock:
            accepted = len(srv.messages)
            failing = srv.fail_after is not None and accepted >= srv.fail_after
            reply, drop = srv.fail_reply, srv.fail_drops
            if failing:
                srv.rejected.append(received)
            else:
                srv.messages.append(received)
        if failing:
            if drop:
                smtp.transport.close()  # the client sees the connection go
                return "421 4.4.2 Connection dropped"
            return reply
        return "250 2.0.0 OK: queued"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPServer:
    """What a test sees: ``port``, ``messages``, and the switches to misbehave."""

    def __init__(self):
        self.port = _free_port()
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        #: Messages whose DATA was answered with a failure (or too late).
        self.rejected: list[Received] = []
        #: (address, time.monotonic()) of each RCPT TO refused.
        self.refusals: list[tuple[str, float]] = []
        #: One id per SMTP connection that sent DATA.
        self.sessions: set[int] = set()
        #: Each RCPT TO accepted, and each RSET, in the order they came (("rcpt", address)
        #: or ("rset", "")).
        self.envelope_log: list[tuple[str, str]] = []
        #: DATA commands received so far, and the messages to hold (by that count).
        self.data_seen = 0
        self.gates: dict[int, Gate] = {}
        self._every_gate: list[Gate] = []
        self._controller: Optional[Controller] = None
        self.reset()

    # --- lifecycle ---
    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(_Handler(self), hostname="127.0.0.1",
                                          port=self.port, ready_timeout=10)
            self._controller.start()

    def stop(self) -> None:
        """The server is down: connections are refused."""
        with self.lock:
            gates, self._every_gate = self._every_gate, []
            self.gates = {}
        for gate in gates:  # a failed test must not leave the server's thread waiting
            gate.release()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    down = stop
    up = start

    # --- misbehaviour ---
    def reset(self) -> None:
        """Behave: accept everything, promptly."""
        with self.lock:
            self.rcpt_replies: dict[str, str] = {}
            self.all_rcpt_reply: Optional[str] = None
            self.fail_after: Optional[int] = None
            self.fail_reply = "451 4.3.0 Try again later"
            self.fail_drops = False
            self.stalled = False
            self.stall_seconds = 10.0

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user here") -> None:
        """Answer ``reply`` to RCPT TO for this address (421, 451 or 550 ...)."""
        with self.lock:
            self.rcpt_replies[address.lower()] = reply

    def refuse_all(self, reply: str = "451 4.3.0 Try again later") -> None:
        with self.lock:
            self.all_rcpt_reply = reply

    def fail_after_messages(self, k: int, reply: str = "451 4.3.0 Try again later",
                            drop: bool = False) -> None:
        """Accept ``k`` more messages in all, then answer ``reply`` to DATA (or drop the
        connection) for every later one."""
        with self.lock:
            self.fail_after = len(self.messages) + k
            self.fail_reply = reply
            self.fail_drops = drop

    def stall(self, seconds: float = 10.0) -> None:
        """Wait ``seconds`` before answering DATA (longer than the client's timeout)."""
        with self.lock:
            self.stalled = True
            self.stall_seconds = seconds

    def hold(self, after: int) -> Gate:
        """Hold the message that follows the next ``after`` ones in DATA, unanswered,
        until the test releases it: a server as slow as the test wants, with no sleep."""
        with self.lock:
            gate = Gate(self.data_seen + after + 1)
            self.gates[gate.number] = gate
            self._every_gate.append(gate)
        return gate

    def _rcpt_reply(self, address: str) -> Optional[str]:
        with self.lock:
            return self.rcpt_replies.get(address.lower(), self.all_rcpt_reply)

    # --- reading ---
    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address.lower() in
                    (r.lower() for r in m.rcpt_tos)]

    def recipients(self, subject_contains: str = "") -> list[str]:
        with self.lock:
            return sorted(r for m in self.messages for r in m.rcpt_tos
                          if subject_contains in m.subject)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.rejected.clear()
            self.sessions.clear()


@pytest.fixture
def smtp():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


MAIL_CONFIG = {
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_DEFAULT_SENDER": "Metabolic-Tracker Status <status@example.test>",
    "SMTP_TIMEOUT_SECONDS": 5,
}


@pytest.fixture
def app(make_app, smtp):
    """conftest's app, its mail going to ``smtp``."""
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG)
    with app.app_context():
        yield app


@pytest.fixture
def make_subscriber(app, clock):
    """Add a subscriber directly (confirmed by default); returns it committed."""
    import secrets

    from statuspage.models import Subscriber

    counter = iter(range(1, 1_000_000))

    def make(email=None, audience="participant", status="confirmed"):
        now = clock()
        sub = Subscriber(
            public_id=secrets.token_urlsafe(12),
            email=email or f"person{next(counter)}@example.test",
            audience=audience, status=status, created_at=now, requested_at=now,
            confirmed_at=now if status == "confirmed" else None,
        )
        db.session.add(sub)
        db.session.commit()
        return sub

    return make


def add_subscribers(n: int, prefix: str = "sub") -> list[str]:
    """``n`` confirmed subscribers in one INSERT (every fifth a coach); their addresses."""
    import sqlalchemy as sa

    from statuspage.models import Subscriber
    from tests.conftest import T0

    emails = [f"{prefix}{i:04d}@example.test" for i in range(n)]
    db.session.execute(sa.insert(Subscriber), [
        {"public_id": f"{prefix}-pid{i:04d}", "email": e,
         "audience": "coach" if i % 5 == 0 else "participant", "status": "confirmed",
         "created_at": T0, "requested_at": T0, "confirmed_at": T0}
        for i, e in enumerate(emails)])
    db.session.commit()
    return emails


@contextmanager
def notifier_thread(app) -> Iterator[dict]:
    """One notifier round in a thread of its own; waits for it at the end of the block."""
    outcome: dict = {}

    def run() -> None:
        with app.app_context():
            try:
                outcome["report"] = _scheduler().notifier_round(rng=lambda: 0.5)
            except BaseException as exc:  # surfaced in the test below
                outcome["error"] = exc
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, name="notifier")
    thread.start()
    try:
        yield outcome
    finally:
        thread.join(timeout=300)  # only so that a hang fails instead of blocking for ever
    assert not thread.is_alive(), "the notifier did not finish"
    if "error" in outcome:
        raise outcome["error"]


def _scheduler():
    from statuspage import scheduler

    return scheduler


def tick():
    """One round of the notifier process (housekeeping, then the outbox's tick)."""
    from statuspage import scheduler

    return scheduler.notifier_round(rng=lambda: 0.5)
