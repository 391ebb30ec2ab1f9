"""Slack messages through real notifier processes (``flask --app statuspage notifier``)
killed mid-send: nothing lost, nothing out of order, at most the POST in flight twice."""

from __future__ import annotations

import json
import signal
from datetime import timedelta

import pytest

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import SlackMessage
from tests.conftest import T0
from tests.smtp import app, smtp  # noqa: F401  (fixtures)
from tests.test_notifier_process import notifier, wait_for  # noqa: F401  (fixture)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.process


def statuses() -> list[str]:
    db.session.rollback()  # a fresh snapshot: another process is writing
    return list(db.session.scalars(db.select(SlackMessage.status).order_by(SlackMessage.id)))


def test_a_notifier_killed_mid_send_loses_no_slack_message_and_keeps_the_order(
        app, notifier, receiver, responder, clock, components,  # noqa: F811
        make_incident):
    slack = {"SLACK_WEBHOOK_URL": receiver.url(), "WEBHOOK_TIMEOUT_SECONDS": "5",
             "WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}  # Slack: public addresses only
    app.config["SLACK_WEBHOOK_URL"] = slack["SLACK_WEBHOOK_URL"]
    incident = make_incident(responder, components[:1], severity="SEV-3")
    for number, status in enumerate(("identified", "monitoring", "identified",
                                     "monitoring"), start=1):
        incidents.post_update(incident, incidents.UpdateText(
            status=status, impact="Sign-in fails.", actions=f"Step {number}."),
            actor=responder, now=clock())
        db.session.commit()
    texts = list(db.session.scalars(db.select(SlackMessage.text).order_by(SlackMessage.id)))
    assert len(texts) == 5

    receiver.hold(3)  # the third POST reaches the receiver, and is never answered
    due = T0 + timedelta(minutes=1)
    victim = notifier(due, **slack)
    assert receiver.reached.wait(120), "the third POST never came"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    receiver.released.set()
    assert statuses() == ["sent", "sent", "sending", "pending", "pending"]

    # Within its lease, the dead notifier's claim is respected, and the later ones wait.
    notifier.once(due + timedelta(seconds=10), **slack)
    assert len(receiver.requests) == 3
    # After the lease (NOTIFIER_LEASE_SECONDS, 300 s), the rest go, in order.
    notifier.once(due + timedelta(seconds=301), **slack)
    assert statuses() == ["sent"] * 5
    received = [json.loads(r.body)["text"] for r in receiver.requests]
    assert len(received) == 6
    assert received[2] == received[3]  # the one in flight, twice
    assert list(dict.fromkeys(received)) == texts
