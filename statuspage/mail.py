"""Build the messages (MIME) and send them over SMTP.

The only module that talks SMTP, and it knows nothing of the database or the templates:
``statuspage.outbox.compose`` hands it rendered text, the notifier hands it bytes and gets
a ``SendResult`` back.

Why not Flask-Mail's ``Message`` and ``Connection``: its messages are multipart/mixed
around the alternative (we want multipart/alternative at the top), its connection has no
socket timeout (a stalled server would hang the notifier for ever), and its
``__exit__`` calls ``quit()`` on a dead connection, raising over the real error. We keep
Flask-Mail's configuration keys (``MAIL_SERVER``, ``MAIL_PORT``, ``MAIL_USE_TLS``,
``MAIL_USE_SSL``, ``MAIL_USERNAME``, ``MAIL_PASSWORD``, ``MAIL_DEFAULT_SENDER``), read
through its parsed state, and speak smtplib ourselves: one recipient per message, one
connection per batch, a timeout on everything.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Mapping, Optional
from urllib.parse import urlsplit

from flask import Flask
from markupsafe import escape

# Per-recipient parts are rendered as these markers, then filled in per message, so the
# body of an outage email is rendered once per incident and audience, not per subscriber.
UNSUBSCRIBE_URL = "__STATUSPAGE_UNSUBSCRIBE_URL__"
CONFIRM_URL = "__STATUSPAGE_CONFIRM_URL__"
PREFERENCES_URL = "__STATUSPAGE_PREFERENCES_URL__"

#: Bodies are encoded with SMTP's 78-column policy; headers may run to 998 columns so
#: that a long ``List-Unsubscribe`` URL stays one plain URL (folding would encode it).
_BODY_POLICY = policy.SMTP
_HEADER_POLICY = policy.SMTP.clone(max_line_length=998)


# --- Content -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedEmail:
    """Subject and both bodies, with per-recipient markers still in them (as
    ``statuspage.outbox.compose`` renders them from the templates)."""

    subject: str
    text: str
    html: str

    def personalise(self, urls: Mapping[str, str]) -> tuple[str, str]:
        """(text, html) with each marker replaced by its URL (escaped for the HTML)."""
        text, html = self.text, self.html
        for marker, url in urls.items():
            text = text.replace(marker, url)
            html = html.replace(marker, str(escape(url)))
        return text, html


# --- Messages ----------------------------------------------------------------------------


def host_of(public_url: str) -> str:
    return urlsplit(public_url).hostname or "localhost"


def default_list_id(site_name: str, public_url: str) -> str:
    """RFC 2919: a phrase and a dotted id: ``<SITE_NAME> status <status-emails.HOST>``."""
    return f"{site_name} status <status-emails.{host_of(public_url)}>"


def message_id(notification_token: str, delivery_id: int, public_url: str) -> str:
    """Our own Message-ID: the same on every retry of a delivery, unique everywhere."""
    return f"<{notification_token}.{delivery_id}@{host_of(public_url)}>"


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    list_id: str,
    unsubscribe_url: str,
    date: datetime,
    cte: str = "quoted-printable",
) -> EmailMessage:
    """One multipart/alternative message (text, then HTML) to one recipient."""
    msg = EmailMessage(policy=_BODY_POLICY)
    msg.set_content(text, cte=cte)
    msg.add_alternative(html, subtype="html", cte=cte)
    msg.policy = _HEADER_POLICY
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["List-Id"] = list_id
    # RFC 2369 and RFC 8058: mail clients offer "Unsubscribe", which POSTs
    # "List-Unsubscribe=One-Click" to the URL, with no cookie.
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=_HEADER_POLICY)


def staff_message(*, subject: str, sender: str, recipient: str, body: str, now: datetime,
                  public_url: str) -> bytes:
    """A plain-text notice to one staff member (a webhook disabled, an update due, an
    action item due): not a subscriber email, so no list or unsubscribe headers."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=host_of(public_url))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    return message_bytes(msg)


# A fan-out to thousands sends the same message with a few parts changed. When the bodies
# are plain ASCII with short lines (the usual case), the whole message is serialised once,
# 7bit (so nothing is encoded and a marker is never split), and each recipient's copy is
# that with the markers replaced: no MIME work per recipient. Otherwise build_message is
# used per recipient, as always.
_RECIPIENT = "recipient@statuspage.invalid"
_MESSAGE_ID = "<message-id@statuspage.invalid>"
#: Longest body line the prepared form accepts, leaving room for the URLs put into it
#: (7bit allows 998).
_MAX_PREPARED_LINE = 600


@dataclass(frozen=True)
class PreparedMessage:
    """A whole message serialised once, with the per-recipient parts as markers."""

    raw: bytes

    def fill(self, *, recipient: str, message_id: str, urls: Mapping[str, str]) -> bytes:
        out = self.raw.replace(_RECIPIENT.encode(), recipient.encode("ascii"))
        out = out.replace(_MESSAGE_ID.encode(), message_id.encode("ascii"))
        for marker, url in urls.items():
            out = out.replace(marker.encode(), url.encode("ascii"))
        return out


def can_fill(recipient: str, urls: Mapping[str, str]) -> bool:
    """The values go in as they are: ASCII, and nothing HTML would need escaped."""
    return recipient.isascii() and all(
        url.isascii() and str(escape(url)) == url for url in urls.values())


def prepare_message(rendered: RenderedEmail, *, sender: str, list_id: str,
                    date: datetime) -> Optional[PreparedMessage]:
    """The message serialised once for every recipient, or None when its text is not
    plain ASCII or has a line too long (then build it per recipient)."""
    for body in (rendered.text, rendered.html):
        if not body.isascii() or any(len(line) > _MAX_PREPARED_LINE
                                     for line in body.splitlines()):
            return None
    msg = build_message(
        sender=sender, recipient=_RECIPIENT, subject=rendered.subject, text=rendered.text,
        html=rendered.html, message_id=_MESSAGE_ID, list_id=list_id,
        unsubscribe_url=UNSUBSCRIBE_URL, date=date, cte="7bit",
    )
    raw = message_bytes(msg)
    if raw.count(_RECIPIENT.encode()) != 1 or raw.count(_MESSAGE_ID.encode()) != 1:
        return None  # a header was folded or encoded after all: do not guess
    return PreparedMessage(raw)


# --- SMTP --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SMTPSettings:
    server: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: Optional[str]
    password: Optional[str]
    sender: str
    timeout: float

    @property
    def envelope_from(self) -> str:
        return parseaddr(self.sender)[1] or self.sender


def smtp_settings(app: Flask) -> SMTPSettings:
    """Flask-Mail's parsed settings plus our socket timeout."""
    state = app.extensions["mail"]
    sender = state.default_sender
    if isinstance(sender, (tuple, list)):
        sender = f"{sender[0]} <{sender[1]}>"
    return SMTPSettings(
        server=state.server,
        port=int(state.port),
        use_tls=bool(state.use_tls),
        use_ssl=bool(state.use_ssl),
        username=state.username or None,
        password=state.password or None,
        sender=sender or app.config["MAIL_DEFAULT_SENDER"],
        timeout=float(app.config["SMTP_TIMEOUT_SECONDS"]),
    )


@dataclass(frozen=True)
class SendResult:
    """What became of one message.

    ``outcome``: ``sent`` (the server accepted it), ``temporary`` (try again later) or
    ``permanent`` (a 5xx for this recipient: stop mailing them). ``server_down``: the
    server could not be reached or refuses us as a sender, so the rest of the batch need
    not be tried now. ``error`` never contains the recipient's address.
    """

    outcome: str
    code: Optional[int] = None
    error: str = ""
    server_down: bool = False

    @property
    def sent(self) -> bool:
        return self.outcome == "sent"


SENT = SendResult("sent")

_local_hostname: Optional[str] = None
_context: Optional[ssl.SSLContext] = None


def _tls_context() -> ssl.SSLContext:
    # Loading the system's certificates takes ~0.1 s: once per process, not per batch.
    global _context
    if _context is None:
        _context = ssl.create_default_context()
    return _context


def _helo_name() -> str:
    # smtplib would call socket.getfqdn() on every connection, which can stall for
    # seconds on a host with slow DNS; once per process is enough.
    global _local_hostname
    if _local_hostname is None:
        _local_hostname = socket.getfqdn() or "localhost"
    return _local_hostname


def describe(code: Optional[int], text, recipient: str = "") -> str:
    """A short, address-free error for the database and the logs."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(str(text or "").split())
    if recipient:
        text = text.replace(recipient, "<recipient>")
        text = text.replace(recipient.lower(), "<recipient>")
    out = f"{code} {text}" if code else text
    return out[:300]


def is_permanent(code: Optional[int]) -> bool:
    """RFC 5321: 5yz is a permanent failure, 4yz a transient one."""
    return code is not None and 500 <= code <= 599


class SMTPSession:
    """One SMTP connection reused for a batch, opened on first use, reopened once lost.

    ``send`` never raises for SMTP or network trouble: it returns a ``SendResult``.
    ``close`` never raises either, so no cleanup error can hide the real one.
    """

    def __init__(self, settings: SMTPSettings):
        self.settings = settings
        self._smtp: Optional[smtplib.SMTP] = None

    def __enter__(self) -> "SMTPSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connect(self) -> None:
        s = self.settings
        context = _tls_context() if (s.use_ssl or s.use_tls) else None
        if s.use_ssl:
            smtp = smtplib.SMTP_SSL(s.server, s.port, local_hostname=_helo_name(),
                                    timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.server, s.port, local_hostname=_helo_name(),
                                timeout=s.timeout)
        try:
            if s.use_tls:
                smtp.starttls(context=context)
            if s.username and s.password:
                smtp.login(s.username, s.password)
        except BaseException:
            _close_quietly(smtp)
            raise
        self._smtp = smtp

    def _discard(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            except Exception:
                pass
        self._smtp = None

    def _ensure_connected(self) -> Optional[SendResult]:
        """Connect if need be; the failure's result (the server is down), or None."""
        if self._smtp is not None:
            return None
        try:
            self._connect()
        except smtplib.SMTPResponseException as exc:
            return SendResult("temporary", exc.smtp_code,
                              describe(exc.smtp_code, exc.smtp_error), server_down=True)
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult("temporary", None, describe(None, _exc_text(exc)),
                              server_down=True)
        return None

    def send(self, recipient: str, msg: bytes) -> SendResult:
        down = self._ensure_connected()
        if down is not None:
            return down
        try:
            self._smtp.sendmail(self.settings.envelope_from, [recipient], msg)
        except (OSError, smtplib.SMTPException) as exc:
            return self._failure(exc, recipient)
        return SENT

    # A message in two steps, so that its envelope can go while the one before is being
    # marked sent (``outbox.workers``): nothing is delivered before ``finish`` ends the
    # DATA, so a process that dies in between has delivered nothing.

    def begin(self, recipient: str) -> Optional[SendResult]:
        """The envelope (MAIL FROM, RCPT TO) of a message whose body ``finish`` sends;
        its failure's result (the envelope is then closed), or None."""
        down = self._ensure_connected()
        if down is not None:
            return down
        smtp = self._smtp
        try:
            smtp.ehlo_or_helo_if_needed()
            code, text = smtp.mail(self.settings.envelope_from)
            if code != 250:
                smtp.close() if code == 421 else smtp.rset()
                raise smtplib.SMTPSenderRefused(code, text, self.settings.envelope_from)
            code, text = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.close() if code == 421 else smtp.rset()
                raise smtplib.SMTPRecipientsRefused({recipient: (code, text)})
        except (OSError, smtplib.SMTPException) as exc:
            return self._failure(exc, recipient)
        return None

    def finish(self, recipient: str, msg: bytes) -> SendResult:
        """The body of the message ``begin`` opened, and the server's answer to it."""
        smtp = self._smtp
        if smtp is None:  # (begin's connection was lost meanwhile)
            return SendResult("temporary", None, "connection lost")
        try:
            code, text = smtp.data(msg)
            if code != 250:
                smtp.close() if code == 421 else smtp.rset()
                raise smtplib.SMTPDataError(code, text)
        except (OSError, smtplib.SMTPException) as exc:
            return self._failure(exc, recipient)
        return SENT

    def cancel(self) -> None:
        """Close the envelope ``begin`` opened, unsent (RSET; the connection is dropped if
        that fails)."""
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (OSError, smtplib.SMTPException):
                self._discard()

    def _failure(self, exc: BaseException, recipient: str) -> SendResult:
        """What a send's exception means (never raises)."""
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, text = next(iter(exc.recipients.values()), (None, b""))
            self._drop_if_closed()
            return SendResult("permanent" if is_permanent(code) else "temporary", code,
                              describe(code, text, recipient))
        if isinstance(exc, smtplib.SMTPSenderRefused):
            # Not this recipient's fault: our sender is refused, so is everyone's.
            self._drop_if_closed()
            return SendResult("temporary", exc.smtp_code,
                              describe(exc.smtp_code, exc.smtp_error, recipient),
                              server_down=True)
        if isinstance(exc, smtplib.SMTPResponseException):  # DATA refused, 421, ...
            self._drop_if_closed()
            code = exc.smtp_code
            if code == 421:
                self._discard()
            return SendResult("permanent" if is_permanent(code) else "temporary", code,
                              describe(code, exc.smtp_error, recipient))
        # Dropped connection or timeout: the server may or may not have the message.
        # We retry; our Message-ID lets a mailbox recognise a duplicate.
        self._discard()
        return SendResult("temporary", None, describe(None, _exc_text(exc), recipient))

    def _drop_if_closed(self) -> None:
        if self._smtp is not None and getattr(self._smtp, "sock", None) is None:
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            _close_quietly(self._smtp)
        self._smtp = None


def _close_quietly(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except Exception:
        pass
    try:
        smtp.close()
    except Exception:
        pass


def _exc_text(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)) or str(exc).endswith("timed out"):
        return "timed out"  # smtplib reports a read timeout as a disconnection
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
