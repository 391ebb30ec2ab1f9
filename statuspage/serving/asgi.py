"""The app for gunicorn's asyncio worker: ``gunicorn -k asgi statuspage.asgi:app``.

Rendered public bytes (``render_cache.PublicCache``) are answered on the event loop
itself, with no thread hand-off and no WSGI environ: the fastest way this project has found
to serve the outage rush from the app (``make bench`` compares it with gthread). Anything
else, including every render, runs the usual WSGI app (the cache, then Flask) in a thread
pool through a2wsgi, exactly as under a WSGI worker.

The version check that may touch the database runs on a thread of its own, never on the
loop and never queued behind the pool; in a served process the refresher's thread
(``statuspage.refresher``) does it, and renders again what readers ask for, before they ask:
bytes being rendered are served as they were meanwhile, from the loop.

A request body is read on the loop, whole, before the pool sees the request (issue 21: 15-20
bodies trickling in a byte a second held every thread of the pool and stopped every page):
by the deadline of ``web.bodies.BodyDeadline`` (408 when late), and no further than one byte
over ``MAX_CONTENT_LENGTH`` (413). The pool then gets it from memory. At most ``WEB_THREADS``
+ ``WEB_QUEUE_LIMIT`` requests are in the pool or waiting for it; past that, 503 with
Retry-After at once. A public page whose bytes are due to be rendered again is answered
with its last bytes while no thread of the pool is free: it never waits for one.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from a2wsgi import WSGIMiddleware

from .. import create_app
from .refresher import prepare_worker
from .render_cache import PublicCache
from ..web.bodies import BodyDeadline, declared_length, refusal

#: What ``read_body`` found besides a whole body.
LATE, TOO_LARGE, GONE = 408, 413, 0


async def read_body(scope, receive, deadline: BodyDeadline, max_length: Optional[int],
                    clock=time.monotonic) -> tuple[Optional[int], bytes]:
    """The request's whole body, read on the loop: (None, body), or (LATE, b""),
    (TOO_LARGE, b"") as soon as it is known to be over ``max_length``, (GONE, b"") when
    the client left."""
    length = declared_length(_header(scope, b"content-length"))
    if max_length is not None and length is not None and length > max_length:
        return TOO_LARGE, b""
    receive = _as_coroutine(receive)
    start, parts, received = clock(), [], 0
    while True:
        left = deadline.due(start, received) - clock()
        if left <= 0:
            return LATE, b""
        try:
            message = await asyncio.wait_for(receive(), None if left == float("inf") else left)
        except asyncio.TimeoutError:
            return LATE, b""
        if message["type"] != "http.request":
            return GONE, b""
        chunk = message.get("body", b"")
        if chunk:
            parts.append(chunk)
            received += len(chunk)
            if max_length is not None and received > max_length:
                return TOO_LARGE, b""
        if not message.get("more_body", False):
            return None, b"".join(parts)


def _header(scope, name: bytes) -> Optional[str]:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def with_body(scope, body: bytes, length: Optional[int] = None):
    """``scope`` announcing ``length`` (default: the body's), and a ``receive`` replaying
    ``body`` (a2wsgi reads it from a thread: no thread ever waits on the client)."""
    length = len(body) if length is None else length
    headers = scope["headers"]
    declared = declared_length(_header(scope, b"content-length"))
    if (_header(scope, b"transfer-encoding") is not None
            or declared != (length if declared is not None or length else None)):
        headers = [(n, v) for n, v in headers
                   if n not in (b"content-length", b"transfer-encoding")]
        if length or body:
            headers.append((b"content-length", str(length).encode()))
        scope = {**scope, "headers": headers}

    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    return scope, replay


async def _refuse(send, status: int) -> None:
    _, headers, body = refusal(status)
    await send({"type": "http.response.start", "status": status,
                "headers": [(n.lower().encode(), v.encode()) for n, v in headers]})
    await send({"type": "http.response.body", "body": body})


class PublicCacheASGI:
    def __init__(self, flask_app, workers: int = 8):
        self.flask_app = flask_app
        cache = flask_app.wsgi_app
        self.cache: Optional[PublicCache] = cache if isinstance(cache, PublicCache) else None
        self.wsgi = WSGIMiddleware(flask_app, workers=workers)
        config = flask_app.config
        self.deadline = BodyDeadline.from_config(config)
        self.max_length = config.get("MAX_CONTENT_LENGTH")
        #: Requests in the pool or waiting for it, and how many may be.
        self.in_flight = 0
        self.workers = workers
        self.max_in_flight = workers + int(config["WEB_QUEUE_LIMIT"])
        # The version check's own thread: a public page never waits behind the pool.
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="version-check")
        self._checking = False

    def _check_in_background(self, now: float) -> None:
        if self._checking:
            return
        self._checking = True
        loop = asyncio.get_running_loop()

        def check():
            try:
                self.cache.check_version(now)
            finally:
                self._checking = False

        loop.run_in_executor(self._checker, check)

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        cache = self.cache
        if kind == "http" and cache is not None and cache.enabled and scope["method"] in (
                "GET", "HEAD"):
            key = (scope["path"], scope["query_string"].decode("latin-1"))
            entry = cache.fresh_entry(key, check=self._check_in_background)
            if entry is None and (cache.rendering(key) or self.in_flight >= self.workers):
                # Being rendered, or no thread free to render it: its last bytes meanwhile
                # (the refresher renders them again from its own thread).
                entry = cache.entries.get(key)
            if entry is not None:
                await self._answer(entry, scope, send)
                return
        if kind != "http":
            await self.wsgi(scope, receive, send)
            return
        problem, body = await read_body(scope, receive, self.deadline, self.max_length)
        if problem == GONE:
            return
        if problem == LATE:
            await _refuse(send, 408)
            return
        if problem == TOO_LARGE:  # the app answers 413 from the length, reading nothing
            scope, replay = with_body(scope, b"", self.max_length + 1)
        else:
            scope, replay = with_body(scope, body)
        if self.in_flight >= self.max_in_flight:
            await _refuse(send, 503)
            return
        self.in_flight += 1
        try:
            await self.wsgi(scope, replay, send)
        finally:
            self.in_flight -= 1

    async def _answer(self, entry, scope, send) -> None:
        """Rendered bytes, answered on the loop."""
        cache = self.cache
        accept = inm = ims = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value.decode("latin-1")
            elif name == b"if-none-match":
                inm = value.decode("latin-1")
            elif name == b"if-modified-since":
                ims = value.decode("latin-1")
        status_line, headers, body = cache.answer(
            entry, accept or "", inm, ims, scope["method"] == "HEAD")
        await send({"type": "http.response.start",
                    "status": int(status_line[:3]),
                    "headers": entry.asgi_headers(headers)})
        await send({"type": "http.response.body", "body": body})


def _as_coroutine(receive):
    """``receive`` as a coroutine function: ``asyncio.wait_for`` needs one, and granian's
    returns another kind of awaitable."""

    async def receive_coroutine():
        return await receive()

    return receive_coroutine


def __getattr__(name: str):
    """``statuspage.asgi:app`` for gunicorn, made on first use (importing has no effect)."""
    if name == "app":
        global app
        flask_app = create_app()
        app = PublicCacheASGI(flask_app, workers=int(flask_app.config["WEB_THREADS"]))
        prepare_worker(flask_app)
        return app
    raise AttributeError(name)
