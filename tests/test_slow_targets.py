"""Issue 21, point 2: one slow target never holds up another (per channel).

A target trickles its answer for about 20 s (``tests/trickle.py``) against a 5 s deadline.
When it lets go of its connection, the test looks at what had already happened: the
email and the other webhook of the same tick, the other monitor of the same round, must
be in by then. Before the fix they came after it, one after the other."""

from __future__ import annotations

import pytest

from statuspage.extensions import db
from statuspage.outbox import webhooks
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)
from tests.test_monitors import add_monitor
from tests.test_staff_notices import PEOPLE, declare, notices, paged
from tests.tracked_app import tracked  # noqa: F401  (fixture)
from tests.trickle import trickle  # noqa: F401  (fixture)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

DEADLINE = 5


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG, WEBHOOK_ALLOW_LOOPBACK_HTTP=True,
                   WEBHOOK_TIMEOUT_SECONDS=DEADLINE)
    with app.app_context():
        yield app


def test_a_trickling_webhook_delays_neither_an_email_nor_another_webhook(
        app, admin, clock, smtp, receiver, trickle, responder, components):  # noqa: F811
    from statuspage import contacts

    contacts.save({role: contacts.ContactValue(*value) for role, value in PEOPLE.items()},
                  None, actor=admin, now=clock())
    seen: dict[str, int] = {}

    def when_it_lets_go() -> None:
        # The On-call Engineer's page (its email way, issue 24) and the contacts' notices.
        seen["emails"] = len(notices(smtp)) + len(paged(smtp))
        seen["other webhook"] = len(receiver.requests)

    slow = trickle("headers", on_close=when_it_lets_go)
    webhooks.create_webhook(slow.url(), "all", [], actor=admin, now=clock())  # first
    webhooks.create_webhook(receiver.url(), "all", [], actor=admin, now=clock())
    db.session.commit()
    declare(responder, components, clock, severity="SEV-2")  # a webhook event, notices
    tick()
    assert slow.closed.wait(10) and slow.connections == 1  # (it let go before tick() ended)
    assert seen["emails"] >= 1 and seen["other webhook"] == 1
    assert len(receiver.requests) == 1


def test_a_slow_monitor_target_delays_no_other_monitors_check(
        app, trickle, tracked, components):  # noqa: F811
    from statuspage.monitors import runner

    seen: dict[str, int] = {}

    def when_it_lets_go() -> None:
        with tracked.lock:
            seen["other checks"] = tracked.hits

    slow = trickle("headers", on_close=when_it_lets_go)
    add_monitor(components[0], slow.url("/health/ready"), name="Slow",
                timeout=DEADLINE)  # checked first
    add_monitor(components[1], tracked.url(), name="Quick")
    report = runner.run_round()
    assert slow.closed.wait(10) and len(report.checked) == 2
    assert seen["other checks"] == 1
