"""Events, not calls (issue 22, point 3): an operation records what happened and the
outbox's listeners write its messages in the operation's own transaction; no process can
record an event that nobody hears.

The webhook and Slack rows are the ones a receiver on loopback would be sent on the next
tick (tests/test_webhooks.py and tests/test_slack.py send them); here what matters is that
they exist exactly when the change does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage import events, incidents
from statuspage.extensions import db
from statuspage.models import Incident, SlackMessage, WebhookDelivery
from statuspage.outbox import listeners, webhooks
from tests.maintenance_support import make_window
from tests.smtp import smtp  # noqa: F401  (fixture)
from tests.test_notifier_process import notifier  # noqa: F401  (fixture)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)


@pytest.fixture
def app(make_app, receiver):  # noqa: F811
    app = make_app(WEBHOOK_ALLOW_LOOPBACK_HTTP=True,
                   SLACK_WEBHOOK_URL=receiver.url(path="/services/T0/B0/x"))
    with app.app_context():
        yield app


@pytest.fixture
def hook(app, admin, clock, receiver):  # noqa: F811
    created = webhooks.create_webhook(receiver.url(), "all", [], actor=admin, now=clock())
    db.session.commit()
    return created


def declare(actor, components, clock):
    return incidents.open_incident(
        actor=actor, now=clock(), title="Login not working", severity="SEV-2",
        component_ids=[components[0].id],
        update=incidents.UpdateText(status="investigating", impact="Users cannot sign in.",
                                    actions="We are investigating."))


def messages() -> tuple[int, int]:
    """(Slack messages, webhook deliveries) waiting in the outbox."""
    db.session.expire_all()
    return (db.session.scalar(db.select(db.func.count(SlackMessage.id))),
            db.session.scalar(db.select(db.func.count(WebhookDelivery.id))))


def test_the_messages_of_a_change_commit_or_roll_back_with_it(app, clock, hook, responder,
                                                              components):
    declare(responder, components, clock)
    db.session.rollback()  # the view's answer to an error after the operation
    assert db.session.scalar(db.select(db.func.count(Incident.id))) == 0
    assert messages() == (0, 0)

    incident = declare(responder, components, clock)
    db.session.commit()
    assert messages() == (1, 1)  # the declaration block; the incident's webhook event
    clock.advance(minutes=5)
    incidents.post_update(incident, incidents.UpdateText(
        status="identified", impact="Users cannot sign in.", actions="Restarting.",
        component_statuses={components[0].id: "major_outage"}), actor=responder, now=clock())
    db.session.commit()
    # The update's block; the component's change, then the incident's, for the webhook.
    assert messages() == (2, 3)


def test_an_app_without_listeners_refuses_the_change_rather_than_lose_its_messages(
        app, clock, hook, responder, components):
    app.extensions.pop(events.EXTENSION)
    with pytest.raises(RuntimeError, match="IncidentDeclared .* would be lost"):
        declare(responder, components, clock)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Incident.id))) == 0
    listeners.init_app(app)
    declare(responder, components, clock)
    db.session.commit()
    assert messages() == (1, 1)


def test_every_kind_of_event_is_heard_and_a_table_that_forgets_one_is_refused(app):
    # create_app, through which every process starts (web, notifier, monitors, flask
    # commands), installed a listener for every kind.
    assert set(app.extensions[events.EXTENSION]) == set(events.kinds())
    assert all(app.extensions[events.EXTENSION].values())
    partial = {kind: found for kind, found in listeners.LISTENERS.items()
               if kind is not events.WindowCancelled}
    with pytest.raises(RuntimeError, match="No listener for WindowCancelled"):
        events.install(app, partial)
    with pytest.raises(RuntimeError, match="No listener for SubscriberNeedsLink"):
        events.install(app, {**listeners.LISTENERS, events.SubscriberNeedsLink: ()})


def test_a_kind_of_event_the_table_never_saw_is_refused_not_dropped(app, clock, responder,
                                                                    make_incident,
                                                                    components):
    class Retitled(events.IncidentEdited):  # a new kind, written as a kind of another
        pass

    incident = make_incident(responder, components[:1])
    with pytest.raises(RuntimeError, match="No listener for Retitled"):
        events.record(Retitled(incident), now=clock())


@pytest.mark.process
def test_the_notifier_process_tells_the_webhooks_of_the_window_it_starts(
        app, clock, hook, receiver, components, notifier):  # noqa: F811
    """A process of its own (``flask --app statuspage notifier --once``) records the events
    of the windows it moves, and hears them: its app was built by create_app too."""
    window = make_window(clock(), components[:1], starts_in=timedelta(minutes=-1))
    window.auto_start = True
    db.session.commit()
    notifier.once(clock(), WEBHOOK_ALLOW_LOOPBACK_HTTP="true")
    assert [r.json["scheduled_maintenance"]["status"] for r in receiver.requests] == [
        "in_progress"]
