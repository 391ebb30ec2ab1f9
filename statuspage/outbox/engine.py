"""The delivery engine: every message the product sends goes through here, whatever its
channel (``outbox.channels``).

Written once, for every channel:

1. **Claim with a lease** (``claim``): a few due rows at a time (pending and past their
   next attempt, or ``sending`` under a lease that ran out: their process died), taken in
   one write transaction (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two notifiers never
   share a row; SQLite: ``BEGIN IMMEDIATE``, the write lock) and marked ``sending`` under
   a claim token and a lease. Where a channel promises order per target (``Queue.in_order
   _of``: a webhook's events, an incident's Slack messages), only each target's oldest
   unfinished row is due.
2. **Recheck** (``Queue.recheck``), just before each send: an unsubscribe, a hold, a
   resolution, a redaction, an edit, a cancelled window committed since the claim wins;
   a row no longer wanted is settled (cancelled, or given back untried) and not sent.
3. **Send** (the channel's ``render`` and ``send``) and **classify** (its ``Answer``).
4. **Mark** the moment the answer comes (``Queue.mark_sent``, ``record_failure``), each
   in its own committed transaction, before the next message goes: a crash resends at
   most the one message each worker had in flight.
5. **Retry** with exponential backoff and jitter up to the channel's attempts, then **give
   up**; a bad address fails the row and tells the queue (``Queue.bad_address``).
6. **Release** on shutdown (``release``): a stop request ends each worker after the message
   in flight and gives back the rest of its claim, so another notifier sends it at once.

Each channel runs ``Policy.workers`` workers (OUTBOX_CONCURRENCY; ``workers.run``), each
with a connection of its own and at most one message in flight, at the channel's pace
(``pace.Pace``: MAIL_MAX_PER_SECOND, and a pause when the server asks us to slow down).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Hashable, Iterable, Mapping, Optional, Sequence

import sqlalchemy as sa

from ..extensions import UTCDateTime, db
from ..transactions import write_transaction
from .channel import Answer, Outcome
from .rules import after_temporary_failure

log = logging.getLogger("statuspage.notifier")


@dataclass(frozen=True)
class Policy:
    """How a channel's rows are claimed, paced and retried."""

    workers: int
    batch_size: int
    lease: timedelta
    max_attempts: int
    retry_base: float
    retry_max: float
    #: Messages per second for the whole channel (None: as fast as the target answers).
    max_per_second: Optional[float] = None
    #: NOTIFIER_TEST_PAUSE_AFTER_CLAIM (tests only: a process killed between claim and send).
    pause_after_claim: float = 0.0

    @classmethod
    def from_config(cls, config: Mapping, *, attempts_key: str,
                    workers: Optional[int] = None, batch_size: Optional[int] = None,
                    **more: Any) -> "Policy":
        """The notifier's lease, batch and backoff keys, the channel's attempts
        (``attempts_key``: NOTIFIER_MAX_ATTEMPTS, WEBHOOK_MAX_ATTEMPTS...) and workers
        (OUTBOX_CONCURRENCY unless the channel has a key of its own)."""
        return cls(
            workers=workers or workers_setting(config.get("OUTBOX_CONCURRENCY", 2)),
            batch_size=batch_size or max(1, int(config["NOTIFIER_BATCH_SIZE"])),
            lease=timedelta(seconds=float(config["NOTIFIER_LEASE_SECONDS"])),
            max_attempts=max(1, int(config[attempts_key])),
            retry_base=float(config["NOTIFIER_RETRY_BASE_SECONDS"]),
            retry_max=float(config["NOTIFIER_RETRY_MAX_SECONDS"]), **more)


def workers_setting(value: Any) -> int:
    """OUTBOX_CONCURRENCY -> a number of workers (at least 1)."""
    try:
        return max(1, int(str(value).strip()))
    except ValueError:
        raise ValueError(f"OUTBOX_CONCURRENCY: {value!r} is not a whole number") from None


def per_second_setting(value: Any) -> Optional[float]:
    """MAIL_MAX_PER_SECOND (empty: no limit) -> messages per second, or None."""
    if value is None or str(value).strip() == "":
        return None
    try:
        rate = float(str(value).strip())
    except ValueError:
        rate = 0.0
    if not rate > 0:
        raise ValueError(f"MAIL_MAX_PER_SECOND: {value!r} is not a number above 0 "
                         "(leave it empty for no limit)")
    return rate


@dataclass(frozen=True)
class State:
    """What is true of a claimed row just before it goes (``Queue.recheck``)."""

    #: ``send``, ``cancel``, ``release`` (back to pending, untried) or ``gone`` (no longer
    #: ours: taken by another notifier after our lease ran out, or deleted).
    action: str
    #: The version of its subject that the message reports (the channel renders it).
    version: Hashable = None


SEND = State("send")


class Queue:
    """A row kind: the table whose rows a channel sends, described for the engine.

    The table has ``id``, ``status`` (pending, sending, sent, failed, cancelled),
    ``attempts``, ``next_attempt_at``, ``lease_until``, ``claim_token``, ``sent_at`` and
    ``last_error``. A queue may narrow what is claimable (``joins``, ``claimable``), keep
    each target's rows in order (``in_order_of``: (target column, sequence column)), and
    override the four hooks below where its rows need more (the subscribers' email does:
    the all-clear owed, the windows' follow-ups).
    """

    def __init__(self, table: sa.Table, *, joins: Sequence[tuple] = (),
                 claimable: Sequence[Any] = (), order_by: Sequence[Any] = (),
                 in_order_of: Optional[tuple[str, str]] = None) -> None:
        self.table = table
        self.joins = tuple(joins)
        self.claimable = tuple(claimable)
        self.order_by = tuple(order_by) or (table.c.next_attempt_at, table.c.id)
        self.in_order_of = in_order_of
        c = table.c
        self._ours = sa.and_(c.id == sa.bindparam("row_id"),
                             c.claim_token == sa.bindparam("token"), c.status == "sending")
        self._sent = sent_statement(table)

    # --- hooks ---------------------------------------------------------------------------

    def load(self, ids: list[int], token: str, now: datetime) -> tuple[list, list[int]]:
        """In the claim's transaction: (the items to send, the ids to cancel now)."""
        raise NotImplementedError

    def recheck(self, item: Any) -> State:
        """Just before the send: is it still ours and still wanted? (Default: ours.)"""
        return SEND

    def mark_sent(self, item: Any, answer: Answer, now: datetime, conn: sa.Connection,
                  following: Any) -> Optional[State]:
        """Commits on ``conn``: ``item`` was accepted; what is true of ``following`` now
        if the queue asks it in the same transaction (None: the engine asks later)."""
        with conn.begin():
            done = conn.execute(
                self._sent, {"row_id": item.delivery_id, "token": item.claim_token,
                             "now": now, "code": answer.code}).rowcount
            if done != 1:
                lease_lost(item)
            self.after_sent(conn, item, now, done == 1)
        return None

    def after_sent(self, conn: sa.Connection, item: Any, now: datetime, ours: bool) -> None:
        """In the mark's transaction (e.g. a webhook's failure count back to 0)."""

    def after_failure(self, item: Any, status: str, answer: Answer, now: datetime) -> str:
        """In the failure's transaction, on the session; may change the status reported."""
        return status

    def bad_address(self, item: Any, now: datetime) -> None:
        """In the failure's transaction: the target is gone (e.g. a subscriber bouncing)."""

    # --- the engine's statements ---------------------------------------------------------

    def ours(self, item: Any):
        c = self.table.c
        return sa.and_(c.id == item.delivery_id, c.claim_token == item.claim_token,
                       c.status == "sending")


def sent_statement(table: sa.Table, *, count_attempt: bool = True) -> sa.Update:
    """The mark, for every queue: the row claimed under this token, still ``sending``,
    becomes ``sent`` (binds ``row_id``, ``token``, ``now``, and ``code`` where the table
    keeps the last status code); its claim is cleared. ``count_attempt``: the sent try
    counts as an attempt (the subscribers' email counts only failures)."""
    c = table.c
    values: dict[str, Any] = dict(
        status="sent", sent_at=sa.bindparam("now", type_=UTCDateTime()), lease_until=None,
        claim_token=None, last_error=None)
    if count_attempt:
        values["attempts"] = c.attempts + 1
    if "last_status_code" in c:
        values["last_status_code"] = sa.bindparam("code", required=False)
    return sa.update(table).where(
        c.id == sa.bindparam("row_id"), c.claim_token == sa.bindparam("token"),
        c.status == "sending").values(**values)


def lease_lost(item: Any) -> None:
    log.warning("delivery %s was sent, but its lease had passed to another notifier "
                "(NOTIFIER_LEASE_SECONDS too short?)", item.delivery_id)


# --- Claim, settle, fail, release: once for every channel --------------------------------


def _waits(queue: Queue):
    """An earlier row of the same target still unfinished: this one waits its turn."""
    table, (target, sequence) = queue.table, queue.in_order_of
    earlier = table.alias("earlier")
    return (sa.select(earlier.c.id)
            .where(earlier.c[target] == table.c[target],
                   earlier.c[sequence] < table.c[sequence],
                   earlier.c.status.in_(("pending", "sending")))
            .exists())


def _due(table: sa.Table, now: datetime):
    return sa.or_(sa.and_(table.c.status == "pending", table.c.next_attempt_at <= now),
                  sa.and_(table.c.status == "sending", table.c.lease_until < now))


def anything_due(queue: Queue, now: datetime) -> bool:
    """Whether ``queue`` has a row due (one indexed read, no lock): an idle tick starts no
    workers."""
    table = queue.table
    found = db.session.execute(sa.select(table.c.id).where(_due(table, now)).limit(1)).first()
    db.session.rollback()
    return found is not None


def claim(queue: Queue, now: datetime, *, limit: int, lease: timedelta) -> list:
    """Commits: claim up to ``limit`` due rows of ``queue`` with a lease, atomically (the
    module docstring, step 1); rows that should no longer go are cancelled instead."""
    table = queue.table
    token = secrets.token_hex(16)
    with write_transaction():
        due = _due(table, now)
        source = table
        for joined, on in queue.joins:
            source = source.join(joined, on)
        where = [due, *queue.claimable]
        if queue.in_order_of is not None:
            where.append(~_waits(queue))
        ids = db.session.scalars(
            sa.select(table.c.id).select_from(source).where(*where)
            .order_by(*queue.order_by).limit(limit)
            .with_for_update(of=table, skip_locked=True)  # SQLite: BEGIN IMMEDIATE
        ).all()
        if not ids:
            return []
        items, cancel = queue.load(list(ids), token, now)
        if items:
            db.session.execute(
                sa.update(table).where(table.c.id.in_([i.delivery_id for i in items]))
                .values(status="sending", lease_until=now + lease, claim_token=token))
        if cancel:
            db.session.execute(
                sa.update(table).where(table.c.id.in_(cancel))
                .values(status="cancelled", lease_until=None, claim_token=None))
    return items


def cancel_unsent(table: sa.Table, *where: Any, now: datetime,
                  expired_claims: bool = True) -> int:
    """In the caller's transaction: cancel the rows of ``table`` matching ``where`` that
    are not sent yet: pending, and (``expired_claims``) those claimed under a lease that ran
    out (their notifier died). A live claim is left to its worker's recheck. The number
    cancelled."""
    unsent = table.c.status == "pending"
    if expired_claims:
        unsent = sa.or_(unsent, sa.and_(table.c.status == "sending",
                                        table.c.lease_until < now))
    return db.session.execute(
        sa.update(table).where(*where, unsent)
        .values(status="cancelled", lease_until=None, claim_token=None)).rowcount


def settle(queue: Queue, item: Any, action: str, conn: sa.Connection) -> None:
    """Commits: a claimed row no longer to be sent now is cancelled (``cancel``) or given
    back untried (``release``: e.g. its emails are held)."""
    with conn.begin():
        conn.execute(sa.update(queue.table).where(queue._ours).values(
            status="cancelled" if action == "cancel" else "pending", lease_until=None,
            claim_token=None), {"row_id": item.delivery_id, "token": item.claim_token})


def record_failure(queue: Queue, item: Any, answer: Answer, *, now: datetime,
                   policy: Policy, rand: float) -> str:
    """Commits: ``retry`` waits with backoff (or gives up after the policy's attempts);
    ``give_up`` and ``bad_address`` fail the row (the latter tells the queue). The new
    status: ``pending`` (retrying), ``failed``, or what the queue makes of it."""
    attempts = item.attempts + 1
    next_at = None
    if answer.outcome is Outcome.RETRY:
        status, next_at = after_temporary_failure(
            attempts, now=now, max_attempts=policy.max_attempts, base=policy.retry_base,
            cap=policy.retry_max, rand=rand)
    else:
        status = "failed"
    values: dict[str, Any] = dict(status=status, attempts=attempts, lease_until=None,
                                  claim_token=None, last_error=(answer.error or None)
                                  and answer.error[:300])
    if "last_status_code" in queue.table.c:
        values["last_status_code"] = answer.code
    if next_at is not None:
        values["next_attempt_at"] = next_at
    with write_transaction():
        done = db.session.execute(sa.update(queue.table).where(queue.ours(item))
                                  .values(**values)).rowcount
        if done != 1:
            log.warning("delivery %s: its lease had passed to another notifier",
                        item.delivery_id)
            return status
        if answer.outcome is Outcome.BAD_ADDRESS:
            queue.bad_address(item, now)
        status = queue.after_failure(item, status, answer, now)
    return status


def release(queue: Queue, items: Iterable[Any]) -> None:
    """Commits: give back claimed rows that were not tried (no attempt counted)."""
    items = list(items)
    if not items:
        return
    with write_transaction():
        for item in items:
            db.session.execute(sa.update(queue.table).where(queue.ours(item))
                               .values(status="pending", lease_until=None,
                                       claim_token=None))

