"""The app for gunicorn's asyncio worker: ``gunicorn -k asgi statuspage.asgi:app``.

Rendered public bytes (``render_cache.PublicCache``) are answered on the event loop
itself, with no thread hand-off and no WSGI environ: the fastest way this project has found
to serve the outage rush from the app (``make bench`` compares it with gthread). Anything
else, including every render, runs the usual WSGI app (the cache, then Flask) in a thread
pool through a2wsgi, exactly as under a WSGI worker.

The version check that may touch the database runs in that pool too, never on the loop;
in a served process the refresher's thread (``statuspage.refresher``) does it, and renders
again what readers ask for, before they ask: bytes being rendered are served as they were
meanwhile, from the loop.
"""

from __future__ import annotations

import asyncio
from typing import Optional

from a2wsgi import WSGIMiddleware

from . import create_app
from .refresher import prepare_worker
from .render_cache import PublicCache


class PublicCacheASGI:
    def __init__(self, flask_app, workers: int = 8):
        self.flask_app = flask_app
        cache = flask_app.wsgi_app
        self.cache: Optional[PublicCache] = cache if isinstance(cache, PublicCache) else None
        self.wsgi = WSGIMiddleware(flask_app, workers=workers)
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

        loop.run_in_executor(self.wsgi.executor, check)

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
            if entry is None and cache.rendering(key):
                entry = cache.entries.get(key)  # being rendered: its last bytes meanwhile
            if entry is not None:
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
                return
        await self.wsgi(scope, _as_coroutine(receive), send)


def _as_coroutine(receive):
    """``receive`` as a coroutine function: a2wsgi hands it to
    ``asyncio.run_coroutine_threadsafe``, and granian's returns another kind of awaitable."""

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
