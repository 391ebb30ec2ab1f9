"""A real HTTP receiver on loopback (http.server in a thread) that records every webhook
POST and misbehaves on request: answer given statuses, stall past the client's timeout,
or hold one request unanswered until the test releases it.

    from tests.webhook_receiver import receiver  # noqa: F401  (fixture)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.headers["X-Statuspage-Event"]


def verify_signature(secret: str, header: str, body: bytes, now: int,
                     tolerance: int = 300, webhook_id: Optional[str] = None) -> bool:
    """As the README shows a receiver doing it: ``v2`` over the Webhook-Id, the time and
    the body when ``webhook_id`` is given, else ``v1`` (time and body: older receivers)."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(parts["t"])
    signed = (f"{webhook_id}.{timestamp}." if webhook_id is not None else f"{timestamp}.")
    expected = hmac.new(secret.encode(), signed.encode() + body, hashlib.sha256).hexdigest()
    return (hmac.compare_digest(expected, parts["v2" if webhook_id is not None else "v1"])
            and abs(now - timestamp) <= tolerance)


class Receiver:
    def __init__(self, bind: str = "127.0.0.1") -> None:
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.answers: list[int] = []  # the next answers, in turn; then 200
        self.always: Optional[int] = None
        self.stalled = threading.Event()
        self.unstalled = threading.Event()
        self.hold_number: Optional[int] = None
        self.reached = threading.Event()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        Received(self.path, dict(self.headers.items()), body))
                    number = len(receiver.requests)
                    status = (receiver.answers.pop(0) if receiver.answers
                              else receiver.always or 200)
                if receiver.hold_number == number:
                    receiver.reached.set()
                    receiver.released.wait(120)
                if receiver.stalled.is_set():
                    # Answer too late: the client has timed out and gone.
                    receiver.unstalled.wait(120)
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "http://10.0.0.1/elsewhere")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            do_GET = do_POST  # a monitor's check: recorded and answered alike

        self.server = ThreadingHTTPServer((bind, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, host: str = "", path: str = "/hook") -> str:
        host = host or self.server.server_address[0]
        return f"http://{host}:{self.port}{path}"

    def answer(self, *statuses: int) -> None:
        with self.lock:
            self.answers.extend(statuses)

    def stall(self) -> None:
        self.unstalled.clear()
        self.stalled.set()

    def unstall(self) -> None:
        self.stalled.clear()
        self.unstalled.set()

    def hold(self, number: int) -> None:
        """Hold the ``number``-th request (counting from the start) unanswered."""
        self.hold_number = number

    def events(self) -> list[str]:
        with self.lock:
            return [r.event for r in self.requests]

    def close(self) -> None:
        self.unstall()
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.close()
