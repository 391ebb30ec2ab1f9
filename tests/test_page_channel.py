"""How a person is paged (issue 24, point 2): a page goes through the real ``apprise``
package to every way of the person's profile, a loopback ntfy-compatible server for push
and Apprise's ``json://`` (tests/webhook_receiver.py) standing in for the SMS provider, and
by email (tests/smtp.py), each once, driven by the real notifier's tick. A receiver that
answers 500 or stalls gets tries again (the clock moved on) and finally the page; a private
host is refused without PAGE_ALLOW_PRIVATE_HOSTS; no token, topic or phone is ever shown,
stored in an answer or logged."""

from __future__ import annotations

import logging

import pytest

from statuspage.extensions import db
from statuspage.models import Page, PageSend, StaffEmail
from statuspage.outbox import pages
from tests.conftest import form_fields, login, soup
from tests.ntfy_receiver import ntfy  # noqa: F401  (fixture)
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

TOPIC = "s3cret-topic-Zq81xv"
PHONE = "+14155552671"
EMAIL = "pat@example.test"


@pytest.fixture
def config():
    """The page settings of the test's app (a test parametrizes ``config`` to change)."""
    return {"PAGE_ALLOW_PRIVATE_HOSTS": True}


@pytest.fixture
def app(make_app, smtp, receiver, config):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG,
                   SMS_URL=f"json://127.0.0.1:{receiver.port}/sms",
                   PAGE_TIMEOUT_SECONDS=0.5, PAGE_MAX_ATTEMPTS=3, **config)
    with app.app_context():
        yield app


@pytest.fixture
def person(make_staff, ntfy):  # noqa: F811
    return make_staff("responder", email=EMAIL, phone=PHONE, page_urls=ntfy.url(TOPIC))


@pytest.fixture
def person_client(app, person):
    client = app.test_client()
    assert login(client, EMAIL).status_code == 302
    return client


def press_test_page(client):
    page = client.get("/staff/profile")
    response = client.post("/staff/profile/test-page",
                           data=form_fields(page, "#test-page-form"))
    assert response.status_code == 302
    return form_fields(page, "#test-page-form")


def answers(client) -> list[tuple[str, str, str]]:
    """(way, state, answer) of each row of the profile's latest test page."""
    rows = soup(client.get("/staff/profile")).select("table.test-ways tbody tr")
    return [(r.select_one(".way-service").text, r.select_one(".way-status").text,
             r.select_one(".way-answer").get_text(" ", strip=True)) for r in rows]


def test_a_test_page_reaches_ntfy_sms_and_email_once_each(
        app, person_client, ntfy, receiver, smtp):  # noqa: F811
    press_test_page(person_client)
    assert answers(person_client) == [("SMS", "pending", "Not answered yet"),
                                      ("ntfy", "pending", "Not answered yet"),
                                      ("email", "pending", "Not answered yet")]
    tick()
    tick()  # a second tick finds nothing left to send

    [push] = ntfy.received()
    assert (push.topic, push.title) == (TOPIC, "Test page from Metabolic-Tracker")
    assert push.message == "Test page from Metabolic-Tracker: if you read this, ntfy reaches you."
    [sms] = receiver.requests
    assert sms.path == f"/sms/{PHONE}"  # the phone appended to SMS_URL as the target
    assert sms.json["message"] == ("Test page from Metabolic-Tracker: if you read this, SMS "
                                   "reaches you.")
    [mail] = smtp.to(EMAIL)
    assert mail.subject == "Test page from Metabolic-Tracker"
    assert "if you read this, email reaches you." in mail.text()
    assert answers(person_client) == [("SMS", "sent", "Accepted"), ("ntfy", "sent", "Accepted"),
                                      ("email", "sent", "Accepted")]


def test_the_same_test_page_form_sent_twice_pages_once(app, person_client, ntfy):  # noqa: F811
    sent = press_test_page(person_client)
    again = person_client.post("/staff/profile/test-page", data=sent)
    assert again.status_code == 302
    assert "already sent" in person_client.get("/staff/profile").get_data(as_text=True)
    tick()
    assert len(ntfy.received()) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(Page)) == 1


def test_a_way_answering_500_is_tried_again_later_and_then_goes(
        app, clock, person_client, ntfy, receiver, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    ntfy.answer(500)
    receiver.answer(500)
    press_test_page(person_client)
    tick()
    assert answers(person_client)[:2] == [("SMS", "pending", "HTTP 500"),
                                          ("ntfy", "pending", "HTTP 500")]
    assert ntfy.received() == []
    tick()  # not due yet: nothing is tried before its wait
    assert ntfy.requests == 1
    clock.advance(hours=1)
    tick()
    assert len(ntfy.received(TOPIC)) == 1
    assert [r.path for r in receiver.requests] == [f"/sms/{PHONE}"] * 2
    assert answers(person_client)[:2] == [("SMS", "sent", "Accepted"),
                                          ("ntfy", "sent", "Accepted")]
    # What the receivers answered is told without the topic or the phone, anywhere.
    assert TOPIC not in caplog.text and PHONE not in caplog.text
    assert "HTTP 500" in caplog.text


def test_a_way_that_keeps_failing_fails_for_good_after_its_tries(
        app, clock, person_client, ntfy):  # noqa: F811
    ntfy.answer(500, 503, 500)
    press_test_page(person_client)
    for _ in range(3):
        tick()
        clock.advance(hours=1)
    tick()
    assert ntfy.requests == 3  # PAGE_MAX_ATTEMPTS
    assert answers(person_client)[1] == ("ntfy", "failed", "HTTP 500")
    row = db.session.scalar(db.select(PageSend).where(PageSend.way == "url:1"))
    assert (row.attempts, row.last_status_code) == (3, 500)


def test_a_stalled_receiver_times_out_and_the_way_goes_on_the_next_try(
        app, clock, person_client, ntfy, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    ntfy.stall()
    press_test_page(person_client)
    tick()
    assert answers(person_client)[1] == ("ntfy", "pending", "timed out")
    assert answers(person_client)[0][1] == "sent"  # the SMS did not wait for it
    ntfy.unstall()
    clock.advance(hours=1)
    tick()
    assert [m.topic for m in ntfy.received()] == [TOPIC]
    assert answers(person_client)[1] == ("ntfy", "sent", "Accepted")
    assert TOPIC not in caplog.text


@pytest.mark.parametrize("config", [{"PAGE_ALLOW_PRIVATE_HOSTS": False}])
def test_a_private_host_is_refused_at_send_without_the_key(
        app, person_client, ntfy, receiver, smtp):  # noqa: F811
    # (saved while the key was on: the rule is checked again before each send)
    press_test_page(person_client)
    tick()
    assert ntfy.requests == 0 and receiver.requests == []
    rows = answers(person_client)
    assert [(way, state) for way, state, _ in rows] == [
        ("SMS", "failed"), ("ntfy", "failed"), ("email", "sent")]
    assert rows[1][2] == ("Refused: This URL leads to a loopback address: pages go to public "
                          "addresses only, unless an operator sets PAGE_ALLOW_PRIVATE_HOSTS.")
    assert len(smtp.to(EMAIL)) == 1  # email always goes


def test_a_page_to_someone_who_is_not_staff_goes_by_email_only(app, clock, smtp):  # noqa: F811
    page = pages.queue_page(key="chain:x", kind="test", recipient="lead@example.test",
                            now=clock())
    db.session.commit()
    assert db.session.scalars(db.select(PageSend)).all() == []
    assert [e.recipient for e in db.session.scalars(db.select(StaffEmail))] == [
        "lead@example.test"]
    assert [w.service for w in pages.ways_of([page.id])[page.id]] == ["email"]
    tick()
    assert len(smtp.to("lead@example.test")) == 1


def test_a_page_is_queued_once_per_key_and_without_sms_when_no_phone(
        app, clock, make_staff, ntfy):  # noqa: F811
    make_staff("responder", email="nophone@example.test", page_urls=ntfy.url("t1"))
    first = pages.queue_page(key="k1", kind="test", recipient="NoPhone@example.test",
                             now=clock())
    again = pages.queue_page(key="k1", kind="test", recipient="nophone@example.test",
                             now=clock())
    db.session.commit()
    assert first is not None and again is None
    assert [(w.way, w.service) for w in db.session.scalars(db.select(PageSend))] == [
        ("url:1", "ntfy")]


def test_a_way_removed_from_the_profile_before_it_goes_is_cancelled(
        app, person, person_client, ntfy, receiver):  # noqa: F811
    press_test_page(person_client)
    person.page_urls = None
    person.phone = None
    db.session.commit()
    tick()
    assert ntfy.requests == 0 and receiver.requests == []
    assert [s for _, s, _ in answers(person_client)] == ["cancelled", "cancelled", "sent"]


def test_a_way_nobody_answers_says_so_without_its_url(app, person, person_client, caplog):
    caplog.set_level(logging.DEBUG)
    import socket

    with socket.socket() as closed:  # a port that was free a moment ago: nobody listens
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    person.page_urls = f"ntfy://127.0.0.1:{port}/{TOPIC}"
    db.session.commit()
    press_test_page(person_client)
    tick()
    way, state, answer = answers(person_client)[1]
    assert (way, state) == ("ntfy", "pending")
    assert answer in ("connection refused", "connection failed")
    row = db.session.scalar(db.select(PageSend).where(PageSend.way == "url:1"))
    assert row.last_error == answer
    assert TOPIC not in caplog.text
