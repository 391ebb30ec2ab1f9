"""The public page served by a real server, under attack and through a database outage.

Each test starts what the README offers (granian, as ``make run`` does, and gunicorn with
each worker class) against this test's database (SQLite and PostgreSQL), and talks HTTP to
it on loopback.
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from tests.http_server import send, serve, free_port

pytestmark = pytest.mark.process

WORKERS = ["granian", "sync", "gthread", "asgi"]


@pytest.fixture
def site(app, clock, responder, components, make_incident):
    """A public change: one open incident (so / and /incidents/1 have something to show)."""
    incident = make_incident(responder, components[:1], title="Glucose sync delayed")
    return incident


def links(body: bytes) -> list[str]:
    page = BeautifulSoup(body.decode("utf-8"), "html.parser")
    return [tag.get("href") or tag.get("src") or tag.get("action") or ""
            for tag in page.find_all(["a", "link", "script", "form", "img"])]


@pytest.mark.parametrize("worker", WORKERS)
def test_a_script_name_header_never_reaches_the_rendered_page(
        site, database_url, tmp_path, worker):
    """gunicorn takes SCRIPT_NAME from a header sent from an address it trusts (loopback by
    default); one such request must not put another site into everyone's links."""
    with serve(worker, database_url=database_url, instance=tmp_path / "instance") as port:
        evil = {"SCRIPT_NAME": "//evil.example"}
        send(port, "GET", "//evil.example/", headers=evil)
        send(port, "GET", f"//evil.example/incidents/{site.id}", headers=evil)
        for path in ("/", f"/incidents/{site.id}"):
            status, _, body = send(port, "GET", path)
            assert status == 200
            assert b"Glucose sync delayed" in body
            found = [link for link in links(body) if "evil.example" in link]
            assert found == [], f"{path} links to another site: {found}"


@pytest.mark.parametrize("worker", WORKERS)
def test_no_request_header_reaches_the_bytes_every_reader_gets(
        site, database_url, tmp_path, worker):
    """Host, X-Forwarded-* and Forwarded sent by the first reader of a path (the one whose
    request makes it render) leave no trace in what the next readers get."""
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "http", "X-Forwarded-Prefix": "/evil",
            "X-Forwarded-Port": "666", "Forwarded": "host=evil.example;proto=http",
            "X-Original-URL": "/evil", "X-Rewrite-URL": "/evil"}
    paths = ("/", "/updates", f"/incidents/{site.id}", "/feed.atom",
             "/api/v2/summary.json", "/badge.svg")
    with serve(worker, database_url=database_url, instance=tmp_path / "instance") as port:
        for path in paths:
            send(port, "GET", path, headers=evil)  # first: before any other reader
        for path in paths:
            status, _, body = send(port, "GET", path)
            assert status == 200, path
            assert b"evil" not in body, f"{path} carries a header a reader sent"
            if path in ("/feed.atom", "/api/v2/summary.json"):  # absolute links
                assert b"https://status.example.test/" in body, path


def unreachable(database_url: str, tmp_path) -> str:
    """A URL of the same kind that no database answers on."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/no-such-folder/statuspage.sqlite3"
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/statuspage"


@pytest.mark.parametrize("worker", ["granian", "sync", "asgi"])
def test_a_process_started_while_the_database_is_down_serves_the_last_rendered_page(
        site, database_url, tmp_path, worker):
    instance = tmp_path / "instance"
    with serve(worker, database_url=database_url, instance=instance) as port:
        status, _, front = send(port, "GET", "/")
        assert status == 200 and b"Glucose sync delayed" in front
        status, _, page = send(port, "GET", f"/incidents/{site.id}")
        assert status == 200

    # The database is gone; the server starts again (a restart, a respawned worker).
    down = unreachable(database_url, tmp_path)
    with serve(worker, database_url=down, instance=instance) as port:
        assert send(port, "GET", "/health/live")[0] == 200
        status, headers, body = send(port, "GET", "/")
        assert status == 200 and body == front
        assert "stale-if-error" in headers["cache-control"]
        status, _, body = send(port, "GET", f"/incidents/{site.id}")
        assert status == 200 and body == page
        assert send(port, "GET", "/health/live")[0] == 200

    # A process with neither the database nor a stored page is not live: the load
    # balancer must send readers elsewhere.
    with serve(worker, database_url=down, instance=tmp_path / "empty-instance") as port:
        status, _, body = send(port, "GET", "/health/live")
        assert status == 503, body
        assert send(port, "GET", "/")[0] == 500


def _subscribe_form(port: int) -> tuple[str, dict]:
    """The session cookie and the form's fields, as a browser would have them."""
    status, headers, body = send(port, "GET", "/subscribe")
    assert status == 200
    cookie = headers["set-cookie"].split(";", 1)[0]
    form = BeautifulSoup(body.decode(), "html.parser").select_one("form[method=post]")
    fields = {tag["name"]: tag.get("value", "") for tag in form.select("input[name]")
              if tag.get("type") not in ("radio", "checkbox")}
    return cookie, fields


def _subscribers(database_url: str) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT email FROM subscribers")).scalars())
    finally:
        engine.dispose()


def _chunks(data: bytes, size: int = 16 * 1024):
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("worker", WORKERS)
def test_a_body_over_the_limit_gets_413_whatever_its_framing_and_a_small_one_works(
        app, database_url, tmp_path, worker):
    from urllib.parse import urlencode

    stopped: dict = {}
    with serve(worker, database_url=database_url, instance=tmp_path / "instance",
               stopped=stopped) as port:
        cookie, fields = _subscribe_form(port)
        form = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}

        big = urlencode({**fields, "email": "big@example.test", "audience": "participant",
                         "notes": "x" * 400_000}).encode()
        status, _, body = send(port, "POST", "/subscribe", headers=form,
                               body=_chunks(big), chunked=True)
        assert status == 413, body[:200]
        assert b"larger than this site accepts" in body
        assert _subscribers(database_url) == []
        # The same with its length announced (Content-Length) instead of chunked.
        status, _, body = send(port, "POST", "/subscribe", headers=form, body=big)
        assert status == 413, body[:200]
        assert _subscribers(database_url) == []

        small = urlencode({**fields, "email": "small@example.test",
                           "audience": "participant"}).encode()
        status, headers, body = send(port, "POST", "/subscribe", headers=form,
                                     body=_chunks(small, 20), chunked=True)
        assert status == 303, body[:300]
        assert _subscribers(database_url) == ["small@example.test"]

    # SIGTERM (what serve's Ctrl-C and a supervisor send): a clean stop, no traceback.
    assert stopped["returncode"] in (0, -15), stopped
    assert "Traceback" not in stopped["stderr"], stopped["stderr"][-2000:]
