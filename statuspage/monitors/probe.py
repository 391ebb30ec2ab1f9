"""One check of one URL: an HTTP GET under the monitors' address rule. No database.

The rule (issue 15, "Decided after review"; ``statuspage.outbound``'s ``MONITORS``
policy): http and https only; any address but a link-local one (169.254.0.0/16,
fe80::/10: cloud metadata services), checked on the addresses the host resolves to at each
check and connected to by that address (so a name that later resolves elsewhere cannot
slip past); redirects followed only on the same host (scheme, host and port), at most
``MAX_REDIRECTS``, each hop checked again; at most ``MAX_BODY_BYTES`` read.

Down: a timeout, a connection error, a status outside 2xx, a JSON body (by its
Content-Type) that does not parse, or one whose ``status`` is present and is not ``ok``,
``pass`` or ``healthy``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import urljoin

from .. import outbound
# The names the monitors' settings and runner take a resolver by.
from ..outbound import Resolver, Target, system_resolver  # noqa: F401

MAX_BODY_BYTES = 64 * 1024
MAX_REDIRECTS = 3
HEALTHY = ("ok", "pass", "healthy")
ERROR_MAX = 300
USER_AGENT = "statuspage-monitor/1"

#: What an admin reads when the URL is not one to check (``outbound.Refused.kind``).
_URL_PROBLEMS = {
    "form": "Enter a valid http:// or https:// URL.",
    "scheme": "Only http:// and https:// URLs can be checked.",
    "host": "The URL needs a host.",
    "name": "The host name is not valid.",
}
_LINK_LOCAL = "Link-local addresses (169.254.0.0/16, fe80::/10) cannot be checked."


class RefusedURL(ValueError):
    """A URL the monitors may not check; its text says why (shown to admins)."""


@dataclass(frozen=True)
class Result:
    ok: bool
    latency_ms: int
    status_code: Optional[int] = None
    error: Optional[str] = None


def parse_url(url: str) -> Target:
    """The parts of an http(s) URL, or RefusedURL."""
    try:
        target = outbound.parse_url(url)
    except outbound.Refused as exc:
        raise RefusedURL(_URL_PROBLEMS[exc.kind]) from None
    if target.credentials:
        raise RefusedURL("The URL cannot carry a user name or password.")
    return target


def resolve(target: Target, resolver: Resolver = system_resolver) -> str:
    """The address to connect to: the first the host resolves to; RefusedURL when any of
    them is link-local, or the name does not resolve."""
    try:
        return outbound.resolve(target, outbound.MONITORS, resolver)
    except outbound.Refused as exc:
        if exc.kind == "unresolved":
            raise RefusedURL(f"The host {target.host} does not resolve.") from None
        if exc.why == "a link-local address":
            raise RefusedURL(_LINK_LOCAL) from None
        raise RefusedURL(str(exc)) from None


def check_url(url: str, resolver: Resolver = system_resolver) -> None:
    """RefusedURL unless ``url`` may be checked (the form and MONITOR_TARGETS use it)."""
    resolve(parse_url(url), resolver)


def _short(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[:ERROR_MAX - 1] + "…"


def verdict(status: int, content_type: str, body: bytes) -> Optional[str]:
    """None when a response is healthy, else why not."""
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if "json" not in (content_type or "").lower():
        return None
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "the JSON body does not parse"
    if isinstance(data, dict) and "status" in data:
        value = data["status"]
        if not (isinstance(value, str) and value.strip().lower() in HEALTHY):
            return _short(f"JSON status is {json.dumps(value)[:60]}")
    return None


def check(url: str, timeout: float, *, resolver: Resolver = system_resolver,
          monotonic: Callable[[], float] = time.monotonic) -> Result:
    """GET ``url``; never raises. The whole check (the redirects followed included) ends
    within ``timeout`` seconds: a deadline over every socket operation
    (``statuspage.outbound``), not a timeout per read."""
    started = monotonic()
    deadline = outbound.Deadline(timeout)

    def done(ok: bool, code: Optional[int] = None, error: Optional[str] = None) -> Result:
        latency = max(0, round((monotonic() - started) * 1000))
        return Result(ok, latency, code, _short(error) if error else None)

    try:
        target = parse_url(url)
    except RefusedURL as exc:
        return done(False, error=str(exc))
    for _ in range(MAX_REDIRECTS + 1):
        try:
            address = resolve(target, resolver)
        except RefusedURL as exc:
            return done(False, error=str(exc))
        try:
            response = outbound.exchange(
                "GET", scheme=target.scheme, host=target.host, port=target.port,
                path=target.path, address=address, deadline=deadline,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json, */*"},
                max_body=MAX_BODY_BYTES)
            if not response.complete:
                deadline.left()  # TimeoutError if that is why it was cut short
                return done(False, response.status, "the connection broke in the body")
        except TimeoutError:
            return done(False, error=f"timed out after {timeout:g} s")
        except outbound.TROUBLE as exc:
            return done(False, error=outbound.failure(exc))
        status, location = response.status, response.header("Location") or None
        content_type, body = response.header("Content-Type"), response.body
        if status in (301, 302, 303, 307, 308) and location:
            try:
                following = parse_url(urljoin(f"{target.scheme}://{target.host}:"
                                              f"{target.port}{target.path}", location))
            except RefusedURL:
                return done(False, status, "redirect to an address that cannot be checked")
            if (following.scheme, following.host, following.port) != (
                    target.scheme, target.host, target.port):
                return done(False, status, "redirect to another host (not followed)")
            target = following
            continue
        problem = verdict(status, content_type, body)
        return done(problem is None, status, problem)
    return done(False, error="too many redirects")
