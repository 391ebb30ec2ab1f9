"""The read model: what the public page, the API, the feeds, the widgets and the staff
dashboard read, each in a fixed number of queries however long the history grows.

Components in the page's order (and grouped as the page shows them), the open incidents,
the front page's incidents, one incident's timeline, the feeds' updates,
the last public change and the overall status. Nothing here writes. The history's pages
(incidents and windows together) are in ``history``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

from .components import claims, worst_status
from .extensions import db
from .models import (
    INCIDENT_STATUS_LABELS,
    INCIDENT_STATUSES,
    Component,
    ComponentChange,
    Incident,
    IncidentUpdate,
    Maintenance,
    MaintenanceComponent,
    MaintenanceUpdate,
    incident_components,
)
from .numbers import MAX_ID  # the largest id a lookup tries
from .severity import SEVERITIES, SEVERITY_RANK, overall_status

#: The last change of a page that has never shown anything. A fixed instant, not ``now``:
#: nothing has changed, so the API's body, the feeds' bytes and their ETags stay the same
#: from one request to the next, and no reader is told of a change that never happened.
#: The front page writes it as "never"; Atom needs some ``updated`` and had this one.
NEVER = datetime(1970, 1, 1, tzinfo=timezone.utc)


def fixed_ids(ids: Iterable[int]) -> list[int]:
    """``ids`` for ``column.in_(...)``, padded (the last id repeated) to 32 or the next
    power of two.

    Each count of ids is a new SQL text (``IN (?, ?, ...)``), which SQLite's driver keeps
    compiled, 128 per connection, each larger than the last: a list that grows with the
    incidents made every web worker grow with the writes (issue 21). Padded, up to 32 ids
    run one text, up to 1,024 six."""
    found = sorted(set(ids))
    if found:
        found += found[-1:] * (max(32, 1 << (len(found) - 1).bit_length()) - len(found))
    return found


# --- Components ----------------------------------------------------------------------------


def all_components() -> list[Component]:
    """Every component in display order (position, then name)."""
    return list(
        db.session.scalars(
            db.select(Component).order_by(Component.position, Component.name, Component.id)
        )
    )


def group_components(components: Iterable[Component]) -> list[tuple[Optional[str], list]]:
    """Components in display order, those sharing a ``group_name`` gathered where the
    group's first member stands. Ungrouped components are groups of one named None."""
    groups: list[tuple[Optional[str], list]] = []
    by_name: dict[str, list] = {}
    for component in components:
        if not component.group_name:
            groups.append((None, [component]))
        elif component.group_name in by_name:
            by_name[component.group_name].append(component)
        else:
            members = by_name[component.group_name] = [component]
            groups.append((component.group_name, members))
    return groups


def find_component(component_id: int) -> Optional[Component]:
    """One component, or None (an id out of the column's range is simply not found)."""
    if not 0 < component_id <= MAX_ID:
        return None
    return db.session.get(Component, component_id)


# --- Incidents -----------------------------------------------------------------------------


def timeline_options() -> tuple:
    """Loader options for pages showing timelines: a fixed number of queries, however many
    incidents, updates and component changes there are (no lazy load per row).

    No loader lists ids (``IN (?, ?, ...)``, as ``selectinload`` does): such a text is new
    for each count of rows loaded, and SQLite's driver keeps each text it ran compiled (up
    to 128 per connection, each larger than the last), so every web worker grew with the
    writes (issue 21). The updates' component changes come joined to the updates; the
    incidents' components and updates by the incidents' own query as a subquery, one text
    however many incidents the page shows."""
    return (
        db.subqueryload(Incident.components),
        db.subqueryload(Incident.updates)
        .joinedload(IncidentUpdate.component_changes)
        .joinedload(ComponentChange.component),
    )


def _newest_start_first(query):
    return query.order_by(Incident.started_at.desc(), Incident.id.desc())


def open_incidents(*, with_timeline: bool = False) -> list[Incident]:
    """Every unresolved incident, newest start first (timelines loaded if asked)."""
    query = _newest_start_first(db.select(Incident).where(Incident.status != "resolved"))
    if with_timeline:
        query = query.options(*timeline_options())
    return list(db.session.scalars(query))


def recent_incidents(limit: int, offset: int = 0) -> list[Incident]:
    """The ``limit`` newest incidents by start (after ``offset``), with their timelines."""
    return list(db.session.scalars(_newest_start_first(db.select(Incident)).options(
        *timeline_options()).offset(offset).limit(limit)))


def front_page_incidents(now: datetime, recent_days: int) -> tuple[list[Incident], list[Incident]]:
    """(unresolved, resolved within ``recent_days`` of ``now``) with their timelines loaded.

    Unresolved newest start first; resolved most recently resolved first. One query plus
    the fixed loaders of ``timeline_options``.
    """
    cutoff = now - timedelta(days=recent_days)
    # Two indexed lookups (ix_incidents_unresolved, ix_incidents_resolved_at), not an OR
    # that makes the database read every incident ever.
    shown = db.union(db.select(Incident.id).where(Incident.status != "resolved"),
                     db.select(Incident.id).where(Incident.resolved_at >= cutoff))
    rows = db.session.scalars(
        _newest_start_first(db.select(Incident).where(Incident.id.in_(shown)))
        .options(*timeline_options())
    ).all()
    unresolved = [i for i in rows if not i.is_resolved]
    resolved = sorted(
        (i for i in rows if i.is_resolved), key=lambda i: (i.resolved_at, i.id), reverse=True
    )
    return unresolved, resolved


def incident_with_timeline(incident_id: int) -> Optional[Incident]:
    """One incident with its whole timeline loaded, or None."""
    if not 0 < incident_id <= MAX_ID:
        return None
    return db.session.scalars(
        db.select(Incident).where(Incident.id == incident_id).options(*timeline_options())
    ).first()


def next_update_due(incident: Incident, now: datetime) -> Optional[datetime]:
    """When staff owe the next update: what they promised, else the playbook's cadence."""
    if incident.is_resolved:
        return None
    latest = incident.latest_update
    if latest is not None and latest.next_update_at is not None:
        return latest.next_update_at
    cadence = SEVERITIES[incident.severity].update_cadence
    if cadence is None:
        return None
    last = latest.posted_at if latest is not None else incident.started_at
    return last + cadence


def update_steps(incident: Incident) -> dict[int, str]:
    """update id -> "Back to Identified" for each update that moved the status back (the
    timeline says what happened; a reopening then its first update is a step back too)."""
    steps: dict[int, str] = {}
    previous: Optional[str] = None
    for update in reversed(incident.updates):  # oldest first
        if previous is not None and (INCIDENT_STATUSES.index(update.status)
                                     < INCIDENT_STATUSES.index(previous)):
            steps[update.id] = f"Back to {INCIDENT_STATUS_LABELS[update.status]}"
        previous = update.status
    return steps


def unbacked_components() -> list[Component]:
    """Components not operational with nothing behind them: no open incident (nor, later,
    running maintenance) claims them. The dashboard warns about each."""
    held = claims()
    return [c for c in all_components() if c.status != "operational" and c.id not in held]


@dataclass(frozen=True)
class ResolutionFacts:
    """What the resolution email may truthfully say beyond this incident."""

    #: The incident's own components (the features it affected).
    affected: list[str]
    #: Other incidents still open when the email is composed.
    other_open_incidents: int
    #: Components not operational then.
    not_operational: list[str]

    @property
    def all_clear(self) -> bool:
        """Nothing else is wrong: the playbook's "All features ... working normally"."""
        return not self.other_open_incidents and not self.not_operational


def resolution_facts(incident: Incident) -> ResolutionFacts:
    """Whether anything else is still wrong as this incident's all-clear goes out."""
    others = db.session.scalar(
        db.select(db.func.count(Incident.id))
        .where(Incident.status != "resolved", Incident.id != incident.id)
    ) or 0
    return ResolutionFacts(
        affected=[c.name for c in incident.components],
        other_open_incidents=others,
        not_operational=[c.name for c in all_components() if c.status != "operational"],
    )


# --- Updates (the feeds) -------------------------------------------------------------------


def newest_updates(limit: int, component_id: Optional[int] = None) -> list[IncidentUpdate]:
    """The newest updates with their incidents (of one component's incidents, if given):
    two queries."""
    query = (
        db.select(IncidentUpdate)
        .options(db.joinedload(IncidentUpdate.incident))  # no id list (timeline_options)
        .order_by(IncidentUpdate.posted_at.desc(), IncidentUpdate.id.desc())
        .limit(limit)
    )
    if component_id is not None:
        query = query.join(
            incident_components,
            incident_components.c.incident_id == IncidentUpdate.incident_id,
        ).where(incident_components.c.component_id == component_id)
    return list(db.session.scalars(query))


# --- The page as a whole -------------------------------------------------------------------


def last_public_change() -> datetime:
    """When the public last saw something change (one query); ``NEVER`` on an empty page.

    The newest of: a component's change (status, name, creation), an incident's change
    (declared, updated, edited, reopened, resolved, an update redacted: each sets the
    incident's ``updated_at``) and an update's posting time, which the page shows on its
    own. The front page's "Last updated", the API's ``page.updated_at`` and the site
    feed's ``updated`` all say this. Each maximum reads one end of an index (the
    components table is small), so the cost stays flat as the history grows.
    """
    newest = (
        db.select(db.func.max(Component.updated_at)).scalar_subquery(),
        db.select(db.func.max(Incident.updated_at)).scalar_subquery(),
        db.select(db.func.max(IncidentUpdate.posted_at)).scalar_subquery(),
        # A maintenance window's change and its updates (issue 12), the same way.
        db.select(db.func.max(Maintenance.updated_at)).scalar_subquery(),
        db.select(db.func.max(MaintenanceUpdate.posted_at)).scalar_subquery(),
    )
    values = [v for v in db.session.execute(db.select(*newest)).one() if v is not None]
    return max(values) if values else NEVER


@dataclass(frozen=True)
class CurrentStatus:
    """The overall status and what it was worked out from."""

    indicator: str
    description: str
    components: list[Component]
    #: Without their timelines.
    unresolved: list[Incident]
    #: The components running maintenance windows take (None: no window runs).
    taken: Optional[frozenset[int]] = None


def status_of(components: Iterable[Component], unresolved: Iterable[Incident],
              taken: Optional[frozenset[int]] = None) -> tuple[str, str]:
    """(indicator, description) for these components and unresolved incidents, and the
    components running maintenance windows take (``maintenance_taken_now``)."""
    return overall_status((shown_status(c, taken) for c in components),
                          (i.severity for i in unresolved),
                          maintenance_running=taken is not None)


def current_status() -> CurrentStatus:
    """The overall status now (three queries: the components, the unresolved incidents,
    the running maintenance windows' components)."""
    components = all_components()
    unresolved = open_incidents()
    taken = maintenance_taken_now()
    return CurrentStatus(*status_of(components, unresolved, taken), components, unresolved,
                         taken)


# --- The participants' front page and history (issue 11) ----------------------------------


def gravest_first(unresolved: Iterable[Incident]) -> list[Incident]:
    """Open incidents as the front page lists them: by severity (SEV-1 first), then by
    start (earliest first: the longest-running of equal gravity leads), then by id."""
    return sorted(unresolved, key=lambda i: (SEVERITY_RANK[i.severity], i.started_at, i.id))


# --- Planned maintenance (issue 12) -------------------------------------------------------

#: A window that runs: its components count as under maintenance.
RUNNING = ("in_progress", "verifying")
#: The windows the history lists beside the incidents: begun, over, or called off.
HISTORY_STATUSES = ("in_progress", "verifying", "completed", "cancelled")
#: What the Statuspage API may say of a window (it has no ``cancelled``).
API_STATUSES = ("scheduled", "in_progress", "verifying", "completed")


def maintenance_options() -> tuple:
    """Loader options for a window shown with its components and updates (fixed queries)."""
    return (
        # Subqueries, not id lists: one text however many windows (timeline_options).
        db.subqueryload(Maintenance.taken).joinedload(MaintenanceComponent.component),
        db.subqueryload(Maintenance.updates),
    )


def windows_with_updates(query) -> list[Maintenance]:
    return list(db.session.scalars(query.options(*maintenance_options())))  # and 2 loaders


def maintenance_taken_now() -> Optional[frozenset[int]]:
    """The components the running windows take; None when no window runs (one query).

    A running window counts even before (or without) its component rows being set to
    ``under_maintenance``: the window is what the public is told about.
    """
    rows = db.session.execute(
        db.select(Maintenance.id, MaintenanceComponent.component_id)
        .outerjoin(MaintenanceComponent, MaintenanceComponent.maintenance_id == Maintenance.id)
        .where(Maintenance.status.in_(RUNNING))
    ).all()
    if not rows:
        return None
    return frozenset(component_id for _id, component_id in rows if component_id is not None)


def shown_status(component: Component, taken: Optional[frozenset[int]]) -> str:
    """The status the public sees: the row's, or under maintenance while a running window
    takes the component and nothing worse holds it."""
    if taken and component.id in taken:
        return worst_status((component.status, "under_maintenance"))
    return component.status


def front_page_maintenances(now: datetime) -> tuple[list[Maintenance], list[Maintenance]]:
    """(running windows, windows still to come: scheduled and not yet over), each in start
    order: one indexed lookup on status, and the two loaders."""
    rows = windows_with_updates(db.select(Maintenance).where(
        Maintenance.status.in_(RUNNING + ("scheduled",)),
        db.or_(Maintenance.status != "scheduled", Maintenance.scheduled_until > now),
    ).order_by(Maintenance.scheduled_for, Maintenance.id))
    return ([w for w in rows if w.status in RUNNING],
            [w for w in rows if w.status == "scheduled"])


def running_maintenances() -> list[Maintenance]:
    """Windows in progress or being verified, earliest start first."""
    return windows_with_updates(db.select(Maintenance).where(Maintenance.status.in_(RUNNING))
                    .order_by(Maintenance.scheduled_for, Maintenance.id))


def recent_maintenances(limit: int) -> list[Maintenance]:
    """The ``limit`` windows that start latest, cancelled ones left out."""
    return windows_with_updates(db.select(Maintenance).where(Maintenance.status.in_(API_STATUSES))
                    .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
                    .limit(limit))


def calendar_maintenances(since: datetime) -> list[Maintenance]:
    """Every window starting at or after ``since``, cancelled ones too (a calendar must
    hear of the cancellation), in start order."""
    return windows_with_updates(db.select(Maintenance)
                    .where(Maintenance.status.in_(tuple(API_STATUSES) + ("cancelled",)),
                           Maintenance.scheduled_for >= since)
                    .order_by(Maintenance.scheduled_for, Maintenance.id))


def maintenance_with_updates(maintenance_id: int) -> Optional[Maintenance]:
    """One window with its components and updates, or None."""
    if not 0 < maintenance_id <= MAX_ID:
        return None
    return db.session.scalars(
        db.select(Maintenance).where(Maintenance.id == maintenance_id)
        .options(*maintenance_options())
    ).first()


def newest_maintenance_updates(limit: int, component_id: Optional[int] = None
                               ) -> list[MaintenanceUpdate]:
    """The newest maintenance updates with their windows (of the windows taking one
    component, if given): two queries. Updates of cancelled windows are kept: they say so."""
    query = (
        db.select(MaintenanceUpdate)
        .options(db.joinedload(MaintenanceUpdate.maintenance))  # no id list
        .order_by(MaintenanceUpdate.posted_at.desc(), MaintenanceUpdate.id.desc())
        .limit(limit)
    )
    if component_id is not None:
        query = query.join(
            MaintenanceComponent,
            MaintenanceComponent.maintenance_id == MaintenanceUpdate.maintenance_id,
        ).where(MaintenanceComponent.component_id == component_id)
    return list(db.session.scalars(query))
