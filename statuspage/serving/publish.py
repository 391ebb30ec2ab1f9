"""Static publishing: the public site as files that nginx, object storage or a CDN serve.

``flask --app statuspage publish DIR`` writes every public path once; ``flask --app
statuspage publisher`` (started by ``serve`` when ``STATIC_EXPORT_DIR`` is set) keeps
``STATIC_EXPORT_DIR`` up to date: it looks at the site version every
``PUBLISH_INTERVAL_SECONDS`` and, on a change, renders again the pages that change shows
on (the front page, history, feeds, API, badge, embed, and the incident pages named in
``site_changes``), so a change is on disk within about a second of its commit.

The bytes come from the views themselves (``render_cache.render``, the same canonical
request the public cache uses). Every file is written to a temporary name in its own
folder and renamed over the old one, so a reader never sees half a file; a file whose
bytes did not change is not touched (its mtime, and so nginx's ETag, stay). Text files
get a ``.gz`` beside them for nginx's ``gzip_static`` (``statuspage.nginx`` writes the
configuration).

Paths and files: ``/`` -> ``index.html``, ``/incidents/7`` -> ``incidents/7/index.html``,
``/maintenance/3`` -> ``maintenance/3/index.html``, ``/maintenance.ics`` -> ``maintenance.ics``,
``/history?page=3`` -> ``history/page/3/index.html``, ``/feed.rss`` -> ``feed.rss``.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Iterable, Optional

import click
from flask import Flask, current_app

from .. import history
from . import site_state
from ..clock import utcnow
from ..extensions import db
from ..models import Component, Incident, Maintenance
from .render_cache import compressible, gzip_bytes, render
from ..web.markers import view_markers

log = logging.getLogger("statuspage.publish")

_TMP_PREFIX = ".tmp-publish-"
#: The site version the files on disk show, so a restarted publisher renders only what
#: changed since (a stamp older than the pruned change log means everything).
STAMP = ".published-version"
STAMP_MAX_AGE_SECONDS = 20 * 3600


def file_for(path: str, query: str = "") -> str:
    """The file (relative to the export's root) that serves ``path?query``.

    A query (one parameter: the publisher writes only ``?page=N``) becomes folders:
    ``/history?page=3`` -> ``history/page/3/index.html``.
    """
    rel = path.lstrip("/")
    if query:
        name, _, value = query.partition("=")
        return f"{rel}/{name}/{value}/index.html"
    if not rel or rel.endswith("/"):
        return rel + "index.html"
    if "." in rel.rsplit("/", 1)[-1]:
        return rel
    return rel + "/index.html"


@dataclass
class SitePaths:
    """Every public path, in the order they are best written (pages linked to first)."""

    incidents: list[tuple[str, str]] = field(default_factory=list)
    maintenances: list[tuple[str, str]] = field(default_factory=list)
    pages: list[tuple[str, str]] = field(default_factory=list)
    history: list[tuple[str, str]] = field(default_factory=list)

    def all(self) -> list[tuple[str, str]]:
        return self.incidents + self.maintenances + self.pages + self.history


def _inner(app: Flask):
    wsgi = app.wsgi_app
    return getattr(wsgi, "app", wsgi)  # the views, not the public cache around them


def site_paths(app: Flask, incident_ids: Optional[Iterable[int]] = None,
               maintenance_ids: Optional[Iterable[int]] = None) -> SitePaths:
    """The cacheable GET routes of the app (its views marked ``@cacheable``), each
    id-taking route once per id, and every page of a paged one (``?page=N``).

    ``incident_ids``, ``maintenance_ids``: only these incident and maintenance pages
    (None: every one).
    """
    with app.app_context():
        if incident_ids is None:
            incident_ids = list(db.session.scalars(db.select(Incident.id).order_by(Incident.id)))
        if maintenance_ids is None:
            maintenance_ids = list(db.session.scalars(
                db.select(Maintenance.id).order_by(Maintenance.id)))
        component_ids = list(db.session.scalars(db.select(Component.id).order_by(Component.id)))
        total = history.count()  # incidents and windows share the history's pages
        db.session.remove()
    per_page = app.config["HISTORY_PAGE_SIZE"]
    pages = max(1, -(-total // per_page))
    adapter = app.url_map.bind("localhost")
    markers = view_markers(app)
    paths = SitePaths()
    for rule in markers.cacheable_rules:
        if rule.arguments == set():
            built = [adapter.build(rule.endpoint, {})]
        elif rule.arguments == {"incident_id"}:
            built = [adapter.build(rule.endpoint, {"incident_id": i}) for i in incident_ids]
        elif rule.arguments == {"maintenance_id"}:
            built = [adapter.build(rule.endpoint, {"maintenance_id": i})
                     for i in maintenance_ids]
        elif rule.arguments == {"component_id"}:
            built = [adapter.build(rule.endpoint, {"component_id": i}) for i in component_ids]
        else:
            continue
        paged = "page" in markers.cacheable[rule.endpoint].query
        for path in built:
            target = {frozenset({"incident_id"}): paths.incidents,
                      frozenset({"maintenance_id"}): paths.maintenances}.get(
                          frozenset(rule.arguments), paths.pages)
            target.append((path, ""))
            if paged:  # the history: as many pages as the incidents fill
                paths.history.extend((path, f"page={n}") for n in range(1, pages + 1))
    return paths


def write_atomically(path: Path, data: bytes) -> bool:
    """Replace ``path`` by ``data`` in one rename; False when it already held them."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f"{_TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{path.name}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


class Publisher:
    """Writes the public site into ``root`` and keeps it current."""

    def __init__(self, app: Flask, root: str | os.PathLike):
        self.app = app
        self.root = Path(root)
        self.version: Optional[int] = None
        self.refreshed_at = float("-inf")
        self.written = 0
        self.incident_count: Optional[int] = None

    # --- One path ----------------------------------------------------------------------

    def publish_path(self, path: str, query: str = "") -> Optional[int]:
        """Render one path and write it (and its .gz); returns the status."""
        # A fresh app context per render (the request inside reuses it): a new session,
        # so every render reads the database afresh, never an earlier render's objects.
        with self.app.app_context():
            try:
                rendered = render(_inner(self.app), self.app, path, query)
            finally:
                db.session.remove()
        target = self.root / file_for(path, query)
        if rendered.status == 404:
            for stale in (target, target.with_name(target.name + ".gz")):
                stale.unlink(missing_ok=True)  # an incident deleted: its page goes
            return 404
        if rendered.status != 200:
            log.warning("publish: %s answered %s; the old file stays", path, rendered.status)
            return rendered.status
        if compressible(rendered.headers):
            if write_atomically(target.with_name(target.name + ".gz"),
                                gzip_bytes(rendered.body)):
                self.written += 1
        if write_atomically(target, rendered.body):
            self.written += 1
        return 200

    def publish_paths(self, paths: Iterable[tuple[str, str]]) -> None:
        for path, query in paths:
            self.publish_path(path, query)

    # --- The whole site ----------------------------------------------------------------

    def publish_all(self) -> int:
        """Write every public path and the static files; returns the version published."""
        version = self._read_version()
        self.root.mkdir(parents=True, exist_ok=True)
        self.copy_static()
        paths = site_paths(self.app)
        self.publish_paths(paths.all())
        self._remove_stale_history(paths)
        self.version = version
        self._write_stamp(version)
        return version

    def _read_stamp(self) -> Optional[int]:
        stamp = self.root / STAMP
        try:
            if time.time() - stamp.stat().st_mtime > STAMP_MAX_AGE_SECONDS:
                return None
            return int(stamp.read_text().strip())
        except (OSError, ValueError):
            return None

    def _write_stamp(self, version: int) -> None:
        stamp = self.root / STAMP
        stamp.unlink(missing_ok=True)  # a fresh mtime even when the version is the same
        write_atomically(stamp, f"{version}\n".encode())

    def copy_static(self) -> None:
        static = Path(self.app.static_folder)
        for source in sorted(static.rglob("*")):
            if source.is_file():
                data = source.read_bytes()
                target = self.root / "static" / source.relative_to(static)
                write_atomically(target, data)
                if len(data) >= 100 and source.suffix in (".css", ".js", ".svg", ".txt"):
                    write_atomically(target.with_name(target.name + ".gz"), gzip_bytes(data))

    def _remove_stale_history(self, paths: SitePaths) -> None:
        keep = {self.root / file_for(p, q) for p, q in paths.history}
        folder = self.root / "history" / "page"
        if folder.is_dir():
            for page in folder.iterdir():
                index = page / "index.html"
                if index not in keep:
                    shutil.rmtree(page, ignore_errors=True)

    # --- Keeping it current -------------------------------------------------------------

    def tick(self, now: float) -> bool:
        """Publish what changed since the last tick; True when anything was rendered."""
        version = self._read_version()
        refresh_due = now - self.refreshed_at >= self.app.config["PUBLISH_REFRESH_SECONDS"]
        if self.version is None:
            self.version = self._read_stamp()
            refresh_due = True
        if self.version is None or version < self.version:  # a new export, or a new database
            self.publish_all()
            self.refreshed_at = now
            return True
        if version == self.version and not refresh_due:
            return False
        with self.app.app_context(), db.engine.connect() as conn:
            changed = site_state.incidents_changed_since(conn, self.version)
        if refresh_due:
            # What changes with time alone: the front page, feeds, API, and the pages
            # of incidents still open (their "ongoing for" times).
            with self.app.app_context():
                open_ids = set(db.session.scalars(
                    db.select(Incident.id).where(Incident.status != "resolved")))
                db.session.remove()
            changed = None if changed is None else changed | open_ids
        # A window's change touches every page (site_state.PUBLIC_MODELS), so its pages
        # are rendered again only then: nothing on them changes with time alone.
        paths = site_paths(self.app, incident_ids=changed,
                           maintenance_ids=None if changed is None else ())
        history = self._history_pages(changed)
        self.publish_paths(paths.incidents)
        self.publish_paths(paths.maintenances)
        self.publish_paths(paths.pages)
        self.publish_paths(p for p in paths.history
                           if history is None or int(p[1].partition("=")[2]) in history)
        self._remove_stale_history(paths)
        self.version = version
        self._write_stamp(version)
        if refresh_due:
            self.refreshed_at = now
            with self.app.app_context(), db.engine.begin() as conn:
                site_state.prune_changes(conn, utcnow() - timedelta(days=1))
        return True

    def _history_pages(self, changed: Optional[set[int]]) -> Optional[set[int]]:
        """The history pages showing the changed incidents (None: every page).

        A new incident (the count changed) or a change of every page shifts them all;
        otherwise only the pages the changed incidents stand on, and the first.
        """
        with self.app.app_context():
            total = history.count()
            try:
                if changed is None or total != self.incident_count:
                    return None
                per_page = self.app.config["HISTORY_PAGE_SIZE"]
                pages = {1}
                for incident in db.session.scalars(
                        db.select(Incident).where(Incident.id.in_(changed))):
                    pages.add(history.rows_before(incident) // per_page + 1)
                return pages
            finally:
                self.incident_count = total
                db.session.remove()

    def _read_version(self) -> int:
        with self.app.app_context(), db.engine.connect() as conn:
            return site_state.read_version(conn)[0]

    def run_forever(self, stop: threading.Event) -> None:
        interval = float(self.app.config["PUBLISH_INTERVAL_SECONDS"])
        while not stop.is_set():
            started = time.monotonic()
            try:
                if self.tick(started):
                    log.info("published version %s (%.0f ms, %d files written)", self.version,
                             (time.monotonic() - started) * 1000, self.written)
            except Exception:  # the database is down: the files on disk stay as they are
                log.exception("publish failed; the published files stay as they were")
                with self.app.app_context():
                    db.session.remove()
            stop.wait(max(0.05, interval - (time.monotonic() - started)))


# --- Commands ---------------------------------------------------------------------------


@click.command("publish")
@click.argument("directory", type=click.Path(file_okay=False))
def publish_command(directory):
    """Write the whole public site into DIRECTORY as static files (atomically)."""
    app = current_app._get_current_object()
    publisher = Publisher(app, directory)
    started = time.monotonic()
    version = publisher.publish_all()
    click.echo(f"Published version {version} to {directory} in "
               f"{time.monotonic() - started:.1f} s ({publisher.written} files written).")


@click.command("publisher")
@click.option("--dir", "directory", default=None, help="Default: STATIC_EXPORT_DIR.")
def publisher_command(directory):
    """Keep STATIC_EXPORT_DIR current: re-published within about a second of a change."""
    app = current_app._get_current_object()
    directory = directory or app.config["STATIC_EXPORT_DIR"]
    if not directory:
        raise click.UsageError("Set STATIC_EXPORT_DIR (or give --dir).")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Publishing to {directory} (Ctrl-C to stop)")
    Publisher(app, directory).run_forever(stop)


def init_app(app: Flask) -> None:
    app.cli.add_command(publish_command)
    app.cli.add_command(publisher_command)
