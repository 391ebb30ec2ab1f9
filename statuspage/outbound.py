"""One HTTP exchange with the outside, within a deadline. No database, no Flask.

Every outbound request goes through ``exchange``: the webhooks (``outbox.webhook_http``),
Slack (``outbox.slack_delivery``) and the monitors' checks (``monitors.probe``). Each
decides where it may go (its address rule) and hands this module the address it checked.

The timeout is a deadline for the whole exchange: connect, TLS handshake, sending, the
status line and headers, and the body. A per-operation socket timeout is not one: a
receiver that trickles a byte a second never leaves a read idle for long, and held a POST
for a minute against a 6 s timeout (issue 21). So before every socket operation (connect,
each ``recv``/``send``, the TLS handshake) the socket's timeout is set to the time left
until the deadline, and an operation that would start after it raises ``TimeoutError``.
CPython's TLS read, write and handshake and ``sendall`` treat the socket's timeout as a
deadline over the whole call (they wait again only for what is left), so no call can
outlast the deadline and the exchange ends within it, plus one scheduling slice.

Why not a watchdog thread that shuts the socket down at the deadline: it needs a thread
per exchange and a lock against the socket's close (a shutdown that comes late hits a
file descriptor the kernel has since given to another socket); the time-left timeout needs
neither and fails in the thread that made the request. Name resolution is not covered:
the system resolver has its own timeouts (the callers resolve before they call).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Mapping, Optional


class Deadline:
    """A point in time (``time.monotonic``) after which an exchange is over."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.at = time.monotonic() + self.seconds

    def left(self) -> float:
        """Seconds left; ``TimeoutError`` once there are none."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out after {self.seconds:g} s")
        return left


class _Bounded:
    """Mixed into a socket class: each blocking call may take only the time left."""

    deadline: Optional[Deadline] = None

    def _arm(self) -> None:
        if self.deadline is not None:
            self.settimeout(self.deadline.left())  # type: ignore[attr-defined]

    def recv(self, *args, **kwargs):
        self._arm()
        return super().recv(*args, **kwargs)  # type: ignore[misc]

    def recv_into(self, *args, **kwargs):
        self._arm()
        return super().recv_into(*args, **kwargs)  # type: ignore[misc]

    def send(self, *args, **kwargs):
        self._arm()
        return super().send(*args, **kwargs)  # type: ignore[misc]

    def sendall(self, *args, **kwargs):
        self._arm()
        return super().sendall(*args, **kwargs)  # type: ignore[misc]


class _BoundedSocket(_Bounded, socket.socket):
    pass


class _BoundedTLSSocket(_Bounded, ssl.SSLSocket):
    def do_handshake(self, *args, **kwargs):
        self._arm()
        return super().do_handshake(*args, **kwargs)

    def read(self, *args, **kwargs):  # what SSLSocket.recv/recv_into call
        self._arm()
        return super().read(*args, **kwargs)

    def write(self, *args, **kwargs):
        self._arm()
        return super().write(*args, **kwargs)


def tls_context() -> ssl.SSLContext:
    """The default verifying context, making sockets bound by a deadline."""
    context = ssl.create_default_context()
    context.sslsocket_class = _BoundedTLSSocket
    return context


def _connected(address: str, port: int, deadline: Deadline) -> socket.socket:
    """A TCP connection to ``address`` (an IP address, or a name the system resolves, each
    of its addresses tried in turn), all tries within the deadline (unlike
    ``socket.create_connection``, which gives each try the whole timeout)."""
    error: Optional[OSError] = None
    for family, kind, proto, _, where in socket.getaddrinfo(address, port,
                                                            type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.left())
            sock.connect(where)
            return sock
        except OSError as exc:  # TimeoutError included
            sock.close()
            error = exc
            if isinstance(exc, TimeoutError):
                break
    raise error or OSError(f"{address} resolves to no address")


def connect(address: str, port: int, deadline: Deadline, *,
            tls: Optional[ssl.SSLContext] = None,
            server_hostname: Optional[str] = None) -> socket.socket:
    """A socket connected to ``address`` (and through TLS, the certificate checked against
    ``server_hostname``), each of its operations bound by ``deadline``."""
    raw = _connected(address, port, deadline)
    try:
        sock = _BoundedSocket(raw.family, raw.type, raw.proto, fileno=raw.detach())
    finally:
        raw.close()
    sock.deadline = deadline
    sock.settimeout(deadline.left())  # (a socket made from a descriptor has none)
    if tls is None:
        return sock
    if not issubclass(tls.sslsocket_class, _BoundedTLSSocket):
        raise ValueError("use outbound.tls_context(): its sockets keep the deadline")
    try:
        wrapped = tls.wrap_socket(sock, server_hostname=server_hostname,
                                  do_handshake_on_connect=False)
    except BaseException:
        sock.close()
        raise
    wrapped.deadline = deadline
    try:
        wrapped.do_handshake()
    except BaseException:
        wrapped.close()
        raise
    return wrapped


class _Connection(http.client.HTTPConnection):
    """http.client on a socket made by ``connect`` (to the address the caller checked;
    ``Host`` still names the host). No redirect is ever followed: http.client follows
    none."""

    def __init__(self, host: str, port: int, address: str, deadline: Deadline,
                 tls: Optional[ssl.SSLContext]) -> None:
        super().__init__(host, port)
        self._address, self._deadline, self._tls = address, deadline, tls
        self.default_port = 443 if tls is not None else 80  # ``Host`` names no usual port

    def connect(self) -> None:
        self.sock = connect(self._address, self.port, self._deadline, tls=self._tls,
                            server_hostname=self.host)


@dataclass(frozen=True)
class Response:
    """What came back: the status, the headers (names in lower case), and the body up to
    the cap; ``complete`` is False when the body was cut short (the deadline passed or
    the connection broke after the headers)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    complete: bool = True

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


def exchange(method: str, *, scheme: str, host: str, port: int, path: str,
             address: Optional[str] = None, headers: Mapping[str, str],
             body: Optional[bytes] = None, deadline: Deadline, max_body: int,
             tls: Optional[ssl.SSLContext] = None) -> Response:
    """One request to ``address`` (else ``host``, resolved by the system), and its answer
    with at most ``max_body`` bytes of body, all before ``deadline``.

    Raises ``TimeoutError`` when the deadline passes before the headers are in,
    ``OSError`` or ``http.client.HTTPException`` for any other trouble before then
    (refused, reset, bad TLS, a malformed answer); trouble in the body gives a Response
    that is not ``complete``."""
    if scheme == "https":
        tls = tls or tls_context()
    elif scheme == "http":
        tls = None
    else:
        raise ValueError(f"not an http(s) scheme: {scheme!r}")
    conn = _Connection(host, port, address or host, deadline, tls)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        response = conn.getresponse()
        chunks: list[bytes] = []
        read, complete = 0, True
        try:
            while read < max_body:
                chunk = response.read(min(8192, max_body - read))
                if not chunk:
                    break
                chunks.append(chunk)
                read += len(chunk)
        except (OSError, http.client.HTTPException):  # TimeoutError is an OSError
            complete = False
        return Response(response.status,
                        {k.lower(): v for k, v in response.getheaders()}, b"".join(chunks),
                        complete)
    finally:
        conn.close()
