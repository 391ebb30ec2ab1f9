"""Request bodies read by a deadline, and a pool that refuses rather than queues (issue 21).

The ASGI side (``statuspage.asgi``, what granian and gunicorn's asyncio worker run) is driven
through its ASGI interface, messages arriving as a slow client sends them. The WSGI side
(``statuspage.web.bodies``, gunicorn's gthread and sync workers) is driven by gunicorn's own
request parser on a real socket on loopback, as a gthread worker's thread calls the app.
The deadlines are made short here (half a second of grace) so the tests are.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from statuspage.serving.asgi import PublicCacheASGI
from statuspage.web.bodies import BoundedBody

from .conftest import form_fields

GRACE = 0.5
RATE = 1000  # bytes a second
FAST = dict(REQUEST_BODY_TIMEOUT_SECONDS=GRACE, REQUEST_BODY_MIN_RATE=RATE,
            SUBSCRIBE_RATE_LIMIT="1000 per minute")


def subscribe_form(app, email: str) -> tuple[str, bytes]:
    """A browser's session cookie and its filled-in subscribe form."""
    client = app.test_client()
    page = client.get("/subscribe")
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    fields = form_fields(page, "form[method=post]")
    fields.update(email=email, audience="participant")
    return cookie, urlencode(fields).encode()


def subscribers(app) -> list[str]:
    from statuspage.extensions import db

    with db.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT email FROM subscribers")).scalars())


# --- ASGI: the body is read on the loop --------------------------------------------------


def run_coroutine(coroutine):
    """``asyncio.run`` on a thread of its own: a browser test's Playwright may have left an
    event loop running in this one (``asyncio.run`` refuses to start there)."""
    result = {}

    def main():
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the test's thread
            result["error"] = exc

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def asgi_call(asgi_app, method, path, headers, pieces, *, gap=0.0, finish=True):
    """One request through the ASGI app in a loop of its own; ``pieces`` of the body
    arrive ``gap`` seconds apart (the last with more_body False if ``finish``; else the
    client stops sending). (status, headers, body, seconds until the answer)."""
    pending = list(pieces)
    sent = []

    async def receive():
        if not pending:
            await asyncio.sleep(3600)  # a client that sends nothing more
        await asyncio.sleep(gap)
        body = pending.pop(0)
        return {"type": "http.request", "body": body,
                "more_body": bool(pending) or not finish}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    start = time.monotonic()
    run_coroutine(asyncio.wait_for(asgi_app(scope, receive, send), 10))
    took = time.monotonic() - start
    head = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], head, b"".join(m.get("body", b"") for m in sent[1:]), took


def test_a_body_trickling_in_gets_408_when_its_grace_is_over(make_app):
    app = make_app(**FAST)
    asgi_app = PublicCacheASGI(app, workers=2)
    cookie, _ = subscribe_form(app, "slow@example.test")
    status, headers, body, took = asgi_call(
        asgi_app, "POST", "/subscribe",
        {"Cookie": cookie, "Content-Length": "100000",
         "Content-Type": "application/x-www-form-urlencoded"},
        [b"e"] * 200, gap=0.05, finish=False)
    assert status == 408, body
    assert headers["connection"] == "close"
    assert GRACE <= took < GRACE + 2
    with app.app_context():
        assert subscribers(app) == []


def test_a_slow_body_that_keeps_up_the_minimum_rate_is_read_whole(make_app):
    """Past the grace, at twice the minimum rate: still read, the form works."""
    app = make_app(**FAST)
    asgi_app = PublicCacheASGI(app, workers=2)
    cookie, form = subscribe_form(app, "patient@example.test")
    form += b"&unused=" + b"x" * RATE  # a second's worth at the minimum rate
    size = RATE // 10  # a piece each 50 ms: twice the minimum rate
    pieces = [form[i:i + size] for i in range(0, len(form), size)]
    status, headers, body, took = asgi_call(
        asgi_app, "POST", "/subscribe",
        {"Cookie": cookie, "Transfer-Encoding": "chunked",
         "Content-Type": "application/x-www-form-urlencoded"}, pieces, gap=0.05)
    assert took > GRACE
    assert status == 303, body[:300]
    with app.app_context():
        assert subscribers(app) == ["patient@example.test"]


def test_a_form_in_many_pieces_or_announced_is_replayed_intact(make_app):
    app = make_app(**FAST)
    asgi_app = PublicCacheASGI(app, workers=2)
    for email, chunked in (("pieces@example.test", True), ("whole@example.test", False)):
        cookie, form = subscribe_form(app, email)
        framing = ({"Transfer-Encoding": "chunked"} if chunked
                   else {"Content-Length": str(len(form))})
        pieces = [form[i:i + 7] for i in range(0, len(form), 7)] if chunked else [form]
        status, _, body, _ = asgi_call(
            asgi_app, "POST", "/subscribe",
            {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
             **framing}, pieces)
        assert status == 303, body[:300]
    with app.app_context():
        assert sorted(subscribers(app)) == ["pieces@example.test", "whole@example.test"]


def test_a_body_over_the_limit_gets_413_as_soon_as_it_is_known(make_app):
    app = make_app(**FAST, MAX_CONTENT_LENGTH=1000)
    asgi_app = PublicCacheASGI(app, workers=2)
    cookie, _ = subscribe_form(app, "big@example.test")
    form = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    # Announced: at once, nothing read (the client has sent nothing of it).
    status, _, body, took = asgi_call(asgi_app, "POST", "/subscribe",
                                      {**form, "Content-Length": "5000"}, [], finish=False)
    assert status == 413 and b"larger than this site accepts" in body
    assert took < GRACE
    # Chunked: as soon as the bytes so far are over, without waiting for the rest.
    status, _, body, took = asgi_call(asgi_app, "POST", "/subscribe",
                                      {**form, "Transfer-Encoding": "chunked"},
                                      [b"x" * 600, b"x" * 600], finish=False)
    assert status == 413 and b"larger than this site accepts" in body
    assert took < GRACE
    with app.app_context():
        assert subscribers(app) == []


def test_read_body_follows_the_deadline_and_the_limit():
    """The reader alone: what it answers for each way a body arrives."""
    from statuspage.serving.asgi import LATE, TOO_LARGE, read_body
    from statuspage.web.bodies import BodyDeadline

    deadline = BodyDeadline(GRACE, RATE)

    def run(headers, pieces, gap, finish=True, max_length=10_000):
        pending = list(pieces)

        async def receive():
            if not pending:
                await asyncio.sleep(3600)
            await asyncio.sleep(gap)
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk,
                    "more_body": bool(pending) or not finish}

        scope = {"headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
        return run_coroutine(read_body(scope, receive, deadline, max_length))

    assert run({"content-length": "6"}, [b"abc", b"def"], 0.01) == (None, b"abcdef")
    assert run({}, [b""], 0) == (None, b"")
    assert run({"content-length": "10001"}, [], 0, finish=False) == (TOO_LARGE, b"")
    assert run({}, [b"x" * 6000, b"x" * 6000], 0, finish=False) == (TOO_LARGE, b"")
    assert run({"content-length": "100"}, [b"x"] * 100, 0.1, finish=False) == (LATE, b"")
    # No byte at all: late once the grace is over.
    assert run({"content-length": "100"}, [], 0, finish=False) == (LATE, b"")


# --- ASGI: a full pool refuses ------------------------------------------------------------


@contextmanager
def app_reached(app):
    """Waits at the end of the block until a request has reached the Flask app."""
    from flask import request_started

    reached = threading.Event()

    def started(sender, **extra):
        reached.set()

    request_started.connect(started, app)
    try:
        yield
        assert reached.wait(10), "no request reached the app"
    finally:
        request_started.disconnect(started, app)


@contextmanager
def writes_held(app):
    """Another connection holds the write lock on subscribers until the block ends."""
    from statuspage.extensions import db

    conn = db.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    try:
        if db.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: the write lock
        else:
            conn.exec_driver_sql("LOCK TABLE subscribers IN EXCLUSIVE MODE")
        yield
    finally:
        conn.rollback()
        conn.close()


def test_when_the_pool_is_full_a_request_gets_503_at_once_not_a_place_in_a_queue(make_app):
    app = make_app(**FAST, WEB_QUEUE_LIMIT=0, SQLITE_BUSY_TIMEOUT_SECONDS=10)
    asgi_app = PublicCacheASGI(app, workers=1)
    cookie, form = subscribe_form(app, "waits@example.test")
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
               "Content-Length": str(len(form))}
    answers = {}

    def post():
        answers["post"] = asgi_call(asgi_app, "POST", "/subscribe", headers, [form])

    with app.app_context(), writes_held(app):
        with app_reached(app):
            writer = threading.Thread(target=post)
            writer.start()  # the pool's one thread: it waits for the write lock
        status, head, body, took = asgi_call(asgi_app, "GET", "/staff/login", {}, [b""])
        assert status == 503, body
        assert head["retry-after"] == "2"
        assert took < 1
    writer.join(30)
    assert answers["post"][0] == 303
    assert asgi_call(asgi_app, "GET", "/staff/login", {}, [b""])[0] == 200


def test_a_cached_page_never_waits_for_a_busy_pool_and_still_learns_of_a_change(
        app, make_app, clock, responder, components, make_incident):
    """The pool's one thread is held (a form waiting for the database); a change was
    published meanwhile. The front page is answered at once, from memory, and its version
    check still runs: it used to wait in the pool's queue behind that very form."""
    cached = make_app(**FAST, PUBLIC_CACHE=True, WEB_QUEUE_LIMIT=4,
                      SQLITE_BUSY_TIMEOUT_SECONDS=10)
    asgi_app = PublicCacheASGI(cached, workers=1)
    status, _, before, _ = asgi_call(asgi_app, "GET", "/", {}, [b""])  # rendered
    assert status == 200
    cache = asgi_app.cache
    seen = cache.version
    cookie, form = subscribe_form(cached, "waits@example.test")
    make_incident(responder, components[:1], title="Glucose sync delayed")
    clock.advance(seconds=2)  # the version is due for a look
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
               "Content-Length": str(len(form))}
    answers = {}

    def post():
        answers["post"] = asgi_call(asgi_app, "POST", "/subscribe", headers, [form])

    with cached.app_context(), writes_held(cached):
        with app_reached(cached):
            writer = threading.Thread(target=post)
            writer.start()  # the pool's one thread: it waits for the write lock
        status, _, meanwhile, took = asgi_call(asgi_app, "GET", "/", {}, [b""])
        assert status == 200 and took < 1
        assert meanwhile == before
        deadline = time.monotonic() + 5
        while cache.version == seen and time.monotonic() < deadline:
            time.sleep(0.01)  # the check runs on its own thread: a real event, polled
        assert cache.version != seen, "the version check waited for the pool"
    writer.join(30)
    assert answers["post"][0] == 303
    status, _, after, _ = asgi_call(asgi_app, "GET", "/", {}, [b""])  # a thread is free
    assert b"Glucose sync delayed" in after


# --- WSGI under gunicorn: the thread reads by the deadline ---------------------------------


@pytest.fixture
def gunicorn_thread(make_app):
    """Serve the app on loopback as a gthread worker's threads do (gunicorn's parser and
    response), each connection in a thread; yields (app, port)."""
    yield from serve_like_gthread(make_app(**FAST, WEB_THREADS=2))  # one body at a time


@pytest.fixture
def gunicorn_thread_patient(make_app):
    """As ``gunicorn_thread``, with a grace long enough for a loaded machine to send a
    second request while the first body is still within it."""
    yield from serve_like_gthread(make_app(**{**FAST, "REQUEST_BODY_TIMEOUT_SECONDS": 5},
                                           WEB_THREADS=2))


def serve_like_gthread(app):
    from gunicorn.config import Config
    from gunicorn.http import wsgi as gunicorn_wsgi
    from gunicorn.http.parser import RequestParser

    cfg = Config()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def handle(conn, addr):
        with conn:
            try:
                req = next(RequestParser(cfg, conn, addr))
                resp, environ = gunicorn_wsgi.create(req, conn, addr, conn.getsockname(), cfg)
                environ["wsgi.multithread"] = True
                for chunk in app(environ, resp.start_response):
                    resp.write(chunk)
                resp.close()
            except OSError:
                pass

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, addr = listener.accept()
            except socket.timeout:
                continue
            conn.settimeout(None)
            threading.Thread(target=handle, args=(conn, addr), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield app, listener.getsockname()[1]
    stop.set()
    acceptor.join()
    listener.close()


def body_reader(app) -> BoundedBody:
    layer = app.wsgi_app
    while not isinstance(layer, BoundedBody):
        layer = layer.app
    return layer


def raw_post(port, headers: dict, body=b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST /subscribe HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body)
    return sock


def response_of(sock) -> tuple[int, bytes]:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            if length and len(rest) >= length[0]:
                break
    return int(data.split(b" ", 2)[1]), data


def trickle(sock, seconds: float) -> None:
    """A byte every 50 ms for ``seconds``, or until the server stops reading."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            sock.send(b"e")
        except OSError:
            return
        time.sleep(0.05)


def test_under_gunicorn_a_trickling_body_gets_408_when_its_grace_is_over(gunicorn_thread):
    app, port = gunicorn_thread
    cookie, _ = subscribe_form(app, "slow@example.test")
    sock = raw_post(port, {"Cookie": cookie, "Content-Length": "100000",
                           "Content-Type": "application/x-www-form-urlencoded"})
    start = time.monotonic()
    sender = threading.Thread(target=trickle, args=(sock, GRACE + 3))
    sender.start()
    sock.settimeout(GRACE + 3)
    status, data = response_of(sock)
    took = time.monotonic() - start
    sender.join()
    sock.close()
    assert status == 408, data[:300]
    assert GRACE <= took < GRACE + 2


def test_under_gunicorn_forms_whole_or_chunked_are_read_and_work(gunicorn_thread):
    app, port = gunicorn_thread
    for email, chunked in (("whole@example.test", False), ("pieces@example.test", True)):
        cookie, form = subscribe_form(app, email)
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        if chunked:
            pieces = [form[i:i + 9] for i in range(0, len(form), 9)]
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
            headers["Transfer-Encoding"] = "chunked"
        else:
            body = form
            headers["Content-Length"] = str(len(form))
        with raw_post(port, headers, body) as sock:
            status, data = response_of(sock)
        assert status == 303, data[:300]
    with app.app_context():
        assert sorted(subscribers(app)) == ["pieces@example.test", "whole@example.test"]


def test_under_gunicorn_threads_reading_bodies_are_bounded_and_past_it_503(
        gunicorn_thread_patient):
    app, port = gunicorn_thread_patient
    cookie, form = subscribe_form(app, "fast@example.test")
    slow = raw_post(port, {"Cookie": cookie, "Content-Length": "100000",
                           "Content-Type": "application/x-www-form-urlencoded"}, b"e")
    bodies = body_reader(app)
    deadline = time.monotonic() + 30
    while bodies.watchdog.watching == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the slow body is being read: a real event, polled
    assert bodies.watchdog.watching == 1, "the slow body never reached the app"
    start = time.monotonic()
    with raw_post(port, {"Cookie": cookie, "Content-Length": str(len(form)),
                         "Content-Type": "application/x-www-form-urlencoded"}, form) as sock:
        status, data = response_of(sock)
    assert status == 503, data[:300]
    assert b"Retry-After: 2" in data
    assert time.monotonic() - start < 5  # at once, not when the slow body's grace ends
    slow.settimeout(5 + 3)
    assert response_of(slow)[0] == 408
    slow.close()
    with raw_post(port, {"Cookie": cookie, "Content-Length": str(len(form)),
                         "Content-Type": "application/x-www-form-urlencoded"}, form) as sock:
        assert response_of(sock)[0] == 303  # the slot is free again
