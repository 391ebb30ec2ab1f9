"""Slow clients, tried as an attacker would (issue 21): the README's "Slow clients" numbers.

Starts the app as ``serve`` does (2 workers, the default settings) with each server the
README offers, on loopback, against a small seeded SQLite database. For ``--seconds`` it
keeps 50 connections sending ``POST /subscribe`` with ``Content-Length: 100000`` at one
byte a second (a connection answered is replaced by a new one the next second), and
meanwhile fetches
``/``, ``/api/v2/summary.json``, ``/health/live`` and ``/staff/login`` one after another on
new connections, as a reader would. Prints, per server, the latency of those pages (p50,
p99, max, and any that failed) with no attack and under it, and what the slow bodies got.

Run from the repository: ``.venv/bin/python tests/bench/slow_clients.py`` (about 2
minutes; ``--servers granian`` for one). Everything listens on 127.0.0.1 and is stopped
at the end.
"""

from __future__ import annotations

import argparse
import collections
import os
import selectors
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.http_server import send, serve  # noqa: E402

PAGES = ("/", "/api/v2/summary.json", "/health/live", "/staff/login")
SLOW = 50
HEAD = (b"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")


def migrated_database(folder: Path) -> str:
    import flask_migrate

    from statuspage import create_app
    from statuspage.extensions import db
    from statuspage.seed import seed_components

    url = f"sqlite:///{folder}/statuspage.sqlite3"
    os.environ["STATUSPAGE_INSTANCE_PATH"] = str(folder / "instance")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        seed_components(time_now())
        db.session.commit()
        db.engine.dispose()
    return url


def time_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


class Attacker:
    """Keeps ``count`` slow bodies open; counts what the server answered them."""

    def __init__(self, port: int, count: int):
        self.port, self.count = port, count
        self.answers: collections.Counter = collections.Counter()
        self.seconds: list[float] = []  # from opening to the answer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _open(self, selector, opened):
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(HEAD + b"e")
            sock.setblocking(False)
        except OSError:
            self.answers["connect failed"] += 1
            return
        opened[sock] = time.monotonic()
        selector.register(sock, selectors.EVENT_READ)

    def _run(self) -> None:
        selector, opened = selectors.DefaultSelector(), {}
        next_byte = time.monotonic() + 1
        while len(opened) < self.count:
            self._open(selector, opened)
        while not self._stop.is_set():
            for key, _ in selector.select(0.05):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else (
                    "closed, no answer")
                self.answers[status] += 1
                self.seconds.append(time.monotonic() - opened.pop(sock))
                selector.unregister(sock)
                sock.close()
            if time.monotonic() >= next_byte:  # once a second: a byte each, and new ones
                next_byte += 1
                while len(opened) < self.count:
                    self._open(selector, opened)
                for sock in opened:
                    try:
                        sock.send(b"e")
                    except OSError:
                        pass
        for sock in opened:
            sock.close()
        selector.close()


def probe(port: int, seconds: float) -> dict[str, list]:
    """Each page again and again for ``seconds``; path -> latencies (None: failed)."""
    found: dict[str, list] = {path: [] for path in PAGES}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for path in PAGES:
            start = time.monotonic()
            try:
                ok = send(port, "GET", path, timeout=10)[0] == 200
            except OSError:
                ok = False
            found[path].append(time.monotonic() - start if ok else None)
    return found


def summary(latencies: list) -> str:
    good = sorted(t for t in latencies if t is not None)
    failed = len(latencies) - len(good)
    if not good:
        return f"all {failed} failed"
    pick = lambda q: good[min(len(good) - 1, int(q * len(good)))] * 1000  # noqa: E731
    return (f"n={len(latencies):4d} p50 {pick(0.5):6.1f} ms  p99 {pick(0.99):6.1f} ms  "
            f"max {good[-1] * 1000:7.1f} ms" + (f"  failed {failed}" if failed else ""))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", default="granian,asgi,gthread,sync")
    parser.add_argument("--seconds", type=float, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = migrated_database(folder)
        for server in args.servers.split(","):
            with serve(server, database_url=url, instance=folder / "instance", workers=2,
                       threads=8) as port:
                for path in PAGES:
                    send(port, "GET", path)
                quiet = probe(port, 5)
                with Attacker(port, SLOW) as attacker:
                    time.sleep(1)  # the 50 are open and sending before measuring
                    loud = probe(port, args.seconds)
                print(f"\n{server} (2 workers, WEB_THREADS=8, defaults)", flush=True)
                for path in PAGES:
                    print(f"  {path:22s} quiet: {summary(quiet[path])}")
                    print(f"  {'':22s} 50 slow bodies: {summary(loud[path])}")
                took = sorted(attacker.seconds)
                print(f"  slow bodies answered: {dict(attacker.answers)}; seconds held: "
                      f"median {took[len(took) // 2] if took else 0:.1f}, "
                      f"max {took[-1] if took else 0:.1f}", flush=True)


if __name__ == "__main__":
    main()
