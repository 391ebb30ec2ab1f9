"""Whether the playbook's response and resolution targets are met (pure rules); the
targets themselves are the severity table's (``severity``).

Targets count from ``started_at`` (detection), as the playbook's times do. SEV-4's
resolution target is 3 business days: Monday to Friday in the site's time zone, a weekend
adding nothing. A target is *met* when its event (acknowledgement, resolution) came in
time, *missed* once the deadline passed without it (or the event came late), *close* in
its last fifth, else *on track*.

The playbook's "SEV-3/4: Create ticket, handle next business day": given the business
hours (``BUSINESS_HOURS``, ``paging.business_hours``), the response target of a severity
that does not page counts business hours only; declared after hours, it says it starts
the next business day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from .paging import business_hours
from .paging.business_hours import BusinessHours
from .severity import SEVERITIES, BusinessDays, Span


STATE_LABELS = {"met": "Met", "on_track": "On track", "close": "Close to being missed",
                "missed": "Missed"}


def add_business_days(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """``start`` plus ``days`` whole business days, counting only Monday to Friday in ``tz``
    (a start in a weekend counts from the next Monday's midnight). Aware UTC in and out."""
    local = start.astimezone(tz).replace(tzinfo=None)
    while local.weekday() >= 5:  # Saturday, Sunday: the clock starts on Monday
        local = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                     microsecond=0)
    counted = 0
    while counted < days:
        local += timedelta(days=1)  # wall-clock days: a DST change keeps the time of day
        if local.weekday() < 5:
            counted += 1
    return local.replace(tzinfo=tz).astimezone(start.tzinfo)


def deadline(start: datetime, span: Span, tz: ZoneInfo) -> datetime:
    """When a target counted from ``start`` falls due."""
    if isinstance(span, BusinessDays):
        return add_business_days(start, span.days, tz)
    return start + span


def state(start: datetime, due: datetime, done_at: Optional[datetime], now: datetime) -> str:
    """met / on_track / close (the last fifth of the span) / missed."""
    if done_at is not None:
        return "met" if done_at <= due else "missed"
    if now > due:
        return "missed"
    if now >= due - (due - start) / 5:
        return "close"
    return "on_track"


def span_text(span: Span) -> str:
    """``15 min``, ``2 h``, ``3 business days``."""
    if isinstance(span, BusinessDays):
        return f"{span.days} business days"
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h"


@dataclass(frozen=True)
class Target:
    """One target of one incident, as the dashboard shows it."""

    name: str  # "Response" / "Resolution"
    span: str
    due: datetime
    state: str
    #: "counted from the next business day (Mon 09:00)": declared after business hours.
    note: str = ""

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


def targets_for(severity: str, started_at: datetime, acknowledged_at: Optional[datetime],
                resolved_at: Optional[datetime], now: datetime, tz: ZoneInfo,
                hours: Optional[BusinessHours] = None) -> tuple[Target, Target]:
    """The response target (met by the acknowledgement) and the resolution target. With
    ``hours``, the response target of a severity that does not page counts business hours
    only."""
    info = SEVERITIES[severity]
    response, resolution = info.response_span, info.resolution_span
    response_due = deadline(started_at, response, tz)
    resolution_due = deadline(started_at, resolution, tz)
    response_text, note = span_text(response), ""
    if hours is not None and not info.pages and not isinstance(response, BusinessDays):
        response_due = business_hours.add_open_time(started_at, response, tz, hours)
        response_text += " of business hours"
        if not business_hours.is_open(started_at, tz, hours):
            opens = business_hours.next_start(started_at, tz, hours).astimezone(tz)
            note = f"next business day: counted from {opens.strftime('%a %H:%M')}"
    return (
        Target("Response", response_text, response_due,
               state(started_at, response_due, acknowledged_at, now), note),
        Target("Resolution", span_text(resolution), resolution_due,
               state(started_at, resolution_due, resolved_at, now)),
    )
