"""The playbook's paging (After Hours Protocol): when a page goes, and the escalation
chain.

A SEV-1/2 declared (by staff, the write API or a monitor), or a monitor's proposal of one,
starts a ``PageChain`` and pages the primary on call at once; a Security incident pages the
Security Lead from the first step. Each period without an acknowledgement
(PAGE_ESCALATION_MINUTES) the notifier's tick pages the next step: the secondary, then the
Tech Lead, then the last step again, at most PAGE_REPEAT_LIMIT times. A SEV-3/4 pages no
one: the primary gets an email in business hours (BUSINESS_HOURS), at the next start after
hours. Every page and step is a row with a unique key: once, whatever the notifiers do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional


def page_text(page, now: datetime):
    """A chain page's ``outbox.pages.PageText`` (title, body, ack link), or None once the
    chain was acknowledged or closed (the way is then cancelled)."""
    raise NotImplementedError
