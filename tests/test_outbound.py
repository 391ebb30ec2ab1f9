"""Issue 21, point 2: a timeout is a deadline for the whole exchange, at the socket.

Receivers on loopback trickle their answer a byte at a time (``tests/trickle.py``) for
about 20 s; each client has a 1 s timeout. Every read gets its byte long before a per-read
timeout, so before the fix each exchange lasted the whole trickle; now it ends by its
deadline (asserted under 4 s: the bound is the feature itself). Then, what a slow target
must not hold up: an email and another webhook in the same tick, another monitor."""

from __future__ import annotations

import time

import pytest

from statuspage import outbound
from statuspage.monitors import probe
from statuspage.outbox import webhook_http
from statuspage.outbox.slack_delivery import post_text
from tests.trickle import trickle  # noqa: F401  (fixture)

DEADLINE = 1.0
BOUND = 4.0  # the trickles last 20 s


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize("what", ["headers", "body"])
def test_a_webhook_post_to_a_trickling_receiver_ends_by_its_deadline(
        trickle, what):  # noqa: F811
    slow = trickle(what)
    result, took = timed(lambda: webhook_http.post(
        slow.url(), b"{}", {}, timeout=DEADLINE, allow_loopback_http=True))
    assert took < BOUND
    if what == "headers":
        assert (result.outcome, result.error) == ("retry", "timed out")
    else:  # the status was in: a slow body changes nothing
        assert (result.outcome, result.status_code) == ("sent", 200)


def test_a_slack_post_to_a_trickling_receiver_ends_by_its_deadline(trickle):  # noqa: F811
    slow = trickle("headers")
    result, took = timed(lambda: post_text(slow.url("/services/T0/B0/x"), "Down.",
                                           timeout=DEADLINE, allow_loopback_http=True))
    assert took < BOUND
    assert (result.outcome, result.error) == ("retry", "timed out")


@pytest.mark.parametrize("what", ["headers", "body"])
def test_a_monitor_check_of_a_trickling_target_ends_by_its_deadline(
        trickle, what):  # noqa: F811
    slow = trickle(what)
    result, took = timed(lambda: probe.check(slow.url("/health/ready"), DEADLINE))
    assert took < BOUND
    assert not result.ok and result.error == f"timed out after {DEADLINE:g} s"


def test_a_trickled_tls_handshake_ends_by_the_deadline(trickle):  # noqa: F811
    slow = trickle("tls")
    with pytest.raises(TimeoutError):
        timed(lambda: outbound.exchange(
            "POST", scheme="https", host="127.0.0.1", port=slow.port, path="/",
            address="127.0.0.1", headers={}, body=b"{}",
            deadline=outbound.Deadline(DEADLINE), max_body=1024))
    assert slow.closed.wait(BOUND)  # the client gave up within the bound
    result, took = timed(lambda: webhook_http.post(
        trickle("tls").url(scheme="https"), b"{}", {}, timeout=DEADLINE,
        allow_loopback_http=True))
    assert took < BOUND and result.outcome == "retry"


def test_a_receiver_that_answers_at_once_is_read_whole(trickle):  # noqa: F811
    quick = trickle("body", seconds=0)
    response = outbound.exchange(
        "GET", scheme="http", host="localhost", port=quick.port, path="/", headers={},
        deadline=outbound.Deadline(DEADLINE), max_body=1024)
    assert (response.status, response.body, response.complete) == (
        200, b'{"status": "ok"}', True)
    assert response.header("Content-Type") == "application/json"
