"""The staff's email, as the engine's queue: one ``StaffEmail`` row per message to one
member of staff or key contact (the contacts' notices and escalations, the commanders'
cadence reminders, the action items' owners, the on-call notice of a monitor's proposal).

Each kind's module decides when a message is due and to whom, and queues it here
(``queue``) in the transaction of what calls for it; "once" is the row's unique key
(kind, subject, address), inserted with ON CONFLICT DO NOTHING. The staff email channel
(``channels.staff_email``) renders each from its subject when it goes: a subject that no
longer calls for it (the incident resolved, the update posted, the action item done)
renders nothing, and the engine cancels the row. Claim, lease, mark, retry with backoff
and release are the engine's, as for every channel. None of it is stopped by a hold (a
hold stops subscriber emails only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

import sqlalchemy as sa

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import StaffEmail
from .channel import Answer
from .engine import Queue


@dataclass(frozen=True)
class Claimed:
    delivery_id: int  # the row (the engine's name for it)
    claim_token: str
    attempts: int
    kind: str
    subject_id: int
    recipient: str


def queue(kind: str, subject_id: int, recipients: Iterable[str], *, now: datetime) -> None:
    """In the caller's transaction: one email of ``kind`` about ``subject_id`` to each
    address, unless it was queued before (flushes)."""
    rows = [{"kind": kind, "subject_id": subject_id, "recipient": address,
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for address in dict.fromkeys(recipients) if address]
    if not rows:
        return
    db.session.flush()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(StaffEmail).values(rows).on_conflict_do_nothing(
        index_elements=["kind", "subject_id", "recipient"]))


def sent(kind: str, subject_ids: Iterable[int]) -> dict[int, tuple[datetime, int]]:
    """subject id -> (first sent, how many addresses) of the emails of ``kind`` that went."""
    ids = list(subject_ids)
    if not ids:
        return {}
    return {subject: (first, count) for subject, first, count in db.session.execute(
        db.select(StaffEmail.subject_id, db.func.min(StaffEmail.sent_at), db.func.count())
        .where(StaffEmail.kind == kind, StaffEmail.subject_id.in_(ids),
               StaffEmail.status == "sent")
        .group_by(StaffEmail.subject_id))}


#: What a kind does once an email of it is done (sent, or failed for good), in the same
#: transaction: (execute, subject id, now), ``execute`` being the transaction's.
WhenDone = Callable[[Callable[..., Any], int, datetime], None]


class StaffEmails(Queue):
    """The rows, for the engine; ``when_done``: kind -> what it does once one is done."""

    def __init__(self, when_done: Mapping[str, WhenDone]) -> None:
        super().__init__(StaffEmail.__table__,
                         order_by=[StaffEmail.next_attempt_at, StaffEmail.id])
        self.when_done = dict(when_done)

    def after_sent(self, conn: sa.Connection, item: Claimed, now: datetime,
                   ours: bool) -> None:
        if ours and item.kind in self.when_done:
            self.when_done[item.kind](conn.execute, item.subject_id, now)

    def after_failure(self, item: Claimed, status: str, answer: Answer,
                      now: datetime) -> str:
        if status == "failed" and item.kind in self.when_done:
            self.when_done[item.kind](db.session.execute, item.subject_id, now)
        return status

    def load(self, ids: list[int], token: str, now: datetime
             ) -> tuple[list[Claimed], list[int]]:
        rows = db.session.execute(
            db.select(StaffEmail.id, StaffEmail.attempts, StaffEmail.kind,
                      StaffEmail.subject_id, StaffEmail.recipient)
            .where(StaffEmail.id.in_(ids)).order_by(StaffEmail.id)).all()
        return [Claimed(i, token, a, k, s, r) for i, a, k, s, r in rows], []
