"""Subscribing (double opt-in), confirming and unsubscribing, through the real pages and a
real SMTP server; tokens; the same answer for every address; no address anywhere public."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import timedelta

import pytest

from statuspage import subscriptions, tokens
from statuspage.extensions import db
from statuspage.models import AuditEvent, Delivery, Notification, Subscriber
from tests.conftest import form_fields, soup
from tests.smtp import app, make_subscriber, smtp, tick  # noqa: F401  (fixtures)

CONFIRM_SUBJECT = "Confirm your Metabolic-Tracker status emails"
MANAGE_SUBJECT = "Your Metabolic-Tracker status emails"


def subscribe(client, email, audience="participant"):
    page = client.get("/subscribe")
    assert page.status_code == 200
    data = form_fields(page, "form[action='/subscribe']")
    data.update(email=email, audience=audience)
    return client.post("/subscribe", data=data)


def subscriber(email):
    db.session.expire_all()
    return db.session.scalar(db.select(Subscriber).where(Subscriber.email == email))


def link_in(message, kind):
    found = re.search(rf"https://status\.example\.test(/{kind}/[A-Za-z0-9_.-]+)",
                      message.text())
    assert found, message.text()
    return found.group(1)


# --- Subscribing -------------------------------------------------------------------------


def test_subscribe_confirm_flow_sends_mail_only_from_the_notifier(app, smtp):
    client = app.test_client()
    response = subscribe(client, "Pat@Example.TEST", "coach")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/subscribe/check-inbox")
    page = client.get(response.headers["Location"])
    assert "Check your inbox" in page.get_data(as_text=True)
    sub = subscriber("pat@example.test")
    assert sub.status == "pending" and sub.audience == "coach"
    assert smtp.messages == []  # no request sends mail
    tick()
    [msg] = smtp.to("pat@example.test")
    assert msg.subject == CONFIRM_SUBJECT
    assert "as a coach" in msg.text()
    confirm_path = link_in(msg, "confirm")
    # The GET shows a button and changes nothing (mail scanners follow links).
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert subscriber("pat@example.test").status == "pending"
    form = soup(page).select_one(f"form[action='{confirm_path}']")
    assert form is not None and form.get("method") == "post"
    # The button's POST confirms.
    done = app.test_client().post(confirm_path)
    assert done.status_code == 200
    assert "You are subscribed" in done.get_data(as_text=True)
    assert subscriber("pat@example.test").status == "confirmed"
    # Confirming twice is harmless.
    assert app.test_client().post(confirm_path).status_code == 200


def test_same_answer_for_new_pending_and_confirmed_addresses(app, smtp, clock,
                                                             make_subscriber):
    make_subscriber("known@example.test")
    answers = []
    for address in ("new@example.test", "new@example.test", "known@example.test"):
        clock.advance(minutes=11)  # past the resend limit
        client = app.test_client()
        response = subscribe(client, address)
        follow = client.get(response.headers["Location"])
        answers.append((response.status_code, response.headers["Location"],
                        follow.get_data(as_text=True)))
    assert answers[0] == answers[1] == answers[2]
    tick()
    # A second confirmation for the pending one, "manage" for the confirmed one.
    assert [m.subject for m in smtp.to("new@example.test")] == [CONFIRM_SUBJECT] * 2
    [manage] = smtp.to("known@example.test")
    assert manage.subject == MANAGE_SUBJECT
    assert "already subscribed" in manage.text()
    assert "/unsubscribe/" in manage.text()
    assert "/confirm/" not in manage.text()
    assert subscriber("known@example.test").status == "confirmed"


def test_the_form_cannot_flood_an_inbox(app, smtp, clock):
    # The resend limit per address, not the per-client limit (test_subscriber_privacy.py).
    app.config["SUBSCRIBE_RATE_LIMIT"] = "100 per minute"
    for _ in range(5):
        assert subscribe(app.test_client(), "pat@example.test").status_code == 303
    tick()
    assert len(smtp.to("pat@example.test")) == 1
    clock.advance(minutes=11)
    subscribe(app.test_client(), "pat@example.test")
    tick()
    assert len(smtp.to("pat@example.test")) == 2


@pytest.mark.parametrize("email, audience, field", [
    ("", "participant", "email"),
    ("not-an-address", "participant", "email"),
    ("pat@example", "participant", "email"),
    ("pat@@example.test", "participant", "email"),
    ("pat@example.test\r\nBcc: victim@example.test", "participant", "email"),
    ("pat@example.test, other@example.test", "participant", "email"),
    ("<pat@example.test>", "participant", "email"),
    ("a" * 250 + "@example.test", "participant", "email"),
    ("pat@example.test", "", "audience"),
    ("pat@example.test", "admin", "audience"),
])
def test_bad_input_gets_a_clear_error_and_changes_nothing(app, smtp, email, audience, field):
    response = subscribe(app.test_client(), email, audience)
    assert response.status_code == 400
    page = soup(response)
    message = {"email": subscriptions.EMAIL_ERROR, "audience": subscriptions.AUDIENCE_ERROR}
    assert message[field] in page.get_text()
    assert db.session.scalar(db.select(db.func.count(Subscriber.id))) == 0
    assert db.session.scalar(db.select(db.func.count(Notification.id))) == 0


def test_subscribe_without_csrf_token_changes_nothing(app):
    client = app.test_client()
    response = client.post("/subscribe", data={"email": "pat@example.test",
                                               "audience": "participant"})
    assert response.status_code == 400
    assert db.session.scalar(db.select(db.func.count(Subscriber.id))) == 0


def test_idn_domain_is_stored_as_ascii(app, smtp):
    subscribe(app.test_client(), "pat@bücher.example")
    assert subscriber("pat@xn--bcher-kva.example") is not None
    tick()
    assert smtp.recipients() == ["pat@xn--bcher-kva.example"]


def test_unsubscribed_or_bouncing_address_can_subscribe_again(app, smtp, make_subscriber):
    make_subscriber("gone@example.test", status="unsubscribed")
    make_subscriber("bounced@example.test", status="bouncing")
    subscribe(app.test_client(), "gone@example.test", "coach")
    subscribe(app.test_client(), "bounced@example.test")
    assert subscriber("gone@example.test").status == "pending"
    assert subscriber("gone@example.test").audience == "coach"
    tick()
    assert [m.subject for m in smtp.messages] == [CONFIRM_SUBJECT] * 2


def test_unconfirmed_subscribers_are_deleted_after_7_days(app, smtp, clock):
    subscribe(app.test_client(), "pat@example.test")
    tick()
    clock.advance(days=6, hours=23)
    tick()
    assert subscriber("pat@example.test") is not None
    clock.advance(hours=1, seconds=1)
    tick()
    assert subscriber("pat@example.test") is None
    assert db.session.scalar(db.select(db.func.count(Delivery.id))) == 0


def test_unconfirmed_subscribers_get_no_incident_email(app, smtp, clock, responder,
                                                       components, make_incident,
                                                       make_subscriber):
    make_subscriber("pending@example.test", status="pending")
    make_subscriber("yes@example.test")
    make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    assert smtp.recipients() == ["yes@example.test"]


# --- Tokens ------------------------------------------------------------------------------


def _confirm_path(app, smtp, email="pat@example.test"):
    subscribe(app.test_client(), email)
    tick()
    return link_in(smtp.to(email)[-1], "confirm")


def test_tampered_confirm_token_is_refused(app, smtp):
    path = _confirm_path(app, smtp)
    token = path.rsplit("/", 1)[1]
    payload, stamp, sig = token.split(".")
    tampered = [
        f"/confirm/{payload}.{stamp}.{sig[:-2]}xy",
        f"/confirm/{payload[:-1]}A.{stamp}.{sig}",
        f"/confirm/{token[:20]}",
        "/confirm/" + "x" * 500,
        "/confirm/%00",
    ]
    for bad in tampered:
        for method in ("get", "post"):
            response = getattr(app.test_client(), method)(bad)
            assert response.status_code in (400, 404), bad
            if response.status_code == 400:
                assert "not valid" in response.get_data(as_text=True)
    assert subscriber("pat@example.test").status == "pending"


def test_confirm_token_expires_after_48_hours(app, smtp, clock):
    path = _confirm_path(app, smtp)
    clock.advance(hours=47, minutes=59)
    assert app.test_client().get(path).status_code == 200
    clock.advance(minutes=1, seconds=1)
    for method in ("get", "post"):
        response = getattr(app.test_client(), method)(path)
        assert response.status_code == 400
        assert "expired" in response.get_data(as_text=True)
    assert subscriber("pat@example.test").status == "pending"


def test_tokens_are_for_one_purpose_only(app, smtp, make_subscriber):
    sub = make_subscriber("pat@example.test", status="pending")
    confirm = tokens.make_token("confirm", sub.public_id)
    unsubscribe = tokens.make_token("unsubscribe", sub.public_id)
    assert app.test_client().post(f"/unsubscribe/{confirm}").status_code == 400
    assert app.test_client().post(f"/confirm/{unsubscribe}").status_code == 400
    assert subscriber("pat@example.test").status == "pending"
    # A token signed with another key is refused too.
    app.config["SECRET_KEY"] = "another-key"
    forged = tokens.make_token("confirm", sub.public_id)
    app.config["SECRET_KEY"] = "test-secret-key"
    assert app.test_client().post(f"/confirm/{forged}").status_code == 400
    assert app.test_client().post(f"/confirm/{confirm}").status_code == 200


def test_tokens_carry_an_opaque_id_never_the_address(app, smtp):
    path = _confirm_path(app, smtp)
    payload = path.rsplit("/", 1)[1].split(".")[0]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    sub = subscriber("pat@example.test")
    assert decoded == sub.public_id and "@" not in decoded


# --- Unsubscribing -----------------------------------------------------------------------


def test_one_click_unsubscribe_with_no_cookie_and_no_csrf(app, smtp, clock, responder,
                                                         components, make_incident,
                                                         make_subscriber):
    sub = make_subscriber("pat@example.test")
    token = tokens.unsubscribe_token(sub.public_id)
    client = app.test_client()
    # The GET shows a button and changes nothing.
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    assert subscriber("pat@example.test").status == "confirmed"
    assert soup(page).select_one(f"form[action='/unsubscribe/{token}'][method='post']")
    # RFC 8058: what a mail client POSTs, with no cookie.
    response = client.post(f"/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert subscriber("pat@example.test").status == "unsubscribed"
    # No more incident email.
    make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    assert smtp.messages == []
    # Unsubscribing again is harmless.
    assert client.post(f"/unsubscribe/{token}").status_code == 200


def test_unsubscribe_button_on_the_page_works(app, make_subscriber):
    sub = make_subscriber("pat@example.test")
    token = tokens.unsubscribe_token(sub.public_id)
    client = app.test_client()
    page = client.get(f"/unsubscribe/{token}")
    response = client.post(f"/unsubscribe/{token}",
                           data=form_fields(page, f"form[action='/unsubscribe/{token}']"))
    assert response.status_code == 200
    assert subscriber("pat@example.test").status == "unsubscribed"


def test_unsubscribe_cancels_what_was_still_to_be_sent(app, smtp, clock, responder,
                                                      components, make_incident,
                                                      make_subscriber):
    sub = make_subscriber("pat@example.test")
    make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    smtp.down()
    tick()
    smtp.up()
    app.test_client().post(f"/unsubscribe/{tokens.unsubscribe_token(sub.public_id)}")
    clock.advance(hours=1)
    tick()
    assert smtp.messages == []
    assert [d.status for d in db.session.scalars(db.select(Delivery))] == ["cancelled"]


def test_bad_unsubscribe_token_is_refused(app, make_subscriber):
    make_subscriber("pat@example.test")
    for method in ("get", "post"):
        response = getattr(app.test_client(), method)("/unsubscribe/not.a.token")
        assert response.status_code == 400
    assert subscriber("pat@example.test").status == "confirmed"


# --- Privacy -----------------------------------------------------------------------------


def test_addresses_never_reach_logs_audit_or_public_pages(app, smtp, clock, admin, responder,
                                                        components, make_incident,
                                                        make_subscriber, caplog):
    caplog.set_level(logging.DEBUG)
    address = "secret.person@example.test"
    subscribe(app.test_client(), address, "coach")
    tick()
    confirm_path = link_in(smtp.to(address)[0], "confirm")
    app.test_client().post(confirm_path)
    make_subscriber("bounce.me@example.test")
    smtp.refuse("bounce.me@example.test", "550 5.1.1 <bounce.me@example.test> unknown")
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    client = app.test_client()
    pages = ["/", "/history", f"/incidents/{incident.id}", "/subscribe",
             "/subscribe/check-inbox", confirm_path]
    for path in pages:
        body = client.get(path).get_data(as_text=True)
        assert address not in body and "bounce.me" not in body, path
    for event in db.session.scalars(db.select(AuditEvent)):
        assert address not in json.dumps([event.before, event.after, event.target_id])
    # aiosmtpd's own "mail.log" is the test mail server's log, not ours: it must see addresses.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert "secret.person" not in logged and "bounce.me" not in logged
    for delivery in db.session.scalars(db.select(Delivery)):
        assert "bounce.me" not in (delivery.last_error or "")


def test_token_pages_are_not_cached_and_set_no_cookie(app, smtp):
    path = _confirm_path(app, smtp)
    for response in (app.test_client().get(path), app.test_client().post(path)):
        assert "Set-Cookie" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"


def test_confirm_after_unsubscribing_is_refused(app, smtp):
    path = _confirm_path(app, smtp)
    app.test_client().post(path)
    sub = subscriber("pat@example.test")
    app.test_client().post(f"/unsubscribe/{tokens.unsubscribe_token(sub.public_id)}")
    assert app.test_client().post(path).status_code == 400
    assert subscriber("pat@example.test").status == "unsubscribed"


def test_deleted_subscribers_link_is_refused_or_harmless(app, smtp, admin):
    path = _confirm_path(app, smtp)
    sub = subscriber("pat@example.test")
    unsubscribe = f"/unsubscribe/{tokens.unsubscribe_token(sub.public_id)}"
    subscriptions.delete_subscriber(sub, actor=admin, now=sub.created_at + timedelta(minutes=1))
    db.session.commit()
    assert app.test_client().post(path).status_code == 400
    response = app.test_client().post(unsubscribe)
    assert response.status_code == 200  # nothing to stop: the same "unsubscribed" answer
