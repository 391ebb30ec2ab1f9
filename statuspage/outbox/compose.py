"""Messages from templates: each subscriber email's subject, text and HTML, rendered once
per notification, audience, time zone and version of its incident, then made into one
recipient's bytes by ``mail``.

The email templates are ``templates/email/<kind>.txt`` and ``.html``. Per-recipient links
are rendered as ``mail``'s markers and filled in per message. Every time in an email is
written in the subscriber's zone with the zone's name, by the helpers the templates get
(``time_in_zone``, ``datetime_in_zone``, ``window_in_zone``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Hashable, Iterator, Mapping, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from jinja2 import Environment

from .. import mail, present, queries, subscriptions, tokens
from ..clock import utcnow
from ..extensions import db
from ..models import Incident, Maintenance, Notification, Subscriber
from ..subscriber_words import what_you_get
from .rules import Claimed, format_delay

NO_WORKAROUND = "No workaround is available yet."

GREETINGS = {"participant": "Participant", "coach": "Coach"}


# --- Times in the subscriber's zone ---------------------------------------------------------

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


@lru_cache(maxsize=512)
def zone(name: Optional[str], default: str = "UTC") -> ZoneInfo:
    """The zone of this IANA name; ``default`` (SITE_TIMEZONE) when None or unknown."""
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def zone_label(value: datetime, tz: ZoneInfo) -> str:
    """The zone's name at that instant: ``CET``, ``CEST``; ``UTC-03`` for a zone whose
    abbreviation is only its offset."""
    name = value.astimezone(tz).tzname() or ""
    return f"UTC{name}" if name[:1] in ("+", "-") else name


def time_in_zone(value: datetime, tz: ZoneInfo) -> str:
    """``14:05 CET``."""
    return f"{value.astimezone(tz):%H:%M} {zone_label(value, tz)}"


def _date(value: datetime) -> str:
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def datetime_in_zone(value: datetime, tz: ZoneInfo) -> str:
    """``26 November 2026, 14:05 CET``."""
    return f"{_date(value.astimezone(tz))}, {time_in_zone(value, tz)}"


def window_in_zone(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """``14:05 and 14:50 CET``; a window across midnight names both dates
    (``26 November 2026, 23:30 and 27 November 2026, 00:40 CET``), and one across a
    change of the clocks both zone names."""
    a, b = start.astimezone(tz), end.astimezone(tz)
    first, last = f"{a:%H:%M}", f"{b:%H:%M}"
    if a.date() != b.date():
        first, last = f"{_date(a)}, {first}", f"{_date(b)}, {last}"
    if zone_label(start, tz) != zone_label(end, tz):
        first = f"{first} {zone_label(start, tz)}"
    return f"{first} and {last} {zone_label(end, tz)}"


def zone_helpers(name: Optional[str], default: str = "UTC") -> dict:
    """What the email templates write times with, in the zone ``name``."""
    tz = zone(name, default)
    return {"timezone": tz.key, "time_in_zone": partial(time_in_zone, tz=tz),
            "datetime_in_zone": partial(datetime_in_zone, tz=tz),
            "window_in_zone": partial(window_in_zone, tz=tz)}


# --- Emails ----------------------------------------------------------------------------------


#: The subject of each maintenance notice, after the site's name.
MAINTENANCE_SUBJECTS = {
    "scheduled": "Planned Maintenance",
    "reminder": "Planned Maintenance Reminder",
    "started": "Planned Maintenance Started",
    "completed": "Planned Maintenance Completed",
    "rescheduled": "Planned Maintenance Rescheduled",
    "cancelled": "Planned Maintenance Cancelled",
}


def subject_for(kind: str, site_name: str, notice: Optional[str] = None) -> str:
    """The subject line of an email of this kind (a maintenance email: of this notice)."""
    if kind == "maintenance":
        return f"{site_name} {MAINTENANCE_SUBJECTS[notice or 'scheduled']}"
    return {
        "outage": f"{site_name} Temporary Service Disruption",
        "resolution": f"{site_name} Service Restored",
        "confirm": f"Confirm your {site_name} status emails",
        "manage": f"Your {site_name} status emails",
    }[kind]


def render_email(env: Environment, kind: str, context: Mapping) -> mail.RenderedEmail:
    """Render ``templates/email/<kind>.txt`` and ``.html`` with ``context``.

    The context must hold ``site_name`` and ``audience``; per-recipient URLs are the
    markers ``UNSUBSCRIBE_URL``, ``PREFERENCES_URL`` and ``CONFIRM_URL``; without
    ``timezone`` the times are in UTC. Context processors are not used, so this works in
    the notifier with no request.
    """
    ctx = dict(context)
    ctx.setdefault("unsubscribe_url", mail.UNSUBSCRIBE_URL)
    ctx.setdefault("preferences_url", mail.PREFERENCES_URL)
    ctx.setdefault("confirm_url", mail.CONFIRM_URL)
    if "time_in_zone" not in ctx:
        ctx.update(zone_helpers(ctx.get("timezone")))
    ctx["greeting"] = GREETINGS[ctx["audience"]]
    ctx["is_coach"] = ctx["audience"] == "coach"
    text = env.get_template(f"email/{kind}.txt").render(ctx)
    html = env.get_template(f"email/{kind}.html").render(ctx)
    return mail.RenderedEmail(subject=subject_for(kind, ctx["site_name"], ctx.get("notice")),
                              text=text, html=html)


@dataclass
class _Rendered:
    """One notification's email for one audience and time zone, as of one version of its
    incident."""

    version: Hashable
    email: mail.RenderedEmail
    prepared: Optional[mail.PreparedMessage] = None
    prepared_done: bool = False


class Renderer:
    """Renders each email body once per notification, audience, time zone and version of
    what it reports, then fills in the per-recipient links for each message: a fan-out
    renders once per zone its recipients use, not once per recipient.

    The version is what the notifier read just before the message (``notifier``'s
    ``current_state``): a redaction, an edit, a new update or a resolution changes it, so
    the next message is rendered afresh from the database instead of reusing a body that
    still carries the old text.
    """

    def __init__(self, app):
        self.app = app
        self.config = app.config
        self.public_url = app.config["PUBLIC_URL"]
        self.site_timezone = app.config["SITE_TIMEZONE"]
        # Only the newest version of each (notification, audience, zone) is kept.
        self._cache: dict[tuple, _Rendered] = {}

    def _zone_name(self, item: Claimed) -> str:
        """The item's zone: the subscriber's, else (none, or no longer known) the site's."""
        return zone(item.timezone, self.site_timezone).key

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
            **zone_helpers(item.timezone, self.site_timezone),
        }
        if item.incident_id is not None:
            ctx.update(incident_email_context(item.incident_id, self.public_url,
                                              self._zone_name(item)))
        if item.maintenance_id is not None:
            ctx.update(maintenance_email_context(item.notification_id, self.public_url,
                                                 ZoneInfo(self._zone_name(item))))
        if item.kind == "confirm":  # what they chose, listed back to them
            ctx["what_you_get"] = subscriber_promise(item.subscriber_id, cfg)
        ctx["subject"] = subject_for(item.kind, cfg["SITE_NAME"], ctx.get("notice"))
        return ctx

    def _entry(self, item: Claimed, version: Hashable) -> _Rendered:
        if item.kind == "confirm":  # one subscriber's own choices: rendered for them only
            return _Rendered(version, render_email(self.app.jinja_env, item.kind,
                                                   self._context(item)))
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

    def _key(self, item: Claimed) -> tuple:
        one_per_kind = item.incident_id is None and item.maintenance_id is None
        return (item.kind if one_per_kind else item.notification_id, item.audience,
                self._zone_name(item))

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
        notification, audience, zone and ``version``, with its own links, address and
        Message-ID."""
        unsubscribe_url = (f"{self.public_url}/unsubscribe/"
                           f"{tokens.unsubscribe_token(item.subscriber_public_id)}")
        urls = {mail.UNSUBSCRIBE_URL: unsubscribe_url,
                mail.PREFERENCES_URL: (f"{self.public_url}/subscription/"
                                       f"{tokens.preferences_token(item.subscriber_public_id)}")}
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


def incident_email_context(incident_id: int, public_url: str,
                           zone_name: Optional[str] = None) -> dict:
    """What the outage and resolution emails say about an incident; the data-gap window in
    ``zone_name`` (the subscriber's zone; SITE_TIMEZONE when None).

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
            **_impact_context(incident, zone(zone_name, current_app.config["SITE_TIMEZONE"])),
            # Written in each subscriber's zone by the templates (``time_in_zone``).
            "started_at": incident.started_at,
            "resolved_at": incident.resolved_at,
        }


def _impact_context(incident: Incident, reader_zone: ZoneInfo) -> dict:
    """The impact block (empty when staff said nothing) and the data-gap window, in the
    reader's zone, dated unless it lies within the day the email is rendered (sent)."""
    now = utcnow()
    lines = present.impact_lines(incident, reader_zone, told_at=now)
    return {
        "impact": lines,
        # The resolution email names the window in its own sentence instead.
        "impact_choices": [line for line in lines if line[0] != present.GAP_LABEL],
        "data_gap": present.data_gap_text(incident, reader_zone, told_at=now),
    }


def format_window(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """A window in one zone, with its zone's name, as the maintenance emails write it:
    ``Saturday 28 November 2026, 02:00 to 04:00 CET (Europe/Berlin)``, or with both dates
    when it ends on another day. The renderer passes each subscriber's own zone.
    """
    a, b = start.astimezone(tz), end.astimezone(tz)

    def day(t: datetime) -> str:
        return f"{t:%A} {t.day} {t:%B %Y}"

    zone = f" ({tz.key})" if tz.key != a.strftime("%Z") else ""
    if a.date() == b.date():
        return f"{day(a)}, {a:%H:%M %Z} to {b:%H:%M %Z}{zone}"
    return f"{day(a)}, {a:%H:%M %Z} to {day(b)}, {b:%H:%M %Z}{zone}"


def maintenance_email_context(notification_id: int, public_url: str, tz: ZoneInfo) -> dict:
    """What a maintenance notice says: which notice, the window in ``tz``, its components,
    what users will notice, the workaround, and its page. Reads only (like
    ``incident_email_context``)."""
    with _own_read():
        notification = db.session.get(Notification, notification_id)
        m = db.session.get(Maintenance, notification.maintenance_id)
        return {
            "notice": notification.notice,
            "title": m.title,
            "window": format_window(m.scheduled_for, m.scheduled_until, tz),
            "components": [t.component.name for t in m.taken],
            "description": m.description,
            "workaround": m.workaround,
            # The completion email says the features are back only when they are.
            "all_back": all(t.component.status == "operational" for t in m.taken),
            "maintenance_url": f"{public_url}/maintenance/{m.id}",
            # The footer's "Details and updates" link.
            "incident_url": f"{public_url}/maintenance/{m.id}",
            "page_url": f"{public_url}/",
        }


def subscriber_promise(subscriber_id: int, config: Mapping):
    """What the confirmation email says this subscriber will get: their choices as they
    are when it is sent. Reads only (like ``incident_email_context``)."""
    with _own_read():
        subscriber = db.session.get(Subscriber, subscriber_id)
        if subscriber is None:  # deleted meanwhile: what anyone gets
            return what_you_get(config)
        return what_you_get(config, subscriptions.listed_choices(
            subscriber, config["SITE_TIMEZONE"]))


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
