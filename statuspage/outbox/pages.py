"""Pages, as the engine's queue: one ``Page`` per person and step (or test, or handover),
and one row per way it goes: a ``PageSend`` per SMS and Apprise URL of the person's
profile (the page channel, ``channels.page``; its queue is ``page_sends``) and a
``StaffEmail`` of kind "page" (email is always one of the ways).

``queue_page`` writes them in the caller's transaction, once per ``key`` (unique, ON
CONFLICT DO NOTHING). Each way renders the page's text when it goes (``page_texts.text_of``,
by the page's kind: the chain's, the handover's, or a test page's here): a page whose
subject no longer calls for it (the chain acknowledged or closed) renders nothing and the
engine cancels the row. ``text_of`` lives in ``page_texts``, above the modules that write
the chain's and the handover's texts, which import this one to queue their pages.

The staff pages read what each way answered with ``ways_of``: the service's name ("SMS",
"ntfy", "email"), its status and a short answer; never the URL or the phone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Optional

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import Page, PageSend, StaffEmail, StaffUser
from ..models.paging import PAGE_KINDS
from ..paging import ways
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


def staff_account(address: str) -> Optional[StaffUser]:
    """The active staff account of ``address`` (None: not staff, or deactivated)."""
    return db.session.scalar(db.select(StaffUser).where(
        db.func.lower(StaffUser.email) == (address or "").strip().lower(),
        StaffUser.active.is_(True)))


def queue_page(*, key: str, kind: str, recipient: str, now: datetime,
               chain_id: Optional[int] = None, step: int = 0, roles: str = ""):
    """In the caller's transaction (flushes): the page ``key`` to ``recipient`` (an
    address: a staff account's, paged through every way of their profile; anyone else's,
    by email only) and a row for each of its ways, unless ``key`` was queued before.
    Returns the new ``Page``, or None when it existed."""
    if kind not in PAGE_KINDS:
        raise ValueError(f"not a page kind: {kind!r}")
    db.session.flush()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    page_id = db.session.scalar(
        insert(Page).values(key=key, kind=kind, chain_id=chain_id, step=step,
                            recipient=recipient, roles=roles, created_at=now)
        .on_conflict_do_nothing(index_elements=["key"]).returning(Page.id))
    if page_id is None:
        return None
    user = staff_account(recipient)
    if user is not None:
        for way, service in _ways(user):
            db.session.add(PageSend(page_id=page_id, way=way, service=service,
                                    status="pending", attempts=0, next_attempt_at=now,
                                    created_at=now))
    staff_email.queue("page", page_id, [recipient], now=now)
    db.session.flush()
    return db.session.get(Page, page_id)


def _ways(user: StaffUser) -> list[tuple[str, str]]:
    """(way, service) of each way of ``user``'s profile but email."""
    # Imported here: the channel package's registry imports the modules that import this.
    from .channels import page as channel

    found = []
    if user.phone and current_app.config.get("SMS_URL"):
        found.append(("sms", channel.SMS_SERVICE))
    for number, url in enumerate(ways.url_lines(user.page_urls), 1):
        found.append((f"url:{number}", channel.service_of(url)))
    return found


# --- A test page ---------------------------------------------------------------------------


def send_test_page(user: StaffUser, *, actor: StaffUser, now: datetime,
                   press: Optional[str] = None):
    """In the caller's transaction: ``actor``'s "Send me a test page" to themselves
    (``press``: the form's one-time id, so a form sent twice pages once). The new
    ``Page``."""
    press = press or secrets.token_hex(8)
    return queue_page(key=f"test:{user.id}:{press}", kind="test", recipient=user.email,
                      now=now)


def test_text(page: Page, now: datetime, *, way: str = "this way") -> PageText:
    """A test page's text, on one way ("ntfy", "SMS", "email")."""
    site = current_app.config["SITE_NAME"]
    return PageText(title=f"Test page from {site}",
                    body=f"Test page from {site}: if you read this, {way} reaches you.")


def latest_test_page(user: StaffUser) -> Optional[Page]:
    return db.session.scalar(
        db.select(Page).where(Page.kind == "test", Page.key.like(f"test:{user.id}:%"))
        .order_by(Page.id.desc()).limit(1))


# --- What each way answered ----------------------------------------------------------------


class WayAnswer(NamedTuple):
    """One way of a page, for the staff pages: the service ("SMS", "ntfy", "email"), the
    status (pending, sending, sent, failed, cancelled), a short answer (no URL, token or
    phone: "HTTP 500", "timed out"), when it was sent."""

    service: str
    status: str
    answer: str
    sent_at: Optional[datetime]


def ways_of(page_ids) -> dict[int, list[WayAnswer]]:
    """page id -> its ways (the SMS and Apprise URLs in order, then email)."""
    ids = list(page_ids)
    found: dict[int, list[WayAnswer]] = {i: [] for i in ids}
    if not ids:
        return found
    for row in db.session.execute(
            db.select(PageSend.page_id, PageSend.service, PageSend.status,
                      PageSend.last_error, PageSend.sent_at)
            .where(PageSend.page_id.in_(ids)).order_by(PageSend.page_id, PageSend.id)):
        found[row.page_id].append(WayAnswer(row.service, row.status, row.last_error or "",
                                            row.sent_at))
    for row in db.session.execute(
            db.select(StaffEmail.subject_id, StaffEmail.status, StaffEmail.last_error,
                      StaffEmail.sent_at)
            .where(StaffEmail.kind == "page", StaffEmail.subject_id.in_(ids))
            .order_by(StaffEmail.id)):
        found[row.subject_id].append(WayAnswer("email", row.status, row.last_error or "",
                                               row.sent_at))
    return found


# --- A profile's ways ----------------------------------------------------------------------


class SavedWay(NamedTuple):
    """A page URL of a profile, as the profile shows it: its number, service, mask."""

    number: int
    service: str
    masked: str


def saved_ways(user: StaffUser) -> list[SavedWay]:
    from .channels import page as channel

    return [SavedWay(n, channel.service_of(url), channel.masked(url))
            for n, url in enumerate(ways.url_lines(user.page_urls), 1)]


def url_reader() -> ways.Reader:
    """How a page URL being saved is read: by Apprise, its host by the address rule
    (PAGE_ALLOW_PRIVATE_HOSTS)."""
    from .channels import page as channel

    allow = bool(current_app.config.get("PAGE_ALLOW_PRIVATE_HOSTS"))
    return lambda url: channel.check_url(url, allow_private=allow)
