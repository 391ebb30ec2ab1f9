"""Pages, as the engine's queue: one ``Page`` per person and step (or test, or handover),
and one row per way it goes: a ``PageSend`` per SMS and Apprise URL of the person's
profile (the page channel, ``channels.page``) and a ``StaffEmail`` of kind "page" (email
is always one of the ways).

``queue_page`` writes them in the caller's transaction, once per ``key`` (unique, ON
CONFLICT DO NOTHING). Each way renders the page's text when it goes (``text_of``): a page
whose subject no longer calls for it (the chain acknowledged or closed) renders nothing and
the engine cancels the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Optional

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import Page, PageSend, StaffEmail
from . import staff_email


@dataclass(frozen=True)
class PageText:
    """What a page says, on every way: a short title, a body of a few lines, and the
    acknowledgement link (None for a test page or a handover)."""

    title: str
    body: str
    ack_url: Optional[str] = None

    @property
    def full_body(self) -> str:
        """The body, then the acknowledgement link (what each way sends)."""
        if not self.ack_url:
            return self.body
        return f"{self.body}\n\nAcknowledge: {self.ack_url}"


def queue_page(*, key: str, kind: str, recipient: str, now: datetime,
               chain_id: Optional[int] = None, step: int = 0, roles: str = ""):
    """In the caller's transaction (flushes): the page ``key`` to ``recipient`` (an
    address: a staff account's, paged through every way of their profile; anyone else's,
    by email only) and a row for each of its ways, unless ``key`` was queued before.
    Returns the new ``Page``, or None when it existed."""
    # A minimal stand-in (helper H3, issue 24): the page and its email way only, so the
    # chain runs before H2's channel lands. H2's version replaces this body.
    db.session.flush()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    page_id = db.session.execute(insert(Page).values(
        key=key, kind=kind, recipient=recipient, chain_id=chain_id, step=step,
        roles=roles[:400], created_at=now).on_conflict_do_nothing(
        index_elements=["key"]).returning(Page.id)).scalar()
    if page_id is None:
        return None
    staff_email.queue("page", page_id, [recipient], now=now)
    return db.session.get(Page, page_id)


def test_text(page: Page, now: datetime, *, way: str = "this way") -> PageText:
    """A test page's text (stand-in, H3: H2's wording)."""
    site = current_app.config["SITE_NAME"]
    return PageText(title=f"Test page from {site}",
                    body=f"Test page from {site}: if you read this, {way} reaches you.")


class WayAnswer(NamedTuple):
    """One way of a page, for the staff pages (stand-in, H3, as H2's): the service
    ("SMS", "ntfy", "email"), the status, a short answer (no URL, token or phone), when it
    was sent."""

    service: str
    status: str
    answer: str
    sent_at: Optional[datetime]


def ways_of(page_ids) -> dict[int, list[WayAnswer]]:
    """page id -> its ways (stand-in, H3, as H2's: the SMS and URLs, then email)."""
    ids = list(page_ids)
    found: dict[int, list[WayAnswer]] = {i: [] for i in ids}
    if not ids:
        return found
    for row in db.session.scalars(db.select(PageSend).where(PageSend.page_id.in_(ids))
                                  .order_by(PageSend.page_id, PageSend.id)):
        found[row.page_id].append(WayAnswer(row.service, row.status, row.last_error or "",
                                            row.sent_at))
    for row in db.session.scalars(db.select(StaffEmail).where(
            StaffEmail.kind == "page", StaffEmail.subject_id.in_(ids))
            .order_by(StaffEmail.id)):
        found[row.subject_id].append(WayAnswer("email", row.status, row.last_error or "",
                                               row.sent_at))
    return found
