"""Who hears about what: the one rule that picks a message's recipients.

Every message to many (an incident's outage email, a maintenance window's notices) takes
its recipients from here, as a SELECT of subscriber ids that the queue turns into
deliveries in one INSERT ... SELECT. The resolution email is not chosen here: it goes to
exactly those the outage email reached.
"""

from __future__ import annotations

from typing import Iterable

import sqlalchemy as sa

from ..extensions import db
from ..models import Subscriber


def confirmed_subscribers() -> sa.Select:
    """Every confirmed subscriber's id."""
    return db.select(Subscriber.id).where(Subscriber.status == "confirmed")


def outage_recipients(component_ids: Iterable[int], severity: str) -> sa.Select:
    """Who gets an incident's outage email (issue 13 narrows this by each one's choices)."""
    return confirmed_subscribers()


def maintenance_recipients(component_ids: Iterable[int]) -> sa.Select:
    """Who gets a maintenance window's notices (issue 13 narrows this by each one's
    choices, and leaves out those who turned maintenance notices off)."""
    return confirmed_subscribers()
