"""Messages from templates: each subscriber email's subject, text and HTML, rendered once
per notification, audience and version of its incident, then made into one recipient's
bytes by ``mail``.

The email templates are ``templates/email/<kind>.txt`` and ``.html``. Per-recipient links
are rendered as ``mail``'s markers and filled in per message.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Hashable, Iterator, Mapping, Optional

from zoneinfo import ZoneInfo

from flask import current_app
from jinja2 import Environment

from .. import mail, present, queries, tokens
from ..clock import utcnow
from ..extensions import db
from ..models import Incident
from .rules import Claimed, format_delay

NO_WORKAROUND = "No workaround is available yet."

GREETINGS = {"participant": "Participant", "coach": "Coach"}


def subject_for(kind: str, site_name: str) -> str:
    """The subject line of an email of this kind."""
    return {
        "outage": f"{site_name} Temporary Service Disruption",
        "resolution": f"{site_name} Service Restored",
        "confirm": f"Confirm your {site_name} status emails",
        "manage": f"Your {site_name} status emails",
    }[kind]


def render_email(env: Environment, kind: str, context: Mapping) -> mail.RenderedEmail:
    """Render ``templates/email/<kind>.txt`` and ``.html`` with ``context``.

    The context must hold ``site_name`` and ``audience``; per-recipient URLs are the
    markers ``UNSUBSCRIBE_URL`` and ``CONFIRM_URL``. Context processors are not used, so
    this works in the notifier with no request.
    """
    ctx = dict(context)
    ctx.setdefault("unsubscribe_url", mail.UNSUBSCRIBE_URL)
    ctx.setdefault("confirm_url", mail.CONFIRM_URL)
    ctx["greeting"] = GREETINGS[ctx["audience"]]
    ctx["is_coach"] = ctx["audience"] == "coach"
    text = env.get_template(f"email/{kind}.txt").render(ctx)
    html = env.get_template(f"email/{kind}.html").render(ctx)
    return mail.RenderedEmail(subject=subject_for(kind, ctx["site_name"]), text=text,
                              html=html)


@dataclass
class _Rendered:
    """One notification's email for one audience, as of one version of its incident."""

    version: Hashable
    email: mail.RenderedEmail
    prepared: Optional[mail.PreparedMessage] = None
    prepared_done: bool = False


class Renderer:
    """Renders each email body once per notification, audience and version of what it
    reports, then fills in the per-recipient links for each message.

    The version is what the notifier read just before the message (``notifier``'s
    ``current_state``): a redaction, an edit, a new update or a resolution changes it, so
    the next message is rendered afresh from the database instead of reusing a body that
    still carries the old text.
    """

    def __init__(self, app):
        self.app = app
        self.config = app.config
        self.public_url = app.config["PUBLIC_URL"]
        # Only the newest version of each (notification, audience) is kept.
        self._cache: dict[tuple, _Rendered] = {}

    def _context(self, item: Claimed) -> dict:
        cfg = self.config
        ctx = {
            "kind": item.kind,
            "audience": item.audience,
            "site_name": cfg["SITE_NAME"],
            "support_email": cfg["SUPPORT_EMAIL"],
            "subscribe_url": f"{self.public_url}/subscribe",
            "delay_text": format_delay(timedelta(seconds=float(
                cfg["OUTAGE_EMAIL_DELAY_SECONDS"]))),
            "confirm_hours": int(cfg["SUBSCRIBE_CONFIRM_MAX_AGE_SECONDS"]) // 3600,
            "incident_url": None,
        }
        if item.incident_id is not None:
            ctx.update(incident_email_context(item.incident_id, self.public_url))
        ctx["subject"] = subject_for(item.kind, cfg["SITE_NAME"])
        return ctx

    def _entry(self, item: Claimed, version: Hashable) -> _Rendered:
        key = self._key(item)
        found = self._cache.get(key)
        if found is None or found.version != version:
            # Rendered after the version was read: at worst newer than it, never older.
            found = _Rendered(version, render_email(self.app.jinja_env, item.kind,
                                                    self._context(item)))
            self._cache[key] = found
        return found

    def rendered(self, item: Claimed, version: Hashable = None) -> mail.RenderedEmail:
        """The item's subject and bodies as of ``version`` (markers still in them)."""
        return self._entry(item, version).email

    @staticmethod
    def _key(item: Claimed) -> tuple:
        return (item.notification_id if item.incident_id else item.kind, item.audience)

    def _prepared(self, entry: _Rendered, sender: str, list_id: str, now: datetime
                  ) -> Optional[mail.PreparedMessage]:
        if not entry.prepared_done:
            entry.prepared = mail.prepare_message(entry.email, sender=sender,
                                                  list_id=list_id, date=now)
            entry.prepared_done = True
        return entry.prepared

    def message_bytes(self, item: Claimed, *, sender: str, list_id: str,
                      now: datetime, version: Hashable = None) -> bytes:
        """The bytes to send to this item's subscriber: the body as rendered once for its
        notification, audience and ``version``, with its own links, address and
        Message-ID."""
        unsubscribe_url = (f"{self.public_url}/unsubscribe/"
                           f"{tokens.unsubscribe_token(item.subscriber_public_id)}")
        urls = {mail.UNSUBSCRIBE_URL: unsubscribe_url}
        if item.kind == "confirm":
            urls[mail.CONFIRM_URL] = (f"{self.public_url}/confirm/"
                                      f"{tokens.confirm_token(item.subscriber_public_id)}")
        message_id = mail.message_id(item.notification_token, item.delivery_id,
                                     self.public_url)
        entry = self._entry(item, version)
        prepared = self._prepared(entry, sender, list_id, now)
        if prepared is not None and mail.can_fill(item.email, urls):
            return prepared.fill(recipient=item.email, message_id=message_id, urls=urls)
        rendered = entry.email
        text, html = rendered.personalise(urls)
        return mail.message_bytes(mail.build_message(
            sender=sender, recipient=item.email, subject=rendered.subject, text=text,
            html=html, message_id=message_id, list_id=list_id,
            unsubscribe_url=unsubscribe_url, date=now,
        ))


def incident_email_context(incident_id: int, public_url: str) -> dict:
    """What the outage and resolution emails say about an incident.

    Reads only. A transaction the caller has open stays open; one this read had to begin
    is ended here, so that the notifier holds no transaction during SMTP.
    """
    with _own_read():
        incident = db.session.get(Incident, incident_id)
        latest = incident.latest_update
        workaround = ""
        if latest is not None and not latest.is_redacted:
            workaround = latest.workaround or ""
        facts = queries.resolution_facts(incident)
        return {
            "incident_url": f"{public_url}/incidents/{incident.id}",
            "components": [c.name for c in incident.components],
            "workaround": workaround or NO_WORKAROUND,
            # The resolution email claims that everything works only when it does.
            "all_clear": facts.all_clear,
            "page_url": f"{public_url}/",
            **_impact_context(incident),
        }


def _impact_context(incident: Incident) -> dict:
    """The impact block (empty when staff said nothing) and the data-gap window, in the
    site's zone, dated unless it lies within the day the email is rendered (sent)."""
    zone, now = ZoneInfo(current_app.config["SITE_TIMEZONE"]), utcnow()
    lines = present.impact_lines(incident, zone, told_at=now)
    return {
        "impact": lines,
        # The resolution email names the window in its own sentence instead.
        "impact_choices": [line for line in lines if line[0] != present.GAP_LABEL],
        "data_gap": present.data_gap_text(incident, zone, told_at=now),
    }


@contextmanager
def _own_read() -> Iterator[None]:
    """Around a read: end the transaction it begins, never one that was already open."""
    began_here = not db.session().in_transaction()
    try:
        yield
    finally:
        if began_here:
            db.session.rollback()


def list_id(config: Mapping) -> str:
    """The ``List-Id`` of every email: LIST_ID, or one made of SITE_NAME and PUBLIC_URL."""
    return config.get("LIST_ID") or mail.default_list_id(config["SITE_NAME"],
                                                         config["PUBLIC_URL"])
