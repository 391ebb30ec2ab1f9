"""RSS 2.0 and Atom 1.0 feeds of incident updates, site-wide and per component.

Each incident update is one entry. The data is read in a fixed number of queries into
plain ``FeedEntry`` values; ``render_rss`` and ``render_atom`` turn those into bytes and
are pure, so a cache can keep what they return. The views only add conditional GET.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, abort, current_app, request
from markupsafe import escape

from .extensions import db
from .models import INCIDENT_STATUS_LABELS, Component, IncidentUpdate, incident_components
from .text import clean_text
from .web.markers import cacheable

bp = Blueprint("feeds", __name__)

#: The most entries a feed holds, newest first.
FEED_SIZE = 50
#: How long a reader or proxy may reuse a feed without asking again.
CACHE_SECONDS = 30
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
REDACTED = "[redacted]"
#: The ``updated`` of a feed that has no entry yet (Atom requires one).
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Beyond this PostgreSQL's integer column raises instead of finding nothing.
_MAX_ID = 2**31 - 1


# --- Plain data ------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedEntry:
    """One incident update as a feed shows it."""

    update_id: int
    incident_id: int
    issue: str
    status: str
    impact: str
    actions: str
    workaround: str
    next_update_at: Optional[datetime]
    posted_at: datetime
    #: When the entry last changed (a redaction changes it).
    updated_at: datetime
    #: When the incident last changed (an edited issue renames the entry).
    incident_updated_at: datetime
    redacted: bool


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


def public_text(update: IncidentUpdate) -> tuple[str, str, str]:
    """(impact, actions, workaround) as the public may read them: "[redacted]" once an
    admin redacted the update, whatever the row still holds."""
    if update.redacted_at is not None:
        return REDACTED, REDACTED, REDACTED if update.workaround else ""
    return update.impact, update.actions, update.workaround


def entry_from_update(update: IncidentUpdate) -> FeedEntry:
    incident = update.incident
    impact, actions, workaround = public_text(update)
    return FeedEntry(
        update_id=update.id,
        incident_id=incident.id,
        issue=incident.title,
        status=update.status,
        impact=impact,
        actions=actions,
        workaround=workaround,
        next_update_at=update.next_update_at,
        posted_at=update.posted_at,
        updated_at=max(update.posted_at, update.redacted_at or update.posted_at),
        incident_updated_at=incident.updated_at,
        redacted=update.redacted_at is not None,
    )


def load_entries(component_id: Optional[int] = None, limit: int = FEED_SIZE) -> list[FeedEntry]:
    """The newest updates (of one component's incidents, if given): two queries."""
    query = (
        db.select(IncidentUpdate)
        .options(db.selectinload(IncidentUpdate.incident))
        .order_by(IncidentUpdate.posted_at.desc(), IncidentUpdate.id.desc())
        .limit(limit)
    )
    if component_id is not None:
        query = query.join(
            incident_components,
            incident_components.c.incident_id == IncidentUpdate.incident_id,
        ).where(incident_components.c.component_id == component_id)
    return [entry_from_update(u) for u in db.session.scalars(query)]


def find_component(component_id: int) -> Optional[Component]:
    if not 0 < component_id <= _MAX_ID:
        return None
    return db.session.get(Component, component_id)


# --- Rendering (pure) ------------------------------------------------------------------


def incident_url(public_url: str, incident_id: int) -> str:
    return f"{public_url}/incidents/{incident_id}"


def entry_id(public_url: str, entry: FeedEntry) -> str:
    """Never changes: neither a new update nor an edit or redaction moves it."""
    return f"{incident_url(public_url, entry.incident_id)}#update-{entry.update_id}"


def _text(value: str, *, single_line: bool = False) -> str:
    # Stored text was cleaned on the way in; clean again so that a row written some other
    # way can never make lxml raise (NUL, control characters) or reverse a line (U+202E).
    return clean_text(value, single_line=single_line)


def _format_time(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def entry_title(entry: FeedEntry) -> str:
    label = INCIDENT_STATUS_LABELS.get(entry.status, entry.status.capitalize())
    return f"[{label}] {_text(entry.issue, single_line=True)}"


def template_lines(impact: str, actions: str, workaround: str,
                   next_update_at: Optional[datetime], tz: ZoneInfo) -> list[tuple[str, str]]:
    """An update's template fields as (label, plain text), without the empty ones.

    Shared by the feeds and the JSON API's ``body``.
    """
    lines = [("Impact", _text(impact)), ("Actions", _text(actions)),
             ("Workaround", _text(workaround))]
    if next_update_at is not None:
        lines.append(("Next Update", _format_time(next_update_at, tz)))
    return [(label, value) for label, value in lines if value]


def entry_lines(entry: FeedEntry, tz: ZoneInfo) -> list[tuple[str, str]]:
    return template_lines(entry.impact, entry.actions, entry.workaround, entry.next_update_at,
                          tz)


def entry_html(entry: FeedEntry, tz: ZoneInfo) -> str:
    """Escaped HTML: readers treat RSS descriptions as HTML, so plain text is escaped
    once here (and once more by the XML serializer): ``<script>`` shows as text."""
    paragraphs = []
    for label, value in entry_lines(entry, tz):
        body = "<br>".join(str(escape(line)) for line in value.split("\n"))
        paragraphs.append(f"<p><strong>{escape(label)}:</strong> {body}</p>")
    return "\n".join(paragraphs)


def feed_updated(entries: Sequence[FeedEntry]) -> datetime:
    """The newest change the feed shows (an entry or the issue it is titled with)."""
    times = [t for e in entries for t in (e.updated_at, e.incident_updated_at)]
    return max(times) if times else EMPTY_FEED_UPDATED


def _generator(entries: Sequence[FeedEntry], info: FeedInfo, self_url: str, self_type: str,
               public_url: str, tz: ZoneInfo) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(info.feed_id)
    fg.title(_text(info.title, single_line=True))
    fg.subtitle(_text(info.subtitle, single_line=True))
    fg.language("en")
    fg.generator("statuspage")
    # RSS takes its one <link> from the last link given: the HTML page, so it comes last.
    fg.link(href=self_url, rel="self", type=self_type)
    fg.link(href=info.page_url, rel="alternate", type="text/html")
    fg.updated(feed_updated(entries))
    for entry in entries:
        fe = fg.add_entry(order="append")
        fe.guid(entry_id(public_url, entry), permalink=False)
        fe.title(entry_title(entry))
        fe.link(href=incident_url(public_url, entry.incident_id), rel="alternate",
                type="text/html")
        fe.content(entry_html(entry, tz), type="html")
        fe.published(entry.posted_at)
        fe.updated(entry.updated_at)
    return fg


def render_rss(entries: Sequence[FeedEntry], info: FeedInfo, *, public_url: str,
               tz: ZoneInfo) -> bytes:
    """RSS 2.0 bytes for these entries (newest first, as given)."""
    fg = _generator(entries, info, info.rss_url, "application/rss+xml", public_url, tz)
    return fg.rss_str(pretty=True)


def render_atom(entries: Sequence[FeedEntry], info: FeedInfo, *, public_url: str,
                tz: ZoneInfo) -> bytes:
    """Atom 1.0 bytes for these entries (newest first, as given)."""
    fg = _generator(entries, info, info.atom_url, "application/atom+xml", public_url, tz)
    return fg.atom_str(pretty=True)


def site_feed_info(public_url: str, site_name: str) -> FeedInfo:
    return FeedInfo(
        title=f"{site_name} Status",
        subtitle=f"Every incident update posted on the {site_name} status page.",
        page_url=f"{public_url}/",
        rss_url=f"{public_url}/feed.rss",
        atom_url=f"{public_url}/feed.atom",
        feed_id=f"{public_url}/feed.atom",
    )


def component_feed_info(public_url: str, site_name: str, component_id: int,
                        component_name: str) -> FeedInfo:
    base = f"{public_url}/components/{component_id}"
    return FeedInfo(
        title=f"{site_name} Status: {component_name}",
        subtitle=f"Updates on incidents affecting {component_name}.",
        page_url=f"{public_url}/",
        rss_url=f"{base}/feed.rss",
        atom_url=f"{base}/feed.atom",
        feed_id=f"{base}/feed.atom",
    )


# --- Views -----------------------------------------------------------------------------


def _conditional(body: bytes, content_type: str, last_modified: datetime) -> Response:
    response = Response(body, content_type=content_type)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if last_modified > EMPTY_FEED_UPDATED:
        response.last_modified = last_modified
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response.make_conditional(request)


def _serve(entries: list[FeedEntry], info: FeedInfo, fmt: str) -> Response:
    config = current_app.config
    tz = ZoneInfo(config["SITE_TIMEZONE"])
    if fmt == "rss":
        body = render_rss(entries, info, public_url=config["PUBLIC_URL"], tz=tz)
        content_type = RSS_TYPE
    else:
        body = render_atom(entries, info, public_url=config["PUBLIC_URL"], tz=tz)
        content_type = ATOM_TYPE
    return _conditional(body, content_type, feed_updated(entries))


@bp.route("/feed.rss")
@cacheable
def rss():
    config = current_app.config
    info = site_feed_info(config["PUBLIC_URL"], config["SITE_NAME"])
    return _serve(load_entries(), info, "rss")


@bp.route("/feed.atom")
@cacheable
def atom():
    config = current_app.config
    info = site_feed_info(config["PUBLIC_URL"], config["SITE_NAME"])
    return _serve(load_entries(), info, "atom")


def _component_feed(component_id: int, fmt: str) -> Response:
    component = find_component(component_id)
    if component is None:
        abort(404)
    config = current_app.config
    info = component_feed_info(config["PUBLIC_URL"], config["SITE_NAME"], component.id,
                               component.name)
    return _serve(load_entries(component.id), info, fmt)


@bp.route("/components/<int:component_id>/feed.rss")
@cacheable
def component_rss(component_id: int):
    return _component_feed(component_id, "rss")


@bp.route("/components/<int:component_id>/feed.atom")
@cacheable
def component_atom(component_id: int):
    return _component_feed(component_id, "atom")

