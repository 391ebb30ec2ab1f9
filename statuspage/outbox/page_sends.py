"""A page's ways, as the engine's queue: one ``PageSend`` row per page and way ("sms", or
"url:<n>": the person's n-th page URL), sent by the page channel (``channels.page``).
The rows hold no URL and no phone: the channel reads them from the person's profile when
the way goes. Claim, lease, mark, retry with backoff and release are the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..extensions import db
from ..models import PageSend
from .engine import Queue


@dataclass(frozen=True)
class Claimed:
    delivery_id: int  # the row (the engine's name for it)
    claim_token: str
    attempts: int
    page_id: int
    way: str
    service: str


class PageSends(Queue):
    """The rows, for the engine: every way of every page, oldest due first."""

    def __init__(self) -> None:
        super().__init__(PageSend.__table__, order_by=[PageSend.next_attempt_at, PageSend.id])

    def load(self, ids: list[int], token: str, now) -> tuple[list[Claimed], list[int]]:
        rows = db.session.execute(
            db.select(PageSend.id, PageSend.attempts, PageSend.page_id, PageSend.way,
                      PageSend.service)
            .where(PageSend.id.in_(ids)).order_by(PageSend.id)).all()
        return [Claimed(i, token, a, p, w, s) for i, a, p, w, s in rows], []


PAGE_SENDS = PageSends()
