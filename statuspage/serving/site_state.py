"""The site version: one number that changes with everything the public can see.

Every flush that adds, changes or deletes a row the public pages show (components,
incidents, updates, component changes, an incident's components) bumps
``site_state.version`` in the same transaction, and notes in ``site_changes`` which
incident pages it touched. It is a session event, not a call in the domain code, so no
code path can forget it: rendered pages (``render_cache``) and the static export
(``publish``) compare the number they rendered with the one in the database.

A commit that bumped the version also tells this process at once (``local_generation``),
so a worker serves its own writes without waiting for its once-a-second check.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Iterable, Optional

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..extensions import db
from ..models import (
    Component,
    ComponentChange,
    Incident,
    IncidentUpdate,
    Maintenance,
    MaintenanceComponent,
    MaintenanceUpdate,
    SiteChange,
    SiteState,
)

state_table = SiteState.__table__
changes_table = SiteChange.__table__


#: Component attributes that only the front page, feeds, API, badge and embed show; a
#: change of anything else (a rename, say) changes every incident page naming it.
COMPONENT_LIVE_ATTRIBUTES = {"status", "updated_at"}

_PENDING = "statuspage.site_state.pending"
_generation_lock = threading.Lock()
_generations: dict[int, int] = {}


# --- What a change touches --------------------------------------------------------------


ALL = None  # "every incident page"


def _touched_incidents(session: Session, obj, kind: str) -> Optional[set[int]]:
    """The incident pages that ``obj``'s change shows on: a set of ids, or ``ALL``."""
    if isinstance(obj, Incident):
        return {obj.id} if obj.id is not None else set()
    if isinstance(obj, IncidentUpdate):
        return {obj.incident_id} if obj.incident_id is not None else set()
    if isinstance(obj, ComponentChange):
        update = obj.__dict__.get("update")
        if update is not None and update.incident_id is not None:
            return {update.incident_id}
        return set()
    if isinstance(obj, Component):
        if kind == "new":
            return set()  # no incident page names it yet
        if kind == "dirty":
            state = sa.inspect(obj)
            changed = {a.key for a in state.attrs if a.history.has_changes()}
            if changed <= COMPONENT_LIVE_ATTRIBUTES:
                return set()
        return ALL
    return set()


#: The classes whose rows the public sees. Another module may add one with
#: ``PUBLIC_MODELS.add(cls)`` (every incident page is then re-published on its change).
PUBLIC_MODELS: set[type] = {Component, Incident, IncidentUpdate, ComponentChange,
                             # Planned maintenance: every page may list a window.
                             Maintenance, MaintenanceComponent, MaintenanceUpdate}


def _changes_in_flush(session: Session) -> tuple[bool, Optional[set[int]]]:
    changed, touched = False, set()
    for kind, objects in (("new", session.new), ("dirty", session.dirty),
                          ("deleted", session.deleted)):
        for obj in objects:
            if not isinstance(obj, tuple(PUBLIC_MODELS)):
                continue
            if kind == "dirty" and not session.is_modified(obj, include_collections=True):
                continue
            changed = True
            if isinstance(obj, (Component, Incident, IncidentUpdate, ComponentChange)):
                ids = _touched_incidents(session, obj, kind)
            else:
                ids = ALL
            if touched is not ALL:
                touched = ALL if ids is ALL else touched | ids
    return changed, touched


# --- The bump ----------------------------------------------------------------------------


def bump(connection: sa.Connection, now: datetime,
         incident_ids: Optional[Iterable[int]] = ALL) -> int:
    """Add one to the version (inserting the row if it is missing); returns the new one.

    ``incident_ids``: the incident pages the change shows on (``ALL``: every one).
    Runs on the caller's connection, so it commits or rolls back with the change.
    """
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(state_table).values(id=1, version=1, changed_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[state_table.c.id],
        set_={"version": state_table.c.version + 1, "changed_at": stmt.excluded.changed_at},
    ).returning(state_table.c.version)
    version = connection.execute(stmt).scalar_one()
    rows = ([{"version": version, "incident_id": None, "at": now}] if incident_ids is ALL else
            [{"version": version, "incident_id": i, "at": now} for i in sorted(incident_ids)])
    if rows:
        connection.execute(changes_table.insert(), rows)
    return version


def _after_flush(session: Session, _flush_context) -> None:
    changed, touched = _changes_in_flush(session)
    if not changed:
        return
    connection = session.connection()
    bump(connection, utcnow(), touched)
    session.info.setdefault(_PENDING, set()).add(connection.engine)


def _after_bulk(orm_execute_state) -> None:
    """An ORM ``update(Component)...``/``delete(...)`` skips the flush: bump for it too."""
    if not (orm_execute_state.is_update or orm_execute_state.is_delete
            or orm_execute_state.is_insert):
        return
    mappers = orm_execute_state.all_mappers
    if not any(m.class_ in PUBLIC_MODELS for m in mappers):
        return
    session = orm_execute_state.session
    connection = session.connection()
    bump(connection, utcnow(), ALL)
    session.info.setdefault(_PENDING, set()).add(connection.engine)


def _after_commit(session: Session) -> None:
    engines = session.info.pop(_PENDING, None)
    if engines:
        with _generation_lock:
            for engine in engines:
                _generations[id(engine)] = _generations.get(id(engine), 0) + 1


def _after_rollback(session: Session, *_args) -> None:
    session.info.pop(_PENDING, None)


def local_generation(engine: sa.Engine) -> int:
    """Counts commits in this process that changed the site through ``engine``."""
    return _generations.get(id(engine), 0)


# --- Reading -----------------------------------------------------------------------------


def read_version(connection: sa.Connection) -> tuple[int, Optional[datetime]]:
    """(version, changed_at); (0, None) before the first change."""
    row = connection.execute(
        sa.select(state_table.c.version, state_table.c.changed_at).where(state_table.c.id == 1)
    ).first()
    return (int(row[0]), row[1]) if row else (0, None)


def incidents_changed_since(connection: sa.Connection, version: int) -> Optional[set[int]]:
    """The incident pages changed by versions after ``version``: ids, or ``ALL``."""
    ids = set()
    for (incident_id,) in connection.execute(
        sa.select(changes_table.c.incident_id).where(changes_table.c.version > version)
        .distinct()
    ):
        if incident_id is None:
            return ALL
        ids.add(incident_id)
    return ids


def prune_changes(connection: sa.Connection, before: datetime) -> None:
    connection.execute(changes_table.delete().where(changes_table.c.at < before))


# --- Wiring ------------------------------------------------------------------------------

_SESSION_EVENTS = (
    ("after_flush", _after_flush),
    ("do_orm_execute", _after_bulk),
    ("after_commit", _after_commit),
    ("after_rollback", _after_rollback),
    ("after_soft_rollback", _after_rollback),
)


def init_app(app: Flask) -> None:
    """Listen on every Flask-SQLAlchemy session (once per process, however many apps)."""
    session_class = db.session.session_factory.class_
    for name, fn in _SESSION_EVENTS:
        if not event.contains(session_class, name, fn):
            event.listen(session_class, name, fn)
