"""Staff writes that neither fail nor repeat (issue 11, point 2), against a real HTTP
server on loopback (werkzeug's, threaded) on SQLite and PostgreSQL:

- the same update form submitted twice at once produces exactly one update, no 500;
- the notifier ticking (in another thread, with mail to send) during a burst of staff
  posts produces no 500 and loses no update.
"""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from werkzeug.serving import make_server

from statuspage import scheduler
from statuspage.extensions import db
from statuspage.models import IncidentUpdate
from tests.conftest import PASSWORD
from tests.smtp import app, make_subscriber, smtp  # noqa: F401  (fixtures)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class _LoopbackPolicy(http.cookiejar.DefaultCookiePolicy):
    """Send the app's Secure cookies to the loopback server, as browsers do for localhost."""

    def return_ok_secure(self, cookie, request):
        return True


class Session:
    """One browser: cookies kept, redirects not followed (the status is the answer)."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar(policy=_LoopbackPolicy())
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def tab(self) -> "Session":
        """A second tab of this browser: the same cookies from now on, kept apart (so the
        answer to one tab's request cannot overwrite the other's)."""
        other = Session(self.base)
        for cookie in self.jar:
            other.jar.set_cookie(cookie)
        return other

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def form(self, path: str, selector: str) -> dict:
        status, html = self.request(path)
        assert status == 200, status
        form = BeautifulSoup(html, "html.parser").select_one(selector)
        fields = {}
        for el in form.select("input[name], textarea[name], select[name]"):
            if el.get("type") in ("checkbox", "radio") and not el.has_attr("checked"):
                continue
            if el.name == "select":
                chosen = el.select_one("option[selected]") or el.select_one("option")
                fields[el["name"]] = chosen.get("value", "")
            elif el.name == "textarea":
                fields[el["name"]] = el.text
            else:
                fields[el["name"]] = el.get("value", "")
        return fields

    def sign_in(self, email: str) -> None:
        data = self.form("/staff/login", "form")
        data.update(email=email, password=PASSWORD)
        assert self.request("/staff/login", data)[0] == 302


@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def updates_count() -> int:
    db.session.rollback()
    return db.session.scalar(db.select(sa.func.count(IncidentUpdate.id)))


class SecondLooksFirst:
    """PostgreSQL: hold the first request's claim of the id until the second request has
    looked the id up too, so both pass the look-up and the unique key must decide (the
    race the key exists for). Synchronised on the statements, not on time."""

    def __init__(self):
        self.lookups = 0
        self.second_looked = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if "used_submissions" not in statement:
            return
        if statement.lstrip().upper().startswith("SELECT"):
            with self.lock:
                self.lookups += 1
                if self.lookups >= 2:
                    self.second_looked.set()
        elif statement.lstrip().upper().startswith("INSERT"):
            assert self.second_looked.wait(timeout=30), "the second request never looked"


def test_two_concurrent_submissions_of_one_form_post_one_update(
        app, live_url, responder, components, make_incident):
    incident = make_incident(responder, components[:1])
    browser = Session(live_url)
    browser.sign_in(responder.email)
    url = f"/staff/incidents/{incident.id}"
    data = browser.form(url, "section.update-form form")
    data.update(impact="Still down.", actions="Rolling back.", status="identified")
    assert data["submission_id"]

    hook = None
    if db.engine.dialect.name == "postgresql":
        # On SQLite the write lock taken at BEGIN already serialises the two requests.
        hook = SecondLooksFirst()
        sa.event.listen(db.engine, "before_cursor_execute", hook)
    statuses: list[int] = []
    start = threading.Barrier(2)
    tabs = [browser.tab(), browser.tab()]

    def submit(tab):
        start.wait()
        statuses.append(tab.request(url, data)[0])

    threads = [threading.Thread(target=submit, args=(tab,)) for tab in tabs]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        if hook is not None:
            sa.event.remove(db.engine, "before_cursor_execute", hook)
    assert statuses == [302, 302]
    assert updates_count() == 2  # the declaration's and exactly one more
    # The repeat was told so, on the incident's page; the first was told it was posted.
    told = sorted("already posted" in tab.request(url)[1] for tab in tabs)
    assert told == [False, True]


def test_notifier_ticking_during_a_burst_of_staff_posts_gives_no_500(
        app, smtp, live_url, clock, responder, components, make_incident, make_subscriber):
    for n in range(10):
        make_subscriber(f"p{n}@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)  # its outage email is due: the notifier has mail to send
    stop = threading.Event()
    ticks: list[int] = []
    failures: list[BaseException] = []

    def notifier():
        with app.app_context():
            while not stop.is_set():
                try:
                    scheduler.notifier_round(rng=lambda: 0.5)
                    ticks.append(1)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    failures.append(exc)
                    return
            db.session.remove()

    browser = Session(live_url)
    browser.sign_in(responder.email)
    ticker = threading.Thread(target=notifier)
    ticker.start()
    statuses = []
    try:
        for n in range(20):
            url = f"/staff/incidents/{incident.id}"
            data = browser.form(url, "section.update-form form")
            data.update(impact=f"Still down ({n}).", actions="Working on it.")
            statuses.append(browser.request(url, data)[0])
    finally:
        stop.set()
        ticker.join(timeout=60)
    assert failures == []
    assert ticks, "the notifier never ticked"
    assert statuses == [302] * 20
    assert updates_count() == 21
