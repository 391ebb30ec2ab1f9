"""The internal incident record (the playbook's "Incident Record Template"): its draft
from what the system knows, its revisions, its action items, and the dashboard's
post-incident reminders (record due within 24 h, review due within 72 h).

Staff-only: nothing here is read by a public page, feed, API, badge, embed, subscriber
email or static export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from flask import current_app

from . import audit
from .errors import NotAllowed, ValidationError
from .extensions import db
from .models import (
    COMPONENT_STATUS_LABELS,
    INCIDENT_STATUSES,
    ActionItem,
    AuditEvent,
    Delivery,
    Incident,
    IncidentUpdate,
    Notification,
    RecordRevision,
    SlackMessage,
    StaffUser,
)
from .models.record import ACTION_ITEM_MAX, RECORD_MAX
from .outbox.status import pages_sent, staff_notices_sent
from .present import DATA_STATUS_WORDS, REDACTED, incident_commander, local_time
from .severity import SEVERITIES, codes_where
from .text import clean_text

#: The playbook's Post-Incident step: the record within 24 h, the review within 72 h.
RECORD_WITHIN = timedelta(hours=24)
REVIEW_WITHIN = timedelta(hours=72)
#: The severities whose record and review the dashboard asks for.
REVIEWED_SEVERITIES = codes_where("reviewed")


def site_tz() -> ZoneInfo:
    """The site's zone (``SITE_TIMEZONE``): every time of the record is written in it."""
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


def record_commander(incident: Incident) -> str:
    """Who the record names as Incident Commander: as the Slack messages do."""
    return incident_commander(incident)


# --- The draft -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    """One table cell of Markdown: one line, no column break."""
    return " ".join(text.split()).replace("|", "\\|")


def _duration(start: datetime, end: datetime) -> str:
    minutes = max(0, int((end - start).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return (f"{hours} hour{'' if hours == 1 else 's'} "
            f"{minutes} minute{'' if minutes == 1 else 's'}")


def _email_counts(incident_id: int) -> list[tuple[Notification, int, int, int]]:
    """The outage and resolution emails of the incident: (notification, sent, failed,
    still pending)."""
    rows = []
    for notification in db.session.scalars(
            db.select(Notification)
            .where(Notification.incident_id == incident_id,
                   Notification.kind.in_(("outage", "resolution")))
            .order_by(Notification.id)):
        counts = dict(db.session.execute(
            db.select(Delivery.status, db.func.count())
            .where(Delivery.notification_id == notification.id)
            .group_by(Delivery.status)).all())
        pending = counts.get("pending", 0) + counts.get("sending", 0)
        rows.append((notification, counts.get("sent", 0), counts.get("failed", 0), pending))
    return rows


def subscribers_emailed(incident_id: int) -> int:
    """How many subscribers were sent the incident's outage or resolution email."""
    return db.session.scalar(
        db.select(db.func.count(db.distinct(Delivery.subscriber_id)))
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.incident_id == incident_id,
               Notification.kind.in_(("outage", "resolution")),
               Delivery.status == "sent")) or 0


def timeline(incident: Incident) -> list[tuple[datetime, str]]:
    """Every event the system knows of, oldest first: the declaration, each update and
    component change, the acknowledgement and commander changes, the email, Slack and
    contact-notice summaries, the resolution."""
    events: list[tuple[datetime, int, str]] = []
    updates = sorted(incident.updates, key=lambda u: (u.posted_at, u.id))
    for index, update in enumerate(updates):
        who = f" by {update.posted_by.email}" if update.posted_by else ""
        if index == 0:
            text = (f"Incident declared ({incident.severity}, {update.status_label}){who}: "
                    f"{update.impact}")
        else:
            text = _update_event(update, updates[index - 1], who)
        events.append((update.posted_at, 0, text))
        for change in update.component_changes:
            events.append((update.posted_at, 1, (
                f"Component {change.component.name}: {_status(change.old_status)} → "
                f"{_status(change.new_status)}")))
    for notification, sent, failed, pending in _email_counts(incident.id):
        what = "Outage email" if notification.kind == "outage" else "Resolution email"
        text = f"{what}: {sent} sent, {failed} failed"
        if pending:
            text += f", {pending} not yet sent"
        events.append((notification.enqueued_at or notification.created_at, 2, text))
    for message in db.session.scalars(
            db.select(SlackMessage).where(SlackMessage.incident_id == incident.id)
            .order_by(SlackMessage.id)):
        if message.sent_at is not None:
            events.append((message.sent_at, 3, f"Slack #incidents: {message.kind} "
                                                "message delivered"))
        else:
            events.append((message.created_at, 3, f"Slack #incidents: {message.kind} "
                                                   f"message {message.status}"))
    events += [(at, 2, text) for at, text in _roles_events(incident)]
    events += [(at, 2, text) for at, text in staff_notices_sent(incident.id)]
    events += [(at, 2, text) for at, text in pages_sent(incident.id)]  # issue 24
    if incident.resolved_at is not None:
        events.append((incident.resolved_at, 4, "Incident resolved"))
    events.sort(key=lambda e: (e[0], e[1]))
    return [(at, text) for at, _, text in events]


def _update_event(update: IncidentUpdate, previous: IncidentUpdate, who: str) -> str:
    """A later update as what it changed: its status (forward, unchanged, or "Back to
    Identified"), its Actions, and its Impact only when that changed."""
    was, now = previous.status, update.status
    if INCIDENT_STATUSES.index(now) < INCIDENT_STATUSES.index(was):
        head = f"Back to {update.status_label}{who}"
    elif now == was:
        head = f"Update posted (still {update.status_label}){who}"
    else:
        head = f"Update posted ({update.status_label}){who}"
    text = f"{head}: {update.actions}"
    if update.impact and update.impact != previous.impact:
        text += f" Impact now: {update.impact}"
    return text


def _roles_events(incident: Incident) -> list[tuple[datetime, str]]:
    """The acknowledgement and each change of commander (from the audit log)."""
    found = []
    for event in db.session.scalars(
            db.select(AuditEvent).where(
                AuditEvent.target_type == "incidents", AuditEvent.target_id == str(incident.id),
                AuditEvent.action.in_(("incident.roles", "incident.acknowledge")))
            .order_by(AuditEvent.id)):
        if event.action == "incident.acknowledge":
            actor = db.session.get(StaffUser, event.actor_id) if event.actor_id else None
            found.append((event.at, "Acknowledged by the Incident Commander"
                          + (f" ({actor.shown_name})" if actor else "")))
            continue
        before, after = event.before or {}, event.after or {}
        if before.get("commander_id") != after.get("commander_id"):
            user = (db.session.get(StaffUser, after["commander_id"])
                    if after.get("commander_id") else None)
            found.append((event.at, "Incident Commander: "
                          + (user.shown_name if user else "none")))
    return found


def _people(count: int, noun: str) -> str:
    """``1 subscriber``, ``3 subscribers``: a count of people with its noun right."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _status(value: str) -> str:
    return COMPONENT_STATUS_LABELS.get(value, value)


def draft(incident: Incident) -> str:
    """The record as the system can write it, in the playbook's template word for word."""
    tz = site_tz()
    if incident.resolved_at is not None:
        duration = _duration(incident.started_at, incident.resolved_at)
    else:
        duration = "Ongoing"
    severity = SEVERITIES.get(incident.severity)
    severity_text = f"{incident.severity} ({severity.name})" if severity else incident.severity
    features = ", ".join(c.name for c in incident.components) or "None recorded"
    data = DATA_STATUS_WORDS.get(incident.data_status or "not_yet_known", "Not yet known")
    rows = [f"| {_cell(local_time(at, tz))} | {_cell(text)} |" for at, text in timeline(incident)]
    items = action_items(incident.id)
    item_lines = [action_item_line(item) for item in items] or [
        "- [ ] [action] - Owner - Due Date"]
    lines = [
        f"# Incident Report: {clean_text(incident.title, single_line=True)}",
        "",
        "## Summary",
        f"- **Date:** {incident.started_at.astimezone(tz).date().isoformat()} ({tz.key})",
        f"- **Duration:** {duration}",
        f"- **Severity:** {severity_text}",
        f"- **Incident Commander:** {record_commander(incident)}",
        "",
        "## Impact",
        f"- Users affected: {_people(subscribers_emailed(incident.id), 'subscriber')} "
        "emailed",
        f"- Data affected: {data}",
        f"- Features affected: {features}",
        "",
        "## Timeline",
        "| Time | Event |",
        "|------|-------|",
        *rows,
        "",
        "## Root Cause",
        (incident.root_cause or "").strip() or "[description]",
        "",
        "## Resolution",
        (incident.resolution or "").strip() or "[what was done]",
        "",
        "## Action Items",
        *item_lines,
        "",
        "## Lessons Learned",
        "### What went well",
        "-",
        "### What could improve",
        "-",
    ]
    return "\n".join(lines) + "\n"


def action_item_line(item: ActionItem) -> str:
    """``- [ ] Add a disk alert - ops@example.org - 2026-12-04``, as the template has it."""
    tick = "x" if item.done else " "
    return f"- [{tick}] {_cell(item.text)} - {item.owner.email} - {item.due_on.isoformat()}"


# --- Revisions -----------------------------------------------------------------------------


def revisions(incident_id: int) -> list[RecordRevision]:
    """The record's saved versions, newest first."""
    return list(db.session.scalars(
        db.select(RecordRevision).where(RecordRevision.incident_id == incident_id)
        .order_by(RecordRevision.number.desc())))


def current_text(incident: Incident) -> str:
    """The latest saved version, else the draft."""
    latest = db.session.scalar(
        db.select(RecordRevision).where(RecordRevision.incident_id == incident.id)
        .order_by(RecordRevision.number.desc()).limit(1))
    return latest.text if latest is not None else draft(incident)


def save_revision(incident: Incident, text: str, *, actor: StaffUser,
                  now: datetime) -> RecordRevision:
    """Keep ``text`` as the record's next revision (audited; the text is not copied into
    the audit trail, which every admin reads)."""
    cleaned = clean_text(text or "")
    if not cleaned:
        raise ValidationError({"text": "The record cannot be empty."})
    if len(cleaned) > RECORD_MAX:
        raise ValidationError({"text": f"At most {RECORD_MAX} characters."})
    previous = revisions(incident.id)
    if previous and previous[0].text == cleaned + "\n":
        raise ValidationError({"text": "Nothing was changed since the last revision."})
    revision = RecordRevision(
        incident_id=incident.id, number=(previous[0].number + 1) if previous else 1,
        text=cleaned + "\n", author_id=actor.id, created_at=now)
    db.session.add(revision)
    audit.record(actor, "record.save", revision, now=now,
                 after={"incident_id": incident.id, "number": revision.number})
    db.session.flush()
    return revision


def redact_revision(revision: RecordRevision, *, actor: StaffUser, now: datetime) -> None:
    """Health data pasted by mistake: the revision's text becomes "[redacted]" (admins)."""
    if not actor.is_admin:
        raise NotAllowed("Only an admin can redact a revision.")
    if revision.is_redacted:
        return
    revision.text = REDACTED + "\n"
    revision.redacted_at = now
    audit.record(actor, "record.redact", revision, now=now,
                 after={"incident_id": revision.incident_id, "number": revision.number,
                        "redacted": True})
    db.session.flush()


# --- Action items --------------------------------------------------------------------------


@dataclass
class ActionItemInput:
    """An action item as typed: text, owner (a staff id), due date, done."""

    text: str
    owner_id: Optional[int]
    due_on: Optional[date]
    done: bool = False


def action_items(incident_id: int) -> list[ActionItem]:
    return list(db.session.scalars(
        db.select(ActionItem).where(ActionItem.incident_id == incident_id)
        .order_by(ActionItem.due_on, ActionItem.id)))


def open_action_items() -> list[ActionItem]:
    """Every action item not yet done, soonest due first (the dashboard's list)."""
    return list(db.session.scalars(
        db.select(ActionItem).where(ActionItem.done_at.is_(None))
        .order_by(ActionItem.due_on, ActionItem.id)))


def today(now: datetime) -> date:
    """The day it is in the site's zone: due dates are days there."""
    return now.astimezone(site_tz()).date()


def is_overdue(item: ActionItem, now: datetime) -> bool:
    """Not done and its due day is over."""
    return not item.done and item.due_on < today(now)


def _check(value: ActionItemInput, now: datetime, errors: dict) -> str:
    text = clean_text(value.text or "", single_line=True)
    if not text:
        errors["text"] = "Say what is to be done."
    elif len(text) > ACTION_ITEM_MAX:
        errors["text"] = f"At most {ACTION_ITEM_MAX} characters."
    owner = db.session.get(StaffUser, value.owner_id) if value.owner_id else None
    if owner is None or not owner.active:
        errors.setdefault("owner_id", "Choose a staff member as the owner.")
    if value.due_on is None:
        errors.setdefault("due_on", "Enter a date such as 2026-12-01.")
    elif not (now.date() - timedelta(days=366) <= value.due_on
              <= now.date() + timedelta(days=366)):
        errors["due_on"] = "The due date must be within a year of today."
    if errors:
        raise ValidationError(errors)
    return text


def add_action_item(incident: Incident, value: ActionItemInput, *, actor: StaffUser,
                    now: datetime) -> ActionItem:
    """A new action item on the incident's record (audited)."""
    text = _check(value, now, {})
    item = ActionItem(incident_id=incident.id, text=text, owner_id=value.owner_id,
                      due_on=value.due_on, done_at=now if value.done else None,
                      created_at=now, updated_at=now)
    db.session.add(item)
    audit.record(actor, "action_item.add", item, now=now, after=_state(item))
    db.session.flush()
    return item


def edit_action_item(item: ActionItem, value: ActionItemInput, *, actor: StaffUser,
                     now: datetime) -> ActionItem:
    """Change an action item's text, owner, due date or done tick (audited)."""
    text = _check(value, now, {})
    before = _state(item)
    item.text, item.owner_id, item.due_on = text, value.owner_id, value.due_on
    if value.done and item.done_at is None:
        item.done_at = now
    elif not value.done:
        item.done_at = None
    after = _state(item)
    if after != before:
        item.updated_at = now
        audit.record(actor, "action_item.edit", item, now=now, before=before, after=after)
    db.session.flush()
    return item


def _state(item: ActionItem) -> dict:
    return {"incident_id": item.incident_id, "owner_id": item.owner_id,
            "due_on": item.due_on.isoformat() if item.due_on else None,
            "done": item.done_at is not None}


# --- The dashboard's post-incident step ----------------------------------------------------


@dataclass
class PostIncidentDue:
    """A resolved SEV-1/2 whose record or review is still to do."""

    incident: Incident
    record_due: Optional[datetime]
    review_due: Optional[datetime]
    record_late: bool
    review_late: bool


def post_incident_due(now: datetime) -> list[PostIncidentDue]:
    """Per resolved SEV-1/2: "record due" (24 h after resolution) until a revision exists,
    "review due" (72 h after) until its review date has passed."""
    has_revision = db.select(RecordRevision.id).where(
        RecordRevision.incident_id == Incident.id).exists()
    found = []
    day = today(now)
    rows = db.session.execute(
        db.select(Incident, has_revision)
        .where(Incident.status == "resolved", Incident.resolved_at.is_not(None),
               Incident.severity.in_(REVIEWED_SEVERITIES))
        .order_by(Incident.resolved_at.desc())).all()
    for incident, recorded in rows:
        record_due = None if recorded else incident.resolved_at + RECORD_WITHIN
        review_passed = incident.review_on is not None and incident.review_on < day
        review_due = None if review_passed else incident.resolved_at + REVIEW_WITHIN
        if record_due is None and review_due is None:
            continue
        found.append(PostIncidentDue(
            incident, record_due, review_due,
            record_late=record_due is not None and record_due <= now,
            review_late=review_due is not None and review_due <= now and (
                incident.review_on is None)))
    return found
