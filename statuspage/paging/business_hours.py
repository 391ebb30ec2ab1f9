"""Business hours (``BUSINESS_HOURS``, in SITE_TIMEZONE): when a SEV-3/4 emails the primary
on call, and the only hours its response target counts (the playbook: "SEV-3/4: Create
ticket, handle next business day").

The value is days, then a time range: ``Mon-Fri 09:00-17:00``, ``Mon-Sun 00:00-23:59``,
``Mon,Wed 08:00-12:00`` (a comma list may hold ranges: ``Mon-Wed,Fri``). The range is
open from its start up to its end; an end of ``23:59`` (or ``24:00``) runs to midnight.
Holidays are not modelled. A bad value stops the app at start (``create_app``) with the
message of ``parse``.

Pure rules: times in and out are aware UTC; wall times are the zone's (a day of a
daylight-saving change keeps its 09:00).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Optional
from zoneinfo import ZoneInfo

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY = {name.lower(): number for number, name in enumerate(DAYS)}
_SHAPE = re.compile(r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*"
                    r"(?P<end>\d{1,2}:\d{2})\s*$")
EXAMPLE = "Mon-Fri 09:00-17:00"


@dataclass(frozen=True)
class BusinessHours:
    """The weekdays (0: Monday) and the daily span, ``end`` None: to midnight."""

    days: frozenset[int]
    start: time
    end: Optional[time]

    def __str__(self) -> str:
        names = ",".join(DAYS[d] for d in sorted(self.days))
        end = self.end.strftime("%H:%M") if self.end else "24:00"
        return f"{names} {self.start.strftime('%H:%M')}-{end}"


class BadBusinessHours(ValueError):
    """``BUSINESS_HOURS`` is not days and a time range; the message says what to write."""


def _fail(value: str, why: str) -> BadBusinessHours:
    return BadBusinessHours(
        f"BUSINESS_HOURS={value!r}: {why}. Write days and a time range in SITE_TIMEZONE, "
        f"e.g. {EXAMPLE!r}, 'Mon-Sun 00:00-23:59' or 'Mon,Wed 08:00-12:00'.")


_FULL = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


def _day(value: str, name: str) -> int:
    """Mon or Monday (any case)."""
    word = name.strip().lower()
    if word not in _DAY and word not in _FULL:
        raise _fail(value, f"{name.strip()!r} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, "
                           "Sun)")
    return _DAY[word[:3]]


def _time(value: str, text: str, *, end: bool) -> Optional[time]:
    hours, minutes = (int(part) for part in text.split(":"))
    if end and (hours, minutes) in ((23, 59), (24, 0)):
        return None  # to midnight
    if hours > 23 or minutes > 59:
        raise _fail(value, f"{text} is not a time of day")
    return time(hours, minutes)


@lru_cache(maxsize=16)
def parse(value: str) -> BusinessHours:
    """The business hours ``value`` says, or ``BadBusinessHours`` with what is wrong."""
    match = _SHAPE.match(str(value or ""))
    if match is None:
        raise _fail(str(value), "not days and a time range")
    days: set[int] = set()
    for part in match["days"].split(","):
        if not part.strip():
            raise _fail(value, "an empty day in the list")
        first, dash, last = part.partition("-")
        a = _day(value, first)
        b = _day(value, last) if dash else a
        days.update((a + k) % 7 for k in range((b - a) % 7 + 1))  # Fri-Mon wraps
    start = _time(value, match["start"], end=False)
    end = _time(value, match["end"], end=True)
    if end is not None and end <= start:
        raise _fail(value, "the time range ends before it starts")
    return BusinessHours(frozenset(days), start, end)


def _span(day: date, hours: BusinessHours, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The day's open span, in UTC (wall times of ``tz``)."""
    start = datetime.combine(day, hours.start, tzinfo=tz)
    end = (datetime.combine(day, hours.end, tzinfo=tz) if hours.end is not None
           else datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def _spans(now: datetime, hours: BusinessHours, tz: ZoneInfo, days: int = 400):
    """The open spans that end after ``now``, in order (UTC)."""
    day = now.astimezone(tz).date() - timedelta(days=1)
    for _ in range(days):
        if day.weekday() in hours.days:
            start, end = _span(day, hours, tz)
            if end > now:
                yield start, end
        day += timedelta(days=1)


def is_open(now: datetime, tz: ZoneInfo, hours: BusinessHours) -> bool:
    """Within business hours at ``now``."""
    for start, _end in _spans(now, hours, tz, days=3):
        return start <= now
    return False


def next_start(now: datetime, tz: ZoneInfo, hours: BusinessHours) -> datetime:
    """When business hours next begin after ``now`` (``now`` itself when open)."""
    for start, _end in _spans(now, hours, tz, days=9):
        return max(start, now)
    raise _fail(str(hours), "no day in the week")  # parse never gives no day


def add_open_time(start: datetime, span: timedelta, tz: ZoneInfo,
                  hours: BusinessHours) -> datetime:
    """``start`` plus ``span`` counted in business hours only (a SEV-3's 4 h response
    target declared on Friday at 16:00 falls due on Monday at 12:00 for 09:00-17:00)."""
    left = span
    for open_at, close_at in _spans(start, hours, tz):
        counted_from = max(open_at, start)
        if counted_from + left <= close_at:
            return counted_from + left
        left -= close_at - counted_from
    raise _fail(str(hours), "too few open hours in a year")
