"""Pages by SMS and push: each way of a page (a ``PageSend``: "sms", or "url:<n>", the
person's n-th page URL) goes through Apprise, the library that speaks some ninety services
(ntfy, Pushover, Telegram, Twilio...). The one module that may import it
(tests/test_layout.py), because it checks first, before each send, where Apprise would go.

What goes where is read when the way goes, never stored with the row: "sms" is SMS_URL
with the person's phone appended as the target (``twilio://SID:TOKEN@+15550001111`` +
``/+15557654321``), "url:<n>" the n-th line of their profile's ``page_urls``. A page whose
text is gone (``text_of`` None: the chain acknowledged), a person no longer staff, a way
no longer in the profile: the row is cancelled.

Before each send the URL is parsed with Apprise, and the hosts it names (a self-hosted
ntfy's, a JSON receiver's: the plugins whose URL names ``{host}``) pass the outbound
address rule (``outbound.resolve``): public addresses over https only, unless
PAGE_ALLOW_PRIVATE_HOSTS allows private, loopback and plain http ones too (link-local
never). A service at its own fixed address (Twilio, Pushover, Telegram) is reached at that
address. A refused host fails the way for good, and says why.

Apprise answers a yes or a no and logs why: the log of each call is read here (Apprise's
own per-call capture), reduced to a short answer with no URL, token or phone in it ("HTTP
500", "timed out", "connection failed"), and Apprise's and urllib3's loggers do not reach
ours (they name URLs, topics and tokens). A failure is tried again later (up to
PAGE_MAX_ATTEMPTS, waits from NOTIFIER_RETRY_*); each try is bounded by
PAGE_TIMEOUT_SECONDS, as the socket's connect and read timeouts and as the whole call's.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterator, Mapping, Optional
from urllib.parse import urlsplit

import apprise
from flask import Flask

from ... import outbound
from ...clock import utcnow
from ...extensions import db
from ...models import Page, StaffUser
from ...paging import ways
from .. import engine
from ..channel import Answer, Channel, Outcome
from ..page_sends import PAGE_SENDS, Claimed

_CODE = re.compile(r"(?:error=|\bHTTP )(\d{3,5})\b")


def reduced(text: str) -> Optional[str]:
    """What a line of Apprise's log says that may be kept: the HTTP status ("HTTP 500"),
    "timed out", "connection refused" or "connection failed"; None for the rest. Built from
    what is recognised, never copied: its lines name URLs, topics, tokens and phones."""
    found = _CODE.search(text)
    if found:
        code = int(found.group(1))
        code = code // 100 if code >= 1000 else code  # ntfy's codes: 50001 is an HTTP 500
        if 100 <= code <= 599:
            return f"HTTP {code}"
    lowered = text.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if "refused" in lowered:
        return "connection refused"
    if "connection error" in lowered or "connectionerror" in lowered:
        return "connection failed"
    return None


class _Reduce(logging.Filter):
    """On Apprise's logger: each record becomes its ``reduced`` words, or is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        words = reduced(record.getMessage())
        if words is None:
            return False
        record.msg, record.args = f"Apprise: {words}", None
        return True


# Apprise logs each URL it posts to (an ntfy topic, a bot token, a phone): its records are
# reduced to a few safe words before any handler sees them (Apprise's per-call capture,
# read below, included), and do not reach the app's log. urllib3 (Apprise's HTTP) logs each
# path it requests: it logs nothing.
_apprise_log = logging.getLogger("apprise")
if not any(isinstance(f, _Reduce) for f in _apprise_log.filters):
    _apprise_log.addFilter(_Reduce())
_apprise_log.propagate = False
logging.getLogger("urllib3").setLevel(logging.CRITICAL + 1)

#: "sms" goes to SMS_URL + the phone; this is its name on the staff pages.
SMS_SERVICE = "SMS"
CANNOT_READ = "Apprise cannot read this URL."


@dataclass(frozen=True)
class Reading:
    """A page URL as Apprise reads it: the service's name, the URL masked for the staff
    pages, and the servers it names (``outbound.Target``; none for a service at a fixed
    address)."""

    service: str
    masked: str
    hosts: tuple[outbound.Target, ...]


def _plugin(url: str) -> Any:
    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # noqa: BLE001 (a plugin that raises reading its URL cannot be a way)
        return None


def _names_host(plugin: Any) -> bool:
    return any("{host}" in template for template in getattr(plugin, "templates", ()))


def read(url: str) -> Reading:
    """``url`` as Apprise reads it, or ``ValueError`` (CANNOT_READ)."""
    plugin = _plugin(url)
    if plugin is None:
        raise ValueError(CANNOT_READ)
    return _reading(url, plugin)


def _reading(url: str, plugin: Any) -> Reading:
    service = str(getattr(plugin, "service_name", "") or "Apprise")[:40]
    hosts: tuple[outbound.Target, ...] = ()
    names_host = _names_host(plugin) and bool(getattr(plugin, "host", None))
    if names_host:
        secure = bool(getattr(plugin, "secure", False))
        port = getattr(plugin, "port", None)
        hosts = (outbound.Target("https" if secure else "http", str(plugin.host).strip("[]"),
                                 int(port) if port else (443 if secure else 80), "/"),)
    # The host is shown only where it is the server's (``ntfys://topic`` names ntfy.sh's
    # topic in the host's place).
    try:
        shown = names_host and (urlsplit(url).hostname or "") == str(plugin.host).lower()
    except ValueError:
        shown = False
    return Reading(service, ways.mask_url(url, show_host=shown), hosts)


def policy(allow_private: bool) -> outbound.Policy:
    """Where pages may go: public addresses only; any but link-local with the key."""
    return outbound.Policy("pages", internal=bool(allow_private))


def refusal(reading: Reading, allow_private: bool, *,
            resolver: outbound.Resolver = outbound.system_resolver,
            unresolved_ok: bool = False) -> Optional[str]:
    """Why the address rule refuses the hosts ``reading`` names (None: it does not).
    ``unresolved_ok``: a name that does not resolve now passes (a profile being saved:
    the send checks again)."""
    plain_http = ("This URL sends over plain http: use the service's secure scheme (e.g. "
                  "ntfys://), or ask an operator to set PAGE_ALLOW_PRIVATE_HOSTS.")
    for target in reading.hosts:
        try:
            outbound.resolve(target, policy(allow_private), resolver)
        except outbound.Refused as exc:
            if exc.kind == "address":
                if allow_private or exc.why == "a link-local address":
                    return f"This URL leads to {exc.why}: pages never go there."
                return (f"This URL leads to {exc.why}: pages go to public addresses only, "
                        "unless an operator sets PAGE_ALLOW_PRIVATE_HOSTS.")
            if exc.kind == "http" or (target.scheme == "http" and not allow_private):
                return plain_http
            if exc.kind == "unresolved" and unresolved_ok:
                continue
            return str(exc)
    return None


def check_url(url: str, *, allow_private: bool) -> str:
    """A page URL being saved to a profile: its service's name, or ``ValueError`` saying
    why it cannot be one (Apprise cannot read it; the address rule refuses its host)."""
    reading = read(url)
    why = refusal(reading, allow_private, unresolved_ok=True)
    if why is not None:
        raise ValueError(why)
    return reading.service


def service_of(url: str) -> str:
    """The service's name of a page URL ("ntfy"), for the staff pages."""
    try:
        return read(url).service
    except ValueError:
        return "Apprise"


def masked(url: str) -> str:
    """A page URL as the staff pages show it (``ways.mask_url``)."""
    plugin = _plugin(url)
    return ways.mask_url(url, show_host=False) if plugin is None else _reading(url, plugin).masked


def sms_url(base: str, phone: str) -> str:
    """SMS_URL with ``phone`` appended as its target (before any ``?`` options)."""
    head, mark, options = base.strip().partition("?")
    return f"{head.rstrip('/')}/{phone}{mark}{options}"


# --- What Apprise answered, in a few words ------------------------------------------------


def summary(messages: list[str], timed_out: bool) -> tuple[Optional[int], str]:
    """(the HTTP status, a short answer) from a failed call's log (``reduced`` lines)."""
    said = [words for words in map(reduced, messages) if words]
    for words in said:
        if words.startswith("HTTP "):
            return int(words[5:]), words
    if timed_out:
        return None, "timed out"
    if said:
        return None, said[0]
    return None, "not delivered (Apprise gave no reason)"


# --- The channel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    sms_url: str
    allow_private: bool
    timeout: float


@dataclass(frozen=True)
class Message:
    url: str
    title: str
    body: str


#: (page, now, way's service name) -> its ``outbox.pages.PageText``, or None: cancel.
TextOf = Callable[..., Any]


def way_url(recipient: str, way: str, settings: Settings) -> Optional[str]:
    """Where ``way`` of a page to ``recipient`` goes now (None: it no longer can)."""
    user = db.session.scalar(db.select(StaffUser).where(
        db.func.lower(StaffUser.email) == recipient.lower(), StaffUser.active.is_(True)))
    if user is None:
        return None
    if way == "sms":
        return sms_url(settings.sms_url, user.phone) if user.phone and settings.sms_url else None
    if way.startswith("url:") and way[4:].isdigit():
        urls = ways.url_lines(user.page_urls)
        number = int(way[4:])
        return urls[number - 1] if 1 <= number <= len(urls) else None
    return None


class PageChannel(Channel):
    name = "page"
    queue = PAGE_SENDS

    def __init__(self, text_of: TextOf) -> None:
        self.text_of = text_of

    def configured(self, config: Mapping) -> bool:
        return True  # a person's page URLs go without SMS_URL

    def policy(self, config: Mapping) -> engine.Policy:
        return engine.Policy.from_config(config, batch_size=1,
                                         attempts_key="PAGE_MAX_ATTEMPTS")

    @contextmanager
    def connect(self, app: Flask) -> Iterator[Settings]:
        config = app.config
        yield Settings(str(config.get("SMS_URL") or ""),
                       bool(config.get("PAGE_ALLOW_PRIVATE_HOSTS")),
                       float(config["PAGE_TIMEOUT_SECONDS"]))

    def render(self, settings: Settings, item: Claimed,
               version: Hashable) -> Optional[Message]:
        try:
            page = db.session.get(Page, item.page_id)
            text = page and self.text_of(page, utcnow(), way=item.service)
            if not text:
                return None
            url = way_url(page.recipient, item.way, settings)
            if url is None:
                return None
            return Message(url, text.title, text.full_body)
        finally:
            db.session.rollback()  # no transaction stays open over the send

    def send(self, settings: Settings, item: Claimed, message: Message) -> Answer:
        plugin = _plugin(message.url)
        if plugin is None:
            return Answer(Outcome.GIVE_UP, error=CANNOT_READ)
        why = refusal(_reading(message.url, plugin), settings.allow_private)
        if why is not None:
            return Answer(Outcome.GIVE_UP, error=f"Refused: {why}")
        plugin.socket_connect_timeout = settings.timeout
        plugin.socket_read_timeout = settings.timeout
        notifier = apprise.Apprise()
        notifier.add(plugin)
        try:
            result = notifier.notify(body=message.body, title=message.title,
                                     timeout=settings.timeout, log_level=logging.DEBUG)
        except Exception as exc:  # noqa: BLE001 (never raise for the target's trouble)
            return Answer(Outcome.RETRY, error=f"Apprise failed ({type(exc).__name__})")
        if result:
            return Answer(Outcome.SENT)
        timed_out = getattr(result, "status", None) == apprise.AppriseResultStatus.TIMEOUT
        code, error = summary([entry.message for entry in result.logs()], timed_out)
        return Answer(Outcome.RETRY, code=code, error=error)

    def describe(self, item: Claimed) -> str:
        return f"page way {item.delivery_id} ({item.way} of page {item.page_id})"

