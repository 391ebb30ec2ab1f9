"""Uptime bars (issue 15): each component's days, from its status history and the time
this page was running, rolled up per day so that ``/`` costs the same after ten years.

The rule (Atlassian Statuspage's): a minute in ``major_outage`` is a minute down, a minute
in ``partial_outage`` 0.3 of a minute down; degraded performance and maintenance count as
up. A day's uptime is ``100 - down / known * 100`` %, where known minutes are those during
which the component existed (its history had begun) and this page was running (a
heartbeat covered them, ``coverage``). A day without a known minute has no percentage: it
says "No data", never 100 %.

A percentage over a few known minutes misleads (79 % after a 5-minute outage on a page
running for 9 minutes reads as "down a fifth of the time"): a day, and the 90-day figure,
show one only once they hold ``ENOUGH_KNOWN_MINUTES`` of known time; before that they say
in words what happened ("Since 11:08 UTC today: 5 minutes of partial outage"). The 90-day
figure names the days it is over when it is not all 90 ("over the 1 day we have data for").

Days are days in SITE_TIMEZONE, so a day is 23, 24 or 25 hours long. Finished days are
stored in ``uptime_days`` by the notifier's round (``roll_up``, idempotent: one row per
component and day, a unique key); ``/`` reads at most ``DAYS`` stored rows per component
and computes what is missing (today, always) from the little history of those days.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Mapping, Optional
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from . import coverage
from .components import STATUS_ORDER
from .queries import fixed_ids  # no new SQL text per incident named (issue 21)
from .extensions import db
from .models import (
    COMPONENT_STATUS_LABELS,
    COMPONENT_STATUSES,
    Component,
    Incident,
    StatusChange,
    UptimeDay,
    incident_components,
)
from .present import duration_words

#: How many days the bars show (today is the last).
DAYS = 90
#: Minutes down per minute in each status.
DOWN_WEIGHT = {"major_outage": 1.0, "partial_outage": 0.3}
#: The known time a day (or the 90-day figure) needs before it shows a percentage: half a
#: day. Less than that, a few minutes of outage would read as a large share of the time.
ENOUGH_KNOWN_MINUTES = 12 * 60
#: How many days (the latest) a phone shows; the others are a tap away (static/js/uptime.js).
PHONE_DAYS = 30
#: What a day's words call the time spent in each status but operational, worst first.
SPENT_IN = {"major_outage": "of major outage", "partial_outage": "of partial outage",
            "degraded_performance": "of degraded performance",
            "under_maintenance": "under maintenance"}


# --- The arithmetic ----------------------------------------------------------------------


def uptime_percent(minutes: Mapping[str, float]) -> Optional[float]:
    """``100 - down / known * 100`` for minutes per status; None when none is known."""
    known = sum(minutes.get(s, 0.0) for s in COMPONENT_STATUSES)
    if known <= 0:
        return None
    down = sum(minutes.get(s, 0.0) * w for s, w in DOWN_WEIGHT.items())
    return 100 - down / known * 100


def what_happened(minutes: Mapping[str, float]) -> str:
    """"5 minutes of partial outage", "1 hour of major outage, 20 minutes under
    maintenance", "operational throughout": the time in each status but operational."""
    spent = [f"{duration_words(minutes[s] * 60)} {words}" for s, words in SPENT_IN.items()
             if minutes.get(s, 0) > 0]
    return ", ".join(spent) if spent else "operational throughout"


def format_percent(percent: Optional[float]) -> str:
    """"99.95 %", "No data"; a day with any downtime never rounds up to "100.00 %"."""
    if percent is None:
        return "No data"
    shown = f"{percent:.2f}"
    if shown == "100.00" and percent < 100:
        shown = "99.99"
    return f"{shown} %"


@dataclass
class Day:
    """One component's day: minutes per status, minutes without data, its incidents."""

    day: date
    minutes: dict[str, float] = field(default_factory=dict)
    no_data: float = 0.0
    incident_ids: list[int] = field(default_factory=list)
    #: Its first known moment in SITE_TIMEZONE (days worked out from history, not stored).
    first_known: Optional[datetime] = None
    #: The day is today: its known time runs until now.
    until_now: bool = False

    @property
    def known(self) -> float:
        return sum(self.minutes.values())

    @property
    def down(self) -> float:
        return sum(self.minutes.get(s, 0.0) * w for s, w in DOWN_WEIGHT.items())

    @property
    def percent(self) -> Optional[float]:
        return uptime_percent(self.minutes)

    @property
    def worst(self) -> Optional[str]:
        """The worst status held for a known moment of the day; None: no data."""
        held = [s for s, m in self.minutes.items() if m > 0]
        return max(held, key=STATUS_ORDER.index) if held else None

    @classmethod
    def from_row(cls, row) -> "Day":
        """From an ``UptimeDay`` or a row of ``STORED_COLUMNS``."""
        minutes = {s: getattr(row, f"{s}_minutes") for s in COMPONENT_STATUSES}
        return cls(row.day, {s: m for s, m in minutes.items() if m > 0}, row.no_data_minutes,
                   list(row.incident_ids or ()))

    @property
    def enough(self) -> bool:
        """Whether it holds enough known time to show a percentage."""
        return self.known >= ENOUGH_KNOWN_MINUTES

    @property
    def words(self) -> str:
        """What its tooltip says after the date: "96.67 %, Major Outage", "No data", and
        with too little known time "Since 11:08 UTC: 5 minutes of partial outage"."""
        worst = self.worst
        if worst is None:
            return format_percent(None)
        if not self.enough:
            return f"{self.lead}: {what_happened(self.minutes)}"
        return f"{format_percent(self.percent)}, {COMPONENT_STATUS_LABELS[worst]}"

    @property
    def lead(self) -> str:
        """"Since 11:08 UTC" (today, from its first known moment), else "2 hours of data"."""
        if self.until_now and self.first_known is not None:
            return f"Since {self.first_known:%H:%M %Z}"
        return f"{duration_words(self.known * 60)} of data"

    @property
    def date_words(self) -> str:
        return f"{self.day.day} {self.day.strftime('%b %Y')}"


#: What ``/`` reads of a stored day (no ORM objects: 90 rows per component).
STORED_COLUMNS = (UptimeDay.component_id, UptimeDay.day, UptimeDay.no_data_minutes,
                  UptimeDay.incident_ids,
                  *(getattr(UptimeDay, f"{s}_minutes") for s in COMPONENT_STATUSES))


# --- Days in SITE_TIMEZONE ---------------------------------------------------------------


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """When ``day`` begins in ``tz``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def window(now: datetime, tz: ZoneInfo) -> list[date]:
    """The bars' days, oldest first, today last."""
    last = today(now, tz)
    return [last - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]


# --- Computing days from history and coverage --------------------------------------------


def _timelines(components: Iterable[Component], start: datetime, end: datetime
               ) -> dict[int, list[tuple[datetime, str]]]:
    """Per component: (since, status) in order, from the last change before ``start`` to
    the last before ``end`` (two queries). A component whose history does not begin with
    its creation (made outside the domain functions, as ``flask seed`` does) had the status
    its history starts from since its creation; the migration began every existing
    component's history, so what came before it is "No data"."""
    ids = [c.id for c in components]
    # The status each had at ``start``, and the first change of its history: one index
    # seek each per component, however long the history (correlated subqueries).
    def first(column, order, *where):
        return (db.select(column).where(StatusChange.component_id == Component.id, *where)
                .order_by(*order).limit(1).correlate(Component).scalar_subquery())

    newest = (StatusChange.at.desc(), StatusChange.id.desc())
    oldest = (StatusChange.at, StatusChange.id)
    starts = db.session.execute(
        db.select(Component.id, Component.created_at, Component.status,
                  first(StatusChange.new_status, newest, StatusChange.at <= start),
                  first(StatusChange.at, oldest), first(StatusChange.old_status, oldest))
        .where(Component.id.in_(ids))).all()
    rows = []
    for cid, created, status, at_start, first_at, first_old in starts:
        if at_start is not None:
            rows.append((cid, start, at_start, 0))
        elif first_at is None:  # no history: made outside the domain (`flask seed`)
            rows.append((cid, created, status, 0))
        elif first_old is not None and created < first_at:  # it began with a change
            rows.append((cid, created, first_old, 0))
    rows += db.session.execute(
        db.select(StatusChange.component_id, StatusChange.at, StatusChange.new_status,
                  StatusChange.id)
        .where(StatusChange.component_id.in_(ids), StatusChange.at > start,
               StatusChange.at < end)
    ).all()
    found: dict[int, list[tuple[datetime, str]]] = {i: [] for i in ids}
    for component_id, at, status, _id in sorted(rows, key=lambda r: (r[1], r[3])):
        found[component_id].append((at, status))
    return found


def _incidents(ids: list[int], start: datetime, end: datetime):
    """(incident id, component id, started, resolved) of incidents naming these components
    and open at some moment of [start, end) (one query)."""
    return db.session.execute(
        db.select(Incident.id, incident_components.c.component_id, Incident.started_at,
                  Incident.resolved_at)
        .join(incident_components, incident_components.c.incident_id == Incident.id)
        .where(incident_components.c.component_id.in_(ids), Incident.started_at < end,
               db.or_(Incident.resolved_at.is_(None), Incident.resolved_at >= start))
        .order_by(Incident.started_at, Incident.id)
    ).all()


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def compute_days(components: Iterable[Component], days: Iterable[date], *, now: datetime,
                 tz: ZoneInfo, max_gap_seconds: float) -> dict[tuple[int, date], Day]:
    """Each component's ``days`` worked out from history and coverage, up to ``now``
    (a fixed number of queries, whatever the number of days and components)."""
    components, days = list(components), sorted(set(days))
    if not components or not days:
        return {}
    start, end = day_start(days[0], tz), day_start(days[-1] + timedelta(days=1), tz)
    timelines = _timelines(components, start, end)
    covered = coverage.intervals(start, min(end, now), now=now,
                                 max_gap_seconds=max_gap_seconds)
    cover_starts = [a for a, _ in covered]
    bounds = [(day_start(d, tz), day_start(d + timedelta(days=1), tz)) for d in days]
    day_starts, day_ends = [a for a, _ in bounds], [b for _, b in bounds]
    # Each incident named on the days it was open: began before the day's end and was
    # not resolved before its start (bisected, so linear in incidents plus days).
    named: dict[tuple[int, int], list[int]] = {}
    for i, cid, began, resolved in _incidents([c.id for c in components], start, end):
        first = bisect.bisect_right(day_ends, began)
        last = len(days) if resolved is None else bisect.bisect_right(day_starts, resolved)
        for k in range(first, last):
            named.setdefault((cid, k), []).append(i)
    found: dict[tuple[int, date], Day] = {}
    for c in components:
        line = timelines[c.id]
        line_starts = [at for at, _ in line]
        for k, d in enumerate(days):
            d0, d1 = day_starts[k], min(day_ends[k], now)
            result = Day(d, incident_ids=named.get((c.id, k), []))
            span = max(0.0, (d1 - d0).total_seconds())
            seconds: dict[str, float] = {}
            first = max(0, bisect.bisect_right(line_starts, d0) - 1)
            for n in range(first, len(line)):
                s0, status = line[n]
                s1 = line[n + 1][0] if n + 1 < len(line) else d1
                if s0 >= d1:
                    break
                if s1 <= d0:
                    continue
                j = max(0, bisect.bisect_right(cover_starts, max(s0, d0)) - 1)
                for a, b in covered[j:]:
                    if a >= min(s1, d1):
                        break
                    got = _overlap(max(s0, d0), min(s1, d1), a, b)
                    if got:
                        seconds[status] = seconds.get(status, 0.0) + got
            result.minutes = {s: v / 60 for s, v in seconds.items()}
            result.no_data = max(0.0, span - sum(seconds.values())) / 60
            result.until_now = d1 == now
            result.first_known = _first_known(line, covered, cover_starts, d0, d1, tz)
            found[(c.id, d)] = result
    return found


def _first_known(line: list[tuple[datetime, str]], covered, cover_starts, d0: datetime,
                 d1: datetime, tz: ZoneInfo) -> Optional[datetime]:
    """The first moment of [d0, d1) that is known: the component existed (its timeline had
    begun) and a heartbeat covered it; in ``tz``."""
    if not line:
        return None
    begun = max(d0, line[0][0])
    for a, b in covered[max(0, bisect.bisect_right(cover_starts, begun) - 1):]:
        if a >= d1:
            break
        if b > begun:
            return max(a, begun).astimezone(tz)
    return None


# --- The rollup (the notifier's round) ---------------------------------------------------


def finished_days(now: datetime, tz: ZoneInfo, max_gap_seconds: float) -> list[date]:
    """The bars' days that ended at least one heartbeat gap ago (their coverage is final)."""
    settled = now - timedelta(seconds=max_gap_seconds)
    return [d for d in window(now, tz) if day_start(d + timedelta(days=1), tz) <= settled]


def roll_up(now: datetime, tz: ZoneInfo, max_gap_seconds: float) -> int:
    """Store the finished days of the last ``DAYS`` that have no row yet; how many were
    stored. Idempotent; a concurrent notifier's rows win (the unique key). Flushes."""
    days = finished_days(now, tz, max_gap_seconds)
    if not days:
        return 0
    have = set(db.session.execute(
        db.select(UptimeDay.component_id, UptimeDay.day).where(UptimeDay.day >= days[0])
    ).all())
    components = list(db.session.scalars(db.select(Component)))
    missing = [(c, d) for c in components for d in days if (c.id, d) not in have]
    if not missing:
        return 0
    wanted = {c.id for c, _ in missing}
    computed = compute_days([c for c in components if c.id in wanted],
                            {d for _, d in missing}, now=now, tz=tz,
                            max_gap_seconds=max_gap_seconds)
    rows = [_row(c.id, computed[(c.id, d)], now) for c, d in missing]
    try:
        with db.session.begin_nested():
            db.session.add_all(rows)
    except IntegrityError:
        return 0  # another notifier stored them first
    return len(rows)


def _row(component_id: int, day: Day, now: datetime) -> UptimeDay:
    return UptimeDay(component_id=component_id, day=day.day, no_data_minutes=day.no_data,
                     worst_status=day.worst, incident_ids=day.incident_ids, computed_at=now,
                     **{f"{s}_minutes": day.minutes.get(s, 0.0) for s in COMPONENT_STATUSES})


# --- What the front page shows -----------------------------------------------------------


@dataclass
class Bars:
    """One component's bars: ``DAYS`` days, oldest first, and the whole window's uptime."""

    days: list[Day]
    percent: Optional[float] = None
    #: "99.95 % uptime over the last 90 days", "... over the 2 days we have data for",
    #: "Since 11:08 UTC today: 5 minutes of partial outage": for every reader.
    summary: str = ""
    #: Per day: (css class, date, words), worked out once for the template.
    shown: list[tuple[str, str, str, list[int]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        known = sum(d.known for d in self.days)
        with_data = sum(1 for d in self.days if d.known > 0)
        if known <= 0:
            self.summary = f"No uptime data for the last {DAYS} days"
        elif known < ENOUGH_KNOWN_MINUTES:
            minutes: dict[str, float] = {}
            for d in self.days:
                for status, m in d.minutes.items():
                    minutes[status] = minutes.get(status, 0.0) + m
            self.summary = f"{self._lead(known)}: {what_happened(minutes)}"
        else:
            self.percent = 100 - sum(d.down for d in self.days) / known * 100
            over = (f"the last {DAYS} days" if with_data == len(self.days) else
                    f"the {with_data} day{'s' if with_data != 1 else ''} we have data for")
            self.summary = f"{format_percent(self.percent)} uptime over {over}"
        self.shown = [(d.worst or "none", d.date_words, d.words, d.incident_ids)
                      for d in self.days]

    def _lead(self, known: float) -> str:
        """"Since 11:08 UTC today" (or yesterday, or on 6 Dec) from the first known moment;
        "In the 3 hours we have data for" when the day it falls in was stored."""
        first = next(d for d in self.days if d.known > 0)
        if first.first_known is None:
            return f"In the {duration_words(known * 60)} we have data for"
        back = (self.days[-1].day - first.day).days
        when = {0: "today", 1: "yesterday"}.get(back, f"on {first.date_words}")
        return f"Since {first.first_known:%H:%M %Z} {when}"


def front_page_bars(components: Iterable[Component], *, now: datetime, tz: ZoneInfo,
                    max_gap_seconds: float) -> tuple[dict[int, Bars], dict[int, str]]:
    """Each component's bars, and the titles of the incidents they name (id -> title).

    Reads at most ``DAYS`` stored rows per component, then computes the days without a
    row (today, and any day the notifier has not rolled up yet) from their history."""
    components = list(components)
    days = window(now, tz)
    if not components:
        return {}, {}
    stored: dict[tuple[int, date], Day] = {
        (row.component_id, row.day): Day.from_row(row)
        for row in db.session.execute(
            db.select(*STORED_COLUMNS)
            .where(UptimeDay.component_id.in_([c.id for c in components]),
                   UptimeDay.day >= days[0], UptimeDay.day < days[-1]))
    }
    missing = [(c, d) for c in components for d in days if (c.id, d) not in stored]
    stored.update(compute_days({c for c, _ in missing}, {d for _, d in missing}, now=now,
                               tz=tz, max_gap_seconds=max_gap_seconds))
    bars = {c.id: Bars([stored[(c.id, d)] for d in days]) for c in components}
    ids = {i for b in bars.values() for d in b.days for i in d.incident_ids}
    titles = dict(db.session.execute(
        db.select(Incident.id, Incident.title).where(Incident.id.in_(fixed_ids(ids)))
    ).all()) if ids else {}
    return bars, titles

