"""Sign-ins racing on one account (issue 21, points 3 and 4), as an attacker sends them:
each attempt from a browser session of its own, all at once, against a real HTTP server on
loopback (werkzeug's, threaded). On PostgreSQL the requests really run side by side; on
SQLite the write lock taken at BEGIN serialises them (the same answers are expected).

- One fresh TOTP code posted from 12 sessions at once signs in exactly one of them.
- 40 wrong passwords (or 40 wrong codes) at once buy no more than 40 sent one after the
  other: the account locks after the fifth failure, for the first backoff (30 s), and the
  right password or code is then refused until it ends.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from statuspage import accounts, two_factor
from statuspage.extensions import db
from statuspage.models import StaffUser
from tests.conftest import PASSWORD
from tests.test_staff_concurrency import Session, live_url  # noqa: F401  (fixture)


@pytest.fixture
def app(make_app):
    # The per-address limit is not what is tested: an attacker has many addresses. A
    # connection for each of the 40 requests held together on PostgreSQL (see below).
    app = make_app(LOGIN_RATE_LIMIT="10000 per minute",
                   SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 45, "max_overflow": 0})
    with app.app_context():
        yield app


@pytest.fixture
def target(make_staff, clock):
    """The account attacked. Its hash is real Argon2 at a lower cost, so that 40 attempts
    at once cost 320 MB rather than 2.5 GB, and 40 serialised by SQLite's write lock stay
    far inside its busy timeout on 2 cores."""
    user = make_staff("admin", email="target@example.test")
    cheap = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    user.password_hash = cheap.hash(PASSWORD)
    db.session.commit()
    return user


class EveryoneReadsFirst:
    """PostgreSQL: hold each request after its first read of the account until every
    request has read it, so that all of them start from the same state: the race the red
    team found, made certain rather than likely. Synchronised on the statements, not on
    time; the row lock a fix takes (FOR UPDATE) is let through."""

    def __init__(self, parties: int):
        self.barrier = threading.Barrier(parties, timeout=60)
        self.seen = threading.local()  # werkzeug serves each request on a thread of its own

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        text = statement.lstrip().upper()
        if (not text.startswith("SELECT") or "FROM STAFF_USERS" not in text
                or "FOR UPDATE" in text or getattr(self.seen, "read", False)):
            return
        self.seen.read = True
        self.barrier.wait()


def at_once(calls) -> list:
    """Send every request on a thread of its own, released together; their results in
    order. On SQLite the write lock taken at BEGIN serialises them: no hook there."""
    start = threading.Barrier(len(calls))
    hook = EveryoneReadsFirst(len(calls)) if db.engine.dialect.name == "postgresql" else None

    def run(call):
        start.wait(timeout=60)
        return call()

    if hook is not None:
        sa.event.listen(db.engine, "after_cursor_execute", hook)
    try:
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(run, calls, timeout=120))
    finally:
        if hook is not None:
            sa.event.remove(db.engine, "after_cursor_execute", hook)


def login_form(browser: Session, password: str) -> dict:
    data = browser.form("/staff/login", "form")
    data.update(email="target@example.test", password=password)
    return data


def past_the_password(live_url: str, count: int) -> list[Session]:
    """``count`` sessions that gave the right password and wait for the code."""
    sessions = [Session(live_url) for _ in range(count)]
    for browser in sessions:
        status, _ = browser.request("/staff/login", login_form(browser, PASSWORD))
        assert status == 302
    return sessions


def code_post(browser: Session, code: str):
    data = browser.form("/staff/login/code", "form")
    data["code"] = code
    return lambda: browser.request("/staff/login/code", data)[0]


def signed_in(browser: Session) -> bool:
    return browser.request("/staff/")[0] == 200


def account() -> StaffUser:
    db.session.rollback()
    return db.session.scalars(db.select(StaffUser)
                              .where(StaffUser.email == "target@example.test")).one()


def with_two_factor(user: StaffUser, clock) -> None:
    user.totp_secret = two_factor.new_secret()
    user.totp_enabled_at = clock()
    db.session.commit()


def first_lock(clock):
    return clock() + timedelta(seconds=30)


def test_one_code_posted_from_twelve_sessions_at_once_signs_in_one(
        app, live_url, target, clock):
    with_two_factor(target, clock)
    sessions = past_the_password(live_url, 12)
    code = two_factor.code_at(target.totp_secret, two_factor.time_step(clock()))
    statuses = at_once([code_post(browser, code) for browser in sessions])
    assert sorted(statuses) == [302] + [401] * 11
    assert [signed_in(browser) for browser in sessions].count(True) == 1


def test_forty_wrong_passwords_at_once_lock_the_account_as_five_in_a_row_do(
        app, live_url, target, clock):
    sessions = [Session(live_url) for _ in range(40)]
    posts = [(browser, login_form(browser, f"guess {n}")) for n, browser in
             enumerate(sessions)]
    statuses = at_once([lambda b=b, d=d: b.request("/staff/login", d)[0]
                        for b, d in posts])
    assert statuses == [401] * 40
    user = account()
    assert (user.failed_logins, user.locked_until) == (accounts.FREE_FAILURES,
                                                       first_lock(clock))
    right = Session(live_url)
    assert right.request("/staff/login", login_form(right, PASSWORD))[0] == 401
    clock.advance(seconds=31)
    assert right.request("/staff/login", login_form(right, PASSWORD))[0] == 302


def test_forty_wrong_codes_at_once_lock_the_account_as_five_in_a_row_do(
        app, live_url, target, clock):
    with_two_factor(target, clock)
    sessions = past_the_password(live_url, 41)
    right = two_factor.code_at(target.totp_secret, two_factor.time_step(clock()))
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    statuses = at_once([code_post(browser, wrong) for browser in sessions[:40]])
    assert statuses == [401] * 40
    user = account()
    assert (user.failed_logins, user.locked_until) == (accounts.FREE_FAILURES,
                                                       first_lock(clock))
    assert code_post(sessions[40], right)() == 401
    assert not signed_in(sessions[40])
