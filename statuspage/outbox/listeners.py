"""Who hears of each event, and through which channel: the one table that turns what an
operation recorded (``statuspage.events``) into the outbox's rows, in the operation's
transaction (each listener flushes; the caller commits).

Within an event the listeners run in the order of the table, which is the order the
operations called these functions in when they named them: the webhooks' event before
the Slack message it goes with, the reminders armed after the notice, the all-clear
refused before anything is forgotten.

Adding a channel that hears of an event is a listener here; an operation does not change.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from .. import events as ev
from . import (maintenance_notices, monitor_notices, oncall_email, paging, queue, slack,
               staff_notices, webhooks)
from ..errors import ValidationError


# --- Incidents ---------------------------------------------------------------------------


def incident_webhook(event, now: datetime) -> None:
    """The incident's public change, for the webhooks concerned."""
    webhooks.queue_event("incident", now=now, incident_id=event.incident.id,
                         component_ids=[c.id for c in event.incident.components])


def slack_declared(event: ev.IncidentDeclared, now: datetime) -> None:
    slack.on_declared(event.incident, event.update, now=now)


def slack_update(event: ev.IncidentUpdated, now: datetime) -> None:
    slack.on_update(event.incident, event.update, now=now)


def slack_resolved(event: ev.IncidentResolved, now: datetime) -> None:
    slack.on_resolved(event.incident, now=now)


def slack_redacted(event: ev.UpdateRedacted, now: datetime) -> None:
    slack.redact_unsent(event.update.incident_id, list(event.texts))


def contacts_notices(event, now: datetime) -> None:
    """The key contacts' notices the incident's state now calls for (once each)."""
    staff_notices.queue_for(event.incident, now=now)


def subscribers_all_clear(event: ev.IncidentResolved, now: datetime) -> None:
    """Unsent outage emails cancelled; the all-clear to those the outage email reached."""
    queue.on_incident_resolved(event.incident, now=now,
                               notify_subscribers=event.notify_subscribers)


def subscribers_reopened(event: ev.IncidentReopened, now: datetime) -> None:
    """Refused once the all-clear went out; else the queued all-clear is forgotten."""
    if queue.resolution_email_went_out(event.incident):
        raise ValidationError({"status": queue.REOPEN_REFUSED})
    queue.on_incident_reopened(event.incident, now=now)


def subscribers_declined(event: ev.NotificationsDeclined, now: datetime) -> None:
    """The outage email held, as an admin's hold does, unless it already went."""
    queue.hold_unsent_outage_email(event.incident, actor=event.actor, now=now)


def paging_started(event, now: datetime) -> None:
    """A severity that pages starts the escalation chain (once), and so does a Security
    incident (its Security Lead)."""
    paging.on_incident(event.incident, now,
                       severity_before=getattr(event, "severity_before", None))


def primary_emailed(event, now: datetime) -> None:
    """A SEV-3/4 emails the primary on call, in business hours (else the tick, later)."""
    oncall_email.on_incident(event.incident, now)


def paging_stopped(event: ev.IncidentResolved, now: datetime) -> None:
    paging.on_resolved(event.incident, now)


def paging_acknowledged(event: ev.IncidentAcknowledged, now: datetime) -> None:
    paging.on_acknowledged(event.incident, event.by, now)


# --- Components --------------------------------------------------------------------------


def component_webhook(event: ev.ComponentChanged, now: datetime) -> None:
    """Not for a window's start or end: the window's own event tells the webhooks."""
    if event.source == "maintenance":
        return
    webhooks.queue_event("component", now=now, component_id=event.component.id,
                         detail={"old_status": event.old_status,
                                 "new_status": event.new_status})


# --- Monitors ----------------------------------------------------------------------------


def on_call_told(event: ev.ProposalOpened, now: datetime) -> None:
    """The on-call email and, with Slack set, the #incidents message."""
    monitor_notices.queue_notice(event.proposal, now=now)


def proposal_paged(event: ev.ProposalOpened, now: datetime) -> None:
    paging.on_proposal(event.proposal, now)


def proposal_chain_handed_over(event: ev.ProposalClosed, now: datetime) -> None:
    """Dismissed: its chain closes; published: the incident takes its chain over."""
    paging.hand_over(event.proposal, now)


# --- Maintenance windows -----------------------------------------------------------------


def window_webhook(event, now: datetime) -> None:
    window = event.window
    webhooks.queue_event("maintenance", now=now, maintenance_id=window.id,
                         component_ids=[t.component_id for t in window.taken])


def window_announced(event: ev.WindowScheduled, now: datetime) -> None:
    """Unless it starts within the hour (or staff chose no notices)."""
    if maintenance_notices.scheduled_notice_due(event.window, now):
        maintenance_notices.queue_notice(event.window, "scheduled", now=now)


def window_reminders(event, now: datetime) -> None:
    maintenance_notices.arm_reminders(event.window, now=now)


def window_notices_switched(event: ev.WindowEdited, now: datetime) -> None:
    """Notices turned off: what is unsent is cancelled; turned on: reminders armed."""
    if event.notified_before and not event.window.notify:
        maintenance_notices.cancel_unsent(event.window, now=now)
    elif event.window.notify and not event.notified_before:
        maintenance_notices.arm_reminders(event.window, now=now)


def _notice(notice: str):
    def listener(event, now: datetime) -> None:
        maintenance_notices.queue_notice(event.window, notice, now=now)
    listener.__name__ = f"window_{notice}_notice"
    return listener


def _follow_up(notice: str):
    """To those already told of the window."""
    def listener(event, now: datetime) -> None:
        maintenance_notices.queue_follow_up(event.window, notice, now=now)
    listener.__name__ = f"window_{notice}_follow_up"
    return listener


# --- Subscribers -------------------------------------------------------------------------


def subscriber_link(event: ev.SubscriberNeedsLink, now: datetime) -> None:
    queue.enqueue_subscriber_email(event.kind, event.subscriber, now=now)


def subscriber_emails_stopped(event: ev.SubscriberLeft, now: datetime) -> None:
    queue.cancel_unsent_to(event.subscriber)


def subscriber_erased(event: ev.SubscriberErased, now: datetime) -> None:
    queue.forget_subscriber(event.subscriber)


# --- The table ---------------------------------------------------------------------------

LISTENERS: dict[type[ev.Event], tuple] = {
    ev.IncidentDeclared: (incident_webhook, slack_declared, contacts_notices, paging_started,
                          primary_emailed),
    ev.IncidentUpdated: (incident_webhook, slack_update),
    ev.IncidentResolved: (incident_webhook, subscribers_all_clear, slack_resolved,
                          paging_stopped),
    ev.IncidentEdited: (incident_webhook, contacts_notices, paging_started, primary_emailed),
    ev.IncidentAcknowledged: (paging_acknowledged,),
    ev.IncidentReopened: (subscribers_reopened, incident_webhook),
    ev.UpdateRedacted: (slack_redacted, incident_webhook),
    ev.NotificationsDeclined: (subscribers_declined,),
    ev.ComponentChanged: (component_webhook,),
    ev.ProposalOpened: (on_call_told, proposal_paged),
    ev.ProposalClosed: (proposal_chain_handed_over,),
    ev.WindowScheduled: (window_webhook, window_announced, window_reminders),
    ev.WindowEdited: (window_webhook, window_notices_switched),
    ev.WindowRescheduled: (window_webhook, _follow_up("rescheduled"), window_reminders),
    ev.WindowUpdatePosted: (window_webhook,),
    ev.WindowStarted: (_notice("started"),),
    ev.WindowCompleted: (_notice("completed"),),
    ev.WindowCancelled: (_follow_up("cancelled"),),
    ev.SubscriberNeedsLink: (subscriber_link,),
    ev.SubscriberLeft: (subscriber_emails_stopped,),
    ev.SubscriberErased: (subscriber_erased,),
}


def init_app(app: Flask) -> None:
    """Install the table on the app (``create_app`` does, for every process)."""
    ev.install(app, LISTENERS)
