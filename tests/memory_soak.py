"""Each web worker's memory under staff writes (issue 21, point 6): for the process test
(``test_memory_process.py``) and ``make bench``.

``Soak`` drives a served app on loopback as a long outage does: staff write through the
write API (open an incident and post updates to it; with ``updates_per_incident``, resolve
it after that many and open the next), as fast as one client can or at a given pace, while
readers ask for the public pages in every encoding, so that every write makes each worker
render again what is read. ``workers_rss`` reads each
worker's resident memory from ``/proc/<pid>/status`` (the server's children).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

#: What the readers ask for, each as identity, gzip and br.
READ_PATHS = ("/", "/api/v2/summary.json", "/api/v2/incidents.json", "/history", "/feed.rss",
              "/badge.svg", "/embed")
#: Updates posted to an incident before it is resolved and the next one opened (by default
#: never: each resolved incident would stay on the front page for days, and what the pages
#: show would grow by a whole incident every few writes).
UPDATES_PER_INCIDENT = 10**9
STATUSES = ("investigating", "identified", "monitoring")


def workers_rss(server_pid: int) -> list[float]:
    """Resident memory (MiB) of each worker process of the server ``server_pid``."""
    found = []
    try:
        children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    except OSError:
        return found
    for pid in children:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return found


class Soak:
    def __init__(self, base_url: str, key: str, component_ids: list[int],
                 updates_per_incident: int = UPDATES_PER_INCIDENT):
        self.base = base_url.rstrip("/")
        self.updates_per_incident = updates_per_incident
        self.key = key
        self.component_ids = component_ids
        self.page = self._json("GET", "/api/v2/status.json", api=False)["page"]["id"]
        self.writes = 0
        self.reads = 0
        self.errors: list[str] = []
        self._incident: Optional[int] = None
        self._updates = 0
        self._stop = threading.Event()
        self._readers: list[threading.Thread] = []

    # --- HTTP ------------------------------------------------------------------------------

    def _json(self, method: str, path: str, body: Optional[dict] = None, api: bool = True):
        headers = {"Content-Type": "application/json"}
        if api:
            headers["Authorization"] = f"OAuth {self.key}"
            path = f"/api/v1/pages/{self.page}{path}"
        request = urllib.request.Request(
            self.base + path, method=method, headers=headers,
            data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def _read(self) -> None:
        while not self._stop.is_set():
            for path in READ_PATHS:
                for encoding in ("identity", "gzip", "br"):
                    request = urllib.request.Request(self.base + path,
                                                     headers={"Accept-Encoding": encoding})
                    try:
                        with urllib.request.urlopen(request, timeout=60) as response:
                            response.read()
                        self.reads += 1
                    except (OSError, urllib.error.HTTPError) as exc:
                        self.errors.append(f"GET {path}: {exc}")
            self._stop.wait(0.02)

    # --- Writes ----------------------------------------------------------------------------

    def write(self) -> None:
        """One staff write: open an incident, post an update to it, or resolve it."""
        n = self.writes
        component = self.component_ids[n % len(self.component_ids)]
        if self._incident is None:
            created = self._json("POST", "/incidents", {"incident": {
                "name": f"Soak incident {n}", "status": "investigating",
                "body": f"Impact: entries slow to save ({n})\nActions: investigating",
                "components": {str(component): "partial_outage"}}})
            self._incident, self._updates = int(created["id"]), 0
        elif self._updates < self.updates_per_incident:
            self._json("PATCH", f"/incidents/{self._incident}", {"incident": {
                "status": STATUSES[self._updates % len(STATUSES)],
                "body": f"Impact: entries slow to save ({n})\nActions: still on it"}})
            self._updates += 1
        else:
            self._json("PATCH", f"/incidents/{self._incident}", {"incident": {
                "status": "resolved", "body": f"Impact: none any more ({n})"}})
            self._incident = None
        self.writes += 1

    def run(self, *, writes: Optional[int] = None, seconds: Optional[float] = None,
            every: float = 0.0) -> int:
        """Write ``writes`` times, or for ``seconds``, one write every ``every`` seconds at
        most (0: as fast as one client can); how many writes it made."""
        done = 0
        started = time.monotonic()
        while (writes is None or done < writes) and (
                seconds is None or time.monotonic() - started < seconds):
            began = time.monotonic()
            self.write()
            done += 1
            if every:
                self._stop.wait(max(0.0, every - (time.monotonic() - began)))
        return done

    # --- Readers ---------------------------------------------------------------------------

    def __enter__(self) -> "Soak":
        self._stop.clear()
        self._readers = [threading.Thread(target=self._read, daemon=True) for _ in range(2)]
        for reader in self._readers:
            reader.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for reader in self._readers:
            reader.join(timeout=120)
