"""The engine's workers: OUTBOX_CONCURRENCY of them per channel, each with a connection of
its own, claiming a batch at a time and holding at most one message in flight.

``run`` starts a channel's workers (threads, each in an app context of its own: its own
database session, its own marking connection, its own connection to the target) and
returns once all have ended: nothing due is left, time ran short (half the lease, so
nobody else claims what a worker is still sending), the server cannot be reached, or a
stop was requested (the message in flight is finished, the rest of the claim released).
Each channel has workers of its own, so a slow webhook never delays an email; their pace
(``pace.Pace``) is the channel's, shared.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import ExitStack, contextmanager
from queue import SimpleQueue
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterator, Optional

import sqlalchemy as sa
from flask import Flask

from ..clock import utcnow
from ..extensions import db
from . import engine
from .channel import Answer, Channel
from .pace import Pace

log = logging.getLogger("statuspage.notifier")


@dataclass
class Report:
    """What a channel's run did, counted."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    #: Claimed, then found no longer wanted just before sending (cancelled or held).
    settled: int = 0
    server_down: bool = False

    def count(self, status: str) -> None:
        if status == "sent":
            self.sent += 1
        elif status == "pending":
            self.retrying += 1
        else:
            self.failed += 1

    def add(self, other: "Report") -> None:
        for f in fields(other):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            setattr(self, f.name, (mine or theirs) if f.type == "bool" else mine + theirs)


@dataclass
class Context:
    """What every worker of one run shares."""

    channel: Channel
    policy: engine.Policy
    pace: Pace
    stop: Callable[[], bool]
    beat: Callable[[], None]
    rng: Callable[[], float]


@contextmanager
def marking_connection() -> Iterator[sa.Connection]:
    """A connection of its own for the marks: one transaction per message on it costs a
    BEGIN and a COMMIT, not the ORM session's bookkeeping. On SQLite its transactions
    take the write lock at BEGIN."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.execution_options(sqlite_begin="IMMEDIATE")
        yield conn


class _Job:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: Optional[BaseException] = None

    def result(self) -> Any:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


class Marker:
    """A worker's second thread: it runs the marks (one at a time, in the worker's app
    context) while the worker opens the next message. A thread of its own rather than an
    executor's: the notifier stopping on a signal must still mark the message in flight,
    and an executor refuses work once the interpreter starts shutting down."""

    def __init__(self, app: Flask, name: str) -> None:
        self._jobs: "SimpleQueue[Optional[tuple]]" = SimpleQueue()
        self._thread = threading.Thread(target=self._main, args=(app,), name=name,
                                        daemon=True)
        self._thread.start()

    def _main(self, app: Flask) -> None:
        with app.app_context():
            while (job := self._jobs.get()) is not None:
                task, fn, args = job
                try:
                    task.value = fn(*args)
                except BaseException as exc:  # raised in the worker, by result()
                    task.error = exc
                task.done.set()

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Job:
        task = _Job()
        self._jobs.put((task, fn, args))
        return task

    def __enter__(self) -> "Marker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._jobs.put(None)
        self._thread.join()


def send_batch(ctx: Context, batch: list, report: Report, connection: Any,
               marks: sa.Connection, marker: Optional[Marker] = None) -> bool:
    """Commits each result: send a claimed batch, one message at a time (the engine's
    steps 2 to 6). Returns False when the worker should stop (the server is down, time ran
    short, or the process is stopping).

    With a ``marker`` (a thread of the worker's) and a channel that ``overlaps``, the next
    message is opened (``prepare``: the SMTP envelope, nothing delivered) while the one
    just sent is being marked; its body goes once the mark is committed and the recheck
    that rides with it says it is still wanted (else it is closed unsent)."""
    channel, queue = ctx.channel, ctx.channel.queue
    deadline = time.monotonic() + ctx.policy.lease.total_seconds() / 2
    state: Optional[engine.State] = None  # the item's, if asked with the previous mark
    opened: Optional[tuple[Any, Optional[Answer]]] = None  # (item, its opening's failure)
    overlap = marker is not None and channel.overlaps
    for index, item in enumerate(batch):
        if ctx.stop() or time.monotonic() > deadline:
            _close(channel, connection, opened)
            return _give_back(ctx, batch[index:], report)
        ctx.beat()
        if state is None:
            state = queue.recheck(item)
        if state.action != "send":
            opened = _close(channel, connection, opened)
            if state.action != "gone":
                engine.settle(queue, item, state.action, marks)
                report.settled += 1
            state = None
            continue
        payload = channel.render(connection, item, state.version)
        state = None
        if payload is None:  # what it reported is gone
            opened = _close(channel, connection, opened)
            engine.settle(queue, item, "cancel", marks)
            report.settled += 1
            continue
        if opened is not None:  # opened while the one before was being marked
            failed, opened = opened[1], None
            answer = failed if failed is not None else channel.finish(connection, item,
                                                                      payload)
        else:
            if not ctx.pace.wait(deadline, ctx.stop):
                return _give_back(ctx, batch[index:], report)
            answer = channel.send(connection, item, payload)
        ctx.pace.answered(answer)
        if answer.sent:
            following = batch[index + 1] if index + 1 < len(batch) else None
            if overlap and following is not None:
                marking = marker.submit(queue.mark_sent, item, answer, utcnow(), marks,
                                        following)
                if ctx.pace.wait(deadline, ctx.stop):
                    opened = (following, channel.prepare(connection, following))
                state = marking.result()
            else:
                state = queue.mark_sent(item, answer, utcnow(), marks, following)
            report.count("sent")
            log.info("%s sent", channel.describe(item))
            continue
        status = engine.record_failure(queue, item, answer, now=utcnow(),
                                       policy=ctx.policy, rand=ctx.rng())
        report.count(status)
        log.warning("%s: %s -> %s", channel.describe(item), answer.error, status)
        if answer.unreachable:
            rest = batch[index + 1:]
            if answer.slow_down:
                # The server asks us to wait, not to fail: the rest goes back untried.
                engine.release(queue, rest)
                report.released += len(rest)
            else:
                # The rest would meet the same closed door: count it as a try for each,
                # so that each backs off on its own schedule.
                for other in rest:
                    report.count(engine.record_failure(queue, other, answer, now=utcnow(),
                                                       policy=ctx.policy, rand=ctx.rng()))
            report.server_down = True
            return False
    return True


def _close(channel: Channel, connection: Any, opened: Optional[tuple]) -> None:  # noqa
    """Close a message opened ahead, unsent (its row is settled or given back)."""
    if opened is not None and opened[1] is None:
        channel.cancel(connection, opened[0])
    return None


def _give_back(ctx: Context, rest: list, report: Report) -> bool:
    engine.release(ctx.channel.queue, rest)
    report.released += len(rest)
    if ctx.stop():
        log.info("stopping: %d claimed %s message(s) released", len(rest), ctx.channel.name)
    return False


def work(app: Flask, ctx: Context, report: Report) -> None:
    """One worker: claim, send, until nothing is due or it should stop."""
    with ExitStack() as stack:
        connection = stack.enter_context(ctx.channel.connect(app))
        marks = stack.enter_context(marking_connection())
        marker = None
        if ctx.channel.overlaps:  # marks while the next message opens (send_batch)
            marker = stack.enter_context(Marker(app, f"{ctx.channel.name}-marks"))
        while not ctx.stop():
            batch = engine.claim(ctx.channel.queue, utcnow(), limit=ctx.policy.batch_size,
                                 lease=ctx.policy.lease)
            if not batch:
                break
            if ctx.policy.pause_after_claim:
                log.warning("NOTIFIER_TEST_PAUSE_AFTER_CLAIM: pausing %.1f s after "
                            "claiming %d", ctx.policy.pause_after_claim, len(batch))
                time.sleep(ctx.policy.pause_after_claim)
            keep_going = send_batch(ctx, batch, report, connection, marks, marker)
            ctx.beat()
            if not keep_going:
                break


_paces_lock = threading.Lock()


def pace_for(app: Flask, channel: Channel, policy: engine.Policy) -> Pace:
    """The channel's pace: shared, in this app, with the channels of its ``pace_group``
    (one provider, one limit), from run to run."""
    if not channel.pace_group:
        return Pace(policy.max_per_second)
    with _paces_lock:
        paces = app.extensions.setdefault("statuspage.paces", {})
        return paces.setdefault((channel.pace_group, policy.max_per_second),
                                Pace(policy.max_per_second))


def send_claimed(app: Flask, channel: Channel, batch: list, *,
                 stop: Callable[[], bool] = lambda: False,
                 rng: Callable[[], float] = lambda: 0.5) -> Report:
    """Commits each result: send a batch already claimed (``engine.claim``) in this
    thread, as one worker would."""
    policy = channel.policy(app.config)
    ctx = Context(channel, policy, pace_for(app, channel, policy), stop, lambda: None, rng)
    report = Report()
    with channel.connect(app) as connection, marking_connection() as marks:
        send_batch(ctx, batch, report, connection, marks)
    return report


def run(app: Flask, channel: Channel, *, stop: Callable[[], bool],
        beat: Callable[[], None] = lambda: None,
        rng: Callable[[], float] = lambda: 0.5) -> Report:
    """Commits step by step: send everything of ``channel`` that is due, with its workers
    (the module docstring); what they did, added up. Nothing due: no worker starts."""
    if not engine.anything_due(channel.queue, utcnow()):
        return Report()
    policy = channel.policy(app.config)
    ctx = Context(channel, policy, pace_for(app, channel, policy), stop, beat, rng)
    reports = [Report() for _ in range(policy.workers)]
    errors: list[BaseException] = []

    def worker(report: Report) -> None:
        with app.app_context():
            try:
                work(app, ctx, report)
            except BaseException as exc:  # raised below, in the caller's thread
                log.exception("%s: a worker failed; the next tick tries again",
                              channel.name)
                db.session.rollback()
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(r,), name=f"{channel.name}-{i}")
               for i, r in enumerate(reports)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    total = Report()
    for report in reports:
        total.add(report)
    return total
