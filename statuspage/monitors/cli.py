"""``flask --app statuspage monitor``: the checks' own process (``serve`` starts it), and
the seeding of MONITOR_TARGETS that ``seed``, ``serve`` and ``monitor`` run at start."""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask import current_app

from ..clock import utcnow
from ..transactions import write_transaction
from . import settings


def seed_targets_or_exit() -> int:
    """Commits: the MONITOR_TARGETS monitors not there yet; on a bad entry, its reason on
    stderr and exit status 2 (no traceback)."""
    try:
        targets = settings.parse_targets(current_app.config.get("MONITOR_TARGETS"))
        # Looked up and added under the write lock: monitor processes starting together
        # add each target once, and never fail on SQLite's lock (rolled back on an error).
        with write_transaction():
            added = settings.seed_targets(targets, now=utcnow())
    except ValueError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(2) from None
    return added


@click.command("monitor")
@click.option("--once", is_flag=True, help="Run one round and exit (tests, cron).")
def monitor_command(once):
    """Check the monitors: a round every MONITOR_ROUND_SECONDS, each monitor once per its
    interval across every monitor process (a lease in the database). Run it as its own
    process, never inside the web workers; several may run. FIXED_NOW as the notifier's."""
    from .. import scheduler
    from . import runner

    app = current_app._get_current_object()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s "
                        "%(message)s")
    try:
        fixed = scheduler.fixed_clock(app.config)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if fixed is not None:
        app.config["CLOCK"] = fixed
    seed_targets_or_exit()
    if once:
        report = runner.run_round()
        click.echo(f"{len(report.checked)} monitor(s) checked, {report.failed} failed.")
        return
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.run_forever(app, stop)
