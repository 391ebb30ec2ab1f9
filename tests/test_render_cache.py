"""Render once, serve many: what makes serving rendered bytes safe.

A change is seen on every public path by every process (two apps on one database stand for
two processes: each has its own rendered bytes), within the once-a-second version check;
conditional GETs and compressed bodies are exact; no cacheable path sets a cookie; a
render costs the same number of queries at 10 incidents as at 200; the last bytes stay
up while the database is down.
"""

from __future__ import annotations

import gzip
import logging
import threading

import brotli
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from statuspage import incidents
from statuspage.serving import site_state
from statuspage.extensions import db
from statuspage.serving.render_cache import PublicCache, render
from statuspage.web.markers import view_markers

from .conftest import soup

#: Every cacheable public path (``{incident}``/``{component}`` filled in per test).
PUBLIC_PATHS = (
    "/",
    "/incidents/{incident}",
    "/history",
    "/feed.rss",
    "/feed.atom",
    "/components/{component}/feed.rss",
    "/components/{component}/feed.atom",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/badge.svg",
    "/embed",
)


@pytest.fixture
def app(make_app):
    """The app with its public cache on (the suite's default app renders every time)."""
    app = make_app(PUBLIC_CACHE=True)
    with app.app_context():
        yield app


def paths_for(incident, component) -> list[str]:
    return [p.format(incident=incident.id, component=component.id) for p in PUBLIC_PATHS]


def cache_of(app) -> PublicCache:
    cache = app.wsgi_app
    assert isinstance(cache, PublicCache)
    return cache


def version_of(app) -> int:
    with app.app_context(), db.engine.connect() as conn:
        return site_state.read_version(conn)[0]


def post(app, incident_id, actor_id, *, status, impact, component_statuses=None, clock):
    """Post an update the way staff do, through the domain (in the test's app context)."""
    from statuspage.models import Incident, StaffUser

    if True:
        incident = db.session.get(Incident, incident_id)
        actor = db.session.get(StaffUser, actor_id)
        incidents.post_update(
            incident,
            incidents.UpdateText(status=status, impact=impact, actions="We are on it.",
                                 component_statuses=component_statuses or {}),
            actor=actor, now=clock(),
        )
        db.session.commit()


@pytest.fixture
def outage(app, responder, components, make_incident):
    incident = make_incident(responder, components[:2], title="Login not working",
                             impact="Sign-in fails for some participants.",
                             component_statuses={components[0].id: "partial_outage"})
    return incident


# --- The version ---------------------------------------------------------------------------


def test_every_public_change_bumps_the_version_in_its_own_transaction(
        app, clock, responder, components, make_incident):
    start = version_of(app)
    incident = make_incident(responder, components[:1])
    after_open = version_of(app)
    assert after_open > start

    # A component's status, changed from the dashboard.
    incidents.set_component_status(components[2], "major_outage", actor=responder, now=clock())
    db.session.commit()
    after_status = version_of(app)
    assert after_status > after_open

    # An incident's affected components: only the link table changes.
    incidents.edit_incident(incident, actor=responder, now=clock(), title=incident.title,
                            severity=incident.severity, component_ids=[components[1].id],
                            started_at=incident.started_at)
    db.session.commit()
    after_edit = version_of(app)
    assert after_edit > after_status

    # Something the public never sees changes nothing.
    responder.failed_logins += 1
    db.session.commit()
    assert version_of(app) == after_edit

    # A change that is rolled back takes its bump with it.
    incidents.set_component_status(components[3], "major_outage", actor=responder, now=clock())
    db.session.rollback()
    assert version_of(app) == after_edit


def test_the_version_row_is_made_again_when_missing(app, clock, components, responder):
    with db.engine.begin() as conn:
        conn.execute(site_state.state_table.delete())
    assert version_of(app) == 0
    incidents.set_component_status(components[0], "degraded_performance", actor=responder,
                                   now=clock())
    db.session.commit()
    assert version_of(app) == 1


def test_the_publisher_learns_which_incident_pages_changed(
        app, clock, responder, components, make_incident):
    first = make_incident(responder, components[:1], title="First")
    second = make_incident(responder, components[1:2], title="Second")
    with db.engine.connect() as conn:
        before = site_state.read_version(conn)[0]
    post(app, second.id, responder.id, status="identified", impact="Found it.", clock=clock)
    with db.engine.connect() as conn:
        assert site_state.incidents_changed_since(conn, before) == {second.id}
    # A rename shows on every incident page that names the component.
    components[0].name = "Signing in"
    db.session.commit()
    with db.engine.connect() as conn:
        assert site_state.incidents_changed_since(conn, before) is site_state.ALL
    assert first.id  # (the first incident's page names "Login")


# --- Freshness -------------------------------------------------------------------------------


def test_a_change_reaches_every_path_in_every_process(
        app, make_app, clock, responder, components, outage):
    other_app = make_app(PUBLIC_CACHE=True)  # a second process: its own rendered bytes
    here, there = app.test_client(), other_app.test_client()
    paths = paths_for(outage, components[0])

    before = {}
    for path in paths:
        a, b = here.get(path), there.get(path)
        assert a.status_code == 200 and b.status_code == 200, path
        assert a.data == b.data, path
        before[path] = a.data
    renders = cache_of(other_app).renders
    for path in paths:  # served from the bytes: the views are not called again
        assert there.get(path).data == before[path]
    assert cache_of(other_app).renders == renders

    post(app, outage.id, responder.id, status="identified",
         impact="Sign-in fails for every participant.",
         component_statuses={components[0].id: "major_outage"}, clock=clock)

    # The process that made the change serves it at once...
    for path in paths:
        assert here.get(path).data != before[path], path
    # ...the other one within its once-a-second look at the version, not before.
    clock.advance(seconds=0.5)
    assert there.get("/").data == before["/"]
    clock.advance(seconds=0.6)
    for path in paths:
        assert there.get(path).data != before[path], path
    page = soup(there.get("/")).get_text()
    assert "Sign-in fails for every participant." in page
    assert "Identified" in soup(there.get("/embed")).get_text()
    assert b"Major" in there.get("/badge.svg").data


def test_what_changes_with_time_alone_is_rendered_again_within_a_minute(
        app, clock, responder, components, make_incident):
    incident = make_incident(responder, components[:1], title="Charts blank")
    post(app, incident.id, responder.id, status="resolved", impact="All fixed.", clock=clock)
    client = app.test_client()

    def recent(page):
        section = page.select_one("section.incidents.recent")
        return section.get_text() if section else ""

    assert "Charts blank" in recent(soup(client.get("/")))

    # Eight days on, nothing in the database changed, but the 7-day window moved on.
    clock.advance(days=8)
    page = soup(client.get("/"))
    assert "Charts blank" not in recent(page)
    # The uptime bars (issue 15) moved on too: the incident's day is now 8 bars back.
    bars = page.select("ol.bars")[0].find_all("li", recursive=False)
    assert "Charts blank" in bars[-9].get_text() and "Charts blank" not in bars[-1].get_text()


def test_same_bytes_keep_their_validators_across_renders(app, clock, outage):
    client = app.test_client()
    first = client.get("/api/v2/components.json")
    clock.advance(seconds=61)  # rendered again: no change, so the same ETag
    again = client.get("/api/v2/components.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["ETag"] == first.headers["ETag"]


# --- HTTP ------------------------------------------------------------------------------------


def test_conditional_get_answers_304_only_for_a_matching_etag(
        app, clock, responder, components, outage):
    client = app.test_client()
    first = client.get("/")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Last-Modified"]

    not_modified = client.get("/", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""
    assert not_modified.headers["ETag"] == etag
    assert "max-age" in not_modified.headers["Cache-Control"]

    assert client.get("/", headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert client.get("/", headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    for other in ('"nope"', etag[:-2] + '"', "", '"' + etag):
        response = client.get("/", headers={"If-None-Match": other})
        assert response.status_code == 200, other
        assert response.data == first.data
    # A date alone never answers 304 for a page the cache dated itself: two versions
    # can share a second. (A view that dates its bytes, as the feeds do, vouches for it.)
    response = client.get("/", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert response.status_code == 200

    post(app, outage.id, responder.id, status="identified", impact="Found the cause.",
         clock=clock)
    changed = client.get("/", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "Found the cause." in soup(changed).get_text()


def test_compressed_bodies_are_the_same_bytes(app, outage, components):
    client = app.test_client()
    for path in paths_for(outage, components[0]):
        plain = client.get(path)
        assert "Content-Encoding" not in plain.headers, path

        zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate"})
        assert zipped.headers["Content-Encoding"] == "gzip", path
        assert zipped.headers["Vary"] == "Accept-Encoding"
        assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data)
        assert gzip.decompress(zipped.data) == plain.data, path
        assert zipped.headers["ETag"] != plain.headers["ETag"]  # strong: one per encoding

        br = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert br.headers["Content-Encoding"] == "br", path
        assert brotli.decompress(br.data) == plain.data, path

        refused = client.get(path, headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
        assert "Content-Encoding" not in refused.headers
        assert refused.data == plain.data

        # The tag of the gzip body validates a later gzip request.
        assert client.get(path, headers={"Accept-Encoding": "gzip",
                                         "If-None-Match": zipped.headers["ETag"]}
                          ).status_code == 304


def test_head_answers_the_headers_without_the_body(app, outage):
    client = app.test_client()
    get, head = client.get("/"), client.head("/")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Length"] == str(len(get.data))


def test_cacheable_paths_never_set_a_cookie_and_tell_caches_they_may_keep_them(
        app, admin_client, outage, components):
    anonymous = app.test_client()
    for path in paths_for(outage, components[0]):
        # A logged-in staff member (a session cookie sent) gets the very same bytes.
        staff_view = admin_client.get(path)
        public_view = anonymous.get(path)
        assert staff_view.status_code == 200, path
        assert "Set-Cookie" not in staff_view.headers, path
        assert "Set-Cookie" not in public_view.headers, path
        assert staff_view.data == public_view.data, path
        cache_control = public_view.headers["Cache-Control"]
        assert cache_control.startswith("public, max-age=1,"), path
        assert "stale-while-revalidate" in cache_control
    # What depends on a session says so.
    assert admin_client.get("/staff/").headers["Cache-Control"] == "private, no-store"


def test_an_unknown_incident_is_not_found_and_other_query_strings_reach_the_app(
        app, clock, outage):
    client = app.test_client()
    assert client.get("/incidents/999999").status_code == 404
    assert client.get("/incidents/999999").status_code == 404
    assert client.get("/history?page=999").status_code == 404
    assert client.get("/history?page=abc").status_code == 404
    # A query string the cache does not know goes to the view, which may read it.
    assert view_markers(app).cacheable_key("/", "utm_source=mail") is None
    response = client.get("/?utm_source=mail")
    assert response.status_code == 200
    assert "Login not working" in soup(response).get_text()


def test_the_views_markers_decide_what_is_cached_framed_and_left_to_the_app(
        app, outage, components):
    """One declaration on each view: the cache, the headers and nginx read the same."""
    from statuspage.serving.nginx import nginx_locations

    markers = view_markers(app)
    for path in paths_for(outage, components[0]):
        path, _, query = path.partition("?")
        assert markers.cacheable_key(path, query) == (path, query), path
    # Another spelling of a cacheable path reaches the view uncached; so does what
    # needs a session or carries a token.
    for path in (f"/incidents/0{outage.id}", "//", "/staff/", "/subscribe", "/health/live"):
        assert markers.cacheable_key(path, "") is None, path
    assert markers.frameable_endpoints == {"widgets.badge", "widgets.embed"}
    client = app.test_client()
    assert "X-Frame-Options" not in client.get("/embed").headers
    assert client.get("/embed.css").headers["X-Frame-Options"] == "DENY"
    config = nginx_locations(app, "/srv/export", "127.0.0.1:9")
    assert "location ~ ^/(badge\\.svg|embed)$" in config
    # The write API goes to the app; /api/v2 (cacheable) stays with the export.
    assert ("location ~ ^/(subscribe|confirm|unsubscribe|subscription|api/v1|health|staff|ack)"
            "(/|$)") in config


def test_the_host_a_reader_sends_never_reaches_the_bytes(app, outage):
    client = app.test_client()
    evil = client.get("/feed.atom", headers={"Host": "evil.example"})
    assert b"evil.example" not in evil.data
    assert b"https://status.example.test/incidents/" in evil.data


# --- Cost -------------------------------------------------------------------------------------


def _queries_per_render(app, paths) -> dict[str, int]:
    counts = {}
    inner = cache_of(app).app
    for path in paths:
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", count)
            try:
                result = render(inner, app, *path.partition("?")[::2])
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
        assert result.status == 200, path
        counts[path] = len(statements)
    return counts


def _seed_incidents(app, clock, responder, components, n):
    for i in range(n):
        incident = incidents.open_incident(
            actor=responder, now=clock(), title=f"Incident {i}", severity="SEV-3",
            component_ids=[components[i % len(components)].id],
            update=incidents.UpdateText(
                status="investigating", impact="Slow.", actions="Looking.",
                component_statuses={components[i % len(components)].id: "partial_outage"}),
        )
        incidents.post_update(incident, incidents.UpdateText(
            status="resolved", impact="Fine again.", actions="Fixed."),
            actor=responder, now=clock())
        clock.advance(minutes=5)
    db.session.commit()


def test_a_render_costs_the_same_queries_at_10_and_at_200_incidents(
        app, clock, responder, components, outage):
    _seed_incidents(app, clock, responder, components, 9)
    paths = paths_for(outage, components[0]) + ["/history?page=1"]
    at_10 = _queries_per_render(app, paths)
    _seed_incidents(app, clock, responder, components, 190)
    at_200 = _queries_per_render(app, paths + ["/history?page=5"])
    assert at_200.pop("/history?page=5") == at_200["/history?page=1"]
    assert at_200 == at_10


# --- The database down ---------------------------------------------------------------------


class DatabaseOutage:
    """Takes the test's database away for real, and brings it back."""

    def __init__(self, app):
        self.app = app
        with app.app_context():
            self.url = db.engine.url

    def __enter__(self):
        db.session.remove()  # (the test's app context: its session lets go of its connection)
        db.engine.dispose()
        if self.url.get_backend_name() == "sqlite":
            self.path = self.url.database
            with open(self.path, "rb") as fh:
                self.saved = fh.read()
            with open(self.path, "wb") as fh:
                fh.write(b"this is not a database, it is an outage" * 100)
        else:
            self._admin(f'ALTER DATABASE "{self.url.database}" WITH ALLOW_CONNECTIONS false',
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE datname = '{self.url.database}' AND pid <> pg_backend_pid()")
        return self

    def __exit__(self, *exc):
        if self.url.get_backend_name() == "sqlite":
            with open(self.path, "wb") as fh:
                fh.write(self.saved)
        else:
            self._admin(f'ALTER DATABASE "{self.url.database}" WITH ALLOW_CONNECTIONS true')
        with self.app.app_context():
            db.engine.dispose()

    def _admin(self, *statements):
        engine = sa.create_engine(self.url.set(database="postgres"),
                                  isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
        engine.dispose()


def test_the_last_bytes_stay_up_while_the_database_is_down(
        app, clock, outage, components, caplog, monkeypatch):
    # migrations/env.py's fileConfig disables the loggers that existed when the test
    # session ran the migrations; a served process never runs them.
    monkeypatch.setattr(logging.getLogger("statuspage.render_cache"), "disabled", False)
    client = app.test_client()
    paths = paths_for(outage, components[0])
    before = {path: client.get(path).data for path in paths}

    with DatabaseOutage(app), caplog.at_level(logging.WARNING, "statuspage.render_cache"):
        clock.advance(seconds=90)  # past the version check and the minute's refresh
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.data == before[path], path
        assert "cannot read the site version" in caplog.text
        # A path never rendered before cannot be made up: the app's own error page.
        app.config["PROPAGATE_EXCEPTIONS"] = False
        assert client.get("/history?page=2").status_code == 500
    db.session.rollback()  # what the end of a request does in production

    clock.advance(seconds=2)
    assert client.get("/").status_code == 200
    assert cache_of(app).database_ok


# --- The asyncio worker's entry (statuspage.asgi) -------------------------------------------


def asgi_get(asgi_app, path, *, method="GET", headers=(), body=b""):
    """One request through the ASGI app, as gunicorn's asgi worker sends it."""
    import asyncio

    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    # A loop of its own in a thread of its own, as a worker has (another test may have
    # left a loop running in this one).
    failures = []

    def serve():
        try:
            asyncio.run(asgi_app(scope, receive, send))
        except BaseException as exc:  # re-raised below, in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]
    start = sent[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def test_the_asyncio_entry_serves_the_same_bytes_and_leaves_the_rest_to_flask(
        app, outage, components):
    from statuspage.serving.asgi import PublicCacheASGI

    asgi_app = PublicCacheASGI(app)
    client = app.test_client()
    for path in paths_for(outage, components[0]):
        status, headers, body = asgi_get(asgi_app, path)
        assert status == 200, path
        assert body == client.get(path).data, path
        assert "set-cookie" not in headers
        status, _, again = asgi_get(asgi_app, path)  # now from the bytes, on the loop
        assert again == body
        assert asgi_get(asgi_app, path, headers=[("If-None-Match", headers["etag"])])[0] == 304
    status, headers, body = asgi_get(asgi_app, "/", headers=[("Accept-Encoding", "gzip")])
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == client.get("/").data
    assert asgi_get(asgi_app, "/", method="HEAD")[2] == b""
    # What needs a session goes to Flask as it is.
    status, headers, body = asgi_get(asgi_app, "/staff/login")
    assert status == 200 and "set-cookie" in headers
    assert headers["cache-control"] == "private, no-store"
    assert asgi_get(asgi_app, "/", method="POST")[0] == 405
