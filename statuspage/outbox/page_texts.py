"""What a page says, by its kind: a chain's step (``outbox.paging.page_text``), a handover
(``paging.rotations.handover_text``) or a test page (``pages.test_text``); and a page's
email way (the staff email channel's kind "page").

Above the modules that write those texts (they import ``outbox.pages`` to queue their
pages), so that none of them imports back: the channels reach the texts through here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask import current_app

from .. import mail
from ..extensions import db
from ..models import Page
from ..paging import rotations
from . import pages, paging


def text_of(page: Page, now: datetime, *, way: str = "this way") -> Optional[pages.PageText]:
    """The page's text, by its kind, on ``way`` (the service's name: a test page names
    it), or None: the way is cancelled (the chain acknowledged or closed)."""
    if page.kind == "chain":
        return paging.page_text(page, now)
    if page.kind == "handover":
        return rotations.handover_text(page, now)
    if page.kind == "test":
        return pages.test_text(page, now, way=way)
    return None


def render_email(page_id: int, recipient: str, *, sender: str, now: datetime
                 ) -> Optional[bytes]:
    """A page's email way (the staff email channel), or None: cancelled."""
    page = db.session.get(Page, page_id)
    text = page and text_of(page, now, way="email")
    if not text:
        return None
    return mail.staff_message(
        subject=text.title, sender=sender, recipient=recipient, now=now,
        public_url=current_app.config["PUBLIC_URL"].rstrip("/"), body=text.full_body)
