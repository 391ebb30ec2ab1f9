"""Action-item reminders: the owner of an action item is emailed once when it falls due.

Each notifier tick queues the reminders that fell due: one ``ActionItemReminder`` row per
item and due date (a unique constraint: two notifiers cannot both add it) and, in the same
transaction, its email (``staff_email``, kind "action_item"), which the delivery engine
sends (the staff email channel), retrying a failed send. An item done, moved to another
date or whose owner left before it went is not reminded about (the email is cancelled).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask import current_app
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..extensions import db
from ..models import ActionItem, ActionItemReminder
from ..record import today
from ..transactions import write_transaction
from . import staff_email


def queue_due_reminders(now: datetime) -> int:
    """Commits: queue the reminder of each action item that fell due and was not reminded
    of for that date (once); the number queued."""
    day = today(now)
    have = db.select(ActionItemReminder.id).where(
        ActionItemReminder.action_item_id == ActionItem.id,
        ActionItemReminder.due_on == ActionItem.due_on).exists()
    due = list(db.session.execute(
        db.select(ActionItem.id, ActionItem.due_on)
        .where(ActionItem.done_at.is_(None), ActionItem.due_on <= day, ~have)).all())
    db.session.rollback()
    queued = 0
    for item_id, due_on in due:
        try:
            with write_transaction():
                reminder = ActionItemReminder(action_item_id=item_id, due_on=due_on,
                                              created_at=now)
                db.session.add(reminder)
                db.session.flush()
                item = db.session.get(ActionItem, item_id)
                if item.owner.active:
                    staff_email.queue("action_item", reminder.id, [item.owner.email],
                                      now=now)
                    queued += 1
        except IntegrityError:
            db.session.rollback()  # another notifier added it: once
    return queued


def render(reminder_id: int, recipient: str, *, sender: str,
           now: datetime) -> Optional[bytes]:
    """The owner's email (the staff email channel), or None when the item is done, was
    moved to another date, or its owner left."""
    reminder = db.session.get(ActionItemReminder, reminder_id)
    item = reminder and db.session.get(ActionItem, reminder.action_item_id)
    if (item is None or item.done or not item.owner.active
            or item.due_on != reminder.due_on):
        return None
    return reminder_message(item, sender=sender, now=now)


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
