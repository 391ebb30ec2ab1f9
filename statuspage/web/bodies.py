"""Request bodies bounded by ``MAX_CONTENT_LENGTH`` whatever their transfer encoding.

Werkzeug enforces the limit on a ``Content-Length``; a chunked body has none, and then it
depends on the server: gunicorn's sync and gthread workers mark the stream terminated and
Werkzeug silently cuts it at the limit (a 400 KB form was stored cut to 256 KiB), while
a2wsgi under the asyncio worker does not, and Werkzeug reads it as empty (a small chunked
form got 400). So a chunked body is read here, up to one byte over the limit, and handed
on with the length it has: Werkzeug then answers 413 for a body over the limit, exactly as
for a ``Content-Length`` over it, and parses a small one as usual, on every worker.
"""

from __future__ import annotations

import io
from typing import Callable, Optional

_READ_SIZE = 64 * 1024


def read_at_most(stream, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream`` (fewer at its end)."""
    parts, left = [], limit
    while left > 0:
        chunk = stream.read(min(left, _READ_SIZE))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


class BoundedBody:
    """WSGI middleware: a body without ``Content-Length`` gets one, or 413 when too large."""

    def __init__(self, wsgi_app: Callable, max_length: Optional[int]):
        self.app = wsgi_app
        self.max_length = max_length

    def __call__(self, environ, start_response):
        if (self.max_length is not None and not environ.get("CONTENT_LENGTH")
                and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()):
            # One byte over the limit is enough to know; the rest is never read.
            body = read_at_most(environ["wsgi.input"], self.max_length + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("wsgi.input_terminated", None)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)
