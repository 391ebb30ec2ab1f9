"""Request bodies: bounded by ``MAX_CONTENT_LENGTH`` whatever their transfer encoding, and
read by a deadline (issue 21).

Size. Werkzeug enforces the limit on a ``Content-Length``; a chunked body has none, and then
it depends on the server: gunicorn's sync and gthread workers mark the stream terminated and
Werkzeug silently cuts it at the limit (a 400 KB form was stored cut to 256 KiB). So a
chunked body is read here, up to one byte over the limit, and handed on with the length it
has: Werkzeug then answers 413 for a body over the limit, exactly as for a ``Content-Length``
over it, and parses a small one as usual, on every worker.

Time. A body that trickles in held a thread for as long as its sender liked: 15-20 of them
stopped every page (issue 21). ``BodyDeadline`` is the rule, the same on every server: after
``REQUEST_BODY_TIMEOUT_SECONDS`` of grace, a body must keep up ``REQUEST_BODY_MIN_RATE``
bytes a second on average, or it gets 408 and the connection is closed. Under ASGI
(``statuspage.asgi``) the body is read on the event loop by that rule before any thread is
involved. Under gunicorn's WSGI workers the thread reads it here, and a watchdog thread
shuts the socket's read side when the body falls behind (a timeout per ``recv`` alone is no
deadline: a byte per ``recv`` defeats it). And a gthread worker lets at most half its
threads read bodies at once (503 past that), so a GET always finds a thread.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from typing import Callable, Optional

_READ_SIZE = 64 * 1024
#: Piece by which a watched body is read: the watchdog sees progress once per piece.
_WATCHED_READ_SIZE = 4096

_REFUSALS = {
    400: ("400 Bad Request", "The request body ended before its announced length.\n"),
    408: ("408 Request Timeout", "The request took too long to arrive. Please try again.\n"),
    503: ("503 Service Unavailable", "This server is busy. Please try again in a moment.\n"),
}
#: Seconds a client is asked to wait after a 503 for a full pool.
RETRY_AFTER_SECONDS = 2


def refusal(status: int) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of an answer made without the app: 400, 408 or 503."""
    line, text = _REFUSALS[status]
    body = text.encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"),
               ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    if status == 503:
        headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
    else:
        headers.append(("Connection", "close"))
    return line, headers, body


class BodyDeadline:
    """When a body that started at ``start`` and has ``received`` bytes so far is late.

    ``grace`` seconds for anything, then one more second per ``min_rate`` bytes received:
    a body that keeps up ``min_rate`` on average is never late; a trickle is late once
    the grace is over. ``grace`` <= 0: no deadline; ``min_rate`` <= 0: ``grace`` for the
    whole body.
    """

    def __init__(self, grace: float, min_rate: float):
        self.grace = float(grace)
        self.min_rate = float(min_rate)

    @classmethod
    def from_config(cls, config) -> "BodyDeadline":
        return cls(config["REQUEST_BODY_TIMEOUT_SECONDS"], config["REQUEST_BODY_MIN_RATE"])

    def due(self, start: float, received: int) -> float:
        if self.grace <= 0:
            return float("inf")
        if self.min_rate <= 0:
            return start + self.grace
        return start + self.grace + received / self.min_rate


def declared_length(value: Optional[str]) -> Optional[int]:
    """A ``Content-Length`` value as a number (None when absent or not one)."""
    if value is None or not value.strip().isascii() or not value.strip().isdigit():
        return None
    return int(value)


def read_at_most(stream, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream`` (fewer at its end)."""
    parts, left = [], limit
    while left > 0:
        chunk = stream.read(min(left, _READ_SIZE))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def shut_reading(sock) -> None:
    """No more reading from ``sock``: a blocked ``recv`` returns at once (end of data)."""
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # already closed by the client


class _Watched:
    __slots__ = ("sock", "start", "received", "expired")

    def __init__(self, sock, start: float):
        self.sock = sock
        self.start = start
        self.received = 0
        self.expired = False


class Watchdog:
    """One thread per process that shuts the read side of sockets whose body is late."""

    def __init__(self, deadline: BodyDeadline, clock: Callable[[], float] = time.monotonic):
        self.deadline = deadline
        self.clock = clock
        self._cond = threading.Condition()
        self._watched: set[_Watched] = set()
        self._pid: Optional[int] = None  # the process whose thread runs (none after a fork)

    def watch(self, sock) -> _Watched:
        watched = _Watched(sock, self.clock())
        with self._cond:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, args=(self._pid,), daemon=True,
                                 name="request-body-watchdog").start()
            self._watched.add(watched)
            self._cond.notify()
        return watched

    @property
    def watching(self) -> int:
        """How many bodies are being read now."""
        return len(self._watched)

    def unwatch(self, watched: _Watched) -> None:
        with self._cond:
            self._watched.discard(watched)

    def _run(self, pid: int) -> None:
        with self._cond:
            while self._pid == pid:
                now, soonest = self.clock(), None
                for watched in list(self._watched):
                    due = self.deadline.due(watched.start, watched.received)
                    if due <= now:
                        watched.expired = True
                        self._watched.discard(watched)
                        shut_reading(watched.sock)
                    elif soonest is None or due < soonest:
                        soonest = due
                self._cond.wait(None if soonest is None else soonest - now)


class BoundedBody:
    """WSGI middleware: a body without ``Content-Length`` gets one, or 413 when too large;
    under gunicorn, a body is read by the deadline (408), by at most ``readers`` threads
    at once (503)."""

    def __init__(self, wsgi_app: Callable, max_length: Optional[int],
                 deadline: Optional[BodyDeadline] = None, readers: int = 0):
        self.app = wsgi_app
        self.max_length = max_length
        self.deadline = deadline
        self.watchdog = Watchdog(deadline) if deadline is not None else None
        #: Threads that may read bodies at once in a threaded server (0: no bound).
        self.slots = threading.BoundedSemaphore(readers) if readers > 0 else None

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        length = None if chunked else declared_length(environ.get("CONTENT_LENGTH"))
        sock = environ.get("gunicorn.socket")
        if (sock is not None and self.watchdog is not None and (chunked or length)
                and (chunked or self.max_length is None or length <= self.max_length)):
            return self._read_watched(environ, start_response, sock, length)
        if self.max_length is not None and chunked and not environ.get("CONTENT_LENGTH"):
            # One byte over the limit is enough to know; the rest is never read.
            self._hand_on(environ, read_at_most(environ["wsgi.input"], self.max_length + 1))
        return self.app(environ, start_response)

    def _read_watched(self, environ, start_response, sock, length: Optional[int]):
        """Read the body by the deadline in this thread, then call the app with it."""
        threaded = environ.get("wsgi.multithread", False) and self.slots is not None
        if threaded and not self.slots.acquire(blocking=False):
            return self._refuse(503, sock, start_response)
        try:
            limit = length if length is not None else (
                self.max_length + 1 if self.max_length is not None else 2 ** 62)
            body, complete = self._read(environ["wsgi.input"], sock, limit, length is None)
        finally:
            if threaded:
                self.slots.release()
        if body is None:
            return self._refuse(408, sock, start_response)
        if not complete:
            return self._refuse(400, sock, start_response)
        self._hand_on(environ, body)
        return self.app(environ, start_response)

    def _read(self, stream, sock, limit: int, chunked: bool) -> tuple[Optional[bytes], bool]:
        """(the body, whether it is whole); (None, False) when it came too late."""
        watched = self.watchdog.watch(sock)
        parts, ended = [], False
        try:
            while watched.received < limit:
                chunk = stream.read(min(_WATCHED_READ_SIZE, limit - watched.received))
                if not chunk:
                    ended = True
                    break
                parts.append(chunk)
                watched.received += len(chunk)
        except Exception:
            if not watched.expired:
                raise  # the server's own error (a bad chunk): it answers 400
        finally:
            self.watchdog.unwatch(watched)
        complete = ended if chunked else watched.received >= limit
        if chunked and watched.received >= limit:
            complete = True  # over the limit: Werkzeug answers 413 from the length
        if watched.expired and not complete:
            return None, False
        return b"".join(parts), complete

    @staticmethod
    def _hand_on(environ, body: bytes) -> None:
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        environ.pop("HTTP_TRANSFER_ENCODING", None)

    @staticmethod
    def _refuse(status: int, sock, start_response):
        # The rest of the body is never read: the server then closes the connection at once
        # instead of draining it from a slow sender.
        shut_reading(sock)
        line, headers, body = refusal(status)
        start_response(line, headers)
        return [body]
