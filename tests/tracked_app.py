"""A stand-in for the tracked app: a real HTTP server on loopback whose health endpoint
answers as the test says (``mode``), and counts the checks it gets.

    from tests.tracked_app import tracked  # noqa: F401  (fixture)

Modes: ok ({"status": "ok"}), pass, healthy, text (200 text/plain), 503, fail
({"status": "fail"}), badjson (a JSON content type that does not parse), slow (answers
after ``slow_seconds``), redirect_same (to /health/ready on this server), redirect_away
(to another host), huge (a JSON body past the 64 KB cap, healthy if it were read whole).
``refused()`` gives a URL on a port where nothing listens.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class TrackedApp:
    def __init__(self) -> None:
        self.mode = "ok"
        self.slow_seconds = 3.0
        self.lock = threading.Lock()
        self.hits = 0
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                with app.lock:
                    app.hits += 1
                    mode = app.mode
                if self.path.startswith("/moved"):
                    mode = "ok"
                status, ctype, body, headers = 200, "application/json", b"", {}
                if mode in ("ok", "pass", "healthy"):
                    body = json.dumps({"status": mode, "checks": {}}).encode()
                elif mode == "fail":
                    body = json.dumps({"status": "fail"}).encode()
                elif mode == "fail_named":
                    body = json.dumps({"status": "fail-db-replica-7"}).encode()
                elif mode == "text":
                    ctype, body = "text/plain", b"fine"
                elif mode == "503":
                    status, body = 503, json.dumps({"status": "fail"}).encode()
                elif mode == "badjson":
                    body = b"{\"status\": \"ok\""
                elif mode == "slow":
                    time.sleep(app.slow_seconds)
                    body = b"{\"status\": \"ok\"}"
                elif mode == "redirect_same":
                    status, headers = 302, {"Location": "/moved"}
                elif mode == "redirect_away":
                    status, headers = 302, {"Location": "http://localhost:1/health"}
                elif mode == "huge":
                    body = b"{\"status\": \"ok\", \"pad\": \"" + b"x" * 70000 + b"\"}"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/health/ready") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, mode: str) -> None:
        with self.lock:
            self.mode = mode

    @staticmethod
    def refused() -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return f"http://127.0.0.1:{port}/health/ready"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tracked():
    server = TrackedApp()
    server.thread.start()
    yield server
    server.close()
