"""A real ntfy-compatible server on loopback (http.server in a thread): it takes ntfy's
publish API as a self-hosted ntfy does, records each message, and misbehaves on request
(answer given statuses, with ntfy's error JSON; stall past the client's timeout).

ntfy publishes (https://docs.ntfy.sh/publish/): a POST or PUT to ``/<topic>`` with the
message as the body and the title in a ``Title`` (or ``X-Title``, ``t``) header, or a
JSON POST to ``/`` with ``topic``, ``title`` and ``message`` (what Apprise's ``ntfy://``
plugin sends).

    from tests.ntfy_receiver import ntfy  # noqa: F401  (fixture)
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

import pytest


@dataclass
class Message:
    topic: str
    title: str
    message: str


class NtfyServer:
    def __init__(self, bind: str = "127.0.0.1") -> None:
        self.lock = threading.Lock()
        self.messages: list[Message] = []
        self.requests = 0
        self.answers: list[int] = []  # the next answers, in turn; then 200
        self.stalled = threading.Event()
        self.unstalled = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                topic = self.path.split("?", 1)[0].strip("/")
                if topic:
                    title = (self.headers.get("Title") or self.headers.get("X-Title")
                             or self.headers.get("t") or "")
                    message = Message(topic, title, body.decode("utf-8", "replace"))
                else:
                    try:
                        sent = json.loads(body)
                        message = Message(str(sent["topic"]), str(sent.get("title", "")),
                                          str(sent.get("message", "")))
                    except (ValueError, KeyError, TypeError):
                        return self._answer(400, {"code": 40001, "http": 400,
                                                  "error": "invalid request"})
                if server.stalled.is_set():
                    with server.lock:
                        server.requests += 1
                    server.unstalled.wait(120)  # answer too late: the client has gone
                    return
                with server.lock:
                    server.requests += 1
                    status = server.answers.pop(0) if server.answers else 200
                    if status == 200:
                        server.messages.append(message)
                if status != 200:
                    return self._answer(status, {"code": status * 100 + 1, "http": status,
                                                 "error": "something went wrong"})
                self._answer(200, {"id": f"m{server.requests}", "event": "message",
                                   "topic": message.topic, "message": message.message})

            do_PUT = do_POST

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer((bind, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, topic: str, *, scheme: str = "ntfy", host: str = "127.0.0.1") -> str:
        """The Apprise URL of ``topic`` on this server."""
        return f"{scheme}://{host}:{self.port}/{topic}"

    def answer(self, *statuses: int) -> None:
        with self.lock:
            self.answers.extend(statuses)

    def stall(self) -> None:
        self.unstalled.clear()
        self.stalled.set()

    def unstall(self) -> None:
        self.stalled.clear()
        self.unstalled.set()

    def received(self, topic: Optional[str] = None) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if topic is None or m.topic == topic]

    def close(self) -> None:
        self.unstall()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ntfy():
    server = NtfyServer()
    server.thread.start()
    yield server
    server.close()


if __name__ == "__main__":  # python -m tests.ntfy_receiver [port]: try paging by hand
    import sys
    import time

    server = NtfyServer()
    if len(sys.argv) > 1:
        server.server.server_close()
        server.server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])),
                                            server.server.RequestHandlerClass)
        server.port = server.server.server_address[1]
        server.thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    server.thread.start()
    print(f"ntfy-like receiver on http://127.0.0.1:{server.port}; page URL "
          f"{server.url('mytopic')} (Ctrl-C stops)", flush=True)
    shown = 0
    try:
        while True:
            for m in server.received()[shown:]:
                print(f"[{m.topic}] {m.title}\n{m.message}\n", flush=True)
            shown = len(server.received())
            time.sleep(0.5)
    except KeyboardInterrupt:
        server.close()
