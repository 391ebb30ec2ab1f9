"""Before each message of a claimed batch: is it still wanted, and which version of its
incident (or maintenance window) would it report?

A claim can be minutes old by the time its last message goes. An unsubscribe, a bounce,
an admin's hold, the incident's resolution, a redaction, or a maintenance window moved,
cancelled, started or its notices turned off, committed since then must win over it:
``current_state`` asks the database again, one lookup by primary keys per message, just
before the message is composed and sent. So at most the one message in
flight when such a change commits still goes out as before; every later one sees it.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    Delivery,
    Incident,
    IncidentUpdate,
    Maintenance,
    Notification,
    Subscriber,
)
from .engine import State as Current
from .rules import Claimed, action_before_send, maintenance_notice_action

_delivery = Delivery.__table__
_notification = Notification.__table__
_subscriber = Subscriber.__table__
_incident = Incident.__table__
_updates = IncidentUpdate.__table__
_window = Maintenance.__table__
_updates_of_incident = _updates.c.incident_id == _notification.c.incident_id
#: Before each message, one lookup by primary keys (the two counts use the index on
#: incident_updates.incident_id): is it still ours and still wanted, and which version
#: of its incident would it report? A redaction changes the redacted count even when two
#: changes share a timestamp; an edit, an update, a resolution or a reopening changes
#: updated_at (and an update the count).
CURRENT = (
    sa.select(
        _delivery.c.claim_token, _delivery.c.status, _subscriber.c.status,
        _notification.c.held_at, _incident.c.status, _incident.c.updated_at,
        sa.select(sa.func.count()).where(_updates_of_incident).scalar_subquery(),
        sa.select(sa.func.count(_updates.c.redacted_at)).where(_updates_of_incident)
        .scalar_subquery(),
        _notification.c.notice, _notification.c.revision, _window.c.status,
        _window.c.revision, _window.c.notify, _window.c.updated_at,
    )
    .select_from(
        _delivery.join(_notification, _delivery.c.notification_id == _notification.c.id)
        .join(_subscriber, _delivery.c.subscriber_id == _subscriber.c.id)
        .outerjoin(_incident, _notification.c.incident_id == _incident.c.id)
        .outerjoin(_window, _notification.c.maintenance_id == _window.c.id))
    .where(_delivery.c.id == sa.bindparam("delivery_id"))
)
#: The columns of ``CURRENT`` that are times (``UTCDateTime``).
CURRENT_TIMES = (5, 13)
def current_state(item: Claimed) -> Current:
    """Commits nothing, holds nothing: one read, its transaction ended at once (so it
    sees every change committed before it, and no lock is held during SMTP)."""
    try:
        row = db.session.execute(CURRENT, {"delivery_id": item.delivery_id}).first()
    finally:
        db.session.rollback()
    return state_of(item, row)


def current_state_on(conn: sa.Connection, item: Claimed) -> Current:
    """The same read as ``current_state``, in the caller's transaction on ``conn`` (the
    marking connection's, just after the previous message was marked sent: it sees every
    change committed before this statement began)."""
    return state_of(item, conn.execute(CURRENT, {"delivery_id": item.delivery_id}).first())


def state_of(item: Claimed, row) -> Current:
    if row is None:
        return Current("gone")  # deleted: the incident was reopened, the subscriber erased
    (claim_token, status, subscriber_status, held_at, incident_status, updated_at,
     updates, redacted, notice, notice_revision, window_status, window_revision, notify,
     window_updated_at) = row
    if status != "sending" or claim_token != item.claim_token:
        return Current("gone")
    action = action_before_send(item.kind, subscriber_status,
                                incident_status == "resolved", held_at is not None)
    version = None
    if item.maintenance_id is not None:
        if action == "send":
            action = maintenance_notice_action(notice, notice_revision, window_status,
                                               window_revision, bool(notify))
        version = (window_status, window_revision, window_updated_at)
    if item.incident_id is not None:
        version = (incident_status, updated_at, updates, redacted)
    return Current(action, version)
