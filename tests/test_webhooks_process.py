"""Webhook deliveries through real notifier processes (``flask --app statuspage notifier``)
killed mid-batch: nothing lost, nothing out of order, at most the POST in flight twice."""

from __future__ import annotations

import signal
from datetime import timedelta

import pytest

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import WebhookDelivery
from statuspage.outbox import webhooks
from tests.conftest import T0
from tests.smtp import app, smtp  # noqa: F401  (fixtures)
from tests.test_notifier_process import notifier, wait_for  # noqa: F401  (fixture)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.process

LOOPBACK = {"WEBHOOK_ALLOW_LOOPBACK_HTTP": "true", "WEBHOOK_TIMEOUT_SECONDS": "5"}


def statuses() -> list[str]:
    db.session.rollback()  # a fresh snapshot: another process is writing
    return list(db.session.scalars(
        db.select(WebhookDelivery.status).order_by(WebhookDelivery.event_id)))


def test_a_notifier_killed_mid_batch_loses_nothing_and_keeps_the_order(
        app, notifier, receiver, admin, responder, clock, components,  # noqa: F811
        make_incident):
    app.config["WEBHOOK_ALLOW_LOOPBACK_HTTP"] = True
    webhooks.create_webhook(receiver.url(), "all", [], actor=admin, now=clock())
    db.session.commit()
    incident = make_incident(responder, components[:1], severity="SEV-3")
    for status in ("identified", "monitoring", "identified", "monitoring"):
        incidents.post_update(incident, incidents.UpdateText(
            status=status, impact="Sign-in fails.", actions="Working on it."),
            actor=responder, now=clock())
        db.session.commit()
    assert len(statuses()) == 5

    receiver.hold(3)  # the third POST reaches the receiver, and is never answered
    due = T0 + timedelta(minutes=1)
    victim = notifier(due, **LOOPBACK)
    assert receiver.reached.wait(120), "the third POST never came"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    receiver.released.set()
    assert statuses() == ["sent", "sent", "sending", "pending", "pending"]

    # Within its lease, the dead notifier's claim is respected, and the later events wait.
    notifier.once(due + timedelta(seconds=10), **LOOPBACK)
    assert len(receiver.requests) == 3
    # After the lease (NOTIFIER_LEASE_SECONDS, 300 s), the rest go, in order.
    notifier.once(due + timedelta(seconds=301), **LOOPBACK)
    assert statuses() == ["sent"] * 5
    events = receiver.events()
    assert len(events) == 6
    assert events[2] == events[3]  # the one in flight, twice
    distinct = list(dict.fromkeys(events))
    assert distinct == sorted(distinct, key=int) and len(distinct) == 5
