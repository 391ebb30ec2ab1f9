"""The last rendered public bytes, on disk beside the instance, so they outlive the process.

The render cache (``render_cache.PublicCache``) keeps its bytes in memory; a worker that
gunicorn respawns, or a restarted server, starts with none. If the database is down at that
moment it could answer only 500. So whoever renders a public page also writes it here
(``instance/public-cache/``), and a process that cannot render serves what it finds here.

One file per path (its name a hash of path and query), written to a temporary name in the
same folder and renamed over the old one, so a reader sees the old file or the new one,
never half of one; several workers may write the same path at once. The file holds one
line of JSON (the status line, the view's headers, when the bytes were first rendered)
and then the body. Only what the render cache stores is written: anonymous, cookieless
pages rendered from the canonical request, so nothing here depends on who asked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

log = logging.getLogger("statuspage.page_store")

FOLDER = "public-cache"
_SUFFIX = ".page"


@dataclass
class StoredPage:
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes
    last_modified: Optional[str]


class PageStore:
    """The folder of stored pages; every failure to read or write is logged, never raised."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._warned = False

    def _file(self, key: tuple[str, str]) -> Path:
        name = hashlib.blake2b(f"{key[0]}?{key[1]}".encode("utf-8", "surrogateescape"),
                               digest_size=16).hexdigest()
        return self.folder / (name + _SUFFIX)

    def save(self, key: tuple[str, str], page: StoredPage) -> None:
        """Write ``page`` for ``key`` atomically (a temporary file renamed over the old)."""
        head = json.dumps({"key": list(key), "status_line": page.status_line,
                           "headers": page.headers, "last_modified": page.last_modified})
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(head.encode("utf-8") + b"\n" + page.body)
                os.replace(tmp, self._file(key))
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            with self._lock:
                if not self._warned:  # once per process: a full disk must not flood the log
                    self._warned = True
                    log.warning("public cache: cannot store pages in %s (%s)", self.folder,
                                exc.__class__.__name__)

    def load(self, key: tuple[str, str]) -> Optional[StoredPage]:
        """The stored page for ``key``, or None (none stored, or unreadable)."""
        try:
            data = self._file(key).read_bytes()
        except OSError:
            return None
        head, sep, body = data.partition(b"\n")
        try:
            meta = json.loads(head)
        except ValueError:
            return None
        if not sep or meta.get("key") != list(key):
            return None  # a hash collision or a foreign file: never serve another path
        return StoredPage(meta["status_line"], [tuple(h) for h in meta["headers"]], body,
                          meta.get("last_modified"))

    def has(self, key: tuple[str, str]) -> bool:
        return self._file(key).is_file()
