"""A fan-out under way meets a change: a redaction, the all-clear, an unsubscribe, a hold;
and /health/ready while the SMTP server is slow.

The notifier runs in a thread of this process (its own app context, so its own database
session) against the real SMTP server on loopback. The server holds one message
unanswered (``smtp.hold``) while the test makes the change and commits it, then lets it
go: that message was in flight when the change committed; every later one must see the
change. No sleeps: the test waits on the server's events, and moves time by the clock.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from statuspage.public import health
from statuspage import heartbeat, tokens
from statuspage.config import NOTIFIER_INTERVAL_SECONDS, SMTP_TIMEOUT_SECONDS
from statuspage.extensions import db
from statuspage.models import Delivery, Subscriber
from statuspage.outbox import queue
from statuspage.transactions import take_write_lock
from tests.conftest import form_fields
from tests.smtp import add_subscribers, app, notifier_thread, smtp  # noqa: F401  (fixtures)
from tests.staff_support import post_update

OUTAGE = "Metabolic-Tracker Temporary Service Disruption"
RESTORED = "Metabolic-Tracker Service Restored"
#: Health data pasted by mistake into the workaround of a SEV-1's first update.
PASTED = "Call Jane Doe (participant 4411) on 555-0100: glucose 14.2 mmol/L"
SUBSCRIBERS = 300


def sev1_due(make_incident, actor, components, clock, **fields):
    """A SEV-1 whose outage email is due now."""
    incident = make_incident(actor, components[:1], severity="SEV-1", **fields)
    clock.advance(minutes=31)
    db.session.commit()
    return incident


def by_recipient(messages) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = defaultdict(list)
    for m in messages:
        for r in m.rcpt_tos:
            seen[r].append(m.subject)
    return seen


@pytest.mark.parametrize("workers", [1, 2])
def test_a_redaction_reaches_the_emails_of_a_fan_out_under_way(
        app, smtp, clock, admin, admin_client, components, make_incident, workers):
    """Once the redaction commits, at most the message each worker has in flight still
    carries the text (OUTBOX_CONCURRENCY workers)."""
    app.config["OUTBOX_CONCURRENCY"] = workers
    emails = add_subscribers(SUBSCRIBERS)
    incident = sev1_due(make_incident, admin, components, clock, workaround=PASTED)
    [update] = incident.updates
    page = admin_client.get(f"/staff/incidents/{incident.id}")
    redact_form = form_fields(page, f"#update-{update.id} form.redact")
    in_flight = smtp.hold(after=120)  # mid-batch: the rest of its batch is claimed

    with notifier_thread(app):
        in_flight.wait_reached()
        response = admin_client.post(
            f"/staff/incidents/{incident.id}/updates/{update.id}/redact",
            data={**redact_form, "confirm": "yes"})
        assert response.status_code == 302
        committed_at = len(smtp.messages)  # accepted before the redaction committed
        in_flight.release()

    assert PASTED in smtp.messages[0].text()  # the text did go out before the redaction
    after = smtp.messages[committed_at:]
    if workers == 1:
        assert after[0].rcpt_tos == in_flight.recipients  # the one in flight
        carrying = [m.to for m in after[1:] if PASTED in m.text() or PASTED in m.html()]
        assert carrying == []
    else:  # the held one, and at most the one the other worker had in flight
        assert in_flight.recipients[0] in [m.to for m in after]
        carrying = [m.to for m in after if PASTED in m.text() or PASTED in m.html()]
        assert len(carrying) <= workers
    assert "No workaround is available yet." in after[-1].text()
    assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == sorted(emails)


@pytest.mark.parametrize("workers", [1, 2])
def test_no_outage_email_after_the_all_clear_committed(
        app, smtp, clock, responder, responder_client, components, make_incident, workers):
    app.config["OUTBOX_CONCURRENCY"] = workers
    emails = add_subscribers(SUBSCRIBERS)
    incident = sev1_due(make_incident, responder, components, clock)
    in_flight = smtp.hold(after=120)

    with notifier_thread(app):
        in_flight.wait_reached()
        response = post_update(responder_client, incident.id, status="resolved",
                               impact="Sign-in works again.", actions="Fixed.")
        assert response.status_code == 302
        committed_at = len(smtp.messages)
        in_flight.release()

    after = smtp.messages[committed_at:]
    # At most the message each worker had in flight goes after the all-clear committed.
    assert len([m.subject for m in after if m.subject == OUTAGE]) <= workers
    if workers == 1:
        assert [m.subject for m in after[1:] if m.subject == OUTAGE] == []
    told = by_recipient(smtp.messages)
    # Whoever read "disruption" reads "restored" after it (the ones in flight too);
    # nobody else gets either.
    assert committed_at + 1 <= len(told) <= committed_at + workers
    assert all(kinds == [OUTAGE, RESTORED] for kinds in told.values()), told
    assert set(told) <= set(emails)


def test_an_unsubscribe_during_a_fan_out_stops_the_email(
        app, smtp, clock, responder, components, make_incident):
    # The guarantee is per engine worker (one message in flight each): with one, every
    # claimed message but the one held sees the unsubscribe.
    app.config["OUTBOX_CONCURRENCY"] = 1
    emails = add_subscribers(SUBSCRIBERS)
    sev1_due(make_incident, responder, components, clock)
    in_flight = smtp.hold(after=10)
    client = app.test_client()

    with notifier_thread(app):
        in_flight.wait_reached()
        db.session.rollback()  # a fresh read: the notifier's claim is committed
        waiting = db.session.execute(
            db.select(Subscriber.email, Subscriber.public_id, Delivery.status)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.status.in_(("sending", "pending")),
                   Subscriber.email.not_in(in_flight.recipients))
            .order_by(Subscriber.id)).all()
        claimed = [row for row in waiting if row.status == "sending"][:30]
        pending = [row for row in waiting if row.status == "pending"][:30]
        assert len(claimed) == 30 and len(pending) == 30
        for row in claimed + pending:  # one-click, as a mail client sends it
            response = client.post(f"/unsubscribe/{tokens.unsubscribe_token(row.public_id)}",
                                   data={"List-Unsubscribe": "One-Click"})
            assert response.status_code == 200
        in_flight.release()

    gone = {row.email for row in claimed + pending}
    told = by_recipient(smtp.messages)
    assert sorted(gone & set(told)) == []
    assert sorted(told) == sorted(set(emails) - gone)
    assert all(kinds == [OUTAGE] for kinds in told.values())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_hold_during_a_fan_out_stops_it_and_a_release_finishes_it(
        app, smtp, clock, admin, components, make_incident, workers):
    """Once the hold commits, at most the message each worker has in flight goes."""
    app.config["OUTBOX_CONCURRENCY"] = workers
    emails = add_subscribers(120)
    incident = sev1_due(make_incident, admin, components, clock)
    in_flight = smtp.hold(after=10)

    with notifier_thread(app):
        in_flight.wait_reached()
        take_write_lock()  # as the staff request does (the other worker is writing)
        queue.hold_emails(incident, actor=admin, now=clock())
        db.session.commit()
        committed_at = len(smtp.messages)
        in_flight.release()

    if workers == 1:
        assert len(smtp.messages) == committed_at + 1  # only the one in flight went
    else:  # the held one, and at most the one the other worker had in flight
        assert committed_at + 1 <= len(smtp.messages) <= committed_at + workers

    queue.release_emails(incident, actor=admin, now=clock())
    db.session.commit()
    with notifier_thread(app):
        pass
    told = by_recipient(smtp.messages)
    assert sorted(told) == sorted(emails)
    assert all(kinds == [OUTAGE] for kinds in told.values())


# --- /health/ready while the SMTP server is slow --------------------------------------


def test_the_default_staleness_allows_a_stalled_message_and_idle_ticks():
    """The rule in statuspage/heartbeat.py, with the defaults of statuspage/config.py."""
    allowed = heartbeat.max_age_seconds({"NOTIFIER_INTERVAL_SECONDS": NOTIFIER_INTERVAL_SECONDS,
                                         "SMTP_TIMEOUT_SECONDS": SMTP_TIMEOUT_SECONDS})
    one_stalled_message = 2 * SMTP_TIMEOUT_SECONDS
    assert allowed > heartbeat.BEAT_EVERY_SECONDS + one_stalled_message
    assert allowed >= 3 * NOTIFIER_INTERVAL_SECONDS
    assert heartbeat.max_age_seconds({"NOTIFIER_HEARTBEAT_MAX_AGE_SECONDS": 600}) == 600


@pytest.mark.parametrize("seconds_per_message", [SMTP_TIMEOUT_SECONDS - 1])
def test_ready_stays_green_while_a_slow_smtp_server_slows_the_fan_out(
        app, smtp, clock, responder, components, make_incident, seconds_per_message):
    """Each message takes just under SMTP_TIMEOUT_SECONDS (by the clock), five in a row:
    far longer than the allowed heartbeat age, yet the notifier is working."""
    app.config["SMTP_TIMEOUT_SECONDS"] = SMTP_TIMEOUT_SECONDS  # the default, not 5 s
    add_subscribers(20)
    sev1_due(make_incident, responder, components, clock)
    slow = [smtp.hold(after=n) for n in range(6)]
    client = app.test_client()
    allowed = health.max_heartbeat_age()
    answers = []

    with notifier_thread(app):
        slow[0].wait_reached()
        for previous, current in zip(slow, slow[1:]):
            clock.advance(seconds=seconds_per_message)
            previous.release()
            current.wait_reached()  # the notifier is between messages, past its heartbeat
            db.session.rollback()  # as a fresh request would: no snapshot from the last one
            response = client.get("/health/ready")
            answers.append((response.status_code,
                            response.get_json()["checks"]["notifier"]["status"]))
        slow[-1].release()

    assert 5 * seconds_per_message > allowed  # the slow stretch outlasts the allowed age
    assert answers == [(200, "pass")] * 5
