"""A real HTTP server serving the app on loopback, for the process tests (``-m process``).

``serve(...)`` starts what the README offers: ``granian`` (``make run``'s server, its ASGI
interface) or gunicorn with a worker class (``sync``, ``gthread``, ``asgi``) on a free
port, waits until it answers, and stops it afterwards (SIGTERM; ``stopped`` gets its exit
code and what it wrote to stderr).
``send(...)`` sends one raw HTTP/1.1 request (any header, a chunked body) and returns
(status, headers, body).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Optional

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(port: int, method: str, path: str, headers: Optional[dict] = None,
         body: bytes | Iterable[bytes] | None = None, chunked: bool = False,
         timeout: float = 30) -> tuple[int, dict, bytes]:
    """One request on its own connection; (status, lower-cased headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {},
                     encode_chunked=chunked)
        response = conn.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read())
    finally:
        conn.close()


def _wait_until_answering(proc: subprocess.Popen, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            send(port, "GET", "/health/live", timeout=5)
            return
        except OSError:
            time.sleep(0.1)  # not listening yet: the only wait here, on a real event
    raise RuntimeError("the server did not answer")


def command(worker_class: str, port: int, workers: int, threads: int = 4) -> list[str]:
    """``granian`` (ASGI), or gunicorn with ``worker_class``, on ``port``, as ``serve``
    starts them."""
    from statuspage.cli import server_command

    granian = worker_class == "granian"
    return server_command("granian" if granian else "gunicorn", None if granian else
                          worker_class, host="127.0.0.1", port=port, workers=workers,
                          threads=threads, access_log=False, extra=("--log-level", "warning"))


@contextmanager
def serve(worker_class: str, *, database_url: str, instance: Path,
          public_url: str = "https://status.example.test", workers: int = 1,
          stopped: Optional[dict] = None, started: Optional[dict] = None, threads: int = 4,
          **config) -> Iterator[int]:
    """The server on a free port (yielded); extra ``STATUSPAGE_*`` settings as keywords.
    ``threads``: gthread's threads and the ASGI pool alike (``WEB_THREADS``); ``started``
    gets the server's ``pid`` (its workers are its children)."""
    port = free_port()
    env = dict(os.environ)
    env.pop("TEST_DATABASE_URL", None)
    env.update(STATUSPAGE_INSTANCE_PATH=str(instance), STATUSPAGE_DATABASE_URL=database_url,
               STATUSPAGE_SECRET_KEY="process-test-secret", STATUSPAGE_PUBLIC_URL=public_url,
               PYTHONPATH=str(ROOT))
    env.update({f"STATUSPAGE_{k}": str(v) for k, v in config.items()},
               STATUSPAGE_WEB_THREADS=str(threads))
    proc = subprocess.Popen(command(worker_class, port, workers, threads), env=env,
                            cwd=str(ROOT),
                            stderr=subprocess.PIPE if stopped is not None else None)
    if started is not None:
        started["pid"] = proc.pid
    try:
        _wait_until_answering(proc, port)
        yield port
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if stopped is not None:
            stopped.update(returncode=proc.returncode, stderr=(err or b"").decode())
