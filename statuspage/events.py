"""What happened: the events an operation records, in its own transaction.

An operation says what it did (an incident declared, a window cancelled, a component's
status changed) and never whom to tell: ``record`` hands the event, synchronously and in
the caller's session, to the listeners the app installed (``outbox.listeners``: who hears
of what, through which channel). Their rows are flushed before ``record`` returns, so they
commit or roll back with the change, as every message always has.

A message must never be lost because a process forgot the listeners: ``create_app``
installs them on the app, ``install`` refuses a table that leaves an event unheard, and
``record`` raises, rather than drops the event, in an app that has none.

A listener may refuse an event (``ValidationError``) when what the outbox holds forbids the
change (a reopening once the all-clear went out): such an event is recorded before the
operation changes anything, so a refusal leaves nothing to undo.

Nothing here imports the outbox: events sit below it, beside the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping, Optional, Sequence

from flask import Flask, current_app

from .models import Component, Incident, IncidentUpdate, Maintenance, MonitorProposal, Subscriber

EXTENSION = "statuspage.events"


class Event:
    """Something that happened; each kind is a direct subclass (``install`` lists them)."""


Listener = Callable[[Event, datetime], None]


# --- Incidents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentDeclared(Event):
    incident: Incident
    update: IncidentUpdate  # the first one


@dataclass(frozen=True)
class IncidentUpdated(Event):
    """A later update that leaves the incident open."""

    incident: Incident
    update: IncidentUpdate


@dataclass(frozen=True)
class IncidentResolved(Event):
    incident: Incident
    update: IncidentUpdate
    notify_subscribers: bool = True  # the write API's deliver_notifications


@dataclass(frozen=True)
class IncidentEdited(Event):
    """Its title, severity, components, start, impact block or declaration corrected."""

    incident: Incident
    severity_before: Optional[str] = None  # its severity before the edit


@dataclass(frozen=True)
class IncidentAcknowledged(Event):
    """Its commander acknowledged it (``by``: their shown name): paging stops."""

    incident: Incident
    by: str


@dataclass(frozen=True)
class IncidentReopened(Event):
    """Recorded before the incident changes: the outbox may refuse it."""

    incident: Incident


@dataclass(frozen=True)
class UpdateRedacted(Event):
    """Recorded before the texts are replaced; ``texts`` are the ones being removed."""

    update: IncidentUpdate
    texts: tuple[str, ...]

    @property
    def incident(self) -> Incident:
        return self.update.incident


@dataclass(frozen=True)
class NotificationsDeclined(Event):
    """A write API client changed the incident with ``deliver_notifications: false``
    and the incident is still open (``actor``: the API key, for the audit)."""

    incident: Incident
    actor: object


# --- Components --------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentChanged(Event):
    """Its status, before it is set (``source``: incident, maintenance, staff, monitor,
    api)."""

    component: Component
    old_status: str
    new_status: str
    source: str


# --- Monitors ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalOpened(Event):
    """A monitor found its component down and proposes an incident (a new outage: not a
    flap within MONITOR_FLAP_WINDOW_SECONDS), after publishing it if it auto-publishes."""

    proposal: MonitorProposal


@dataclass(frozen=True)
class ProposalClosed(Event):
    """Staff dismissed the proposal, or published it as an incident (its ``incident``)."""

    proposal: MonitorProposal


# --- Maintenance windows -----------------------------------------------------------------


@dataclass(frozen=True)
class WindowScheduled(Event):
    window: Maintenance


@dataclass(frozen=True)
class WindowEdited(Event):
    window: Maintenance
    notified_before: bool  # its ``notify`` before the edit


@dataclass(frozen=True)
class WindowRescheduled(Event):
    window: Maintenance


@dataclass(frozen=True)
class WindowUpdatePosted(Event):
    """Any update on the window (staff's, or the one a transition writes)."""

    window: Maintenance


@dataclass(frozen=True)
class WindowStarted(Event):
    window: Maintenance


@dataclass(frozen=True)
class WindowCompleted(Event):
    window: Maintenance


@dataclass(frozen=True)
class WindowCancelled(Event):
    window: Maintenance


# --- Subscribers -------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriberNeedsLink(Event):
    """Someone asked, with this address, to subscribe (``kind`` "confirm") or to manage
    a confirmed subscription ("manage"), and was not sent a link just now."""

    subscriber: Subscriber
    kind: str


@dataclass(frozen=True)
class SubscriberLeft(Event):
    """Unsubscribed: nothing more is to reach them, not even what is already queued."""

    subscriber: Subscriber


@dataclass(frozen=True)
class SubscriberErased(Event):
    """An admin deletes them: what the outbox holds of them goes first."""

    subscriber: Subscriber


# --- Recording ---------------------------------------------------------------------------


def kinds() -> list[type[Event]]:
    """Every kind of event, by name."""
    return sorted(Event.__subclasses__(), key=lambda kind: kind.__name__)


def install(app: Flask, listeners: Mapping[type[Event], Sequence[Listener]]) -> None:
    """Give ``app`` its listeners, in the order each event calls them; refused (at start,
    not at the first lost message) when a kind of event would be heard by none."""
    unheard = [kind.__name__ for kind in kinds() if not listeners.get(kind)]
    if unheard:
        raise _unheard(unheard)
    app.extensions[EXTENSION] = {kind: tuple(listeners[kind]) for kind in kinds()}


def record(event: Event, *, now: datetime) -> None:
    """Call each listener of ``event`` in order, in the caller's transaction (they flush;
    the caller commits). Raises when the app has no listeners installed."""
    table: Optional[dict] = current_app.extensions.get(EXTENSION)
    if table is None:
        raise RuntimeError(
            f"{type(event).__name__} recorded in an app without event listeners: its "
            "messages would be lost. create_app installs them (outbox.listeners.init_app).")
    heard_by = table.get(type(event))
    if not heard_by:  # a subclass of a kind, say: install never saw it
        raise _unheard([type(event).__name__])
    for listener in heard_by:
        listener(event, now)


def _unheard(names: list[str]) -> RuntimeError:
    return RuntimeError(f"No listener for {', '.join(names)}: its messages would be lost.")
