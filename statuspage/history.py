"""The history's read model: incidents and maintenance windows in one list, newest first,
by the time each began (an incident's start, a window's scheduled start), paged together.

A fixed number of queries per page, however long the history grows (``queries`` loads
each row's timeline).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable
from zoneinfo import ZoneInfo

from .extensions import db
from .models import Incident, Maintenance
from .queries import HISTORY_STATUSES, timeline_options, windows_with_updates


def _keys(newest: int | None = None):
    """Every history row as (kind, id, at); with ``newest``, only the ``newest`` latest of
    each kind (each read from one end of its index: the page's cost stays flat however
    long the history grows)."""
    incidents = db.select(db.literal("incident", db.String).label("kind"),
                          Incident.id.label("id"), Incident.started_at.label("at"))
    windows = (db.select(db.literal("maintenance", db.String).label("kind"),
                         Maintenance.id.label("id"), Maintenance.scheduled_for.label("at"))
               .where(Maintenance.status.in_(HISTORY_STATUSES)))
    if newest is not None:
        incidents = (incidents.order_by(Incident.started_at.desc(), Incident.id.desc())
                     .limit(newest).subquery().select())
        windows = (windows.order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
                   .limit(newest).subquery().select())
    return db.union_all(incidents, windows).subquery()


def count() -> int:
    """How many rows the history lists: every incident and every begun or past window."""
    incidents = db.session.scalar(db.select(db.func.count(Incident.id))) or 0
    windows = db.session.scalar(db.select(db.func.count(Maintenance.id)).where(
        Maintenance.status.in_(HISTORY_STATUSES))) or 0
    return incidents + windows


def rows_before(incident: Incident) -> int:
    """How many history rows stand before this incident (the publisher's page of it)."""
    keys = _keys()
    at = incident.started_at
    return db.session.scalar(
        db.select(db.func.count()).select_from(keys).where(db.or_(
            keys.c.at > at,
            db.and_(keys.c.at == at, keys.c.kind > "incident"),
            db.and_(keys.c.at == at, keys.c.kind == "incident", keys.c.id > incident.id))))


def page_of(page: int, per_page: int) -> tuple[list, int]:
    """One page of the history (incidents and windows, newest first) and its total.

    A fixed number of queries: the total, the page's keys, then its incidents and its
    windows with their loaders.
    """
    total = count()
    keys = _keys(newest=page * per_page)
    shown = (db.select(keys.c.kind, keys.c.id)
             .order_by(keys.c.at.desc(), keys.c.kind.desc(), keys.c.id.desc())
             .limit(per_page).offset((page - 1) * per_page))
    rows = db.session.execute(shown).all()
    # The rows by the page's own query, not by a list of their ids: ``IN (?, ?, ...)`` is a
    # new SQL text for each count, and SQLite's driver keeps each text compiled (issue 21).
    shown = shown.subquery()
    found: dict[tuple[str, int], object] = {}
    for incident in db.session.scalars(
            db.select(Incident).where(Incident.id.in_(
                db.select(shown.c.id).where(shown.c.kind == "incident")))
            .options(*timeline_options())):
        found[("incident", incident.id)] = incident
    for window in windows_with_updates(
            db.select(Maintenance).where(Maintenance.id.in_(
                db.select(shown.c.id).where(shown.c.kind == "maintenance")))):
        found[("maintenance", window.id)] = window
    return [found[(kind, i)] for kind, i in rows if (kind, i) in found], total


def began_at(row) -> datetime:
    """When a history row began: an incident's start, a window's scheduled start."""
    return row.scheduled_for if isinstance(row, Maintenance) else row.started_at


def by_month(rows: Iterable, tz: ZoneInfo) -> list[tuple[str, list]]:
    """History rows (in the order given) gathered under the month of their start in ``tz``:
    [("November 2026", [...]), ...], one group per run of the same month."""
    months: list[tuple[str, list]] = []
    for incident in rows:
        label = began_at(incident).astimezone(tz).strftime("%B %Y")
        if months and months[-1][0] == label:
            months[-1][1].append(incident)
        else:
            months.append((label, [incident]))
    return months
