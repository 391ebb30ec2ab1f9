"""The maintenance calendar (``/maintenance.ics``): an iCalendar (RFC 5545) feed, by hand.

One VEVENT per window, with a UID that never changes (``maintenance-<id>@<host>``) and a
SEQUENCE that rises with every reschedule (``revision - 1``), so that a calendar that
subscribed moves the event when the window moves, and marks it cancelled (``STATUS:
CANCELLED``) when it is called off. Pure: the same windows give the same bytes (DTSTAMP is
the window's last change, not the time of the request), so caches and ETags hold.

Small enough to write by hand: CRLF line endings, content lines folded at 75 octets
(never inside a UTF-8 character), TEXT values escaped (backslash, semicolon, comma,
newline). The tests read it back with the ``icalendar`` parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence
from urllib.parse import urlsplit

from .models import Maintenance
from .present import maintenance_url, plain

CONTENT_TYPE = "text/calendar; charset=utf-8"
#: The longest content line in octets, CRLF excluded (RFC 5545, 3.1).
LINE_OCTETS = 75


@dataclass(frozen=True)
class CalendarInfo:
    """What the calendar says about itself."""

    site_name: str
    public_url: str

    @property
    def host(self) -> str:
        return urlsplit(self.public_url).hostname or "statuspage"


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545, 3.3.11): backslash, semicolon, comma and newline escaped."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def fold(line: str) -> str:
    """One content line folded into pieces of at most 75 octets, joined by CRLF + space."""
    pieces: list[str] = []
    current, size, limit = [], 0, LINE_OCTETS
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > limit:
            pieces.append("".join(current))
            # A continuation line starts with a space, which counts towards its 75.
            current, size, limit = [], 0, LINE_OCTETS - 1
        current.append(char)
        size += octets
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


def utc_stamp(value: datetime) -> str:
    """``20261128T010000Z``: a DATE-TIME in UTC (RFC 5545, 3.3.5, form #2)."""
    return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


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


def event_lines(window: Maintenance, info: CalendarInfo) -> list[str]:
    """The VEVENT of one window, as unfolded content lines."""
    url = maintenance_url(window.id, info.public_url)
    cancelled = window.status == "cancelled"
    title = plain(window.title, single_line=True)
    summary = f"{'Cancelled: ' if cancelled else ''}{info.site_name} maintenance: {title}"
    return [
        "BEGIN:VEVENT",
        f"UID:{uid(window.id, info)}",
        f"DTSTAMP:{utc_stamp(window.updated_at)}",
        f"LAST-MODIFIED:{utc_stamp(window.updated_at)}",
        f"CREATED:{utc_stamp(window.created_at)}",
        f"DTSTART:{utc_stamp(window.scheduled_for)}",
        f"DTEND:{utc_stamp(window.scheduled_until)}",
        f"SEQUENCE:{max(0, window.revision - 1)}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(event_description(window, url))}",
        f"URL:{url}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]


def render_calendar(windows: Iterable[Maintenance], info: CalendarInfo) -> bytes:
    """The whole VCALENDAR for these windows, as UTF-8 bytes with CRLF line endings."""
    name = escape_text(f"{plain(info.site_name, single_line=True)} planned maintenance")
    lines: list[str] = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//{escape_text(info.host)}//Status page maintenance//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{name}",
    ]
    for window in windows:
        lines.extend(event_lines(window, info))
    lines.append("END:VCALENDAR")
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")


def calendar_bytes(windows: Sequence[Maintenance], site_name: str, public_url: str) -> bytes:
    """``render_calendar`` for a site's name and ``PUBLIC_URL``."""
    return render_calendar(windows, CalendarInfo(plain(site_name, single_line=True),
                                                 public_url))
