"""APScheduler as a ticker: runs ``outbox.notifier.tick()`` every NOTIFIER_INTERVAL_SECONDS.

It runs only in the notifier process (``flask --app statuspage notifier``), never inside
the web workers: started in every gunicorn worker (or twice by Flask's reloader) it would
tick once per copy. Any number of notifier processes may run against one PostgreSQL: the
claims and the unique constraints make the extra ones harmless.
"""

from __future__ import annotations

import logging
import signal
from datetime import datetime, timezone
from typing import Callable, Mapping, Optional

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from . import subscriptions
from .clock import utcnow
from .extensions import db
from .outbox import notifier
from .transactions import write_transaction

log = logging.getLogger("statuspage.notifier")


def notifier_round(**tick_options) -> notifier.TickReport:
    """Commits: housekeeping (unconfirmed subscribers past their age go), then one outbox
    tick."""
    with write_transaction():
        subscriptions.purge_unconfirmed(utcnow())
    return notifier.tick(**tick_options)


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
        try:
            report = notifier_round()
        except Exception:
            log.exception("notifier tick failed; trying again at the next tick")
            db.session.rollback()
            db.session.remove()
            return
        if report.sent or report.failed or report.retrying or report.enqueued:
            log.info("tick: %d outage email(s) queued, %d sent, %d to retry, %d failed",
                     report.enqueued, report.sent, report.retrying, report.failed)


def run_forever(app: Flask) -> None:
    """Tick now and then every interval until SIGTERM or SIGINT (the current tick ends)."""
    interval = float(app.config["NOTIFIER_INTERVAL_SECONDS"])
    scheduler = BlockingScheduler(timezone=timezone.utc)
    scheduler.add_job(
        run_tick, "interval", seconds=interval, args=[app], id="notifier-tick",
        next_run_time=datetime.now(timezone.utc),
        max_instances=1,  # a long tick is never overlapped by the next
        coalesce=True,  # ticks missed while one ran long become one
        misfire_grace_time=None,
    )

    def stop(signum, _frame):
        log.info("notifier stopping (signal %d)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("notifier started: a tick every %g s", interval)
    scheduler.start()
