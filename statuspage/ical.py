"""Calendars for subscribing (iCalendar, RFC 5545), written with the ``icalendar`` package.

Two halves. The first knows nothing of our tables: a published calendar, an event, the
bytes; any feed of events (the maintenance calendar, and later others) builds on it, so
that folding, escaping and line endings are decided in one place. The second is the
maintenance calendar (``/maintenance.ics``): one VEVENT per window, with a UID that never
changes (``maintenance-<id>@<host>``) and a SEQUENCE that rises with every reschedule
(``revision - 1``), so that a calendar that subscribed moves the event when the window
moves, and marks it cancelled (``STATUS:CANCELLED``) when it is called off.

Pure: the same windows give the same bytes (DTSTAMP is the window's last change, not the
time of the request, and nothing is added by the library on its own), so caches and ETags
hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Optional, Sequence
from urllib.parse import urlsplit

from icalendar import Calendar, Event, vText

from .models import Maintenance
from .present import maintenance_url, plain

CONTENT_TYPE = "text/calendar; charset=utf-8"


class Text(vText):
    """A TEXT value that says what was typed.

    ``vText`` reads a backslash before "N" as a line break (its shorthand for ``\\n``), so
    a title such as "C:\\New folder" would come out broken in two. Each stretch between
    backslashes is escaped by ``icalendar`` (semicolons, commas, line breaks); only the
    backslashes themselves are doubled here.
    """

    def to_ical(self) -> bytes:
        return b"\\\\".join(vText(part).to_ical() for part in str(self).split("\\"))


def utc(value: datetime) -> datetime:
    """In UTC, so that the calendar says ``...Z`` and needs no VTIMEZONE."""
    return value.astimezone(timezone.utc)


def new_calendar(name: str, host: str, product: str) -> Calendar:
    """An empty calendar for subscribing (METHOD:PUBLISH) that apps show as ``name``."""
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", Text(f"-//{host}//{product}//EN"))
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", Text(name))
    return calendar


def new_event(uid: str, *, start: datetime, end: datetime, changed: datetime,
              created: datetime, sequence: int, summary: str, description: str,
              url: Optional[str] = None, cancelled: bool = False) -> Event:
    """One VEVENT. ``changed`` is both DTSTAMP and LAST-MODIFIED (a feed is published,
    not sent: the stamp is the last change, which keeps the bytes the same between
    changes); ``sequence`` must rise whenever the times move."""
    event = Event()
    event.add("uid", Text(uid))
    event.add("dtstamp", utc(changed))
    event.add("last-modified", utc(changed))
    event.add("created", utc(created))
    event.add("dtstart", utc(start))
    event.add("dtend", utc(end))
    event.add("sequence", sequence)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("summary", Text(summary))
    event.add("description", Text(description))
    if url:
        event.add("url", url)
    event.add("transp", "OPAQUE")
    return event


def to_bytes(calendar: Calendar) -> bytes:
    """UTF-8, CRLF line endings, lines folded at 75 octets; properties in the order added."""
    return calendar.to_ical(sorted=False)


# --- The maintenance calendar -----------------------------------------------------------


@dataclass(frozen=True)
class CalendarInfo:
    """What the calendar says about itself."""

    site_name: str
    public_url: str

    @property
    def host(self) -> str:
        return urlsplit(self.public_url).hostname or "statuspage"


def uid(window_id: int, info: CalendarInfo) -> str:
    """The event's UID: the same for a window whatever happens to it."""
    return f"maintenance-{window_id}@{info.host}"


def event_description(window: Maintenance, url: str) -> str:
    """What users will notice, the components taken, the workaround, and the page."""
    parts = []
    if window.description:
        parts.append(plain(window.description))
    names = [plain(c.name, single_line=True) for c in window.components]
    if names:
        parts.append("Affected: " + ", ".join(names))
    if window.workaround:
        parts.append("Workaround: " + plain(window.workaround))
    parts.append(f"Updates: {url}")
    return "\n\n".join(parts)


def maintenance_event(window: Maintenance, info: CalendarInfo) -> Event:
    """The VEVENT of one window."""
    url = maintenance_url(window.id, info.public_url)
    cancelled = window.status == "cancelled"
    title = plain(window.title, single_line=True)
    summary = f"{'Cancelled: ' if cancelled else ''}{info.site_name} maintenance: {title}"
    return new_event(
        uid(window.id, info), start=window.scheduled_for, end=window.scheduled_until,
        changed=window.updated_at, created=window.created_at,
        sequence=max(0, window.revision - 1), summary=summary,
        description=event_description(window, url), url=url, cancelled=cancelled)


def render_calendar(windows: Iterable[Maintenance], info: CalendarInfo) -> bytes:
    """The whole VCALENDAR for these windows, as bytes."""
    calendar = new_calendar(f"{plain(info.site_name, single_line=True)} planned maintenance",
                            info.host, "Status page maintenance")
    for window in windows:
        calendar.add_component(maintenance_event(window, info))
    return to_bytes(calendar)


def calendar_bytes(windows: Sequence[Maintenance], site_name: str, public_url: str) -> bytes:
    """``render_calendar`` for a site's name and ``PUBLIC_URL``."""
    return render_calendar(windows, CalendarInfo(plain(site_name, single_line=True),
                                                 public_url))
