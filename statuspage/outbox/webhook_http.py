"""Where a webhook may be sent: the URL an admin types, and the POST to it. No database,
no Flask: the webhook outbox hands it a URL and bytes and gets a ``PostResult`` back, as
the email outbox does with ``statuspage.mail``.

A webhook URL is https, without a user name, password or fragment, at most ``URL_MAX``
characters, to a host whose every address is public: the address rule, the resolution
(at save and at each send, connecting to the address checked), the deadline, the capped
read and the refusal of redirects are ``statuspage.outbound``'s, under its public policy
("webhooks"). With WEBHOOK_ALLOW_LOOPBACK_HTTP (tests, a local receiver) loopback
addresses are allowed, and plain http to them only.
"""

from __future__ import annotations

from typing import Mapping, Optional

from .. import outbound
# Where the delivery code and the tests have always found them (moved to ``outbound``).
from ..outbound import PostResult, Resolver, Target, classify, system_resolver  # noqa: F401

#: The most of an answer that is read (the status line is all we need).
MAX_RESPONSE_BYTES = outbound.MAX_ANSWER_BYTES
URL_MAX = 2048
_NOT_A_URL = "This is not a URL, e.g. https://hooks.example.org/status."


class RefusedURL(ValueError):
    """A URL a webhook may not be sent to; the message says why, for an admin."""


def policy(allow_loopback_http: bool) -> outbound.Policy:
    """The webhooks' policy: public addresses only (loopback too with the key)."""
    return outbound.public("webhooks", allow_loopback=allow_loopback_http)


def address_refusal(ip: outbound.IPAddress, *, allow_loopback: bool) -> Optional[str]:
    """Why a webhook may not connect to ``ip``, or None when it may."""
    return outbound.refusal(ip, policy(allow_loopback))


def parse_url(url: str, *, allow_loopback_http: bool) -> outbound.Target:
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
        target = outbound.parse_url(url)
    except outbound.Refused as exc:
        raise RefusedURL(str(exc) if exc.kind == "name" else _NOT_A_URL) from None
    if target.scheme == "http" and not allow_loopback_http:
        raise RefusedURL("The URL must start with https://.")
    if target.credentials:
        raise RefusedURL("Put no user name or password in the URL: the signature "
                         "authenticates each notification.")
    if target.fragment:
        raise RefusedURL("A webhook URL has no #fragment.")
    return target


def resolve(target: outbound.Target, *, allow_loopback_http: bool,
            resolver: Resolver = system_resolver) -> str:
    """The address to connect to, every address the name resolves to checked; else
    ``RefusedURL`` saying why."""
    try:
        return outbound.resolve(target, policy(allow_loopback_http), resolver)
    except outbound.Refused as exc:
        raise RefusedURL(str(exc)) from None


def check_url(url: str, *, allow_loopback_http: bool,
              resolver: Resolver = system_resolver) -> str:
    """The URL as stored, once its form and the addresses its host resolves to now are
    allowed; else ``RefusedURL``."""
    target = parse_url(url, allow_loopback_http=allow_loopback_http)
    resolve(target, allow_loopback_http=allow_loopback_http, resolver=resolver)
    return url.strip()


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float,
         allow_loopback_http: bool, resolver: Resolver = system_resolver) -> PostResult:
    """POST ``body`` to ``url`` under the rule above; never raises for network trouble."""
    try:
        parse_url(url, allow_loopback_http=allow_loopback_http)
    except RefusedURL as exc:
        return PostResult("final", None, str(exc)[:300])
    return outbound.post(url, body, headers, timeout=timeout,
                         policy=policy(allow_loopback_http), resolver=resolver)
