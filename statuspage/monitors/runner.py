"""The monitor process (``flask --app statuspage monitor``): rounds of due checks.

Each round: write the heartbeat; claim the due monitors in one write transaction (the lease:
``next_check_at`` moves one interval on, under ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and
the write lock on SQLite, so however many processes run, each monitor is checked once per
interval); check them at once, each in a worker of its own (``Checks``: at most
MONITOR_WORKERS, each check within its monitor's timeout, outside any transaction), and
record each result with what it caused (``outages``) in its own write transaction as soon
as it is in (a slow target delays no other monitor's check, nor the next rounds); then
roll the checks older than MONITOR_KEEP_DAYS into one row per monitor per UTC day and
delete them (idempotent: the rollup and the delete share one transaction).

Time comes from the app's clock (``utcnow``) and the waiting from ``sleep``: tests drive
``run_round`` with a fixed clock and a real HTTP server.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Callable, Optional

from flask import Flask, current_app

from .. import coverage
from ..clock import utcnow
from ..extensions import db
from ..models import Monitor, MonitorCheck, MonitorDay, MonitorHeartbeat
from ..transactions import write_transaction
from . import outages, probe

log = logging.getLogger("statuspage.monitor")

#: Monitors claimed per round.
BATCH = 50
#: Checks rolled up per transaction.
ROLLUP_BATCH = 5000
#: The heartbeat is written at most this often (a round may come every second).
BEAT_EVERY_SECONDS = 5.0


@dataclass
class RoundReport:
    checked: list[int] = field(default_factory=list)
    failed: int = 0
    rolled_up: int = 0


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def beat(now: datetime, name: Optional[str] = None) -> None:
    """Record that this monitor process ran a round (flushes; the caller commits)."""
    name = name or process_name()
    row = db.session.get(MonitorHeartbeat, name)
    if row is None:
        db.session.add(MonitorHeartbeat(name=name, beat_at=now))
    else:
        row.beat_at = now
    db.session.execute(db.delete(MonitorHeartbeat)
                       .where(MonitorHeartbeat.beat_at < now - timedelta(days=1)))


def latest_beat() -> Optional[datetime]:
    return db.session.scalar(db.select(db.func.max(MonitorHeartbeat.beat_at)))


def any_configured() -> bool:
    return db.session.scalar(db.select(Monitor.id).where(Monitor.muted.is_(False))
                             .limit(1)) is not None


def claim_due(now: datetime, limit: int = BATCH) -> list[tuple[int, str, int]]:
    """Commits: the due monitors this process checks now, as (id, url, timeout)."""
    with write_transaction():
        query = (db.select(Monitor)
                 .where(Monitor.muted.is_(False),
                        (Monitor.next_check_at.is_(None)) | (Monitor.next_check_at <= now))
                 .order_by(Monitor.next_check_at.is_not(None), Monitor.next_check_at,
                           Monitor.id)
                 .limit(limit))
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Monitor)
        claimed = []
        for m in db.session.scalars(query):
            m.next_check_at = now + timedelta(seconds=m.interval_seconds)
            claimed.append((m.id, m.url, m.timeout_seconds))
    return claimed


def flap_window() -> timedelta:
    return timedelta(seconds=float(current_app.config["MONITOR_FLAP_WINDOW_SECONDS"]))


def record(monitor_id: int, result: probe.Result, now: datetime) -> None:
    """Commits: keep one check's result, and what it changes (``outages``)."""
    with write_transaction():
        m = db.session.get(Monitor, monitor_id)
        if m is None or m.muted:  # deleted or muted while we checked
            return
        db.session.add(MonitorCheck(monitor_id=m.id, at=now, ok=result.ok,
                                    latency_ms=result.latency_ms,
                                    status_code=result.status_code, error=result.error))
        outages.apply_result(m, result, now=now, flap_window=flap_window())


def rollup(now: datetime, keep_days: int) -> int:
    """Commits: checks from UTC days older than ``keep_days`` become MonitorDay rows and
    are deleted; the number rolled up."""
    cutoff = datetime.combine((now - timedelta(days=keep_days)).date(), time(0),
                              tzinfo=timezone.utc)
    total = 0
    while True:
        with write_transaction():
            rows = db.session.execute(
                db.select(MonitorCheck.id, MonitorCheck.monitor_id, MonitorCheck.at,
                          MonitorCheck.ok, MonitorCheck.latency_ms)
                .where(MonitorCheck.at < cutoff).order_by(MonitorCheck.id)
                .limit(ROLLUP_BATCH)).all()
            if not rows:
                return total
            days: dict = {}
            for row in rows:
                day = days.setdefault((row.monitor_id, row.at.date()), [0, 0, 0, 0])
                day[0] += 1
                day[1] += 0 if row.ok else 1
                day[2] += row.latency_ms
                day[3] = max(day[3], row.latency_ms)
            for (monitor_id, day), (checks, failures, total_ms, max_ms) in days.items():
                kept = db.session.scalar(db.select(MonitorDay).where(
                    MonitorDay.monitor_id == monitor_id, MonitorDay.day == day))
                if kept is None:
                    kept = MonitorDay(monitor_id=monitor_id, day=day, checks=0, failures=0,
                                      latency_sum_ms=0, max_latency_ms=0)
                    db.session.add(kept)
                kept.checks += checks
                kept.failures += failures
                kept.latency_sum_ms += total_ms
                kept.max_latency_ms = max(kept.max_latency_ms, max_ms)
            db.session.execute(db.delete(MonitorCheck)
                               .where(MonitorCheck.id.in_([r.id for r in rows])))
            total += len(rows)


class Checks:
    """The checks under way: at most MONITOR_WORKERS at once, each in a thread of its own
    that checks (``probe.check``, within the monitor's timeout) and records the result in
    an app context of its own. A slow target holds one worker; the other monitors are
    checked on time by the others."""

    def __init__(self, app: Flask, workers: int) -> None:
        self.app, self.workers = app, max(1, workers)
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="monitor-check")
        self.running: set[Future] = set()

    def free(self) -> int:
        self.running = {f for f in self.running if not f.done()}
        return self.workers - len(self.running)

    def start(self, monitor_id: int, url: str, timeout: int,
              resolver: probe.Resolver) -> Future:
        future = self.pool.submit(self._check, monitor_id, url, timeout, resolver)
        self.running.add(future)
        return future

    def _check(self, monitor_id: int, url: str, timeout: int,
               resolver: probe.Resolver) -> bool:
        result = probe.check(url, timeout, resolver=resolver)
        with self.app.app_context():
            try:
                record(monitor_id, result, utcnow())
            except Exception:
                log.exception("monitor %s: its check could not be recorded", monitor_id)
                db.session.rollback()
        return result.ok

    def close(self) -> None:
        """Wait for the checks under way (each ends by its timeout)."""
        self.pool.shutdown(wait=True)


def run_round(*, name: Optional[str] = None,
              resolver: probe.Resolver = probe.system_resolver,
              checks: Optional[Checks] = None) -> RoundReport:
    """Commits step by step: one round (see the module docstring). In an app context.

    With ``checks`` (``run_forever``'s), the round starts the due checks and returns; the
    next rounds go on while a slow one is under way, so it stretches no other monitor's
    interval. Without, the round waits for its checks (tests, ``--once``)."""
    report = RoundReport()
    now = utcnow()
    key = name or process_name()
    # When this process (by name) last wrote its heartbeat, kept with the app.
    beats = current_app.extensions.setdefault("statuspage.monitor_beats", {})
    last = beats.get(key)
    if last is None or not 0 <= (now - last).total_seconds() < BEAT_EVERY_SECONDS:
        with write_transaction():
            beat(now, key)
            # The uptime bars' "this page was running" (issue 15): a monitor counts too.
            coverage.extend(now, "monitor",
                            float(current_app.config["MONITOR_HEARTBEAT_MAX_AGE_SECONDS"]))
        beats[key] = now
    own = checks is None
    checks = checks or Checks(current_app._get_current_object(), workers())
    started = []
    # Claim no more than there are free workers: the rest stay due for the next round
    # (or another monitor process), not queued behind a slow check.
    free = checks.free()
    for monitor_id, url, timeout in (claim_due(utcnow(), min(BATCH, free)) if free else []):
        started.append(checks.start(monitor_id, url, timeout, resolver))
        report.checked.append(monitor_id)
    if own:
        checks.close()
        report.failed = sum(0 if f.result() else 1 for f in started)
    report.rolled_up = rollup(utcnow(), int(current_app.config["MONITOR_KEEP_DAYS"]))
    return report


def workers() -> int:
    return max(1, int(current_app.config["MONITOR_WORKERS"]))


def run_forever(app: Flask, stop: threading.Event,
                sleep: Optional[Callable[[float], bool]] = None) -> None:
    """Rounds every MONITOR_ROUND_SECONDS until ``stop`` is set; an error is logged and
    the next round comes."""
    wait = sleep or stop.wait
    every = float(app.config["MONITOR_ROUND_SECONDS"])
    log.info("monitor started: a round every %g s", every)
    with app.app_context():
        checks = Checks(app, workers())
    try:
        while not stop.is_set():
            with app.app_context():
                try:
                    run_round(checks=checks)
                except Exception:
                    log.exception("monitor round failed; trying again at the next round")
                    db.session.rollback()
                finally:
                    db.session.remove()
            wait(every)
    finally:
        checks.close()
