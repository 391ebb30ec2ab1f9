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
from typing import Optional


@dataclass(frozen=True)
class PageText:
    """What a page says, on every way: a short title, a body of a few lines, and the
    acknowledgement link (None for a test page or a handover)."""

    title: str
    body: str
    ack_url: Optional[str] = None


def queue_page(*, key: str, kind: str, recipient: str, now: datetime,
               chain_id: Optional[int] = None, step: int = 0, roles: str = ""):
    """In the caller's transaction (flushes): the page ``key`` to ``recipient`` (an
    address: a staff account's, paged through every way of their profile; anyone else's,
    by email only) and a row for each of its ways, unless ``key`` was queued before.
    Returns the new ``Page``, or None when it existed."""
    raise NotImplementedError


def text_of(page, now: datetime) -> Optional[PageText]:
    """The page's text, by its kind (chain: ``outbox.paging.page_text``; handover:
    ``paging.rotations.handover_text``; test), or None: cancel it."""
    raise NotImplementedError
