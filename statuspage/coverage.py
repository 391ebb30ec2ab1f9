"""When this status page was running: a compact record of the time covered by heartbeats.

Each heartbeat (the notifier's tick; a monitor process's, later) calls ``extend``: the
newest interval of that source is stretched to ``now`` when the last beat is at most
``max_gap_seconds`` old (``heartbeat.max_age_seconds``, the staleness rule), else a new
interval begins. A page that ran for a year without a stop is one row. Time outside every
interval is "No data" on the uptime bars. Flushes, never commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .extensions import db
from .models import CoverageInterval


def extend(now: datetime, source: str, max_gap_seconds: float) -> None:
    """Record that ``source`` was running at ``now`` (the caller commits)."""
    newest = db.session.scalars(
        db.select(CoverageInterval)
        .where(CoverageInterval.source == source,
               CoverageInterval.ended_at >= now - timedelta(seconds=max_gap_seconds),
               CoverageInterval.started_at <= now)
        .order_by(CoverageInterval.ended_at.desc()).limit(1)
    ).first()
    if newest is None:
        db.session.add(CoverageInterval(source=source, started_at=now, ended_at=now))
    elif newest.ended_at < now:
        newest.ended_at = now
    db.session.flush()


def intervals(start: datetime, end: datetime, *, now: datetime,
              max_gap_seconds: float) -> list[tuple[datetime, datetime]]:
    """The covered time within [start, end), merged and in order (one query).

    An interval whose last beat is at most ``max_gap_seconds`` before ``now`` is still
    running: it counts up to ``now``.
    """
    rows = db.session.execute(
        db.select(CoverageInterval.started_at, CoverageInterval.ended_at)
        .where(CoverageInterval.ended_at >= start - timedelta(seconds=max_gap_seconds),
               CoverageInterval.started_at < end)
        .order_by(CoverageInterval.started_at)
    ).all()
    live_after = now - timedelta(seconds=max_gap_seconds)
    merged: list[list[datetime]] = []
    for began, ended in rows:
        if ended >= live_after:
            ended = max(ended, now)
        began, ended = max(began, start), min(ended, end)
        if ended <= began:
            continue
        if merged and began <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], ended)
        else:
            merged.append([began, ended])
    return [(a, b) for a, b in merged]
