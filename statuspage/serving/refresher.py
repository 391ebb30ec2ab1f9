"""Keep a serving process's rendered bytes current from a thread of its own (issue 16).

``render_cache.PublicCache`` answers from rendered bytes; without this module a request
that arrives when the site version is due for a look, or when bytes have aged out, does
that work itself. In a served process (``statuspage.asgi`` and ``statuspage.wsgi``,
``prepare_worker``) a ``Refresher`` thread does it instead:

- it reads the site version every ``PUBLIC_CACHE_CHECK_SECONDS`` (one indexed read), so a
  request never waits on the database for it (a request still looks itself if the thread
  has not looked for three intervals, and at once after this process committed a change);
- it renders again the bytes that readers asked for since their last render, when the
  version moved on or before they age out (``PUBLIC_CACHE_REFRESH_SECONDS``), so readers
  keep getting bytes from memory while it renders; bytes nobody asked for again are left
  to the next reader (the work stays bounded by what is read).

``prepare_worker`` also renders the pages an outage rush asks for before the process
serves its first request, then moves everything alive into the garbage collector's
permanent generation (``gc.freeze``): the full collections that otherwise walk the app's
hundreds of thousands of objects were the 50-100 ms pauses at the tail of every run of
``make bench`` (README, "Performance").
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import threading
from typing import Optional

from flask import Flask

from .render_cache import PublicCache

log = logging.getLogger("statuspage.refresher")

#: What the rush asks for first (the open incidents' pages are added at start).
WARM_PATHS = ("/", "/api/v2/summary.json", "/api/v2/status.json",
              "/api/v2/components.json", "/api/v2/incidents.json",
              "/api/v2/incidents/unresolved.json", "/feed.rss", "/feed.atom", "/history",
              "/badge.svg", "/embed")


class Refresher:
    """One per process: ``tick`` (what the thread does each interval), ``warm``, ``start``."""

    def __init__(self, cache: PublicCache):
        self.cache = cache
        self.interval = cache.check_seconds
        # Rendered again this long before they age out: a tick or two of margin.
        self.ahead = min(3 * self.interval, cache.refresh_seconds / 4)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def tick(self, now: Optional[float] = None) -> int:
        """Look at the version; render again what readers asked for and is stale or about
        to age out. How many paths it rendered."""
        cache = self.cache
        now = cache.monotonic() if now is None else now
        cache.check_version(now)
        if not cache.database_ok:
            return 0  # the last bytes stay up (stale-if-error); nothing can be rendered
        renders = cache.renders
        for key, entry in list(cache.entries.items()):
            if not entry.served or entry.version is None:
                continue  # not asked for since its render, or a one-off answer
            if entry.version != cache.version or now + self.ahead >= entry.expires:
                try:
                    cache.refill(key, entry, now, ahead=self.ahead)
                except Exception:
                    log.exception("public cache: rendering %s in the background failed",
                                  key[0])
        return cache.renders - renders

    def warm(self, paths) -> int:
        """Render ``paths`` now (before the process serves); how many it could."""
        cache = self.cache
        now = cache.monotonic()
        cache.check_version(now)
        done = 0
        for path in paths:
            key = (path, "")
            try:
                entry = cache.refill(key, None, now)
            except Exception:  # the database is down and nothing is stored: later, then
                log.warning("public cache: could not render %s at start", path)
                continue
            if entry is not None:
                entry.served = True  # kept current from the start
                done += 1
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # never let the thread die: requests would do the work again
                log.exception("public cache: the refresher's tick failed")

    def start(self) -> None:
        """Run ``tick`` every interval in a daemon thread (again in a forked child)."""
        self._stop.clear()
        self.cache.request_check_seconds = 3 * self.interval
        self._thread = threading.Thread(target=self._run, name="public-cache-refresher",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.cache.request_check_seconds = self.cache.check_seconds
        if self._thread is not None:
            self._thread.join()


def warm_paths(app: Flask) -> list[str]:
    """``WARM_PATHS`` and the open incidents' pages (the database may be down: then
    without them)."""
    from .. import queries

    paths = list(WARM_PATHS)
    try:
        with app.app_context():
            paths += [f"/incidents/{i.id}" for i in queries.open_incidents()]
    except Exception:
        log.warning("public cache: could not list the open incidents at start")
    return paths


#: glibc's mallopt parameters: how many heaps ("arenas") threads allocate from, and from
#: what size an allocation gets pages of its own (returned to the system when freed).
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3
#: Each setting as glibc's environment variable would give it (which then holds instead).
MALLOC_SETTINGS = (("MALLOC_ARENA_MAX", _M_ARENA_MAX, 2),
                   ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, 128 * 1024))


def tune_malloc() -> list[str]:
    """Keep a serving process's memory from growing with the pages it renders (issue 21).

    glibc gives threads heaps of their own, up to 8 per core, and memory freed in one stays
    in it: two shared heaps, as ``MALLOC_ARENA_MAX=2``. And it raises the size from which an
    allocation gets pages of its own each time such a block is freed, so that rendered pages
    (hundreds of KB, a little larger after each update) end up in the heap, where the holes
    they leave fit nothing larger: the threshold stays at 128 KiB. A variable set in the
    environment holds. Which settings were made (none where the C library is not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return []
    return [name for name, param, value in MALLOC_SETTINGS
            if not os.environ.get(name) and mallopt(param, value) == 1]


def prepare_worker(app: Flask, *, follow_forks: bool = True) -> Optional[Refresher]:
    """In a serving process, before it serves: tune malloc, render the rush's pages, start
    the refresher, freeze what is alive out of the garbage collector's way."""
    tune_malloc()
    cache = app.wsgi_app
    refresher = None
    if isinstance(cache, PublicCache) and cache.enabled:
        refresher = Refresher(cache)
        refresher.warm(warm_paths(app))
        refresher.start()
        # gunicorn --preload and the like fork after this: the thread does not survive a
        # fork, so the child starts its own.
        if follow_forks:
            os.register_at_fork(after_in_child=refresher.start)
    gc.collect()
    gc.freeze()
    return refresher
