"""A subscriber email marked sent the moment the SMTP server accepts it: one short
transaction on the worker's marking connection, committed before the next message goes,
so a crash resends at most the one in flight; the next delivery's recheck rides in it,
and so does the all-clear owed. The engine's ``Queue.mark_sent`` for the ``deliveries``
(``outbox.deliveries``); failures, retries and releases are the engine's, as for every
channel.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import UTCDateTime
from ..models import Delivery, Maintenance, Notification, Subscriber
from .maintenance_notices import owed_follow_up
from .engine import lease_lost, sent_statement
from .recheck import CURRENT, CURRENT_TIMES, Current, current_state_on, state_of
from .rules import Claimed


# The statements of the per-message path, built once (SQLAlchemy Core on the session's
# connection: no ORM bulk-update machinery, no statement construction per message).
_delivery = Delivery.__table__
_notification = Notification.__table__
_LOCK_OUTAGE = (
    sa.select(_notification.c.id)
    .where(_notification.c.id == sa.bindparam("notification_id"))
    .with_for_update(read=True)
)
_MARK_SENT = sent_statement(_delivery, count_attempt=False)
_LOCK_WINDOW = (
    sa.select(Maintenance.__table__.c.id)
    .where(Maintenance.__table__.c.id == sa.bindparam("maintenance_id"))
    .with_for_update(read=True)
)
_NOTICE_REVISION = (
    sa.select(_notification.c.revision)
    .where(_notification.c.id == sa.bindparam("notification_id"))
)

def record_sent_then_recheck(item: Claimed, now: datetime, conn: sa.Connection,
                             following: Optional[Claimed]) -> Optional[Current]:
    """Commits: the server accepted ``item``, never send it again; and, in the same
    transaction, after the mark's statements, the question ``recheck`` asks before each
    message, for ``following`` (the batch's next delivery, None at its end). One short
    transaction on ``conn`` (a worker's marking connection), committed before the next message
    goes, so a crash resends at most the one in flight. If its incident was resolved while
    it was in flight, its reader is owed the all-clear too (asked after the lock, so a
    resolution committed before the lock was granted is seen; one committed later waited
    for us and saw this delivery as sent). What is true of ``following`` now, or None."""
    if item.maintenance_id is not None:  # (its follow-ups: the general way)
        with conn.begin():
            _mark_window_notice_sent(conn, item, now)
            return None if following is None else current_state_on(conn, following)
    done, row = _statements(conn).run(conn, item, now, following)
    if done != 1:
        lease_lost(item)
    return None if following is None else state_of(following, row)


def _statements(conn: sa.Connection) -> "_Statements":
    found = conn.info.get("statuspage_marks")
    if found is None:
        found = conn.info["statuspage_marks"] = _Statements(conn.dialect)
    return found


def _owe_resolution_statement(dialect_name: str) -> sa.Executable:
    """``_owe_resolution`` as one statement: a pending all-clear for the subscriber of
    the delivery just marked sent, if its incident has a resolution notification and the
    subscriber is still confirmed; nothing if it is already owed."""
    insert = (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(_delivery)
    marked, subscribers = _delivery.alias("marked"), Subscriber.__table__
    at = sa.bindparam("now", type_=UTCDateTime())
    subscriber = sa.bindparam("subscriber_id", type_=sa.Integer())
    return insert.from_select(
        ["notification_id", "subscriber_id", "status", "attempts", "next_attempt_at",
         "created_at"],
        sa.select(_notification.c.id, subscriber, sa.literal("pending"),
                  sa.literal(0), at, at)
        .where(_notification.c.incident_id == sa.bindparam("incident_id"),
               _notification.c.kind == "resolution",
               sa.exists().where(subscribers.c.id == subscriber,
                                 subscribers.c.status == "confirmed"),
               sa.exists().where(marked.c.id == sa.bindparam("delivery_id"),
                                 marked.c.status == "sent")),
    ).on_conflict_do_nothing()


def _mark_owe_and_read_statement() -> sa.Executable:
    """PostgreSQL: the mark, the all-clear owed and ``recheck``'s read of the next
    delivery as ONE statement (data-modifying CTEs), so that an outage email's mark is two
    statements (the lock, then this) instead of four: each statement is a round of work
    for the server and for psycopg, and the fan-out is bound by the machine's CPU. It runs
    after the lock, in a snapshot of its own, as the three did; the all-clear is owed
    (``owe``: an outage email) when *this* statement marked the delivery (``marked``: its
    own UPDATE, which the INSERT's snapshot cannot see in the table). Answers one row:
    (rows marked, then the ``CURRENT`` columns of ``delivery_id``, the next delivery;
    NULLs without one)."""
    marked = _MARK_SENT.returning(_delivery.c.id).cte("marked")
    subscribers = Subscriber.__table__
    at = sa.bindparam("now", type_=UTCDateTime())
    subscriber = sa.bindparam("subscriber_id", type_=sa.Integer())
    owed = (
        postgresql.insert(_delivery).from_select(
            ["notification_id", "subscriber_id", "status", "attempts", "next_attempt_at",
             "created_at"],
            sa.select(_notification.c.id, subscriber, sa.literal("pending"),
                      sa.literal(0), at, at)
            .where(sa.bindparam("owe", type_=sa.Boolean()),
                   _notification.c.incident_id == sa.bindparam("incident_id"),
                   _notification.c.kind == "resolution",
                   sa.exists().where(subscribers.c.id == subscriber,
                                     subscribers.c.status == "confirmed"),
                   sa.exists(sa.select(marked.c.id))))
        .on_conflict_do_nothing()
        .cte("owed"))
    current = CURRENT.lateral("current")
    one = sa.select(sa.literal(1).label("one")).subquery("one")
    # PostgreSQL runs a data-modifying CTE to completion whether or not it is read;
    # ``add_cte`` makes SQLAlchemy write the one nothing reads.
    return (sa.select(sa.select(sa.func.count()).select_from(marked).scalar_subquery(),
                      *current.c)
            .select_from(one.outerjoin(current, sa.true()))
            .add_cte(owed))


class _Compiled:
    """A statement compiled once for the dialect: its SQL and how to order its values."""

    def __init__(self, stmt: sa.Executable, dialect, names: tuple[str, ...]):
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup  # (qmark: positional; pyformat: None, by name)
        self.defaults = compiled.construct_params(dict.fromkeys(names))

    def params(self, values: dict):
        values = {**self.defaults, **values}
        return tuple(values[name] for name in self.order) if self.order else values


class _Statements:
    """The mark of a delivery that is not a window's notice, and ``recheck``'s read, in one
    transaction of their own on the driver's connection (each statement its own snapshot,
    the lock before the statement that relies on it; the all-clear owed in one INSERT ...
    SELECT), compiled once, without SQLAlchemy's per-statement work; on PostgreSQL with its
    COMMIT in one pipeline (one round trip), when libpq has pipeline mode."""

    def __init__(self, dialect):
        self.postgresql = dialect.name == "postgresql"
        self.pipeline = False
        if self.postgresql:
            import psycopg

            self.pipeline = psycopg.Pipeline.is_supported()
        ids = ("delivery_id", "subscriber_id", "incident_id", "now")
        self.lock = _Compiled(_LOCK_OUTAGE, dialect, ("notification_id",))
        self.mark = _Compiled(_MARK_SENT, dialect, ("row_id", "token", "now"))
        self.owe = _Compiled(_owe_resolution_statement(dialect.name), dialect, ids)
        self.current = _Compiled(CURRENT, dialect, ("delivery_id",))
        if self.postgresql:
            self.combined = _Compiled(_mark_owe_and_read_statement(), dialect,
                                      ids + ("row_id", "token", "owe"))
        utc = UTCDateTime().dialect_impl(dialect)
        self.bind_time = utc.bind_processor(dialect) or (lambda value: value)
        self.read_time = utc.result_processor(dialect, None) or (lambda value: value)

    def run(self, conn: sa.Connection, item: Claimed, now: datetime,
            following: Optional[Claimed]) -> tuple[int, Optional[tuple]]:
        """Commits: (rows marked, ``following``'s row)."""
        outage, at = item.kind == "outage", self.bind_time(now)
        jobs = []
        if outage and self.postgresql:
            # Shared lock: resolving the incident (which locks this row for update) waits
            # for us, or we for it, so nobody the outage email reached misses the
            # all-clear. (SQLite has no row locks: BEGIN IMMEDIATE excludes the resolving
            # transaction.) The all-clear owed is asked after it, in its own snapshot.
            jobs.append((self.lock, {"notification_id": item.notification_id}))
        if self.postgresql:  # the mark, the all-clear owed and the read: one statement
            jobs.append((self.combined, {
                "row_id": item.delivery_id, "token": item.claim_token, "now": at,
                "owe": outage, "subscriber_id": item.subscriber_id,
                "incident_id": item.incident_id,
                "delivery_id": None if following is None else following.delivery_id}))
            return self._execute(conn, jobs, combined=True, following=following)
        jobs.append((self.mark, {"row_id": item.delivery_id, "token": item.claim_token,
                                 "now": at}))
        if outage:
            jobs.append((self.owe, {"delivery_id": item.delivery_id, "now": at,
                                    "subscriber_id": item.subscriber_id,
                                    "incident_id": item.incident_id}))
        if following is not None:
            jobs.append((self.current, {"delivery_id": following.delivery_id}))
        return self._execute(conn, jobs, combined=False, following=following)

    def _execute(self, conn: sa.Connection, jobs: list, *, combined: bool,
                 following: Optional[Claimed]) -> tuple[int, Optional[tuple]]:
        """Commits: ``jobs`` in one transaction (one round trip on PostgreSQL)."""
        raw = conn.connection.dbapi_connection
        cursors = [raw.cursor() for _ in jobs]
        try:
            with raw.pipeline() if self.pipeline else nullcontext():
                if not self.postgresql:  # (the write lock at once, as the marking connection)
                    cursors[0].execute("BEGIN IMMEDIATE")
                for cursor, (statement, values) in zip(cursors, jobs):
                    cursor.execute(statement.sql, statement.params(values))
                raw.commit()
            if combined:
                answer = cursors[-1].fetchone()
                done, row = answer[0], (answer[1:] if following is not None else None)
            else:
                done = cursors[0].rowcount
                row = cursors[-1].fetchone() if following is not None else None
        except BaseException:
            raw.rollback()
            raise
        finally:
            for cursor in cursors:
                cursor.close()
        if row is not None:
            row = tuple(self.read_time(v) if i in CURRENT_TIMES else v
                        for i, v in enumerate(row))
        return done, row


def _mark_window_notice_sent(conn: sa.Connection, item: Claimed, now: datetime) -> None:
    """A maintenance window's notice marked sent, and the follow-up its reader is owed if
    the window changed while it was in flight."""
    if conn.dialect.name != "sqlite":
        # Shared lock on the window: a reschedule or cancellation (which locks it for
        # update before it picks those told) waits for us, or we for it.
        conn.execute(_LOCK_WINDOW, {"maintenance_id": item.maintenance_id})
    done = conn.execute(_MARK_SENT, {"row_id": item.delivery_id,
                                     "token": item.claim_token, "now": now}).rowcount
    if done != 1:
        lease_lost(item)
        return
    # After the lock: a follow-up committed before it is seen here.
    revision = conn.execute(_NOTICE_REVISION,
                            {"notification_id": item.notification_id}).scalar()
    owed_follow_up(conn, item.maintenance_id, revision or 0, item.subscriber_id,
                   sa.literal(now, UTCDateTime()))

