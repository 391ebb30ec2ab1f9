"""One webhook POST over HTTP(S), and the rule of where it may go (server-side request
forgery). No database, no Flask: the webhook outbox hands it a URL and bytes and gets a
``PostResult`` back, as the email outbox does with ``statuspage.mail``.

Where a webhook may go: https to an address on the public internet. Never to an address
that is loopback, private, link-local, unique-local, shared (100.64/10), unspecified,
multicast, reserved, or an IPv6 form of an IPv4 address (mapped, NAT64, 6to4, Teredo),
however the name resolves; with WEBHOOK_ALLOW_LOOPBACK_HTTP (tests, a local receiver)
loopback addresses are allowed, and plain http to them only.

The name is resolved at each send, every address it resolves to is checked (one bad
address refuses the URL: a name that resolves to a public and a private address is how a
rebinding attack starts), and the connection goes to the address that was checked, not
to a second resolution. No redirect is followed (http.client follows none), no proxy
from the environment is used, the answer is read up to ``MAX_RESPONSE_BYTES``, and the
whole exchange (connect, TLS, the request, the answer) ends by its deadline
(``statuspage.outbound``, which every outbound request goes through).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
from dataclasses import dataclass
from typing import Callable, Mapping, Optional
from urllib.parse import urlsplit

from .. import outbound

#: The most of an answer that is read (the status line is all we need).
MAX_RESPONSE_BYTES = 64 * 1024
URL_MAX = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: IPv6 prefixes that carry an IPv4 address: what they reach is an IPv4 host we would
#: have to check instead, so they are refused outright.
_EMBEDS_IPV4 = [ipaddress.ip_network(n) for n in (
    "::ffff:0:0/96",  # IPv4-mapped
    "::/96",  # IPv4-compatible (deprecated)
    "64:ff9b::/96", "64:ff9b:1::/48",  # NAT64
    "2002::/16",  # 6to4
    "2001::/32",  # Teredo
)]
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class RefusedURL(ValueError):
    """A URL a webhook may not be sent to; the message says why, for an admin."""


def address_refusal(ip: IPAddress, *, allow_loopback: bool) -> Optional[str]:
    """Why a webhook may not connect to ``ip``, or None when it may."""
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in n for n in _EMBEDS_IPV4):
        return "an IPv6 form of an IPv4 address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "a shared address (100.64.0.0/10)"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True)
class Target:
    """A URL taken apart: what to connect to and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str, *, allow_loopback_http: bool) -> Target:
    """The URL's parts, or ``RefusedURL`` with what is wrong with its form.

    http is accepted here only when loopback http is allowed; whether the host is
    loopback is known only once it is resolved (``resolve``)."""
    url = (url or "").strip()
    if not url:
        raise RefusedURL("Enter the URL to send the notifications to.")
    if len(url) > URL_MAX:
        raise RefusedURL(f"At most {URL_MAX} characters.")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise RefusedURL("This is not a URL: a URL has no spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedURL("This is not a URL, e.g. https://hooks.example.org/status.")
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise RefusedURL("This is not a URL, e.g. https://hooks.example.org/status.")
    if scheme == "http" and not allow_loopback_http:
        raise RefusedURL("The URL must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise RefusedURL("Put no user name or password in the URL: the signature "
                         "authenticates each notification.")
    if parts.fragment:
        raise RefusedURL("A webhook URL has no #fragment.")
    host = parts.hostname
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise RefusedURL("The host name is not valid.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolves ``host`` to (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def resolve(target: Target, *, allow_loopback_http: bool,
            resolver: Resolver = system_resolver) -> str:
    """The address to connect to, every address the name resolves to checked; else
    ``RefusedURL`` saying why."""
    try:
        literal: Optional[IPAddress] = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolver(target.host, target.port)
        except (OSError, UnicodeError):
            raise RefusedURL(f"The host name {target.host} could not be resolved.")
        if not addresses:
            raise RefusedURL(f"The host name {target.host} could not be resolved.")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        why = address_refusal(ip, allow_loopback=allow_loopback_http)
        if why is not None:
            raise RefusedURL(f"The URL leads to {why} ({ip}): webhooks go to public "
                             "addresses only.")
        if target.scheme == "http" and not ip.is_loopback:
            raise RefusedURL("The URL must start with https:// (http only to loopback).")
    return addresses[0]


def check_url(url: str, *, allow_loopback_http: bool,
              resolver: Resolver = system_resolver) -> str:
    """The URL as stored, once its form and the addresses its host resolves to now are
    allowed; else ``RefusedURL``."""
    target = parse_url(url, allow_loopback_http=allow_loopback_http)
    resolve(target, allow_loopback_http=allow_loopback_http, resolver=resolver)
    return url.strip()


# --- Sending -------------------------------------------------------------------------------


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


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float,
         allow_loopback_http: bool, resolver: Resolver = system_resolver) -> PostResult:
    """POST ``body`` to ``url`` under the rule above; never raises for network trouble."""
    try:
        target = parse_url(url, allow_loopback_http=allow_loopback_http)
        address = resolve(target, allow_loopback_http=allow_loopback_http,
                          resolver=resolver)
    except RefusedURL as exc:
        return PostResult("final", None, str(exc)[:300])
    try:
        response = outbound.exchange(
            "POST", scheme=target.scheme, host=target.host, port=target.port,
            path=target.path, address=address, headers=headers, body=body,
            deadline=outbound.Deadline(timeout), max_body=MAX_RESPONSE_BYTES)
    except TimeoutError:
        return PostResult("retry", None, "timed out")
    except (OSError, http.client.HTTPException) as exc:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return PostResult("retry", None, text[:300])
    status = response.status  # (a body cut short changes nothing: the status is in)
    outcome = classify(status)
    error = "" if outcome == "sent" else f"HTTP {status}"
    if 300 <= status < 400:
        error += " (redirects are not followed)"
    return PostResult(outcome, status, error)
