"""The subscribers' email rows (``deliveries``: one per notification and subscriber),
described for the engine (``engine.Queue``): what is claimable (not held), what a claimed
row carries (``rules.Claimed``), the recheck before each send (``recheck``), the mark
(``marks``: the all-clear owed to a reader whose outage email was in flight when the
incident was resolved, the follow-up owed when a window changed, asked in the mark's own
transaction), and a bad address (the subscriber marked bouncing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa

from ..extensions import db
from ..models import Delivery, Incident, Notification, Subscriber
from .channel import Answer
from .engine import Queue, State
from .marks import record_sent_then_recheck
from .recheck import Current, current_state
from .rules import Claimed, delivery_action


class Deliveries(Queue):
    def load(self, ids: list[int], token: str, now: datetime
             ) -> tuple[list[Claimed], list[int]]:
        """Deliveries that should no longer go (unsubscribed, bouncing, resolved
        incident) are cancelled instead of claimed."""
        rows = db.session.execute(
            db.select(
                Delivery.id, Delivery.attempts, Notification.id, Notification.kind,
                Notification.token, Notification.incident_id, Incident.status,
                Subscriber.id, Subscriber.public_id, Subscriber.email, Subscriber.audience,
                Subscriber.status, Subscriber.timezone, Notification.maintenance_id,
            )
            .join(Notification, Delivery.notification_id == Notification.id)
            .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
            .outerjoin(Incident, Notification.incident_id == Incident.id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.id)
        ).all()
        claimed, cancel = [], []
        for (delivery_id, attempts, notification_id, kind, notification_token, incident_id,
             incident_status, subscriber_id, public_id, email, audience,
             subscriber_status, zone, maintenance_id) in rows:
            if delivery_action(kind, subscriber_status,
                               incident_status == "resolved") == "cancel":
                cancel.append(delivery_id)
                continue
            claimed.append(Claimed(delivery_id, token, attempts, kind, notification_id,
                                   notification_token, incident_id, subscriber_id,
                                   public_id, email, audience, timezone=zone,
                                   maintenance_id=maintenance_id))
        return claimed, cancel

    def recheck(self, item: Claimed) -> Current:
        return current_state(item)

    def mark_sent(self, item: Claimed, answer: Answer, now: datetime, conn: sa.Connection,
                  following: Optional[Claimed]) -> Optional[State]:
        return record_sent_then_recheck(item, now, conn, following)

    def bad_address(self, item: Claimed, now: datetime) -> None:
        db.session.execute(
            db.update(Subscriber)
            .where(Subscriber.id == item.subscriber_id,
                   Subscriber.status.in_(("pending", "confirmed")))
            .values(status="bouncing", bounced_at=now))


#: Held notifications' deliveries wait for an admin's release.
DELIVERIES = Deliveries(
    Delivery.__table__,
    joins=[(Notification.__table__, Delivery.notification_id == Notification.id)],
    claimable=[Notification.held_at.is_(None)],
    order_by=[Delivery.next_attempt_at, Delivery.id])
