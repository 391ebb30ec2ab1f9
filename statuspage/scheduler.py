"""APScheduler as a ticker: runs ``outbox.notifier.tick()`` every NOTIFIER_INTERVAL_SECONDS.

It runs only in the notifier process (``flask --app statuspage notifier``), never inside
the web workers: started in every gunicorn worker (or twice by Flask's reloader) it would
tick once per copy. Any number of notifier processes may run against one PostgreSQL: the
claims and the unique constraints make the extra ones harmless.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone
from typing import Callable, Mapping, Optional
from zoneinfo import ZoneInfo

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app

from . import heartbeat, subscriptions, uptime
from .clock import utcnow
from .extensions import db
from .outbox import http_channels, notifier
from .transactions import write_transaction

log = logging.getLogger("statuspage.notifier")


def notifier_round(**tick_options) -> notifier.TickReport:
    """Commits: housekeeping (unconfirmed subscribers past their age go), then one outbox
    tick, then the uptime bars' finished days (issue 15)."""
    with write_transaction():
        subscriptions.purge_unconfirmed(utcnow())
    report = notifier.tick(**tick_options)
    with write_transaction():
        roll_up_uptime(utcnow())
    return report


def roll_up_uptime(now: datetime) -> int:
    """Store the uptime bars' finished days that have no row yet (the caller commits)."""
    config = current_app.config
    return uptime.roll_up(now, ZoneInfo(config["SITE_TIMEZONE"]),
                          heartbeat.max_age_seconds(config))


def fixed_clock(config: Mapping) -> Optional[Callable[[], datetime]]:
    """The clock FIXED_NOW (an ISO 8601 instant, tests only) asks for, or None.

    Honoured under TESTING only: a stray STATUSPAGE_FIXED_NOW must never freeze
    production's clock. Raises ValueError for an instant without a time zone offset.
    """
    if not config.get("TESTING") or not config.get("FIXED_NOW"):
        return None
    fixed = datetime.fromisoformat(str(config["FIXED_NOW"]).replace("Z", "+00:00"))
    if fixed.tzinfo is None:
        raise ValueError("FIXED_NOW needs a time zone offset, e.g. +00:00")
    return lambda: fixed


def run_tick(app: Flask) -> None:
    """One tick in its own app context; an error is logged, and the next tick comes."""
    with app.app_context():
        if notifier.stop_requested():
            return
        try:
            # The webhooks' and Slack's runs go on beside the next ticks (http_channels).
            report = notifier_round(wait_for_http=False)
        except Exception:
            log.exception("notifier tick failed; trying again at the next tick")
            db.session.rollback()
            db.session.remove()
            return
        if report.sent or report.failed or report.retrying or report.enqueued:
            log.info("tick: %d outage email(s) queued, %d sent, %d to retry, %d failed",
                     report.enqueued, report.sent, report.retrying, report.failed)


def install_stop_handlers(on_stop: Callable[[], None] = lambda: None) -> None:
    """On SIGTERM or SIGINT: the notifier stops between two messages (the one in flight
    is finished, the rest of its claim released at once), then ``on_stop`` runs.

    Idempotent: Ctrl-C in a terminal sends SIGINT and then ``make run`` sends SIGTERM a
    moment later; the second signal finds the stop under way and does nothing more.
    Main thread only (Python delivers signals there).
    """
    def stop(signum, _frame):
        already = notifier.stop_requested()
        notifier.request_stop()
        if already:
            return
        log.info("notifier stopping (signal %d): finishing the message in flight", signum)
        on_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run_once() -> notifier.TickReport:
    """Commits step by step: one round (``--once``), stopping between messages on SIGTERM
    or SIGINT. In an app context, in the main thread."""
    notifier.clear_stop()
    install_stop_handlers()
    return notifier_round()


def run_forever(app: Flask) -> None:
    """Tick now and then every interval until SIGTERM or SIGINT, which stop the tick under
    way between two messages (its claim released) and the ticker."""
    interval = float(app.config["NOTIFIER_INTERVAL_SECONDS"])
    scheduler = BlockingScheduler(timezone=timezone.utc)

    def shutdown() -> None:
        try:
            # wait=False: the tick's thread sees the stop request and ends by itself; the
            # interpreter waits for it at exit (it is not a daemon).
            scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass  # a signal before start: the first tick sees the request and stops us

    def job() -> None:
        if notifier.stop_requested():
            shutdown()
            return
        run_tick(app)

    scheduler.add_job(
        job, "interval", seconds=interval, id="notifier-tick",
        next_run_time=datetime.now(timezone.utc),
        max_instances=1,  # a long tick is never overlapped by the next
        coalesce=True,  # ticks missed while one ran long become one
        misfire_grace_time=None,
    )

    def shutdown_from_signal() -> None:
        # Not in the handler itself: it runs in the main thread, possibly inside the
        # scheduler's own job processing, whose lock (re-entrant) would not keep it out;
        # its job store emptied under it raised JobLookupError and the notifier exited 1.
        # From a thread, the shutdown waits for that lock.
        threading.Thread(target=shutdown, name="notifier-shutdown").start()

    notifier.clear_stop()
    install_stop_handlers(shutdown_from_signal)
    log.info("notifier started: a tick every %g s", interval)
    scheduler.start()
    http_channels.wait_all()  # each ends after the message in flight (by its deadline)
