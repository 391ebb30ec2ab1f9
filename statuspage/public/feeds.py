"""RSS 2.0 and Atom 1.0 feeds of incident and maintenance updates, site-wide and per
component; and the maintenance calendar (``/maintenance.ics``, written by ``ical``).

Each incident update and each maintenance update is one entry (a window's start, its
completion and its cancellation are updates); so is a window's scheduling and each move of
it (``window_events``). The data is read in a fixed number of queries into
plain ``FeedEntry`` values; ``render_rss`` and ``render_atom`` turn those into bytes and
are pure, so a cache can keep what they return. The views only add conditional GET.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, abort, current_app, request
from markupsafe import escape

from .. import ical, queries
from ..clock import utcnow
from ..data_impact import DataImpact, current_data_impact
from ..models import INCIDENT_STATUS_LABELS, IncidentUpdate, MaintenanceUpdate
from ..present import (
    MAINTENANCE_STATUS_LABELS,
    front_page_url,
    impact_lines,
    incident_url,
    local_time,
    maintenance_url,
    plain,
    public_text,
    template_lines,
)
from ..web.markers import cacheable
from . import window_events

bp = Blueprint("feeds", __name__)

#: The most entries a feed holds, newest first.
FEED_SIZE = 50
#: How long a reader or proxy may reuse a feed without asking again.
CACHE_SECONDS = 30
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"


# --- Plain data ------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedEntry:
    """One incident or maintenance update as a feed shows it."""

    update_id: int
    #: The incident's id, or the maintenance window's (``kind`` says which).
    parent_id: int
    issue: str
    status: str
    impact: str
    actions: str
    workaround: str
    next_update_at: Optional[datetime]
    posted_at: datetime
    #: When the entry last changed (a redaction changes it).
    updated_at: datetime
    #: When the incident (or window) last changed (an edited issue renames the entry).
    parent_updated_at: datetime
    redacted: bool
    kind: str = "incident"
    #: A maintenance window's (start, end), said in each of its entries.
    window: Optional[tuple[datetime, datetime]] = None
    #: The incident's impact block, on its newest entry only: the block says what is true
    #: now, which an older update did not say.
    data_impact: Optional[DataImpact] = None
    #: What the entry tells of a window: an ``update``, that it was ``scheduled`` (for
    #: ``window``) or ``rescheduled`` (to ``window``, from ``moved_from``).
    event: str = "update"
    moved_from: Optional[tuple[datetime, datetime]] = None
    #: A window's "What you will notice", said when it is scheduled.
    description: str = ""


@dataclass(frozen=True)
class FeedInfo:
    """What a feed says about itself."""

    title: str
    subtitle: str
    #: The HTML page this feed follows.
    page_url: str
    #: Absolute URLs of this feed in both formats.
    rss_url: str
    atom_url: str
    #: The feed's permanent Atom id.
    feed_id: str


def _entry(update: IncidentUpdate | MaintenanceUpdate, parent, **extra) -> FeedEntry:
    """An entry for an incident's or a window's update (``parent``)."""
    impact, actions, workaround = public_text(update)
    return FeedEntry(
        update_id=update.id, parent_id=parent.id, issue=parent.title, status=update.status,
        impact=impact, actions=actions, workaround=workaround,
        next_update_at=update.next_update_at, posted_at=update.posted_at,
        updated_at=max(update.posted_at, update.redacted_at or update.posted_at),
        parent_updated_at=parent.updated_at, redacted=update.redacted_at is not None,
        **extra,
    )


def entry_from_update(update: IncidentUpdate, newest: bool = False) -> FeedEntry:
    incident = update.incident
    return _entry(update, incident,
                  data_impact=current_data_impact(incident) if newest else None)


def entry_from_maintenance_update(update: MaintenanceUpdate) -> FeedEntry:
    window = update.maintenance
    return _entry(update, window, kind="maintenance",
                  window=(window.scheduled_for, window.scheduled_until))


def entry_from_announced(found: window_events.Announced) -> FeedEntry:
    """A window scheduled: its id is the window's (one such entry per window)."""
    window = found.window
    return FeedEntry(
        update_id=window.id, parent_id=window.id, issue=window.title, status="scheduled",
        impact="", actions="", workaround=window.workaround, next_update_at=None,
        posted_at=window.created_at, updated_at=window.created_at,
        parent_updated_at=window.updated_at, redacted=False, kind="maintenance",
        window=found.times, event="scheduled", description=window.description)


def entry_from_move(found: window_events.Moved) -> FeedEntry:
    """A window moved: its id is the audit event's."""
    window = found.window
    return FeedEntry(
        update_id=found.event_id, parent_id=window.id, issue=window.title,
        status=window.status, impact="", actions="", workaround="", next_update_at=None,
        posted_at=found.at, updated_at=found.at, parent_updated_at=window.updated_at,
        redacted=False, kind="maintenance", window=found.after, event="rescheduled",
        moved_from=found.before)


def _newest_first(entries: list[FeedEntry]) -> list[FeedEntry]:
    """Newest first; at one instant, a window's scheduling before what followed it."""
    return sorted(entries, key=lambda e: (e.posted_at, e.event != "scheduled",
                                          e.kind == "incident", e.update_id), reverse=True)


def load_entries(component_id: Optional[int] = None, limit: int = FEED_SIZE) -> list[FeedEntry]:
    """The newest incident and maintenance updates, windows scheduled and windows moved (of
    those of one component, if given), newest first: six queries."""
    entries, seen = [], set()
    for update in queries.newest_updates(limit, component_id):
        # Newest first: an incident's first entry here is its newest update.
        entries.append(entry_from_update(update, newest=update.incident_id not in seen))
        seen.add(update.incident_id)
    entries += [entry_from_maintenance_update(u)
                for u in queries.newest_maintenance_updates(limit, component_id)]
    entries += [entry_from_announced(w) for w in window_events.announced(limit, component_id)]
    entries = _newest_first(entries)
    # A move older than the oldest of these that the feed keeps could not be shown: the
    # audit trail is read no further back (its cost follows the feed's, not the history's).
    since = entries[limit - 1].posted_at if len(entries) >= limit else queries.NEVER
    entries += [entry_from_move(m) for m in window_events.moves(limit, since, component_id)]
    return _newest_first(entries)[:limit]


# --- Rendering (pure) ------------------------------------------------------------------


def entry_page(public_url: str, entry: FeedEntry) -> str:
    """The public page of the entry's incident or maintenance window."""
    if entry.kind == "maintenance":
        return maintenance_url(entry.parent_id, public_url)
    return incident_url(entry.parent_id, public_url)


def entry_id(public_url: str, entry: FeedEntry) -> str:
    """Never changes: neither a new update nor an edit or redaction moves it."""
    if entry.event == "scheduled":
        return f"{entry_page(public_url, entry)}#scheduled"
    if entry.event == "rescheduled":
        return f"{entry_page(public_url, entry)}#rescheduled-{entry.update_id}"
    return f"{entry_page(public_url, entry)}#update-{entry.update_id}"


def entry_title(entry: FeedEntry) -> str:
    if entry.event == "rescheduled":
        label = "Maintenance rescheduled"
    elif entry.kind == "maintenance":
        label = "Maintenance " + MAINTENANCE_STATUS_LABELS[entry.status].lower()
    else:
        label = INCIDENT_STATUS_LABELS.get(entry.status, entry.status.capitalize())
    return f"[{label}] {plain(entry.issue, single_line=True)}"


def entry_lines(entry: FeedEntry, tz: ZoneInfo) -> list[tuple[str, str]]:
    lines = template_lines(entry.impact, entry.actions, entry.workaround,
                           entry.next_update_at, tz)
    if entry.event == "scheduled" and entry.description:
        lines.insert(0, ("What you will notice", plain(entry.description)))
    if entry.moved_from is not None:
        lines.insert(0, ("Moved from", _span(entry.moved_from, tz)))
    if entry.window is not None:
        cancelled = entry.event == "update" and entry.status == "cancelled"
        label = "Was planned" if cancelled else "Window"
        lines.insert(0, (label, _span(entry.window, tz)))
    if entry.data_impact is not None:
        lines += impact_lines(entry.data_impact, tz, told_at=entry.posted_at)
    return lines


def _span(times: tuple[datetime, datetime], tz: ZoneInfo) -> str:
    return f"{local_time(times[0], tz)} to {local_time(times[1], tz)}"


def entry_html(entry: FeedEntry, tz: ZoneInfo) -> str:
    """Escaped HTML: readers treat RSS descriptions as HTML, so plain text is escaped
    once here (and once more by the XML serializer): ``<script>`` shows as text."""
    paragraphs = []
    for label, value in entry_lines(entry, tz):
        body = "<br>".join(str(escape(line)) for line in value.split("\n"))
        paragraphs.append(f"<p><strong>{escape(label)}:</strong> {body}</p>")
    return "\n".join(paragraphs)


def feed_updated(entries: Sequence[FeedEntry]) -> datetime:
    """The newest change a component's feed shows (an entry or the issue it is titled
    with); ``queries.NEVER`` when it has no entry yet (Atom requires some ``updated``)."""
    times = [t for e in entries for t in (e.updated_at, e.parent_updated_at)]
    return max(times) if times else queries.NEVER


def _generator(entries: Sequence[FeedEntry], info: FeedInfo, self_url: str, self_type: str,
               public_url: str, tz: ZoneInfo, updated: datetime) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(info.feed_id)
    fg.title(plain(info.title, single_line=True))
    fg.subtitle(plain(info.subtitle, single_line=True))
    fg.language("en")
    fg.generator("statuspage")
    # RSS takes its one <link> from the last link given: the HTML page, so it comes last.
    fg.link(href=self_url, rel="self", type=self_type)
    fg.link(href=info.page_url, rel="alternate", type="text/html")
    fg.updated(updated)
    for entry in entries:
        fe = fg.add_entry(order="append")
        fe.guid(entry_id(public_url, entry), permalink=False)
        fe.title(entry_title(entry))
        fe.link(href=entry_page(public_url, entry), rel="alternate",
                type="text/html")
        fe.content(entry_html(entry, tz), type="html")
        fe.published(entry.posted_at)
        fe.updated(entry.updated_at)
    return fg


def render_rss(entries: Sequence[FeedEntry], info: FeedInfo, *, public_url: str,
               tz: ZoneInfo, updated: datetime) -> bytes:
    """RSS 2.0 bytes for these entries (newest first, as given), last changed ``updated``."""
    fg = _generator(entries, info, info.rss_url, "application/rss+xml", public_url, tz,
                    updated)
    return fg.rss_str(pretty=True)


def render_atom(entries: Sequence[FeedEntry], info: FeedInfo, *, public_url: str,
                tz: ZoneInfo, updated: datetime) -> bytes:
    """Atom 1.0 bytes for these entries (newest first, as given), last changed ``updated``."""
    fg = _generator(entries, info, info.atom_url, "application/atom+xml", public_url, tz,
                    updated)
    return fg.atom_str(pretty=True)


def _feed_info(title: str, subtitle: str, public_url: str, base: str) -> FeedInfo:
    return FeedInfo(title=title, subtitle=subtitle, page_url=front_page_url(public_url),
                    rss_url=f"{base}/feed.rss", atom_url=f"{base}/feed.atom",
                    feed_id=f"{base}/feed.atom")


def site_feed_info(public_url: str, site_name: str) -> FeedInfo:
    return _feed_info(f"{site_name} Status",
                      f"Every incident and maintenance update posted on the {site_name} "
                      "status page.",
                      public_url, public_url)


def component_feed_info(public_url: str, site_name: str, component_id: int,
                        component_name: str) -> FeedInfo:
    return _feed_info(f"{site_name} Status: {component_name}",
                      f"Updates on incidents and maintenance affecting {component_name}.",
                      public_url, f"{public_url}/components/{component_id}")


# --- Views -----------------------------------------------------------------------------


def _conditional(body: bytes, content_type: str, last_modified: datetime) -> Response:
    response = Response(body, content_type=content_type)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if last_modified > queries.NEVER:
        response.last_modified = last_modified
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response.make_conditional(request)


def _serve(entries: list[FeedEntry], info: FeedInfo, fmt: str, updated: datetime) -> Response:
    config = current_app.config
    tz = ZoneInfo(config["SITE_TIMEZONE"])
    render = render_rss if fmt == "rss" else render_atom
    body = render(entries, info, public_url=config["PUBLIC_URL"], tz=tz, updated=updated)
    return _conditional(body, RSS_TYPE if fmt == "rss" else ATOM_TYPE, updated)


def _site_feed(fmt: str) -> Response:
    # The site feed's "updated" is the page's last public change (one more query), so
    # the feed, the front page's "Last updated" and the API's page.updated_at agree.
    config = current_app.config
    info = site_feed_info(config["PUBLIC_URL"], config["SITE_NAME"])
    return _serve(load_entries(), info, fmt, queries.last_public_change())


@bp.route("/feed.rss")
@cacheable
def rss():
    return _site_feed("rss")


@bp.route("/feed.atom")
@cacheable
def atom():
    return _site_feed("atom")


def _component_feed(component_id: int, fmt: str) -> Response:
    component = queries.find_component(component_id)
    if component is None:
        abort(404)
    config = current_app.config
    info = component_feed_info(config["PUBLIC_URL"], config["SITE_NAME"], component.id,
                               component.name)
    entries = load_entries(component.id)
    return _serve(entries, info, fmt, feed_updated(entries))


@bp.route("/components/<int:component_id>/feed.rss")
@cacheable
def component_rss(component_id: int):
    return _component_feed(component_id, "rss")


@bp.route("/components/<int:component_id>/feed.atom")
@cacheable
def component_atom(component_id: int):
    return _component_feed(component_id, "atom")



# --- The maintenance calendar ------------------------------------------------------------

#: How far back the calendar keeps windows (they start no earlier than this).
CALENDAR_PAST_DAYS = 30


@bp.route("/maintenance.ics")
@cacheable
def maintenance_calendar():
    """Upcoming and recent maintenance windows (cancelled ones too) as an iCalendar feed."""
    config = current_app.config
    windows = queries.calendar_maintenances(utcnow() - timedelta(days=CALENDAR_PAST_DAYS))
    body = ical.calendar_bytes(windows, config["SITE_NAME"], config["PUBLIC_URL"])
    changed = max((w.updated_at for w in windows), default=queries.NEVER)
    return _conditional(body, ical.CONTENT_TYPE, changed)
