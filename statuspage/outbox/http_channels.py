"""The HTTP channels' runs (webhooks, Slack): beside the email, never in its way.

An HTTP target may take up to its whole deadline (WEBHOOK_TIMEOUT_SECONDS) to answer, or
not answer at all. So the notifier's tick does not send to them in its own loop: each HTTP
channel runs in a thread of its own (``start``), with its own app context and database
session, while the tick sends the email and writes the heartbeat; within it the engine's
workers (``workers.run``: WEBHOOK_WORKERS for the webhooks, OUTBOX_CONCURRENCY for Slack)
each claim and send one message at a time, so a slow target holds one worker for at most
its deadline while the others go on to the other targets.

At most one run per channel is under way in a process: a tick that finds the last one
still at work leaves it be (the work it would claim is the same). ``tick()`` waits for the
runs it started (tests, ``notifier --once``); the ticker (``scheduler.run_forever``) does
not, so the next tick's email never waits for a slow receiver.

"Once" and "nothing lost" are the engine's (a lease per row, a conditional mark): the runs
add threads, not new ways of sending twice; a stop request ends each worker after the
message in flight, which ends by its deadline.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from flask import Flask

from ..extensions import db

log = logging.getLogger("statuspage.notifier")

_lock = threading.Lock()
_runs: dict[str, "Run"] = {}


class Run:
    """One channel's run in its thread; ``result`` once it is over."""

    def __init__(self, app: Flask, name: str, work: Callable[[], Any]) -> None:
        self.name = name
        self.result: Any = None
        self.thread = threading.Thread(target=self._main, args=(app, work),
                                       name=f"notifier-{name}")

    def _main(self, app: Flask, work: Callable[[], Any]) -> None:
        with app.app_context():
            try:
                self.result = work()
            except Exception:
                log.exception("%s: the run failed; the next tick tries again", self.name)
                db.session.rollback()

    def wait(self) -> Any:
        self.thread.join()
        return self.result


def start(app: Flask, name: str, work: Callable[[], Any]) -> Optional[Run]:
    """Start ``work`` (in an app context of its own) as the ``name`` channel's run, unless
    its last run is still at work; the new run, or None."""
    with _lock:
        running = _runs.get(name)
        if running is not None and running.thread.is_alive():
            return None
        run = _runs[name] = Run(app, name, work)
        run.thread.start()
        return run


def wait_all() -> None:
    """Wait for every run under way (a notifier that stops)."""
    with _lock:
        runs = list(_runs.values())
    for run in runs:
        run.wait()
