"""Who hears about what: the one rule that picks a message's recipients.

Every message to many (an incident's outage email, a maintenance window's notices) takes
its recipients from here, as a SELECT of subscriber ids that the queue turns into
deliveries in one INSERT ... SELECT. The resolution email is not chosen here: it goes to
exactly those the outage email reached, whatever they chose since.

The rule: confirmed subscribers of everything (``scope`` "all"), and those who chose at
least one of the affected components; a SEV-1 (the app is down for everyone) reaches
every confirmed subscriber whatever they chose; maintenance notices skip those who turned
them off. A new component therefore reaches "all" subscribers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import sqlalchemy as sa

from ..extensions import db
from ..models import Component, Subscriber, subscriber_components
from ..severity import SEVERITIES, codes_where


def confirmed_subscribers() -> sa.Select:
    """Every confirmed subscriber's id."""
    return db.select(Subscriber.id).where(Subscriber.status == "confirmed")


def _chose_any_of(component_ids: Iterable[int]) -> sa.ColumnElement[bool]:
    """Subscribed to everything, or to at least one of these components."""
    ids = sorted(set(component_ids))
    if not ids:
        return Subscriber.scope == "all"
    chose = (
        db.select(subscriber_components.c.subscriber_id)
        .where(subscriber_components.c.subscriber_id == Subscriber.id,
               subscriber_components.c.component_id.in_(ids))
        .exists()
    )
    return sa.or_(Subscriber.scope == "all", chose)


def outage_recipients(component_ids: Iterable[int], severity: str) -> sa.Select:
    """Who gets an incident's outage email."""
    if SEVERITIES[severity].tells_every_subscriber:
        return confirmed_subscribers()
    return confirmed_subscribers().where(_chose_any_of(component_ids))


def maintenance_recipients(component_ids: Iterable[int]) -> sa.Select:
    """Who gets a maintenance window's notices: as an outage email of its components,
    without those who turned maintenance notices off."""
    return confirmed_subscribers().where(_chose_any_of(component_ids),
                                         Subscriber.maintenance_notices.is_(True))


@dataclass(frozen=True)
class Reach:
    """How many an outage email would reach now, of how many confirmed subscribers, and
    why: "everything" or the affected components' names, or everyone for a SEV-1."""

    count: int
    of: int
    everyone: bool
    component_names: tuple[str, ...]

    def reasons(self) -> str:
        """``everyone (SEV-1)`` or ``everything, or Login, Saving entries``."""
        if self.everyone:
            return f"everyone ({', '.join(codes_where('tells_every_subscriber'))})"
        return ", or ".join(["everything"] + ([", ".join(self.component_names)]
                                              if self.component_names else []))


def outage_reach(component_ids: Iterable[int], severity: str) -> Reach:
    """For staff, before the outage email goes: whom it would reach (two counts)."""
    ids = sorted(set(component_ids))
    count = db.session.scalar(
        db.select(sa.func.count()).select_from(
            outage_recipients(ids, severity).subquery())) or 0
    total = db.session.scalar(
        db.select(sa.func.count()).select_from(confirmed_subscribers().subquery())) or 0
    names: tuple[str, ...] = ()
    if ids:
        names = tuple(db.session.scalars(
            db.select(Component.name).where(Component.id.in_(ids))
            .order_by(Component.position, Component.name)))
    return Reach(count, total, SEVERITIES[severity].tells_every_subscriber, names)
