"""A receiver on loopback that trickles its answer a byte at a time, as a hostile or broken
webhook, Slack or monitor target does: each read of the client gets a byte soon enough
never to time out, and the whole answer takes ``seconds``.

``what``: "headers" (the status line and headers trickle), "body" (the headers come at
once, then the body trickles) or "tls" (a TLS record header, then its body trickles: the
client's handshake waits for the whole record). ``on_close`` runs when the client goes
(or the trickle ends), and ``closed`` is set then: a test asks there what had already
happened elsewhere (an email, another delivery) while this target held its connection.

    from tests.trickle import trickle  # noqa: F401  (fixture: trickle(what, seconds))
"""

from __future__ import annotations

import select
import socket
import threading
from typing import Callable, Optional

import pytest

STEP = 0.05  # seconds between two bytes: far below any client's per-read timeout


class Trickle:
    def __init__(self, what: str = "headers", seconds: float = 20.0,
                 on_close: Optional[Callable[[], None]] = None) -> None:
        self.what, self.on_close = what, on_close
        steps = int(seconds / STEP)
        body = b'{"status": "ok"}' + (b" " * steps if what == "body" else b"")
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n" % len(body))
        if what == "headers":
            self.fast = b""
            self.slow = head + b"X-Pad: " + b"a" * steps + b"\r\n\r\n" + body
        elif what == "body":
            self.fast, self.slow = head + b"\r\n", body
        elif what == "tls":  # a handshake record of 16 KiB, then its bytes one by one
            self.fast, self.slow = b"\x16\x03\x03\x40\x00", b"\x02" * steps
        else:
            raise ValueError(what)
        if not seconds:  # no trickle: all at once
            self.fast, self.slow = self.fast + self.slow, b""
        self.connections = 0
        self.closed = threading.Event()
        self.stopping = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.connections += 1
        conn.settimeout(STEP)
        try:
            try:
                conn.recv(65536)  # the request (what the client sends first)
            except TimeoutError:
                pass  # (a TLS client waits for us: nothing more to read)
            conn.sendall(self.fast)
            for byte in self.slow:
                # Between two bytes, wake at once if the client goes (its socket reads EOF):
                # what ``on_close`` sees is the world at the moment it let go.
                readable, _, _ = select.select([conn], [], [], STEP)
                if self.stopping.is_set() or (readable and self._gone(conn)):
                    break
                conn.sendall(bytes([byte]))
            else:
                while not self.stopping.is_set():  # all sent: wait for the client to go
                    readable, _, _ = select.select([conn], [], [], STEP)
                    if readable and self._gone(conn):
                        break
        except OSError:
            pass  # the client has gone
        finally:
            if self.on_close is not None:
                self.on_close()
            self.closed.set()
            conn.close()

    @staticmethod
    def _gone(conn: socket.socket) -> bool:
        """True once the client has closed; what else it sent is read and dropped."""
        try:
            return conn.recv(65536, socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()
        self.thread.join(10)


@pytest.fixture
def trickle():
    made: list[Trickle] = []

    def make(what: str = "headers", seconds: float = 20.0,
             on_close: Optional[Callable[[], None]] = None) -> Trickle:
        made.append(Trickle(what, seconds, on_close))
        return made[-1]

    yield make
    for one in made:
        one.close()
