"""Subscribers (issue 6, item 3, and its share of item 7).

The subscribe form is limited per client address and carries a honeypot; an admin can
export one subscriber's data (a JSON download) and delete it; and, through the whole life
of a subscriber (subscribe, confirm, an outage email sent by a real notifier tick to a real
SMTP server, unsubscribe, export, delete), their address appears in no log record and no
audit event: an opaque id does.
"""

from __future__ import annotations

import json
import logging
import re


from statuspage import subscriptions
from statuspage.extensions import db
from statuspage.models import AuditEvent, Delivery, Notification, Subscriber
from statuspage.public.subscribe import TOO_MANY

from .conftest import form_fields, login, soup
from .smtp import app, make_subscriber, smtp, tick  # noqa: F401  (fixtures)
from .test_bad_input import HOSTILE, assert_harmless
from .test_security import REDIS_URL, redis_prefix  # noqa: F401  (fixture)

SITE = "https://status.example.test"


def _client(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def subscribe(client, email, audience="participant", **extra):
    page = client.get("/subscribe")
    assert page.status_code == 200
    data = form_fields(page, "form[action='/subscribe']")
    data.update(email=email, audience=audience, **extra)
    return client.post("/subscribe", data=data)


def stored() -> tuple[int, int, int]:
    db.session.expire_all()
    return tuple(db.session.scalar(db.select(db.func.count()).select_from(m))
                 for m in (Subscriber, Notification, Delivery))


def link_in(message, kind: str) -> str:
    found = re.search(rf"{re.escape(SITE)}(/{kind}/[A-Za-z0-9_.-]+)", message.text())
    assert found, message.text()
    return found.group(1)


# --- The per-address limit ------------------------------------------------------------------


def test_the_subscribe_form_is_limited_per_client_address(make_app):
    app = make_app(SUBSCRIBE_RATE_LIMIT="3 per minute")
    with app.app_context():
        visitor = _client(app, "203.0.113.9")
        for n in range(3):
            assert subscribe(visitor, f"person{n}@example.test").status_code == 303
        assert stored()[0] == 3
        before = stored()

        response = subscribe(visitor, "one.more@example.test", website="robot-was-here")
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["Cache-Control"] == "no-store"
        page = soup(response)
        assert TOO_MANY in page.select_one("[role=alert]").get_text(" ", strip=True)
        assert page.select_one("form[action='/subscribe']") is not None  # the form again
        assert "robot-was-here" not in response.get_data(as_text=True)  # never echoed
        assert stored() == before  # nothing stored, nothing queued

        # Reading the form is not limited; another address is not affected.
        assert visitor.get("/subscribe").status_code == 200
        assert subscribe(_client(app, "198.51.100.4"), "other@example.test").status_code \
            == 303


def test_the_limit_is_shared_by_every_worker_through_redis(make_app, redis_prefix):
    config = dict(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=redis_prefix,
                  SUBSCRIBE_RATE_LIMIT="2 per minute")
    first, second = make_app(**config), make_app(**config)
    with first.app_context():
        assert subscribe(_client(first, "192.0.2.50"), "a@example.test").status_code == 303
    with second.app_context():
        assert subscribe(_client(second, "192.0.2.50"), "b@example.test").status_code == 303
        assert subscribe(_client(second, "192.0.2.50"), "c@example.test").status_code == 429
    with first.app_context():
        assert subscribe(_client(first, "192.0.2.50"), "c@example.test").status_code == 429
        assert db.session.scalar(db.select(Subscriber.id).where(
            Subscriber.email == "c@example.test")) is None


# --- The honeypot ----------------------------------------------------------------------------


def test_the_honeypot_is_hidden_from_people_and_labelled(app):
    page = soup(app.test_client().get("/subscribe"))
    field = page.select_one("form[action='/subscribe'] input[name=website]")
    assert field is not None
    wrapper = field.find_parent(class_="honeypot")
    assert wrapper is not None and wrapper.get("aria-hidden") == "true"
    assert wrapper.has_attr("inert")  # neither focused nor typed into by people
    assert field.get("tabindex") == "-1" and field.get("autocomplete") == "off"
    assert field.get("value", "") == ""
    label = page.select_one(f"label[for={field['id']}]")
    assert label.get_text(strip=True) == "Leave this field empty"
    assert not page.select("form [style]")  # hidden by the stylesheet (the CSP allows no
    css = app.test_client().get("/static/css/site.css").get_data(as_text=True)  # inline)
    assert re.search(r"\.honeypot\s*\{[^}]*left:\s*-10000px", css)


def test_a_filled_honeypot_gets_the_usual_answer_and_nothing_is_stored(app, smtp):
    app.config["SUBSCRIBE_RATE_LIMIT"] = "100 per minute"  # many tries from one address
    real = subscribe(app.test_client(), "real@example.test")
    assert real.status_code == 303
    before = stored()
    for kind, value in {"plain": "http://spam.example", **HOSTILE}.items():
        if kind == "1 MB":
            continue  # over MAX_CONTENT_LENGTH: 413, in test_bad_input
        client = app.test_client()
        robot = subscribe(client, f"robot.{len(kind)}@example.test", website=value)
        assert robot.status_code == real.status_code, kind
        assert robot.headers["Location"] == real.headers["Location"], kind
        assert_harmless(client.get(robot.headers["Location"]), kind)
    assert stored() == before
    tick()
    assert smtp.recipients() == ["real@example.test"]  # no robot got a confirmation


# --- Export ----------------------------------------------------------------------------------


def _life(app, smtp, clock, responder, components, make_incident, email="pat@example.test"):
    """Subscribe, confirm and get an outage email, through the real pages and notifier."""
    client = app.test_client()
    assert subscribe(client, email, "coach").status_code == 303
    tick()
    [confirm_mail] = smtp.to(email)
    assert client.post(link_in(confirm_mail, "confirm")).status_code == 200
    incident = make_incident(responder, components[:1], severity="SEV-2")
    clock.advance(minutes=31)
    tick()
    outage_mail = smtp.to(email)[-1]
    assert "/unsubscribe/" in outage_mail.text()
    return incident, outage_mail


def _export_form(admin_client) -> dict:
    page = admin_client.get("/staff/subscribers")
    return form_fields(page, "form#export-subscriber")


def test_an_admin_downloads_everything_held_about_one_subscriber(
        app, smtp, clock, admin, admin_client, responder, components, make_incident):
    incident, _ = _life(app, smtp, clock, responder, components, make_incident)
    sub = db.session.scalar(db.select(Subscriber).where(Subscriber.email == "pat@example.test"))
    public_id = sub.public_id

    response = admin_client.post("/staff/subscribers/export",
                                 data={**_export_form(admin_client), "email": " Pat@Example.TEST "})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="subscriber-{public_id}.json"'
    data = json.loads(response.get_data(as_text=True))
    held = data["subscriber"]
    assert held["email"] == "pat@example.test"
    assert held["id"] == public_id
    assert held["audience"] == "coach" and held["status"] == "confirmed"
    assert held["created_at"] and held["confirmed_at"]
    assert held["unsubscribed_at"] is None
    deliveries = data["deliveries"]
    assert [(d["kind"], d["incident_id"], d["status"]) for d in deliveries] == [
        ("confirm", None, "sent"), ("outage", incident.id, "sent")]
    assert all(d["sent_at"] for d in deliveries)

    [event] = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.action == "subscriber.export"))
    assert event.actor_id == admin.id
    assert event.after["subscriber"] == public_id
    assert "example.test" not in json.dumps([event.before, event.after, event.target_id])


def test_exporting_an_unknown_or_malformed_address_is_a_clear_error(
        app, admin_client, make_subscriber):
    make_subscriber("known@example.test")
    form = _export_form(admin_client)
    cases = {"nobody@example.test": "No subscriber has that address. Nothing was exported.",
             "not an address": subscriptions.EMAIL_ERROR,
             **{kind: None for kind in HOSTILE}}
    for typed, message in cases.items():
        value = HOSTILE.get(typed, typed)
        response = admin_client.post("/staff/subscribers/export", data={**form, "email": value})
        assert_harmless(response, typed)
        if typed == "1 MB":
            assert response.status_code == 413
            continue
        assert response.status_code == 422, typed
        assert response.mimetype == "text/html"
        error = soup(response).select_one("#export-error").get_text(strip=True)
        assert error.endswith("Nothing was exported."), typed
        if message:
            assert message in error, typed
        assert "known@example.test" not in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(
        AuditEvent.action == "subscriber.export")) == 0


def test_a_responder_cannot_export(app, responder_client, make_subscriber):
    make_subscriber("known@example.test")
    page = responder_client.get("/staff/")
    token = form_fields(page, "form[action='/staff/logout']")["csrf_token"]
    response = responder_client.post("/staff/subscribers/export",
                                     data={"csrf_token": token, "email": "known@example.test"})
    assert response.status_code == 403
    assert "known@example.test" not in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id))) == 0


# --- No address in any log record or audit event ---------------------------------------------

#: aiosmtpd's own loggers: the test's SMTP server (it logs every RCPT TO), not the app.
TEST_SERVER_LOGGERS = ("mail.log",)
#: SQLAlchemy's echo (every statement's parameters and every row: a database dump, staff
#: password hashes included) stays where SQLAlchemy keeps it, at WARNING, unless someone
#: turns echo on to debug a database; it is never on in production.
SQL_ECHO = "sqlalchemy"


def test_a_subscribers_address_never_appears_in_logs_or_audit_events(
        app, smtp, clock, admin, responder, components, make_incident, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name == SQL_ECHO or name.startswith(SQL_ECHO + ".") or \
                not isinstance(logger, logging.Logger):
            continue
        caplog.set_level(logging.DEBUG, logger=name)
        if logger.disabled:
            # Alembic's fileConfig (migrations/env.py, run by the fixtures) disables every
            # logger that existed before it: hear them all again for this test.
            monkeypatch.setattr(logger, "disabled", False)
    address = "zq.private7731@example.test"
    secret = "zq.private7731"

    _, outage_mail = _life(app, smtp, clock, responder, components, make_incident,
                           email=address)
    unsubscribe = link_in(outage_mail, "unsubscribe")
    assert app.test_client().post(unsubscribe).status_code == 200
    admin_client = app.test_client()
    assert login(admin_client, admin.email).status_code == 302
    export = admin_client.post("/staff/subscribers/export",
                               data={**_export_form(admin_client), "email": address})
    assert export.status_code == 200 and secret in export.get_data(as_text=True)
    page = admin_client.get("/staff/subscribers")
    deleted = admin_client.post("/staff/subscribers", data={
        **form_fields(page, "form#delete-subscriber"), "email": address})
    assert deleted.status_code == 302
    assert stored()[0] == 0

    # The app did log along the way (or this test could not fail)...
    records = [r for r in caplog.records if not r.name.startswith(TEST_SERVER_LOGGERS)]
    assert any("sent" in r.getMessage() for r in records)
    # ...and no record names the address, in its message, arguments or traceback.
    for record in records:
        text = caplog.handler.format(record) + repr(record.args)
        assert secret not in text.lower(), (record.name, text[:300])

    events = db.session.scalars(db.select(AuditEvent)).all()
    assert {"subscriber.export", "subscriber.delete"} <= {e.action for e in events}
    for event in events:
        fields = json.dumps([event.actor_label, event.action, event.target_type,
                             event.target_id, event.before, event.after])
        assert secret not in fields.lower(), (event.action, fields)
