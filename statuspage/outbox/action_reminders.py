"""Action-item reminders: the owner of an action item is emailed once when it falls due.

Sent by the notifier's tick through its SMTP session, as ``webhook_delivery`` emails the
admins (staff are not subscribers). One ``ActionItemReminder`` row per item and due date
(a unique constraint: two notifiers cannot both add it); the row is leased before the
send, and marked sent after, so a failed send is tried again next tick.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..extensions import db
from ..models import ActionItem, ActionItemReminder
from ..record import today
from ..transactions import write_transaction

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)


def _add_due_rows(now: datetime) -> None:
    day = today(now)
    have = db.select(ActionItemReminder.id).where(
        ActionItemReminder.action_item_id == ActionItem.id,
        ActionItemReminder.due_on == ActionItem.due_on).exists()
    due = list(db.session.execute(
        db.select(ActionItem.id, ActionItem.due_on)
        .where(ActionItem.done_at.is_(None), ActionItem.due_on <= day, ~have)).all())
    db.session.rollback()
    for item_id, due_on in due:
        try:
            with write_transaction():
                db.session.add(ActionItemReminder(action_item_id=item_id, due_on=due_on,
                                                  created_at=now))
        except IntegrityError:
            db.session.rollback()  # another notifier added it: once


def _claim(reminder_id: int, now: datetime) -> bool:
    with write_transaction():
        claimed = db.session.execute(
            db.update(ActionItemReminder)
            .where(ActionItemReminder.id == reminder_id,
                   ActionItemReminder.sent_at.is_(None),
                   (ActionItemReminder.lease_until.is_(None))
                   | (ActionItemReminder.lease_until < now))
            .values(lease_until=now + LEASE)).rowcount
    return claimed == 1


def reminder_message(item: ActionItem, *, sender: str, now: datetime) -> bytes:
    """The owner's email: the action, its due date and the record's staff link; nothing
    of the record's text (it may say more than an email should)."""
    site = current_app.config["SITE_NAME"]
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return mail.staff_message(
        subject=f"{site} status: an action item is due",
        sender=sender, recipient=item.owner.email, now=now, public_url=base,
        body=(
            f"An action item you own is due on {item.due_on.isoformat()}:\n\n"
            f"  {item.text}\n\n"
            f"From the record of incident #{item.incident_id}. "
            "Tick it done, or move its date, at\n"
            f"{base}/staff/incidents/{item.incident_id}/record\n"
        ),
    )


def remind_due_action_items(smtp: mail.SMTPSession, now: datetime) -> int:
    """Commits: email each owner whose action item fell due, once; the number sent."""
    _add_due_rows(now)
    pending = list(db.session.scalars(
        db.select(ActionItemReminder.id).where(ActionItemReminder.sent_at.is_(None))
        .order_by(ActionItemReminder.id)))
    db.session.rollback()
    sent = 0
    sender = mail.smtp_settings(current_app._get_current_object()).sender
    for reminder_id in pending:
        if not _claim(reminder_id, now):
            continue
        reminder = db.session.get(ActionItemReminder, reminder_id)
        item = db.session.get(ActionItem, reminder.action_item_id)
        if item.done or not item.owner.active or item.due_on != reminder.due_on:
            outcome = "not needed"
        else:
            message = reminder_message(item, sender=sender, now=now)
            db.session.rollback()  # no transaction stays open over the send
            result = smtp.send(item.owner.email, message)
            if not (result.sent or result.outcome == "permanent"):
                log.warning("action item %s: reminder not sent (%s); next tick",
                            reminder.action_item_id, result.error)
                continue  # the lease runs out and the next tick tries again
            outcome = result.outcome
            sent += result.sent
        with write_transaction():
            db.session.execute(
                db.update(ActionItemReminder).where(ActionItemReminder.id == reminder_id)
                .values(sent_at=now, outcome=outcome[:16]))
    return sent
