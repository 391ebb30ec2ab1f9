"""Render once, serve many: the public pages from bytes kept in each process.

``PublicCache`` wraps the Flask app (``app.wsgi_app``). A GET or HEAD of a cacheable
public path (a view marked ``@cacheable``, ``statuspage.web.markers``) is answered from
the bytes the app rendered last time, as long as

- the site version (``statuspage.site_state``) is the one they were rendered at: the
  version is read from the database at most once a second per process (and at once
  after this process committed a public change), never per request;
- they are younger than ``PUBLIC_CACHE_REFRESH_SECONDS`` (what changes with time alone:
  the 7-day window, "Last updated", relative times).

Otherwise the app renders the path again, with a canonical environ that carries no cookie,
no conditional or encoding header and the host of ``PUBLIC_URL``, so the bytes cannot
depend on who asked. The views stay the single source of the bytes; this module only
keeps them, with a strong ETag, Last-Modified, CDN-friendly Cache-Control and gzip and
brotli bodies compressed once. When the database is down, the last bytes keep being served.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Callable, Optional
from urllib.parse import urlsplit

from flask import Flask

from . import site_state
from ..extensions import db
from .http_caching import (
    body_etag,
    brotli_bytes,
    choose_encoding,
    compressible,
    etag_matches,
    gzip_bytes,
    not_modified_since,
    view_last_modified,
)
from .page_store import FOLDER as STORE_FOLDER
from .page_store import PageStore, StoredPage
from ..web.markers import view_markers

log = logging.getLogger("statuspage.render_cache")

#: Headers of the app's response that the cache sets itself or never repeats.
_DROPPED_HEADERS = {"content-length", "etag", "last-modified", "cache-control", "vary",
                    "date", "expires", "age", "set-cookie", "connection", "keep-alive",
                    "transfer-encoding", "content-encoding"}


# --- Rendering --------------------------------------------------------------------------


@dataclass
class Rendered:
    status: int
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes


def canonical_environ(app: Flask, path: str, query: str) -> dict:
    """A GET for ``path`` as any anonymous reader would send it, at ``PUBLIC_URL``.

    The script root too is ``PUBLIC_URL``'s path, never the requester's ``SCRIPT_NAME``
    (a header gunicorn takes from a trusted address): the cache key does not hold it, so
    bytes built from it would be served to everyone.
    """
    url = urlsplit(app.config["PUBLIC_URL"])
    scheme = url.scheme or "http"
    port = str(url.port or (443 if scheme == "https" else 80))
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": url.path.rstrip("/"),
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": url.hostname or "localhost",
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": url.netloc or "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def render(wsgi_app: Callable, app: Flask, path: str, query: str = "") -> Rendered:
    """Call the app (the views, unwrapped) for one public path; the bytes it answers."""
    captured: dict = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers
        return lambda data: captured.setdefault("written", []).append(data)

    result = wsgi_app(canonical_environ(app, path, query), start_response)
    try:
        body = b"".join(captured.get("written", [])) + b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status_line = captured["status"]
    return Rendered(int(status_line.split(" ", 1)[0]), status_line,
                    list(captured["headers"]), body)


# --- The cache --------------------------------------------------------------------------


class Entry:
    """One path's bytes: per encoding, the full header list and the body."""

    __slots__ = ("status_line", "version", "expires", "variants", "etags", "digest",
                 "last_modified", "not_modified", "vouched_modified", "served", "_asgi")

    def __init__(self, status_line, version, expires, variants, etags, digest,
                 last_modified, not_modified, vouched_modified=None):
        self.status_line, self.version, self.expires = status_line, version, expires
        self.variants = variants  # encoding ("", "gzip", "br") -> (headers, body)
        self.etags = etags  # every ETag any variant carries (a 304 answers any of them)
        self.digest, self.last_modified = digest, last_modified
        self.not_modified = not_modified  # encoding -> headers of a 304
        #: The view's Last-Modified (epoch s), for If-Modified-Since; None: only ETags get 304s.
        self.vouched_modified = vouched_modified
        self.served = False  # answered to a reader since its render (the refresher reads it)
        self._asgi: dict[int, list] = {}  # asgi_headers

    def asgi_headers(self, headers: list) -> list:
        """One of its header lists as ASGI sends them: made once, gone with the entry."""
        if (found := self._asgi.get(id(headers))) is None:
            found = self._asgi[id(headers)] = [
                (n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        return found


#: The version of bytes read from disk: equal to no site version.
_STORED = ("stored",)


class PublicCache:
    """WSGI middleware: serves the cacheable public paths from rendered bytes."""

    def __init__(self, wsgi_app: Callable, app: Flask,
                 monotonic: Optional[Callable[[], float]] = None):
        self.app = wsgi_app
        self.flask_app = app
        config = app.config
        enabled = config["PUBLIC_CACHE"]
        self.enabled = (not config["TESTING"]) if enabled is None else bool(enabled)
        self.check_seconds = float(config["PUBLIC_CACHE_CHECK_SECONDS"])
        #: How old the version may get before a request (or /health/live) looks itself:
        #: longer while a ``refresher.Refresher`` looks from its own thread.
        self.request_check_seconds = self.check_seconds
        self.refresh_seconds = float(config["PUBLIC_CACHE_REFRESH_SECONDS"])
        self.not_found_seconds = float(config["PUBLIC_CACHE_NOT_FOUND_SECONDS"])
        self.max_entries = int(config["PUBLIC_CACHE_MAX_ENTRIES"])
        self.cache_control = (
            f"public, max-age={int(config['PUBLIC_CACHE_MAX_AGE'])}, "
            f"stale-while-revalidate={int(config['PUBLIC_CACHE_STALE_WHILE_REVALIDATE'])}, "
            f"stale-if-error={int(config['PUBLIC_CACHE_STALE_IF_ERROR'])}"
        )
        self.not_found_cache_control = f"public, max-age={int(self.not_found_seconds)}"
        if monotonic is None:
            clock = config.get("CLOCK")
            # Tests move time with the app's clock; production uses a monotonic one.
            monotonic = (lambda: clock().timestamp()) if clock is not None else time.monotonic
        self.monotonic = monotonic
        with app.app_context():
            self.engine = db.engine
        self.entries: dict[tuple[str, str], Entry] = {}
        #: The last bytes on disk, for a process that starts while the database is down.
        self.store = PageStore(os.path.join(app.instance_path, STORE_FOLDER))
        self.version: tuple = (None,)
        self.checked_at = float("-inf")
        self.seen_generation = -1
        self.database_ok = True
        self._last_outage_log = float("-inf")
        self._version_lock = threading.Lock()
        self._render_locks: dict[tuple[str, str], threading.Lock] = {}
        self._render_locks_lock = threading.Lock()
        self._encodings: dict[str, str] = {}
        #: How many times the app rendered a path (tests and the bench read it).
        self.renders = 0
        #: Which paths are cacheable: the views marked @cacheable (statuspage.web.markers).
        self.cacheable_key = view_markers(app).cacheable_key

    # --- The hot path ---------------------------------------------------------------------

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        if not self.enabled or (method != "GET" and method != "HEAD"):
            return self.app(environ, start_response)
        key = (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
        entry = self.fresh_entry(key)
        if entry is None:
            canonical = self.cacheable_key(*key)
            if canonical is None:
                return self.app(environ, start_response)
            entry = self.fresh_entry(canonical) if canonical != key else None
            if entry is None:
                entry = self.refill(canonical, self.entries.get(canonical), self.monotonic())
                if entry is None:
                    return self.app(environ, start_response)
        status_line, headers, body = self.answer(
            entry, environ.get("HTTP_ACCEPT_ENCODING", ""), environ.get("HTTP_IF_NONE_MATCH"),
            environ.get("HTTP_IF_MODIFIED_SINCE"), method == "HEAD")
        start_response(status_line, headers)
        return [body]

    def fresh_entry(self, key, check=None) -> Optional[Entry]:
        """The bytes for ``key`` if they may be served now (version and age), else None.

        Looks at the version first when it is due (``check``: how; default: at once, in
        this thread).
        """
        now = self.monotonic()
        if (now - self.checked_at >= self.request_check_seconds or now < self.checked_at
                or self.seen_generation != site_state.local_generation(self.engine)):
            (check or self.check_version)(now)
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.version == self.version and now < entry.expires:
            return entry
        if not self.database_ok:
            return entry  # stale-if-error: the database is down, these are the last bytes
        return None

    def answer(self, entry: Entry, accept: str, inm: Optional[str], ims: Optional[str],
               head: bool) -> tuple[str, list, bytes]:
        """(status line, headers, body) for a request with these headers."""
        encoding = self._encodings.get(accept)
        if encoding is None:
            encoding = choose_encoding(accept, ("br", "gzip"))
            if len(self._encodings) < 256:
                self._encodings[accept] = encoding
        if encoding not in entry.variants:
            encoding = ""
        entry.served = True
        if inm is not None:
            if etag_matches(inm, entry.etags):
                return "304 Not Modified", entry.not_modified[encoding], b""
        elif entry.vouched_modified is not None and ims:
            if not_modified_since(ims, entry.vouched_modified):
                return "304 Not Modified", entry.not_modified[encoding], b""
        headers, body = entry.variants[encoding]
        return entry.status_line, headers, b"" if head else body

    # --- The version ----------------------------------------------------------------------

    def check_version(self, now: float) -> None:
        """Read the site version (at most one thread at a time; the others skip it)."""
        if not self._version_lock.acquire(blocking=False):
            return  # another thread is asking; serve what we have meanwhile
        try:
            generation = site_state.local_generation(self.engine)
            try:
                with self.engine.connect() as conn:
                    version, changed_at = site_state.read_version(conn)
            except Exception as exc:  # the database is down: keep serving the last bytes
                if self.database_ok or now - self._last_outage_log >= 60:
                    log.warning("public cache: cannot read the site version (%s); serving "
                                "the last rendered pages", exc.__class__.__name__)
                    self._last_outage_log = now
                self.database_ok = False
            else:
                if not self.database_ok:
                    log.warning("public cache: the database answers again")
                self.database_ok = True
                self.version = (version, changed_at)
                self.seen_generation = generation
            self.checked_at = now
        finally:
            self._version_lock.release()

    # --- Rendering ------------------------------------------------------------------------

    def render_lock(self, key) -> threading.Lock:
        with self._render_locks_lock:
            lock = self._render_locks.get(key)
            if lock is None:
                if len(self._render_locks) > 4 * self.max_entries:
                    self._render_locks.clear()
                lock = self._render_locks[key] = threading.Lock()
            return lock

    def rendering(self, key) -> bool:
        """Someone is rendering ``key`` now (its stale bytes may be served meanwhile)."""
        return (lock := self._render_locks.get(key)) is not None and lock.locked()

    def refill(self, key, stale: Optional[Entry], now: float,
                ahead: float = 0.0) -> Optional[Entry]:
        """Render ``key`` again (one thread per key); stale bytes while that runs or fails.

        Stale bytes are this process's, or else the last stored on disk (``page_store``).
        ``ahead``: render bytes that expire within that many seconds too (the refresher).
        """
        if not self.database_ok:
            stale = stale or self._stored(key, now)
            if stale is not None:
                return stale  # stale-if-error: the database is down, these are the last bytes
        lock = self.render_lock(key)
        if not lock.acquire(blocking=stale is None):
            return stale  # someone is rendering it; the bytes we have meanwhile
        try:
            current = self.entries.get(key)
            if (current is not None and current.version == self.version
                    and now + ahead < current.expires):
                return current
            version = self.version
            try:
                rendered = render(self.app, self.flask_app, key[0], key[1])
            except Exception:
                stale = stale or self._stored(key, now)
                if stale is None:
                    raise  # the app propagates its errors (tests): so do we
                log.exception("public cache: rendering %s failed; serving the last bytes",
                              key[0])
                return stale
            self.renders += 1
            if rendered.status not in (200, 404) or not self._storable(rendered):
                if rendered.status >= 500:
                    stale = stale or self._stored(key, now)
                    if stale is not None:
                        log.warning("public cache: %s answered %s; serving the last bytes",
                                    key[0], rendered.status)
                        return stale
                return self._one_off(rendered)
            previous = current or stale
            entry = self._entry(rendered, version, now, previous=previous)
            if rendered.status == 200 and (previous is None or previous.digest != entry.digest):
                self.store.save(key, StoredPage(rendered.status_line, rendered.headers,
                                                rendered.body, entry.last_modified))
            self._keep(key, entry)
            return entry
        finally:
            lock.release()

    def _keep(self, key, entry: Entry) -> None:
        if key not in self.entries and len(self.entries) >= self.max_entries:
            self.entries.pop(next(iter(self.entries)), None)  # the oldest rendered
        self.entries.pop(key, None)
        self.entries[key] = entry

    def _stored(self, key, now: float) -> Optional[Entry]:
        """The bytes last stored on disk for ``key`` (by any process), kept as stale bytes."""
        page = self.store.load(key)
        if page is None:
            return None
        rendered = Rendered(int(page.status_line[:3]), page.status_line, page.headers,
                            page.body)
        # A version no site has: served only while the database is down (fresh_entry).
        entry = self._entry(rendered, _STORED, now, previous=None,
                            last_modified=page.last_modified)
        self._keep(key, entry)
        return entry

    def can_serve(self) -> bool:
        """The database answers (so pages can be rendered), or the front page is at hand.

        For ``/health/live``: a process that can do neither only answers 500.
        """
        now = self.monotonic()
        if now - self.checked_at >= self.request_check_seconds or now < self.checked_at:
            self.check_version(now)
        return (self.database_ok or ("/", "") in self.entries
                or self.store.has(("/", "")))

    def _storable(self, rendered: Rendered) -> bool:
        for name, value in rendered.headers:
            lname = name.lower()
            if lname == "set-cookie":
                log.error("public cache: %s set a cookie; not cached", rendered.status_line)
                return False
            if lname == "cache-control" and ("no-store" in value or "private" in value):
                return False
        return True

    def _one_off(self, rendered: Rendered) -> Entry:
        """An answer not kept (a redirect, an error): served once as it came."""
        headers = [(n, v) for n, v in rendered.headers if n.lower() != "content-length"]
        headers.append(("Content-Length", str(len(rendered.body))))
        return Entry(rendered.status_line, None, float("-inf"), {"": (headers, rendered.body)},
                     frozenset(), "", None, {"": headers})

    def _entry(self, rendered: Rendered, version, now: float, previous: Optional[Entry],
               last_modified: Optional[str] = None) -> Entry:
        body = rendered.body
        digest = body_etag(body)
        vouched = view_last_modified(rendered.headers)
        # ``last_modified`` given: stored bytes keep the date they were first rendered at.
        if vouched is not None:
            last_modified = format_datetime(vouched, usegmt=True)
        elif last_modified is None:
            if previous is not None and previous.digest == digest and previous.last_modified:
                last_modified = previous.last_modified  # same bytes: same validators
            else:
                last_modified = format_datetime(self._wall_now(), usegmt=True)
        ok = rendered.status == 200
        cache_control = self.cache_control if ok else self.not_found_cache_control
        base = [(n, v) for n, v in rendered.headers if n.lower() not in _DROPPED_HEADERS]
        bodies = {"": body}
        if ok and len(body) >= 100 and compressible(rendered.headers):
            gz = gzip_bytes(body)
            if len(gz) < len(body):
                bodies["gzip"] = gz
            br = brotli_bytes(body)
            if br is not None and len(br) < len(body):
                bodies["br"] = br
        vary = [("Vary", "Accept-Encoding")] if len(bodies) > 1 else []
        variants, not_modified, etags = {}, {}, set()
        for encoding, payload in bodies.items():
            etag = f'"{digest}-{encoding}"' if encoding else f'"{digest}"'
            etags.add(etag)
            validators = [("ETag", etag), ("Last-Modified", last_modified),
                          ("Cache-Control", cache_control), *vary]
            enc = [("Content-Encoding", encoding)] if encoding else []
            variants[encoding] = (
                base + enc + validators + [("Content-Length", str(len(payload)))], payload)
            not_modified[encoding] = validators
        expires = now + (self.refresh_seconds if ok else self.not_found_seconds)
        return Entry(rendered.status_line, version, expires, variants, frozenset(etags),
                     digest, last_modified, not_modified,
                     int(vouched.timestamp()) if vouched is not None else None)

    def _wall_now(self) -> datetime:
        clock = self.flask_app.config.get("CLOCK")
        return clock() if clock is not None else datetime.now(timezone.utc)


def init_app(app: Flask) -> None:
    """Wrap the app: ``app.wsgi_app = PublicCache(app.wsgi_app, app)``."""
    site_state.init_app(app)
    app.wsgi_app = PublicCache(app.wsgi_app, app)
    app.extensions["statuspage.public_cache"] = app.wsgi_app
