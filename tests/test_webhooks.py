"""Webhook subscribers (issue 13, point 5): a real HTTP receiver on loopback, the real SMTP
server for the admins' email, the app's clock for time. Delivery runs in the notifier's
tick (``tick()``), as in production."""

from __future__ import annotations

import ipaddress

import pytest
from jsonschema import Draft202012Validator

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import Webhook, WebhookDelivery, WebhookEvent
from statuspage.outbox import queue, webhook_http, webhooks
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)
from tests.test_api import DEFS, PUBLIC_URL
from tests.webhook_receiver import receiver, verify_signature  # noqa: F401  (fixture)

from .conftest import form_fields, soup
from .staff_support import audit_events, field_error, snapshot, submit

TIMEOUT = 0.5  # the receiver's stall outlasts it; no test waits longer than this


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG, WEBHOOK_ALLOW_LOOPBACK_HTTP=True,
                   WEBHOOK_TIMEOUT_SECONDS=TIMEOUT)
    with app.app_context():
        yield app


@pytest.fixture
def hook(app, admin, clock, receiver):  # noqa: F811
    """A webhook of everything to the receiver; committed."""
    created = webhooks.create_webhook(receiver.url(), "all", [], actor=admin, now=clock())
    db.session.commit()
    return created


def update(status="identified", impact="Sign-in fails for some.", actions="Restarting.",
           **fields):
    return incidents.UpdateText(status=status, impact=impact, actions=actions, **fields)


def deliveries(status=None):
    db.session.expire_all()
    query = db.select(WebhookDelivery).order_by(WebhookDelivery.id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return list(db.session.scalars(query))


# --- The shape document, as a JSON Schema ------------------------------------------------

WEBHOOK_DEFS = {
    **DEFS,
    "meta": {"type": "object", "additionalProperties": False,
             "required": ["unsubscribe", "documentation"],
             "properties": {
                 "unsubscribe": {"type": "string",
                                 "pattern": f"^{PUBLIC_URL}/staff/webhooks/[0-9]+/disable$"},
                 "documentation": {"type": "string", "pattern": "^https://"}}},
    "webhook_page": {"type": "object", "additionalProperties": False,
                     "required": ["id", "status_indicator", "status_description"],
                     "properties": {
                         "id": {"type": "string", "minLength": 1},
                         "status_indicator": DEFS["status"]["properties"]["indicator"],
                         "status_description": DEFS["status"]["properties"]["description"]}},
}
COMPONENT_STATUS = DEFS["component"]["properties"]["status"]
TIME = DEFS["component"]["properties"]["created_at"]
WEBHOOK_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": WEBHOOK_DEFS,
    "oneOf": [
        {"type": "object", "additionalProperties": False,
         "required": ["meta", "page", "incident"],
         "properties": {"meta": {"$ref": "#/$defs/meta"},
                        "page": {"$ref": "#/$defs/webhook_page"},
                        "incident": {"$ref": "#/$defs/incident"}}},
        {"type": "object", "additionalProperties": False,
         "required": ["meta", "page", "component_update", "component"],
         "properties": {
             "meta": {"$ref": "#/$defs/meta"}, "page": {"$ref": "#/$defs/webhook_page"},
             "component_update": {
                 "type": "object", "additionalProperties": False,
                 "required": ["id", "created_at", "old_status", "new_status", "component_id"],
                 "properties": {"id": {"type": "string"}, "created_at": TIME,
                                "old_status": COMPONENT_STATUS,
                                "new_status": COMPONENT_STATUS,
                                "component_id": {"type": "string"}}},
             "component": {
                 "type": "object", "additionalProperties": False,
                 "required": ["id", "name", "status", "created_at"],
                 "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                "status": COMPONENT_STATUS, "created_at": TIME}}}},
    ],
}


def assert_follows_the_shape(body: dict) -> None:
    errors = sorted(Draft202012Validator(WEBHOOK_SCHEMA).iter_errors(body), key=str)
    assert errors == [], [e.message for e in errors][:5]


# --- Delivery ------------------------------------------------------------------------------


def test_each_public_change_is_posted_signed_and_in_the_shape(
        app, clock, hook, receiver, responder, components, make_incident):  # noqa: F811
    incident = make_incident(responder, components[:1], severity="SEV-3")
    clock.advance(minutes=5)
    incidents.set_component_status(components[1], "degraded_performance", actor=responder,
                                   now=clock())
    db.session.commit()
    tick()
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    for received in receiver.requests:
        assert received.path == "/hook"
        assert received.headers["Content-Type"].startswith("application/json")
        assert verify_signature(hook.secret, received.headers["X-Statuspage-Signature"],
                                received.body, now=int(clock().timestamp()))
        assert not verify_signature("whsec_another", received.headers[
            "X-Statuspage-Signature"], received.body, now=int(clock().timestamp()))
        assert_follows_the_shape(received.json)
        assert received.json["meta"]["unsubscribe"] == \
            f"{PUBLIC_URL}/staff/webhooks/{hook.id}/disable"
    assert first.json["incident"]["id"] == str(incident.id)
    assert first.json["incident"]["name"] == "Login not working"
    assert second.json["component_update"] == {
        "id": second.event, "created_at": second.json["component_update"]["created_at"],
        "old_status": "operational", "new_status": "degraded_performance",
        "component_id": str(components[1].id)}
    assert second.json["page"]["status_indicator"] == "minor"
    # A body changed in transit fails the check.
    tampered = first.body.replace(b"Login", b"Logout")
    assert not verify_signature(hook.secret, first.headers["X-Statuspage-Signature"],
                                tampered, now=int(clock().timestamp()))
    assert [d.status for d in deliveries()] == ["sent", "sent"]
    tick()
    assert len(receiver.requests) == 2  # each once


def test_each_delivery_has_its_own_webhook_id_kept_through_its_retries(
        app, admin, clock, hook, receiver, responder, components,
        make_incident):  # noqa: F811
    """Issue 21, point 7: a receiver drops a delivery it has had (a replay within the
    signature's 300 s, or our retry of what it took) by its Webhook-Id, which v2 signs."""
    webhooks.create_webhook(receiver.url(path="/other"), "all", [], actor=admin,
                            now=clock())
    db.session.commit()
    receiver.answer(503)  # the first POST to come (either webhook's) is retried
    incident = make_incident(responder, components[:1], severity="SEV-3")
    tick()
    [retried] = deliveries("pending")
    clock.set(retried.next_attempt_at)
    tick()
    incidents.post_update(incident, update("monitoring"), actor=responder, now=clock())
    db.session.commit()
    tick()
    assert [d.status for d in deliveries()] == ["sent"] * 4
    ids: dict[tuple[str, str], set[str]] = {}
    for r in receiver.requests:
        ids.setdefault((r.path, r.event), set()).add(r.headers["Webhook-Id"])
        assert verify_signature(hook.secret if r.path == "/hook" else
                                db.session.scalar(db.select(Webhook.secret).where(
                                    Webhook.url == receiver.url(path="/other"))),
                                r.headers["X-Statuspage-Signature"], r.body,
                                now=int(clock().timestamp()),
                                webhook_id=r.headers["Webhook-Id"])
        assert not verify_signature(hook.secret, r.headers["X-Statuspage-Signature"],
                                    r.body, now=int(clock().timestamp()),
                                    webhook_id=r.headers["Webhook-Id"] + "0")
    assert len(receiver.requests) == 5 and len(ids) == 4  # 2 events x 2 webhooks, a retry
    assert all(len(one) == 1 for one in ids.values())  # the retry kept its id
    assert len(set().union(*ids.values())) == 4  # and no two deliveries share one


def test_a_webhook_of_some_components_hears_only_of_them(
        app, admin, clock, receiver, responder, components, make_incident):  # noqa: F811
    login, food = components[0], components[1]
    webhooks.create_webhook(receiver.url(), "some", [login.id], actor=admin, now=clock())
    db.session.commit()
    make_incident(responder, [food], title="Food photos slow", severity="SEV-3")
    tick()
    assert receiver.requests == []
    make_incident(responder, [login], severity="SEV-3")
    tick()
    assert [r.json["incident"]["name"] for r in receiver.requests] == ["Login not working"]


def test_a_503_is_retried_later_and_the_admin_sees_the_attempts(
        app, clock, hook, receiver, responder, components, make_incident,
        admin_client):  # noqa: F811
    receiver.answer(503)
    make_incident(responder, components[:1], severity="SEV-3")
    tick()
    (delivery,) = deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        "pending", 1, 503)
    assert delivery.next_attempt_at > clock()
    page = soup(admin_client.get("/staff/webhooks"))
    assert "HTTP 503" in page.select_one(f"#webhook-{hook.id}").get_text()
    tick()  # not due yet
    assert len(receiver.requests) == 1
    clock.set(delivery.next_attempt_at)
    tick()
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body != b"" and receiver.requests[1].event == \
        receiver.requests[0].event
    (delivery,) = deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 2, 200)
    assert "HTTP 200" in soup(admin_client.get("/staff/webhooks")).select_one(
        f"#webhook-{hook.id}").get_text()


def test_a_timeout_is_retried(app, clock, hook, receiver, responder, components,
                              make_incident):  # noqa: F811
    receiver.stall()
    make_incident(responder, components[:1], severity="SEV-3")
    tick()  # waits out the 0.5 s timeout
    (delivery,) = deliveries()
    assert (delivery.status, delivery.last_error) == ("pending", "timed out")
    receiver.unstall()
    clock.set(delivery.next_attempt_at)
    tick()
    assert deliveries()[0].status == "sent"


def test_a_400_is_not_retried_and_the_next_event_goes(
        app, clock, hook, receiver, responder, components, make_incident):  # noqa: F811
    receiver.answer(400)
    incident = make_incident(responder, components[:1], severity="SEV-3")
    tick()
    (failed,) = deliveries()
    assert (failed.status, failed.last_status_code) == ("failed", 400)
    clock.advance(hours=2)
    tick()
    assert len(receiver.requests) == 1
    incidents.post_update(incident, update(), actor=responder, now=clock())
    db.session.commit()
    tick()
    assert len(receiver.requests) == 2
    assert [d.status for d in deliveries()] == ["failed", "sent"]


def test_a_redirect_is_not_followed(app, clock, hook, receiver, responder, components,
                                    make_incident):  # noqa: F811
    receiver.answer(302)
    make_incident(responder, components[:1], severity="SEV-3")
    tick()
    (delivery,) = deliveries()
    assert delivery.status == "failed" and "redirects are not followed" in delivery.last_error
    assert len(receiver.requests) == 1  # and nothing went to the Location


def test_a_webhooks_events_go_one_at_a_time_in_order(
        app, clock, hook, receiver, responder, components, make_incident):  # noqa: F811
    receiver.answer(503)
    incident = make_incident(responder, components[:1], severity="SEV-3")
    for status in ("identified", "monitoring"):
        clock.advance(minutes=1)
        incidents.post_update(incident, update(status), actor=responder, now=clock())
        db.session.commit()
    tick()
    assert len(receiver.requests) == 1  # the later ones wait for the first
    clock.advance(hours=1)
    tick()
    statuses = [r.json["incident"]["incident_updates"][0]["status"]
                for r in receiver.requests]
    # Built at send time: every payload shows the incident as it is then.
    assert len(receiver.requests) == 4
    events = receiver.events()
    assert events[0] == events[1] and events[1:] == sorted(events[1:], key=int)
    assert statuses[1:] == ["monitoring"] * 3


def test_a_redaction_before_the_send_reaches_the_payload(
        app, admin, clock, hook, receiver, responder, components, make_incident):  # noqa: F811
    incident = make_incident(responder, components[:1], severity="SEV-3",
                             impact="Jane Roe's glucose readings are missing.")
    incidents.redact_update(incident.updates[0], actor=admin, now=clock())
    db.session.commit()
    tick()
    assert len(receiver.requests) == 2  # declared, redacted
    for received in receiver.requests:
        assert b"Jane" not in received.body and b"glucose" not in received.body
        assert "[redacted]" in received.json["incident"]["incident_updates"][0]["body"]


def test_a_hold_on_the_emails_does_not_hold_the_webhooks(
        app, admin, clock, hook, receiver, responder, components, make_incident):  # noqa: F811
    incident = make_incident(responder, components[:1], severity="SEV-1")
    queue.hold_emails(incident, actor=admin, now=clock())
    db.session.commit()
    tick()
    assert len(receiver.requests) == 1


# --- Where a webhook may go ----------------------------------------------------------------

REFUSED = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
           "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "::", "fe80::1", "fd00::1",
           "::ffff:8.8.8.8", "::ffff:127.0.0.1", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address):
    assert webhook_http.address_refusal(ipaddress.ip_address(address),
                                        allow_loopback=False) is not None


def test_loopback_only_is_what_the_key_allows():
    allowed = [a for a in REFUSED
               if webhook_http.address_refusal(ipaddress.ip_address(a),
                                               allow_loopback=True) is None]
    assert allowed == ["127.0.0.1"]
    assert webhook_http.address_refusal(ipaddress.ip_address("8.8.8.8"),
                                        allow_loopback=False) is None


def add_webhook(client, **fields):
    """Fill in the form on /staff/webhooks (``url`` is its URL field) and send it."""
    data = form_fields(client.get("/staff/webhooks"), "#webhook-form")
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return client.post("/staff/webhooks", data=data)


@pytest.mark.parametrize("url, message", [
    ("https://10.0.0.1/hook", "a private address"),
    ("https://169.254.169.254/latest/meta-data", "a link-local address"),
    ("https://[::ffff:10.0.0.1]/hook", "an IPv6 form of an IPv4 address"),
    ("https://100.64.1.1/hook", "a shared address"),
    ("https://[fd12::1]/hook", "a private address"),
    ("not a url", "This is not a URL"),
    ("hooks.example.org/status", "This is not a URL"),
    ("ftp://hooks.example.org/", "This is not a URL"),
    ("https://user:pw@hooks.example.org/", "no user name or password"),
])
def test_the_form_refuses_internal_and_bad_urls_and_saves_nothing(
        app, admin_client, url, message):
    before = snapshot()
    response = add_webhook(admin_client, url=url)
    assert response.status_code == 422
    assert message in field_error(response, "url")
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert snapshot() == before and deliveries() == []
    assert db.session.scalar(db.select(db.func.count(Webhook.id))) == 0


def test_without_the_key_http_and_names_that_resolve_to_loopback_are_refused(
        app, admin_client, receiver):  # noqa: F811
    app.config["WEBHOOK_ALLOW_LOOPBACK_HTTP"] = False
    response = add_webhook(admin_client, url=receiver.url())
    assert "must start with https://" in field_error(response, "url")
    response = add_webhook(admin_client, url=f"https://localhost:{receiver.port}/hook")
    assert "a loopback address" in field_error(response, "url")
    assert db.session.scalar(db.select(db.func.count(Webhook.id))) == 0
    # With the key, loopback http is accepted; a private address still is not.
    app.config["WEBHOOK_ALLOW_LOOPBACK_HTTP"] = True
    assert add_webhook(admin_client, url="https://10.0.0.1/").status_code == 422
    assert add_webhook(admin_client, url=receiver.url("localhost")).status_code == 200


def test_the_address_is_checked_again_at_delivery(
        app, admin, clock, receiver, responder, components, make_incident):  # noqa: F811
    webhooks.create_webhook(receiver.url("localhost"), "all", [], actor=admin, now=clock())
    db.session.commit()
    app.config["WEBHOOK_ALLOW_LOOPBACK_HTTP"] = False  # as if the name now led inside
    make_incident(responder, components[:1], severity="SEV-3")
    tick()
    (delivery,) = deliveries()
    assert delivery.status == "failed"
    assert "must start with https://" in delivery.last_error
    assert receiver.requests == []
    refused = webhook_http.post(f"https://localhost:{receiver.port}/", b"{}", {},
                                timeout=TIMEOUT, allow_loopback_http=False)
    assert refused.outcome == "final" and "loopback" in refused.error
    assert receiver.requests == []
    # A name that resolves to a public and a private address is refused as a whole.
    mixed = webhook_http.post("https://hooks.example.org/", b"{}", {}, timeout=TIMEOUT,
                              allow_loopback_http=True,
                              resolver=lambda host, port: ["93.184.216.34", "10.0.0.7"])
    assert mixed.outcome == "final" and "a private address (10.0.0.7)" in mixed.error


# --- Disabling ---------------------------------------------------------------------------


def test_a_webhook_is_disabled_after_n_final_failures_and_the_admins_are_emailed(
        app, admin, clock, hook, receiver, smtp, responder, components,
        make_incident, admin_client):  # noqa: F811
    app.config["WEBHOOK_MAX_FAILURES"] = 2
    receiver.always = 410
    incident = make_incident(responder, components[:1], severity="SEV-3")
    for status in ("identified", "monitoring"):
        incidents.post_update(incident, update(status), actor=responder, now=clock())
        db.session.commit()
    tick()
    assert len(receiver.requests) == 2
    assert [d.status for d in deliveries()] == ["failed", "failed", "cancelled"]
    db.session.expire_all()
    assert not db.session.get(Webhook, hook.id).active
    tick()  # the admins' email, queued with the disabling, goes by the next tick at latest
    (mail,) = smtp.to(admin.email)
    assert "a webhook was disabled" in mail.subject
    assert receiver.url() in mail.text() and "/staff/webhooks" in mail.text()
    assert [e.action for e in audit_events() if e.action.startswith("webhook.")] == [
        "webhook.create", "webhook.auto_disable", "webhook.admins_emailed"]
    # Nothing more goes to it, and the admins are told once.
    incidents.post_update(incident, update("identified"), actor=responder, now=clock())
    db.session.commit()
    tick()
    assert len(receiver.requests) == 2 and len(smtp.to(admin.email)) == 1
    row = soup(admin_client.get("/staff/webhooks")).select_one(f"#webhook-{hook.id}")
    assert "Disabled" in row.get_text()
    # An admin enables it again: only later changes go.
    enable = f"/staff/webhooks/{hook.id}/enable"
    response = submit(admin_client, "/staff/webhooks", f"form[action='{enable}']",
                      url=enable)
    assert response.status_code == 302
    receiver.always = None
    incidents.post_update(incident, update("monitoring"), actor=responder, now=clock())
    db.session.commit()
    tick()
    assert len(receiver.requests) == 3


def test_the_admin_email_waits_for_the_smtp_server(
        app, admin, clock, hook, receiver, smtp, responder, components,
        make_incident):  # noqa: F811
    app.config["WEBHOOK_MAX_FAILURES"] = 1
    receiver.answer(400)
    smtp.down()
    make_incident(responder, components[:1], severity="SEV-3")
    tick()
    assert smtp.messages == []
    smtp.up()
    tick()
    assert len(smtp.to(admin.email)) == 1


# --- The admin pages ---------------------------------------------------------------------


def test_admin_adds_a_webhook_sees_its_secret_once_disables_and_deletes_it(
        app, admin, admin_client, components, receiver):  # noqa: F811
    response = add_webhook(admin_client, url=receiver.url(), scope="some",
                           components=[str(components[0].id), str(components[2].id)])
    assert response.status_code == 200
    secret = soup(response).select_one("#webhook-secret").get_text()
    (created,) = db.session.scalars(db.select(Webhook)).all()
    assert created.secret == secret and secret.startswith("whsec_")
    assert {c.id for c in created.components} == {components[0].id, components[2].id}
    listing = admin_client.get("/staff/webhooks").get_data(as_text=True)
    assert secret not in listing and receiver.url() in listing
    (event,) = audit_events("webhook.create")
    assert event.actor_id == admin.id and secret not in str(event.after)

    # meta.unsubscribe: a page whose button disables it.
    page = admin_client.get(f"/staff/webhooks/{created.id}/disable")
    assert page.status_code == 200
    response = submit(admin_client, f"/staff/webhooks/{created.id}/disable",
                      "#disable-webhook-form")
    assert response.status_code == 302
    db.session.expire_all()
    assert not db.session.get(Webhook, created.id).active
    assert audit_events("webhook.disable")

    # Delete needs its confirmation.
    url = f"/staff/webhooks/{created.id}/delete"
    fields = {"csrf_token": soup(admin_client.get("/staff/webhooks")).select_one(
        f"#webhook-{created.id} form[action='{url}'] input[name=csrf_token]")["value"]}
    admin_client.post(url, data=fields)
    assert db.session.scalar(db.select(db.func.count(Webhook.id))) == 1
    admin_client.post(url, data={**fields, "confirm": "yes"})
    assert db.session.scalar(db.select(db.func.count(Webhook.id))) == 0
    assert audit_events("webhook.delete")


def test_responders_cannot_reach_the_webhook_pages(app, responder_client, hook):
    assert responder_client.get("/staff/webhooks").status_code == 403
    assert responder_client.get(f"/staff/webhooks/{hook.id}/disable").status_code == 403


def test_bad_input_on_the_webhook_form_changes_nothing(app, admin_client, components,
                                                       receiver):  # noqa: F811
    before = snapshot()
    cases = [
        (dict(scope="some", components=["999999"]), "components", "Unknown component"),
        (dict(scope="some", components=["x'; DROP TABLE webhooks;--"]), "components",
         "Unknown component"),
        (dict(scope="some", components=None), "components", "at least one"),
        (dict(scope="none"), "scope", "Choose everything or some"),
        (dict(url=""), "url", "Enter the URL"),
        (dict(url="https://" + "a" * 2100 + ".org/"), "url", "At most 2048"),
    ]
    for fields, name, message in cases:
        fields.setdefault("url", receiver.url())
        response = add_webhook(admin_client, **fields)
        assert response.status_code == 422, fields
        assert message in field_error(response, name), (fields, field_error(response, name))
    token = soup(admin_client.get("/staff/webhooks")).select_one(
        "#webhook-form input[name=csrf_token]")["value"]
    response = admin_client.post("/staff/webhooks", data={
        "csrf_token": token, "url": receiver.url(), "scope": "some",
        "components": [str(i) for i in range(1, 10_001)]})
    assert response.status_code == 413
    assert snapshot() == before
    assert db.session.scalar(db.select(db.func.count(Webhook.id))) == 0
    assert db.session.scalar(db.select(db.func.count(WebhookEvent.id))) == 0


def test_a_maintenance_window_is_posted_when_scheduled_started_and_cancelled(
        app, admin, clock, hook, receiver, components):  # noqa: F811
    from datetime import timedelta

    from statuspage import maintenance

    def window(start_in_hours: int):
        fields = maintenance.WindowFields(
            title="Database upgrade", component_ids=[components[1].id],
            scheduled_for=clock() + timedelta(hours=start_in_hours),
            scheduled_until=clock() + timedelta(hours=start_in_hours + 2),
            description="You cannot log meals for two hours.")
        created = maintenance.schedule(fields, actor=admin, now=clock())
        db.session.commit()
        return created

    later, soon = window(48), window(1)
    tick()  # each payload is built when it is sent, from the window as it is then
    maintenance.start(soon, actor=admin, now=clock())
    db.session.commit()
    tick()
    maintenance.cancel(later, actor=admin, now=clock())
    db.session.commit()
    tick()
    posted = [r.json["scheduled_maintenance"] for r in receiver.requests]
    assert [(p["id"], p["status"]) for p in posted] == [
        (str(later.id), "scheduled"), (str(soon.id), "scheduled"),
        (str(soon.id), "in_progress"), (str(later.id), "cancelled")]
    assert posted[2]["components"][0]["name"] == components[1].name
    assert posted[2]["shortlink"].endswith(f"/maintenance/{soon.id}")
