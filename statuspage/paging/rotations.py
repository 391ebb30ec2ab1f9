"""On-call rotations (admin, /staff/on-call) and overrides: who is primary and secondary
at a time, until when, the next handover, each person's shifts (their calendar feed), and
the handover messages ("You are on call until ...").

Functions take the actor and ``now``, audit, flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional


@dataclass(frozen=True)
class OnCall:
    """Who is on call in a role at a time, and until when (None: no end known)."""

    email: str
    until: Optional[datetime]
    rotation_id: Optional[int]  # None: the contacts' On-call Engineer / Secondary On-call
    override: bool = False


def on_call(role: str, now: datetime) -> Optional[OnCall]:
    """Who is on call as ``role`` ("primary" or "secondary") at ``now``: an override
    covering ``now`` wins, else the rotation's member whose turn it is; without any
    rotation of that role, the contacts' On-call Engineer (primary) or Secondary On-call
    (secondary), if set. None: nobody."""
    # A minimal stand-in (helper H3, issue 24) so the chain runs before H1's rotations
    # land: the contacts' fallback only. H1's version replaces this body.
    from .. import contacts

    email = contacts.contacts()["oncall" if role == "primary" else "secondary_oncall"].email
    return OnCall(email, None, None) if email else None


def handover_text(page, now: datetime):
    """The handover page's ``outbox.pages.PageText`` ("You are on call as ... until ...")."""
    raise NotImplementedError
