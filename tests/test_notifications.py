"""When the outage and resolution emails go out, to whom, at most once; the pure decisions;
the admin's hold and send-now; what the staff pages show. Real SMTP on loopback."""

from __future__ import annotations

import os
import random
import signal
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import IntegrityError

from statuspage import errors, heartbeat, incidents, scheduler, subscriptions, tokens
from statuspage.extensions import db
from statuspage.models import AuditEvent, Delivery, Notification, Subscriber
from statuspage.outbox import channels, engine, notifier, queue, rules, workers
from statuspage.outbox.rules import (
    after_temporary_failure,
    delivery_action,
    outage_email_due,
    outage_email_due_at,
    parse_severities,
    retry_delay,
)
from statuspage.outbox.status import email_status
from tests.conftest import T0, form_fields, soup
from tests.smtp import (  # noqa: F401  (fixtures)
    app,
    make_subscriber,
    notifier_thread,
    smtp,
    tick,
)

OUTAGE = "Metabolic-Tracker Temporary Service Disruption"
RESTORED = "Metabolic-Tracker Service Restored"
DEFAULT = dict(severities={"SEV-1", "SEV-2"}, delay=timedelta(minutes=30))


def incident_like(severity="SEV-1", status="investigating", started_at=T0):
    return SimpleNamespace(severity=severity, status=status, started_at=started_at)


def resolve(incident, actor, now):
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="Back to normal.", actions="Fixed."), actor=actor, now=now)
    db.session.commit()


def kinds_to(smtp_server, address):
    return [m.subject for m in smtp_server.to(address)]


# --- Pure decisions ----------------------------------------------------------------------


def test_outage_email_due_after_more_than_30_minutes_from_started_at():
    inc = incident_like()
    assert not outage_email_due(inc, T0 + timedelta(minutes=29, seconds=59), **DEFAULT)
    assert not outage_email_due(inc, T0 + timedelta(minutes=30), **DEFAULT)  # "more than"
    assert outage_email_due(inc, T0 + timedelta(minutes=30, seconds=1), **DEFAULT)
    assert outage_email_due_at("SEV-2", T0, **DEFAULT) == T0 + timedelta(minutes=30)


@pytest.mark.parametrize("severity, due", [("SEV-1", True), ("SEV-2", True),
                                           ("SEV-3", False), ("SEV-4", False)])
def test_outage_email_only_for_configured_severities(severity, due):
    later = T0 + timedelta(hours=5)
    assert outage_email_due(incident_like(severity), later, **DEFAULT) is due
    assert (outage_email_due_at(severity, T0, **DEFAULT) is not None) is due


def test_no_outage_email_once_resolved():
    assert not outage_email_due(incident_like(status="resolved"), T0 + timedelta(hours=2),
                                **DEFAULT)


def test_a_backdated_start_makes_it_due_at_once():
    now = T0 + timedelta(minutes=1)
    assert outage_email_due(incident_like(started_at=now - timedelta(minutes=45)), now,
                            **DEFAULT)


def test_parse_severities():
    assert parse_severities("SEV-1,SEV-2") == {"SEV-1", "SEV-2"}
    assert parse_severities(" sev-1 , ,SEV-3 ") == {"SEV-1", "SEV-3"}
    assert parse_severities(["SEV-1"]) == {"SEV-1"}
    assert parse_severities("") == frozenset()


def test_retry_delay_grows_exponentially_with_jitter_and_a_cap():
    base, cap = 30, 1800
    assert retry_delay(1, base=base, cap=cap, rand=0.0) == timedelta(seconds=15)
    assert retry_delay(1, base=base, cap=cap, rand=0.999999) < timedelta(seconds=30)
    assert retry_delay(2, base=base, cap=cap, rand=0.0) == timedelta(seconds=30)
    assert retry_delay(4, base=base, cap=cap, rand=0.0) == timedelta(seconds=120)
    assert retry_delay(20, base=base, cap=cap, rand=0.0) == timedelta(seconds=900)
    assert retry_delay(20, base=base, cap=cap, rand=0.999999) < timedelta(seconds=1800)
    rng = random.Random(1)
    spread = {retry_delay(3, base=base, cap=cap, rand=rng.random()) for _ in range(20)}
    assert len(spread) > 10  # notifiers that failed together do not retry together


def test_after_temporary_failure_gives_up_at_max_attempts():
    now = T0
    status, at = after_temporary_failure(1, now=now, max_attempts=3, base=30, cap=60,
                                         rand=0.5)
    assert status == "pending" and at == now + timedelta(seconds=22.5)
    assert after_temporary_failure(3, now=now, max_attempts=3, base=30, cap=60,
                                   rand=0.5) == ("failed", None)


def test_test_only_knobs_are_ignored_unless_testing():
    """A stray STATUSPAGE_FIXED_NOW or pause must never freeze or slow production."""
    knobs = {"FIXED_NOW": "2001-01-01T00:00:00+00:00", "NOTIFIER_TEST_PAUSE_AFTER_CLAIM": 120}
    assert scheduler.fixed_clock({**knobs, "TESTING": False}) is None
    assert rules.pause_after_claim({**knobs, "TESTING": False}) == 0
    fixed = scheduler.fixed_clock({**knobs, "TESTING": True})
    assert fixed() == datetime(2001, 1, 1, tzinfo=timezone.utc)
    assert rules.pause_after_claim({**knobs, "TESTING": True}) == 120


@pytest.mark.parametrize("kind, subscriber_status, resolved, action", [
    ("outage", "confirmed", False, "send"),
    ("outage", "confirmed", True, "cancel"),
    ("outage", "pending", False, "cancel"),
    ("outage", "unsubscribed", False, "cancel"),
    ("outage", "bouncing", False, "cancel"),
    ("resolution", "confirmed", True, "send"),
    ("resolution", "unsubscribed", True, "cancel"),
    ("confirm", "pending", False, "send"),
    ("confirm", "confirmed", False, "cancel"),
    ("manage", "confirmed", False, "send"),
    ("manage", "unsubscribed", False, "cancel"),
])
def test_delivery_action(kind, subscriber_status, resolved, action):
    assert delivery_action(kind, subscriber_status, resolved) == action


# --- The outage email, by the clock ------------------------------------------------------


def test_outage_email_at_30_01_and_not_at_29_59(smtp, clock, responder, components,
                                                make_incident, make_subscriber):
    subs = [make_subscriber() for _ in range(3)]
    make_incident(responder, components[:1], severity="SEV-2")
    clock.advance(minutes=29, seconds=59)
    tick()
    assert smtp.messages == []
    clock.advance(seconds=2)
    tick()
    assert smtp.recipients(OUTAGE) == sorted(s.email for s in subs)
    clock.advance(hours=2)
    tick()
    assert len(smtp.messages) == 3  # once each, however many ticks


def test_counted_from_started_at_not_from_declaration(smtp, clock, responder, components,
                                                      make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    make_incident(responder, components[:1], severity="SEV-1",
                  started_at=clock() - timedelta(minutes=25))
    clock.advance(minutes=4, seconds=59)
    tick()
    assert smtp.messages == []
    clock.advance(seconds=2)
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE]


def test_no_outage_email_for_sev3(smtp, clock, responder, components, make_incident,
                                  make_subscriber):
    make_subscriber()
    make_incident(responder, components[:1], severity="SEV-3")
    clock.advance(hours=3)
    tick()
    assert smtp.messages == []


def test_severity_raised_later_makes_it_due_at_once(smtp, clock, responder, components,
                                                    make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-3")
    clock.advance(minutes=40)
    tick()
    assert smtp.messages == []
    incidents.edit_incident(incident, actor=responder, now=clock(), title=incident.title,
                            severity="SEV-1", component_ids=[components[0].id],
                            started_at=incident.started_at)
    db.session.commit()
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE]


def test_severities_are_configurable(app, smtp, clock, responder, components, make_incident,
                                     make_subscriber):
    app.config["OUTAGE_EMAIL_SEVERITIES"] = "SEV-1"
    make_subscriber()
    make_incident(responder, components[:1], severity="SEV-2")
    clock.advance(hours=1)
    tick()
    assert smtp.messages == []


def test_nothing_when_resolved_at_minute_29(smtp, clock, responder, components,
                                            make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=29)
    tick()
    resolve(incident, responder, clock())
    clock.advance(hours=3)
    tick()
    assert smtp.messages == []
    assert db.session.scalar(db.select(db.func.count(Notification.id))) == 0


def test_notifier_down_at_the_30_minute_mark_sends_one_email_when_back(
        smtp, clock, responder, components, make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=20)
    tick()
    clock.advance(hours=2)  # nothing ran meanwhile
    tick()
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE]


def test_outage_email_goes_to_those_confirmed_when_it_became_due(
        app, smtp, clock, responder, components, make_incident, make_subscriber):
    early = make_subscriber("early@example.test")
    make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    late = make_subscriber("late@example.test")
    clock.advance(minutes=5)
    tick()
    assert smtp.recipients() == [early.email]
    assert late.email not in smtp.recipients()


# --- The resolution email ----------------------------------------------------------------


def test_resolution_email_goes_to_exactly_the_outage_recipients_still_subscribed(
        smtp, clock, responder, components, make_incident, make_subscriber):
    reached = [make_subscriber(f"reached{i}@example.test") for i in range(3)]
    leaver = make_subscriber("leaver@example.test")
    bouncer = make_subscriber("bouncer@example.test")
    smtp.refuse("bouncer@example.test", "550 5.1.1 unknown user")
    incident = make_incident(responder, components[:1], severity="SEV-2")
    clock.advance(minutes=31)
    tick()
    latecomer = make_subscriber("latecomer@example.test")
    subscriptions.unsubscribe(tokens.unsubscribe_token(leaver.public_id), now=clock())
    db.session.commit()
    clock.advance(minutes=10)
    resolve(incident, responder, clock())
    tick()
    assert smtp.recipients(RESTORED) == sorted(s.email for s in reached)
    assert latecomer.email not in smtp.recipients()
    clock.advance(hours=3)
    tick()
    assert len(smtp.recipients(RESTORED)) == 3  # once each


def test_resolution_email_whatever_the_outages_length(smtp, clock, responder, components,
                                                      make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=30, seconds=30)
    tick()
    clock.advance(seconds=10)  # resolved 40 s after the outage email: under an hour
    resolve(incident, responder, clock())
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE, RESTORED]


def test_resolving_cancels_unsent_outage_emails(smtp, clock, responder, components,
                                                make_incident, make_subscriber):
    make_subscriber("sent@example.test")
    make_subscriber("unsent@example.test")
    smtp.refuse("unsent@example.test", "451 4.3.0 later")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    smtp.reset()
    resolve(incident, responder, clock())
    clock.advance(hours=4)
    tick()
    assert kinds_to(smtp, "sent@example.test") == [OUTAGE, RESTORED]
    assert kinds_to(smtp, "unsent@example.test") == []


def test_an_outage_email_in_flight_when_resolved_still_earns_the_all_clear(
        app, smtp, clock, responder, components, make_incident, make_subscriber):
    """Accepted by the server after the incident was resolved (it was in flight): its
    reader was told of the outage, so is owed the all-clear."""
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    in_flight = smtp.hold(after=0)
    with notifier_thread(app):
        in_flight.wait_reached()
        resolve(incident, responder, clock())
        in_flight.release()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE, RESTORED]


def test_an_outage_email_claimed_but_not_yet_sent_when_resolved_is_not_sent(
        app, smtp, clock, responder, components, make_incident, make_subscriber):
    """Claimed before the incident was resolved, its turn after: "disruption" must not
    reach anyone after "restored" was posted, and no all-clear is owed."""
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    settings = rules.current_settings()
    queue.enqueue_due_outage_emails_and_commit(clock(), settings)
    email = channels.get("email")
    [claimed] = engine.claim(email.queue, clock(), limit=50, lease=settings.lease)
    resolve(incident, responder, clock())
    workers.send_claimed(app, email, [claimed])
    tick()
    assert kinds_to(smtp, "pat@example.test") == []
    assert db.session.get(Delivery, claimed.delivery_id).status == "cancelled"


def test_at_most_one_of_each_kind_per_incident_and_subscriber_in_the_database(
        clock, responder, components, make_incident, make_subscriber):
    sub = make_subscriber()
    incident = make_incident(responder, components[:1], severity="SEV-1")
    now = clock()
    first = Notification(kind="outage", incident_id=incident.id, token="a" * 32,
                         created_at=now)
    db.session.add(first)
    db.session.commit()
    db.session.add(Notification(kind="outage", incident_id=incident.id, token="b" * 32,
                                created_at=now))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    for _ in range(2):
        db.session.add(Delivery(notification_id=first.id, subscriber_id=sub.id,
                                next_attempt_at=now, created_at=now))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_two_claims_never_share_a_delivery(clock, responder, components, make_incident,
                                           make_subscriber):
    for _ in range(10):
        make_subscriber()
    make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    settings = rules.current_settings()
    queue.enqueue_due_outage_emails_and_commit(clock(), settings)
    deliveries = channels.get("email").queue

    def claim(limit):
        return engine.claim(deliveries, clock(), limit=limit, lease=settings.lease)

    first = claim(4)
    second = claim(4)
    third = claim(4)
    ids = [c.delivery_id for c in first + second + third]
    assert len(ids) == len(set(ids)) == 10
    assert claim(4) == []
    # Until the lease expires: then they are anyone's again.
    clock.advance(seconds=settings.lease.total_seconds() + 1)
    assert len(claim(settings.batch_size)) == 10


# --- Reopening ---------------------------------------------------------------------------


def test_reopen_refused_once_the_all_clear_went_out(smtp, clock, admin, responder,
                                                    components, make_incident,
                                                    make_subscriber):
    make_subscriber()
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    resolve(incident, responder, clock())
    tick()
    with pytest.raises(errors.ValidationError) as refused:
        incidents.reopen(incident, actor=admin, now=clock())
    assert "Declare a recurrence" in refused.value.errors["status"]
    db.session.rollback()
    assert incident.is_resolved


def test_reopen_before_the_all_clear_went_out_then_resolve_sends_it_once(
        smtp, clock, admin, responder, components, make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    resolve(incident, responder, clock())  # all-clear queued, not sent yet
    incidents.reopen(incident, actor=admin, now=clock())
    db.session.commit()
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE]
    clock.advance(minutes=20)
    resolve(incident, responder, clock())
    tick()
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE, RESTORED]


# --- Admin: hold and send now ------------------------------------------------------------


def test_hold_stops_the_emails_and_release_lets_them_go(smtp, clock, admin, responder,
                                                       components, make_incident,
                                                       make_subscriber):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=10)
    queue.hold_emails(incident, actor=admin, now=clock())
    db.session.commit()
    clock.advance(minutes=30)
    tick()
    assert smtp.messages == []
    queue.release_emails(incident, actor=admin, now=clock())
    db.session.commit()
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE]
    actions = [e.action for e in db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action.like("emails.%")).order_by(AuditEvent.id))]
    assert actions == ["emails.hold", "emails.release"]


def test_hold_after_the_outage_email_holds_the_all_clear_too(smtp, clock, admin, responder,
                                                            components, make_incident,
                                                            make_subscriber):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    queue.hold_emails(incident, actor=admin, now=clock())
    db.session.commit()
    resolve(incident, responder, clock())
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE]


def test_send_now_sends_at_once_whatever_the_severity(smtp, clock, admin, responder,
                                                     components, make_incident,
                                                     make_subscriber):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-3")
    clock.advance(minutes=2)
    count = queue.send_outage_email_now(incident, actor=admin, now=clock())
    db.session.commit()
    assert count == 1
    assert smtp.messages == []  # the notifier sends it, not the request
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE]
    with pytest.raises(errors.ValidationError):
        queue.send_outage_email_now(incident, actor=admin, now=clock())
    db.session.rollback()
    [event] = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.action == "emails.send_now"))
    assert event.actor_id == admin.id and event.after == {"recipients": 1}
    resolve(incident, responder, clock())
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE, RESTORED]


def test_responders_cannot_hold_or_send(clock, responder, components, make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-1")
    for action in (queue.hold_emails, queue.release_emails,
                   queue.send_outage_email_now):
        with pytest.raises(errors.NotAllowed):
            action(incident, actor=responder, now=clock())


# --- The staff pages ---------------------------------------------------------------------


def email_block(client, incident):
    page = client.get(f"/staff/incidents/{incident.id}")
    assert page.status_code == 200
    block = soup(page).select_one("section.incident-emails")
    assert block is not None
    return page, block


def test_staff_page_shows_when_the_outage_email_is_due_then_how_it_went(
        smtp, clock, admin_client, responder_client, responder, components, make_incident,
        make_subscriber):
    for _ in range(3):
        make_subscriber()
    make_subscriber("busy@example.test")
    make_subscriber("gone@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=12)
    heartbeat.beat(clock())
    db.session.commit()
    _, block = email_block(responder_client, incident)
    text = " ".join(block.get_text(" ").split())
    assert "Outage email due at 2026-11-26 12:30 UTC (in 18 min)" in text
    assert "@" not in text
    assert "not running" not in text
    smtp.refuse("busy@example.test", "451 4.3.0 later")
    smtp.refuse("gone@example.test", "550 5.1.1 unknown")
    clock.advance(minutes=19)
    tick()
    _, block = email_block(responder_client, incident)
    text = " ".join(block.get_text(" ").split())
    assert "sent to 3 of 5, 1 retrying, 1 failed" in text
    assert "busy@" not in text and "gone@" not in text
    # Responders see no admin buttons.
    assert block.select("form") == []
    _, block = email_block(admin_client, incident)
    assert block.select_one("form[action$='/emails/hold']") is not None


def test_staff_page_warns_when_the_notifier_is_not_running(clock, responder_client,
                                                           responder, components,
                                                           make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-1")
    _, block = email_block(responder_client, incident)
    assert "The notifier is not running" in block.get_text()
    heartbeat.beat(clock())
    db.session.commit()
    _, block = email_block(responder_client, incident)
    assert "not running" not in block.get_text()


def test_staff_page_for_a_sev3_says_no_email(responder_client, responder, components,
                                            make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-3")
    _, block = email_block(responder_client, incident)
    assert "No outage email for SEV-3 incidents" in block.get_text()


def test_admin_hold_and_send_now_buttons(smtp, clock, app, admin_client, responder,
                                        components, make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-2")
    page, block = email_block(admin_client, incident)
    hold = f"/staff/incidents/{incident.id}/emails/hold"
    form = soup(page).select_one(f"form[action='{hold}']")
    # The hold says that it stops the all-clear too, and asks to be confirmed first.
    assert "also stops the resolution email" in form.get_text(" ", strip=True)
    assert form.select_one("input[name=confirm][required]") is not None
    response = admin_client.post(hold, data=form_fields(page, f"form[action='{hold}']"),
                                 follow_redirects=True)
    assert "Nothing was changed: tick the box" in response.get_data(as_text=True)
    _, block = email_block(admin_client, incident)
    assert "Held by an admin" not in block.get_text()
    response = admin_client.post(hold, data={**form_fields(page, f"form[action='{hold}']"),
                                             "confirm": "yes"})
    assert response.status_code == 302
    page, block = email_block(admin_client, incident)
    assert "Held by an admin" in block.get_text()
    assert "held" in page.get_data(as_text=True)
    clock.advance(minutes=45)
    tick()
    assert smtp.messages == []
    send = f"/staff/incidents/{incident.id}/emails/send-now"
    unconfirmed = form_fields(page, f"form[action='{send}']")
    admin_client.post(send, data=unconfirmed)
    tick()
    assert smtp.messages == []  # not without the confirmation
    response = admin_client.post(send, data={**unconfirmed, "confirm": "yes"})
    assert response.status_code == 302
    tick()
    assert kinds_to(smtp, "pat@example.test") == [OUTAGE]
    actions = [e.action for e in db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action.like("emails.%")).order_by(AuditEvent.id))]
    assert actions == ["emails.hold", "emails.send_now"]


def test_responders_and_strangers_cannot_use_the_admin_buttons(
        app, smtp, responder_client, responder, components, make_incident, make_subscriber):
    make_subscriber()
    incident = make_incident(responder, components[:1], severity="SEV-1")
    page = responder_client.get(f"/staff/incidents/{incident.id}")
    token = soup(page).select_one("input[name=csrf_token]")["value"]
    for action in ("hold", "release", "send-now"):
        path = f"/staff/incidents/{incident.id}/emails/{action}"
        assert responder_client.post(path, data={"csrf_token": token}).status_code == 403
        stranger = app.test_client().post(path)
        assert stranger.status_code in (302, 400, 401)
    assert db.session.scalar(db.select(db.func.count(Notification.id))) == 0


def test_subscribers_page_counts_and_admin_delete(app, clock, admin, admin_client,
                                                 responder_client, make_subscriber):
    make_subscriber("a@example.test")
    make_subscriber("b@example.test")
    make_subscriber("c@example.test", audience="coach")
    make_subscriber("d@example.test", status="pending")
    make_subscriber("e@example.test", audience="coach", status="bouncing")
    page = admin_client.get("/staff/subscribers")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert not any(f"{x}@example.test" in html for x in "abcde")
    table = soup(page).select_one("table.subscriber-counts")

    def count(status, audience):
        return table.select_one(f"tr[data-status={status}] td[data-audience={audience}]").text

    assert count("confirmed", "participant") == "2"
    assert count("confirmed", "coach") == "1"
    assert count("pending", "participant") == "1"
    assert count("bouncing", "coach") == "1"
    # Responders never see it.
    assert responder_client.get("/staff/subscribers").status_code == 403
    assert app.test_client().get("/staff/subscribers").status_code == 302
    # An unknown address: a clear answer, nothing deleted.
    data = form_fields(page, "form#delete-subscriber")
    response = admin_client.post("/staff/subscribers", data={**data, "email": "zz@example.test"})
    assert response.status_code == 422
    assert "No subscriber has that address" in response.get_data(as_text=True)
    # Delete one: audited without the address.
    target = db.session.scalar(db.select(Subscriber).where(Subscriber.email == "b@example.test"))
    public_id = target.public_id
    response = admin_client.post("/staff/subscribers", data={**data, "email": " B@Example.test "})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(Subscriber.id))) == 4
    [event] = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.action == "subscriber.delete"))
    assert event.actor_id == admin.id and event.before["subscriber"] == public_id
    assert "example.test" not in str(event.before) + str(event.after)
    table = soup(admin_client.get("/staff/subscribers")).select_one("table.subscriber-counts")
    assert count("confirmed", "participant") == "1"


# --- The tick's housekeeping -------------------------------------------------------------


def test_tick_writes_the_heartbeat(app, clock):
    assert heartbeat.latest() is None
    tick()
    assert heartbeat.latest() == clock()
    assert heartbeat.is_fresh(clock() + timedelta(seconds=29), 30)


def test_email_status_counts(clock, admin, responder, components, make_incident,
                             make_subscriber, smtp):
    for _ in range(2):
        make_subscriber()
    incident = make_incident(responder, components[:1], severity="SEV-1")
    status = email_status(incident, clock())
    assert status.due_at == incident.started_at + timedelta(minutes=30)
    assert status.minutes_left == 30 and status.outage is None and status.can_send_now
    clock.advance(minutes=31)
    tick()
    status = email_status(incident, clock())
    assert (status.outage.total, status.outage.sent) == (2, 2)
    assert not status.can_send_now


def test_the_stop_handler_stops_once_whatever_the_signals(app):
    """Ctrl-C (SIGINT) then ``make run``'s SIGTERM: one stop, and the second signal is a
    no-op (it used to shut the scheduler down twice, with a traceback)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stops = []
    try:
        scheduler.install_stop_handlers(lambda: stops.append(True))
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        assert notifier.stop_requested()
        assert stops == [True]
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        notifier.clear_stop()

