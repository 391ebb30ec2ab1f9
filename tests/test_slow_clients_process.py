"""Slow clients against a real server (issue 21, point 1): bodies that trickle in a byte a
second must not stop any page, and a full pool refuses rather than queues.

Each test starts what the README offers (granian, as ``make run`` does, and gunicorn's
asyncio and gthread workers; gunicorn's sync worker needs a buffering proxy in front, as
the README says) with a body deadline of a few seconds so that the tests are short.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from tests.http_server import send, serve
from tests.test_serving_process import _subscribe_form, _subscribers

pytestmark = pytest.mark.process

GRACE = 3  # REQUEST_BODY_TIMEOUT_SECONDS here
PROMPT = 2.0  # seconds: a page that takes longer has been made to wait
PAGES = ("/", "/api/v2/summary.json", "/health/live", "/staff/login")


class SlowBodies:
    """``count`` connections that POST a large ``Content-Length`` and send one byte a
    second of it; each one's answer (status, headers, seconds after it started)."""

    def __init__(self, port: int, count: int, length: int = 100_000):
        self.socks, self.started, self.answers = [], {}, {}
        self._stop = threading.Event()
        head = (f"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n\r\n").encode()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(head + b"e")
            self.started[sock] = time.monotonic()
            self.socks.append(sock)
        self._threads = [threading.Thread(target=self._trickle, daemon=True),
                         threading.Thread(target=self._collect, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _trickle(self) -> None:
        while not self._stop.wait(1.0):
            for sock in self.socks:
                if sock not in self.answers:
                    try:
                        sock.send(b"e")
                    except OSError:
                        pass  # the server stopped reading: its answer is being collected

    def _collect(self) -> None:
        selector = selectors.DefaultSelector()
        buffers = {}
        for sock in self.socks:
            selector.register(sock, selectors.EVENT_READ)
            buffers[sock] = b""
        while not self._stop.is_set() and len(self.answers) < len(self.socks):
            for key, _ in selector.select(0.1):
                sock = key.fileobj
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                buffers[sock] += chunk
                if b"\r\n\r\n" in buffers[sock] or not chunk:
                    selector.unregister(sock)
                    self.answers[sock] = (*_parse(buffers[sock]),
                                          time.monotonic() - self.started[sock])
        selector.close()

    def wait(self, seconds: float) -> list[tuple[int, dict, float]]:
        deadline = time.monotonic() + seconds
        while len(self.answers) < len(self.socks) and time.monotonic() < deadline:
            time.sleep(0.1)  # the collector records answers as they come
        return list(self.answers.values())

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        for sock in self.socks:
            sock.close()


def _parse(data: bytes) -> tuple[int, dict]:
    if not data:
        return 0, {}  # closed without an answer
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split(" ")[1]), headers


@contextmanager
def slow_bodies(port: int, count: int):
    bodies = SlowBodies(port, count)
    try:
        yield bodies
    finally:
        bodies.close()


def timed_get(port: int, path: str) -> tuple[int, float]:
    start = time.monotonic()
    try:
        status = send(port, "GET", path, timeout=PROMPT + 3)[0]
    except OSError:
        status = 0  # no answer at all
    return status, time.monotonic() - start


@pytest.mark.parametrize("worker", ["granian", "asgi", "gthread"])
def test_twenty_bodies_trickling_in_stop_no_page_and_get_408_by_their_deadline(
        database_url, tmp_path, worker):
    with serve(worker, database_url=database_url, instance=tmp_path / "instance",
               REQUEST_BODY_TIMEOUT_SECONDS=GRACE) as port:
        for path in PAGES:
            assert send(port, "GET", path)[0] == 200, path
        with slow_bodies(port, 20) as bodies:
            slow = []
            end = time.monotonic() + GRACE + 1
            while time.monotonic() < end:  # the pages, all through the bodies' grace
                for path in PAGES:
                    status, took = timed_get(port, path)
                    if status != 200 or took > PROMPT:
                        slow.append((path, status, round(took, 2)))
            answers = bodies.wait(GRACE + 10)
        assert slow == [], f"pages made to wait while bodies trickled in: {slow[:8]}"
        statuses = sorted(status for status, _, _ in answers)
        assert len(answers) == 20, statuses
        late = [took for status, _, took in answers if status == 408]
        # Each slow body is answered 408 once its grace is over, not when it ends.
        assert late and all(GRACE - 0.5 <= took <= GRACE + 3 for took in late), answers
        busy = [headers for status, headers, _ in answers if status == 503]
        assert all(headers.get("retry-after") == "2" for headers in busy)
        if worker == "gthread":
            # Two of its four threads may read bodies; the others are refused at once.
            assert len(late) == 2 and len(busy) == 18, statuses
        else:  # read on the event loop: none needs a thread
            assert len(late) == 20, statuses
        for path in PAGES:
            assert send(port, "GET", path)[0] == 200, path


@contextmanager
def writes_held(database_url: str):
    """Another connection holds the write lock on subscribers (a long writer elsewhere)."""
    engine = sa.create_engine(database_url)
    conn = engine.connect()
    try:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("LOCK TABLE subscribers IN EXCLUSIVE MODE")
        yield
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


@pytest.mark.parametrize("worker", ["granian", "asgi"])
def test_a_full_pool_refuses_with_503_at_once_while_public_pages_answer(
        database_url, tmp_path, worker):
    """One thread, one place in the queue: the third form waiting on the database is
    refused at once; the front page is answered from memory all the while."""
    with serve(worker, database_url=database_url, instance=tmp_path / "instance",
               threads=1, WEB_QUEUE_LIMIT=1, SQLITE_BUSY_TIMEOUT_SECONDS=20,
               SUBSCRIBE_RATE_LIMIT="1000 per minute") as port:
        assert send(port, "GET", "/")[0] == 200
        forms = []
        for n in range(4):
            cookie, fields = _subscribe_form(port)
            forms.append(({"Cookie": cookie,
                           "Content-Type": "application/x-www-form-urlencoded"},
                          urlencode({**fields, "email": f"reader{n}@example.test",
                                     "audience": "participant"}).encode()))
        answers: dict[int, tuple[int, dict, float]] = {}

        def post(n: int) -> None:
            start = time.monotonic()
            status, headers, _ = send(port, "POST", "/subscribe", headers=forms[n][0],
                                      body=forms[n][1], timeout=60)
            answers[n] = (status, headers, time.monotonic() - start)

        with writes_held(database_url):
            posters = [threading.Thread(target=post, args=(n,)) for n in range(4)]
            for thread in posters:
                thread.start()
            end = time.monotonic() + 3
            while time.monotonic() < end:
                status, took = timed_get(port, "/")
                assert status == 200 and took < PROMPT, (status, took)
            refused = dict(answers)  # what was answered while the database was held
        for thread in posters:
            thread.join(60)
        assert len(refused) == 2, refused
        assert all(status == 503 and headers["retry-after"] == "2" and took < PROMPT
                   for status, headers, took in refused.values()), refused
        waited = [n for n in answers if n not in refused]
        assert sorted(answers[n][0] for n in waited) == [303, 303], answers
        assert sorted(_subscribers(database_url)) == sorted(
            f"reader{n}@example.test" for n in waited)
