"""Every HTTP request to the outside, and where it may go. No database, no Flask.

Webhooks (``outbox.webhook_http``), Slack (``outbox.slack_delivery``), the monitors
(``monitors.probe``) and every HTTP channel after them go through here; a test in
``tests/test_layout.py`` fails when another module speaks HTTP itself.

Where a request may go is one rule (``refusal``) with a policy per caller (issue 22):
the monitors may reach any address but a link-local one; webhooks, Slack and every
subscriber channel public addresses only (``Policy``). The host is resolved once, every
address it resolves to is checked (a name that resolves to a public and a private address
is how a rebinding attack starts), and the connection goes to the address checked, TLS
verifying the certificate against the host's name. No redirect is followed (the monitors'
same-host redirects are theirs, each hop checked again), no proxy from the environment is
used, the answer is read up to a cap.

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
the system resolver has its own timeouts (``resolve`` runs before the exchange).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional
from urllib.parse import urlsplit


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


# --- Where a request may go ----------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: IPv6 prefixes that carry an IPv4 address: what they reach is an IPv4 host, so a public
#: policy refuses them outright, and the monitors' judges the IPv4 address they carry.
_EMBEDS_IPV4 = [ipaddress.ip_network(n) for n in (
    "::ffff:0:0/96",  # IPv4-mapped
    "::/96",  # IPv4-compatible (deprecated)
    "64:ff9b::/96", "64:ff9b:1::/48",  # NAT64
    "2002::/16",  # 6to4
    "2001::/32",  # Teredo
)]
_LOW_32_BITS = [ipaddress.ip_network(n) for n in ("::/96", "64:ff9b::/96")]
_SHARED = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class Policy:
    """Where one caller's requests may go. ``internal``: any address but a link-local one,
    over http or https (the monitors). Otherwise public addresses over https only; with
    ``loopback`` (WEBHOOK_ALLOW_LOOPBACK_HTTP) loopback too, and plain http to it only.
    ``who`` names the senders in a refusal: "webhooks go to public addresses only"."""

    who: str
    internal: bool = False
    loopback: bool = False


def public(who: str, *, allow_loopback: bool = False) -> Policy:
    """The policy of webhooks, Slack and every subscriber channel."""
    return Policy(who, internal=False, loopback=allow_loopback)


MONITORS = Policy("monitors", internal=True)


def _carried_ipv4(ip: ipaddress.IPv6Address) -> Optional[ipaddress.IPv4Address]:
    """The IPv4 address an IPv6 form carries, where its place is fixed (not for
    64:ff9b:1::/48, whose operator chooses it)."""
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if any(ip in n for n in _LOW_32_BITS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress, policy: Policy) -> Optional[str]:
    """Why ``policy`` may not connect to ``ip`` ("a private address"), or None when it may."""
    if ip.is_loopback:
        return None if policy.internal or policy.loopback else "a loopback address"
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in n for n in _EMBEDS_IPV4):
        carried = _carried_ipv4(ip) if policy.internal else None
        return (refusal(carried, policy) if carried is not None
                else "an IPv6 form of an IPv4 address")
    if ip.is_link_local:
        return "a link-local address"
    if policy.internal:
        return None
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "a shared address (100.64.0.0/10)"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


class Refused(ValueError):
    """A request that is not made; ``kind`` says why, for the caller's own words:
    "form", "scheme", "host", "name", "credentials" (the URL), "unresolved" (the host),
    "address" (``why`` and ``address``: the rule), "http" (plain http off loopback)."""

    def __init__(self, kind: str, message: str, *, why: str = "", address: str = "") -> None:
        super().__init__(message)
        self.kind, self.why, self.address = kind, why, address


@dataclass(frozen=True)
class Target:
    """A URL taken apart: where to connect and what to ask for (``credentials``: the URL
    names a user or password, which is never sent; ``fragment``: never sent either)."""

    scheme: str
    host: str
    port: int
    path: str
    credentials: bool = False
    fragment: str = ""


def parse_url(url: str) -> Target:
    """The parts of an http(s) URL (the host in its ASCII form), or ``Refused``."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        raise Refused("form", "This is not a URL.") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("scheme", "Only http:// and https:// URLs are requested.")
    if not parts.hostname:
        raise Refused("host", "The URL needs a host.")
    host = parts.hostname
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise Refused("name", "The host name is not valid.") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path,
                  parts.username is not None or parts.password is not None, parts.fragment)


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolves ``host`` to (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def resolve(target: Target, policy: Policy, resolver: Resolver = system_resolver) -> str:
    """The address to connect to (the first), once every address the host resolves to
    now passed ``policy``; else ``Refused`` saying why."""
    try:
        addresses = [str(ipaddress.ip_address(target.host))]
    except ValueError:  # a name
        try:
            addresses = resolver(target.host, target.port)
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            raise Refused("unresolved", f"The host name {target.host} could not be "
                          "resolved.") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        why = refusal(ip, policy)
        if why is not None:
            where = "go to public addresses only" if not policy.internal else "never go there"
            raise Refused("address", f"The URL leads to {why} ({ip}): {policy.who} {where}.",
                          why=why, address=str(ip))
        if target.scheme == "http" and not (policy.internal or ip.is_loopback):
            raise Refused("http", "The URL must start with https:// (http only to loopback).")
    return addresses[0]


# --- A POST whose answer is an outcome -------------------------------------------------------

#: The most of an answer a POST reads (the status line is all a sender needs).
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class PostResult:
    """What became of one POST: ``sent`` (2xx), ``retry`` (timeout, connection error,
    5xx, 429) or ``final`` (any other answer, or a URL that is refused)."""

    outcome: str
    status_code: Optional[int] = None
    error: str = ""


def classify(status: int) -> str:
    """``sent``, ``retry`` or ``final`` for an HTTP status."""
    if 200 <= status < 300:
        return "sent"
    if status == 429 or status >= 500:
        return "retry"
    return "final"  # 4xx, and 3xx: a redirect is not followed


#: What ``exchange`` raises for trouble before the headers are in (TimeoutError included).
TROUBLE = (OSError, http.client.HTTPException)


def failure(exc: BaseException) -> str:
    """An exchange's trouble in a line, for a log or an admin."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float,
         policy: Policy, resolver: Resolver = system_resolver) -> PostResult:
    """POST ``body`` to ``url`` where ``policy`` allows it, within ``timeout`` seconds in
    all; never raises for a refused URL or network trouble."""
    try:
        target = parse_url(url)
        if target.credentials:
            raise Refused("credentials", "The URL names a user or password.")
        address = resolve(target, policy, resolver)
    except Refused as exc:
        return PostResult("final", None, str(exc)[:300])
    try:
        response = exchange(
            "POST", scheme=target.scheme, host=target.host, port=target.port,
            path=target.path, address=address, headers=headers, body=body,
            deadline=Deadline(timeout), max_body=MAX_ANSWER_BYTES)
    except TimeoutError:
        return PostResult("retry", None, "timed out")
    except TROUBLE as exc:
        return PostResult("retry", None, failure(exc)[:300])
    status = response.status  # (a body cut short changes nothing: the status is in)
    outcome = classify(status)
    error = "" if outcome == "sent" else f"HTTP {status}"
    if 300 <= status < 400:
        error += " (redirects are not followed)"
    return PostResult(outcome, status, error)
