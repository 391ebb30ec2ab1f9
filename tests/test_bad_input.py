"""The bad-input suite (issue 6, item 7): everything a person can type or tamper with.

Every field of every form (sign-in, the staff forms, subscribe) gets markup, javascript:
links, NUL and control characters, CRLF header injection, 1 MB of text, emoji and
right-to-left text, one field at a time in an otherwise valid form. Each answer is a clear
error or a harmless echo, never a 500: a refused form changes nothing, an accepted one
stores only cleaned text, and every page that shows it afterwards shows it as text. Then:
missing, foreign and tampered CSRF tokens; 10,000 fields on every form; tampered, expired,
replayed and wrong-purpose subscriber tokens; and hostile ``next`` values.

(The open-redirect list and a responder on every admin route are in test_security.py.)
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from bs4 import BeautifulSoup

from statuspage import subscriptions, tokens
from statuspage.extensions import db
from statuspage.models import (
    Component,
    Incident,
    IncidentUpdate,
    StaffUser,
    Subscriber,
)
from statuspage.text import _UNWANTED

from .conftest import PASSWORD, form_fields, login
from .staff_support import snapshot

ONE_MB = "A" * (1024 * 1024)
HOSTILE = {
    "script": "<script>alert('x')</script>",
    "img onerror": '<img src=x onerror="alert(1)">',
    "javascript link": '<a href="javascript:alert(1)">click</a>',
    "javascript url": "javascript:alert(1)",
    "NUL": "before\x00after",
    "controls": "bell\x07 escape\x1b[31m delete\x7f c1\x85 zero-width\u200b",
    "CRLF": "x@example.test\r\nBcc: victim@example.test\r\nSubject: hi",
    "1 MB": ONE_MB,
    "emoji": "Login 🚑💉👩🏽‍⚕️ broken",
    "right-to-left": "مرحبا بالعالم \u202egnp.exe\u202c שלום",
}
#: What a person may be answered: a page with the form and a message, a redirect after
#: success, a refusal (bad request, wrong sign-in, no such page or method, too large, too
#: many).
CLEAR_ANSWERS = {200, 302, 303, 400, 401, 404, 405, 413, 422, 429}
NEW_PASSWORD = "a new and long password"


def assert_harmless(response, what: str) -> None:
    """Not a 500, and nothing typed became markup in the page that answered."""
    assert response.status_code in CLEAR_ANSWERS, (what, response.status_code)
    if response.mimetype != "text/html":
        return
    html = response.get_data(as_text=True)
    doc = BeautifulSoup(html, "html.parser")
    for script in doc.find_all("script"):
        assert script.get("src", "").startswith("/static/") and not script.string, \
            (what, str(script)[:200])
    assert not doc.select("[onerror], [onclick], [onload]"), what
    assert not [a for a in doc.find_all("a", href=True)
                if a["href"].strip().lower().startswith("javascript:")], what
    assert "\x00" not in html, what


def stored_text_is_clean() -> None:
    """Whatever was stored was cleaned: no invisible or control characters, one-line
    fields on one line, addresses that are only addresses."""
    db.session.expire_all()
    multi = [(IncidentUpdate, ("impact", "actions", "workaround")),
             (Component, ("description",))]
    single = [(Incident, ("title",)), (Component, ("name", "group_name")),
              (StaffUser, ("email",)), (Subscriber, ("email",))]
    for model, columns in multi + single:
        for row in db.session.scalars(db.select(model)):
            for column in columns:
                value = getattr(row, column) or ""
                assert not _UNWANTED.search(value), (model.__name__, column, value[:80])
                assert "\r" not in value, (model.__name__, column)
                if (model, columns) in single:
                    assert "\n" not in value, (model.__name__, column, value[:80])
    for model in (StaffUser, Subscriber):
        for email in db.session.scalars(db.select(model.email)):
            assert re.fullmatch(r"[^\s<>\"()@]+@[A-Za-z0-9.-]+", email), email


def everything() -> dict:
    state = snapshot()
    state["subscribers"] = [
        (s.email, s.status, s.audience)
        for s in db.session.scalars(db.select(Subscriber).order_by(Subscriber.id))]
    return state


# --- Every field of every form --------------------------------------------------------------


@pytest.fixture
def world(app, admin, responder, make_staff, components, make_incident, clock):
    from statuspage import maintenance

    incident = make_incident(admin, components[:2])
    other = make_staff("responder", email="other@example.test")
    start = clock() + timedelta(days=2)
    window = maintenance.schedule(maintenance.WindowFields(
        title="Database upgrade", component_ids=[components[0].id], scheduled_for=start,
        scheduled_until=start + timedelta(hours=2), description="No meal logging."),
        actor=admin, now=clock())
    db.session.commit()
    return {"incident": incident.id, "component": components[0].id, "other": other.id,
            "maintenance": window.id}


def forms(world, components) -> dict[str, dict]:
    """Each form: its page, the form on it, where it posts, valid values, its fields."""
    c0 = components[0].id
    incident = f"/staff/incidents/{world['incident']}"
    window = f"/staff/maintenance/{world['maintenance']}"
    return {
        "sign in": dict(
            page="/staff/login", selector="main form", client="anonymous",
            valid={"email": "responder@example.test", "password": "wrong password"},
            fields=["email", "password"]),
        "new incident": dict(
            page="/staff/incidents/new", selector="form.incident-form",
            valid={"issue": "Login not working", "severity": "SEV-3",
                   "components": str(c0), "status": "investigating",
                   "impact": "Cannot sign in.", "actions": "Restarting.",
                   "next_update_in": ""},
            fields=["issue", "severity", "components", "status", "impact", "actions",
                    "workaround", "next_update_in", "next_update", "started_at",
                    f"component_status-{c0}", "previous_incident_id"]),
        "update": dict(
            page=incident, selector="section.update-form form",
            valid={"impact": "Still broken.", "actions": "Still on it.",
                   "next_update_in": ""},
            fields=["status", "impact", "actions", "workaround", "next_update_in",
                    "next_update", f"component_status-{c0}"]),
        "edit incident": dict(
            page=incident + "/edit", selector="form.incident-form", valid={},
            fields=["issue", "severity", "started_at", "components"]),
        "new component": dict(
            page="/staff/components", selector="#component-form",
            valid={"name": "Sync", "position": "9"},
            fields=["name", "description", "group", "position", "status"]),
        "edit component": dict(
            page=f"/staff/components/{c0}", selector="#component-form", valid={},
            fields=["name", "description", "group", "position", "status"]),
        "component status": dict(
            page="/staff/", selector=f"form[action='/staff/components/{c0}/status']",
            valid={}, fields=["status"]),
        "new staff": dict(
            page="/staff/accounts", selector="#new-staff-form",
            valid={"email": "new@example.test"}, fields=["email", "role"]),
        "staff account": dict(
            page="/staff/accounts",
            selector=f"form[action='/staff/accounts/{world['other']}']",
            valid={}, fields=["role", "active"]),
        "password": dict(
            page="/staff/password", selector="main form",
            valid={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                   "confirm_password": NEW_PASSWORD},
            fields=["current_password", "new_password", "confirm_password"]),
        "subscribe": dict(
            page="/subscribe", selector="main form", client="anonymous",
            valid={"email": "pat@example.test", "audience": "participant"},
            fields=["email", "audience", "website"]),  # website: the honeypot
        "export subscriber": dict(
            page="/staff/subscribers", selector="form#export-subscriber", valid={},
            fields=["email"]),
        "delete subscriber": dict(
            page="/staff/subscribers", selector="form#delete-subscriber", valid={},
            fields=["email"]),
        "new maintenance": dict(
            page="/staff/maintenance/new", selector="form.maintenance-form",
            valid={"title": "Database upgrade", "components": str(c0),
                   "scheduled_for": "2026-12-01T02:00", "scheduled_until": "2026-12-01T04:00",
                   "description": "No meal logging."},
            fields=["title", "components", "scheduled_for", "scheduled_until", "description",
                    "workaround", "notify", "auto_start", "auto_complete"]),
        "edit maintenance": dict(
            page=window, selector="form.maintenance-form", valid={},
            fields=["title", "components", "description", "workaround", "notify"]),
        "reschedule maintenance": dict(
            page=window, selector="form[action$='/reschedule']", valid={},
            fields=["reschedule-scheduled_for", "reschedule-scheduled_until"]),
        "maintenance update": dict(
            page=window, selector="form[action$='/update']",
            valid={"update-actions": "Still on it."},
            fields=["update-actions", "update-impact", "update-workaround"]),
    }


FORM_NAMES = ["sign in", "new incident", "update", "edit incident", "new component",
              "edit component", "component status", "new staff", "staff account",
              "password", "subscribe", "export subscriber", "delete subscriber",
              "new maintenance", "edit maintenance", "reschedule maintenance",
              "maintenance update"]


@pytest.mark.parametrize("form_name", FORM_NAMES)
def test_every_field_takes_hostile_input_harmlessly(app, world, components, admin,
                                                    form_name):
    app.config.update(LOGIN_RATE_LIMIT="10000 per minute",
                      SUBSCRIBE_RATE_LIMIT="10000 per minute")
    form = forms(world, components)[form_name]
    client = app.test_client()
    if form.get("client") != "anonymous":
        assert login(client, admin.email).status_code == 302

    for field in form["fields"]:
        for kind, value in HOSTILE.items():
            what = f"{form_name}: {field} = {kind}"
            page = client.get(form["page"])
            assert page.status_code == 200, what
            data = form_fields(page, form["selector"])
            data.update(form["valid"])
            data[field] = value
            action = BeautifulSoup(page.get_data(as_text=True), "html.parser").select_one(
                form["selector"]).get("action") or form["page"]
            before = everything()
            response = client.post(action, data=data)
            assert_harmless(response, what)
            if response.status_code not in (302, 303):
                assert everything() == before, what
            if kind == "1 MB":
                assert response.status_code == 413, what
            if form_name == "password" and response.status_code == 302:
                pytest.fail(f"{what}: the password changed")  # every try has one wrong part
    stored_text_is_clean()

    # Every page that shows what was stored shows it as text.
    staff = app.test_client()
    assert login(staff, admin.email).status_code == 302
    paths = ["/", "/history", "/embed", "/feed.rss", "/feed.atom", "/api/v2/summary.json"]
    paths += [f"/incidents/{i}" for i in db.session.scalars(db.select(Incident.id))]
    staff_paths = ["/staff/", "/staff/components", "/staff/accounts", "/staff/maintenance",
                   f"/staff/maintenance/{world['maintenance']}"]
    staff_paths += [f"/staff/incidents/{i}" for i in db.session.scalars(db.select(Incident.id))]
    for path in paths:
        response = app.test_client().get(path)
        assert response.status_code == 200, path
        assert_harmless(response, path)
    for path in staff_paths:
        response = staff.get(path)
        assert response.status_code == 200, path
        assert_harmless(response, path)


# --- CSRF ---------------------------------------------------------------------------------------

#: POST routes that take no CSRF token on purpose: the signed token in the URL is the
#: capability (and RFC 8058's one-click unsubscribe comes from a mail client, no cookie).
CSRF_EXEMPT = {"subscribe.confirm", "subscribe.unsubscribe"}
#: The write API (/api/v1): its key in the Authorization header is the credential, which
#: no other site can make a browser send; without one, 401 before the body is read.
API_KEY_ROUTES = {"api_v1.create_incident"}


def post_routes(app) -> list[tuple[str, str]]:
    return sorted((rule.endpoint, rule.rule) for rule in app.url_map.iter_rules()
                  if "POST" in rule.methods)


def _url(rule: str, world: dict, components) -> str:
    return (rule.replace("<int:incident_id>", str(world["incident"]))
            .replace("<int:update_id>", "1")
            .replace("<int:component_id>", str(components[-1].id))
            .replace("<int:user_id>", str(world["other"]))
            .replace("<int:webhook_id>", "1")
            .replace("<int:maintenance_id>", str(world["maintenance"]))
            .replace("<int:item_id>", "1")
            .replace("<int:revision_id>", "1")
            .replace("<int:monitor_id>", "1")
            .replace("<int:proposal_id>", "1")
            .replace("<int:key_id>", "1")
            .replace("<int:rotation_id>", "1").replace("<int:override_id>", "1")
            .replace("<page_id>", "metabolic-tracker")
            .replace("<incident_id>", str(world["incident"]))
            .replace("<token>", "x"))


def test_a_missing_or_wrong_csrf_token_gets_400_on_every_form(app, world, components,
                                                              admin, admin_client):
    foreign = app.test_client()  # someone else's valid token: not this session's
    foreign_token = form_fields(foreign.get("/staff/login"))["csrf_token"]
    own_token = form_fields(admin_client.get("/staff/password"), "main form")["csrf_token"]
    tampered = own_token[:-3] + ("aaa" if not own_token.endswith("aaa") else "bbb")
    before = everything()
    checked = 0
    for endpoint, rule in post_routes(app):
        if endpoint in CSRF_EXEMPT | API_KEY_ROUTES:
            continue
        url = _url(rule, world, components)
        for token in (None, "", "not-a-token", foreign_token, tampered):
            data = {"status": "major_outage", "name": "x", "email": "x@example.test",
                    "role": "admin", "active": "y"}
            if token is not None:
                data["csrf_token"] = token
            response = admin_client.post(url, data=data)
            assert response.status_code == 400, (endpoint, token)
            assert_harmless(response, endpoint)
        # Anonymous visitors too (the sign-in and subscribe forms among them).
        response = app.test_client().post(url, data={"email": "x@example.test"})
        assert response.status_code == 400, endpoint
        checked += 1
    assert checked >= 18
    assert everything() == before
    # The right token still works (the 400s were about the token).
    assert admin_client.post("/staff/password", data={
        "csrf_token": own_token, "current_password": "wrong"}).status_code == 422


def test_ten_thousand_fields_get_413_on_every_form(app, world, components, admin_client):
    token = form_fields(admin_client.get("/staff/password"), "main form")["csrf_token"]
    data = {"csrf_token": token, **{f"f{i}": "x" for i in range(10_000)}}
    before = everything()
    for endpoint, rule in post_routes(app):
        url = _url(rule, world, components)
        response = admin_client.post(url, data=data)
        # The token pages never read a form: their (bad) token is refused first.
        expected = {400, 413} if endpoint in CSRF_EXEMPT else {413}
        if endpoint in API_KEY_ROUTES:  # no key: refused before the body is read
            expected = {401}
        assert response.status_code in expected, endpoint
        assert_harmless(response, endpoint)
    assert everything() == before


# --- Subscriber tokens -------------------------------------------------------------------------


@pytest.fixture
def pending(app, clock):
    subscriptions.subscribe("pat@example.test", "participant", now=clock())
    db.session.commit()
    return subscriptions.find_by_email("pat@example.test")


def _status(subscriber) -> str:
    db.session.expire_all()
    return db.session.get(Subscriber, subscriber.id).status


def _tamper(token: str) -> str:
    """One character of the signature changed. Not the last: base64's last character
    carries padding bits, and changing only those leaves the same bytes."""
    i = len(token) - 5
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def test_tampered_confirm_and_unsubscribe_tokens_are_refused(app, client, pending):
    confirm = tokens.confirm_token(pending.public_id)
    unsubscribe = tokens.unsubscribe_token(pending.public_id)
    payload, _, signature = confirm.partition(".")
    other_payload = tokens.confirm_token("someone-else").partition(".")[0]
    bad_tokens = [
        _tamper(confirm), _tamper(unsubscribe),
        other_payload + "." + signature,  # another subscriber's id under this signature
        confirm + "x", confirm[:-1], "", "x" * 5000, "..", "a.b.c",
        quote("<script>alert(1)</script>", safe=""), "%00", quote("\u202e\u0000"),
    ]
    for token in bad_tokens:
        for path in (f"/confirm/{token}", f"/unsubscribe/{token}"):
            for method in ("GET", "POST"):
                response = client.open(path, method=method)
                assert response.status_code in (400, 404, 405), (method, path[:60])
                assert_harmless(response, path[:60])
    assert _status(pending) == "pending"


def test_an_expired_confirmation_link_is_refused_and_changes_nothing(app, client, pending,
                                                                     clock):
    token = tokens.confirm_token(pending.public_id)
    clock.advance(seconds=app.config["SUBSCRIBE_CONFIRM_MAX_AGE_SECONDS"] + 60)
    for method in ("GET", "POST"):
        response = client.open(f"/confirm/{token}", method=method)
        assert response.status_code == 400
        assert "expired" in response.get_data(as_text=True).lower()
    assert _status(pending) == "pending"


def test_a_replayed_link_is_harmless(app, client, pending):
    confirm = tokens.confirm_token(pending.public_id)
    unsubscribe = tokens.unsubscribe_token(pending.public_id)
    assert client.post(f"/confirm/{confirm}").status_code == 200
    assert client.post(f"/confirm/{confirm}").status_code == 200  # again: no change
    assert _status(pending) == "confirmed"
    assert client.post(f"/unsubscribe/{unsubscribe}").status_code == 200
    assert client.post(f"/unsubscribe/{unsubscribe}").status_code == 200
    assert _status(pending) == "unsubscribed"
    # The old confirmation link does not subscribe them again.
    response = client.post(f"/confirm/{confirm}")
    assert response.status_code == 400
    assert _status(pending) == "unsubscribed"


def test_a_token_for_one_purpose_does_nothing_at_the_other(app, client, pending):
    confirm = tokens.confirm_token(pending.public_id)
    unsubscribe = tokens.unsubscribe_token(pending.public_id)
    for method in ("GET", "POST"):
        assert client.open(f"/confirm/{unsubscribe}", method=method).status_code == 400
    assert _status(pending) == "pending"
    client.post(f"/confirm/{confirm}")
    for method in ("GET", "POST"):
        assert client.open(f"/unsubscribe/{confirm}", method=method).status_code == 400
    assert _status(pending) == "confirmed"
    # A staff session's signature is not a subscriber token either.
    session_like = app.session_interface.get_signing_serializer(app).dumps(
        pending.public_id)
    assert client.post(f"/unsubscribe/{session_like}").status_code == 400
    assert _status(pending) == "confirmed"


# --- next ----------------------------------------------------------------------------------------


def test_hostile_next_values_are_never_reflected_or_followed(app, responder):
    for target in ('"><script>alert(1)</script>', "javascript:alert(1)",
                   "//evil.example", "/\\evil.example", "/%09/evil.example",
                   "https:evil.example", "\r\nSet-Cookie: x=1", "/" + "a" * 5000,
                   "/staff/\x00"):
        client = app.test_client()
        page = client.get("/staff/login?" + urlencode({"next": target}))
        assert page.status_code == 200
        assert_harmless(page, target[:40])
        data = {**form_fields(page), "email": responder.email, "password": PASSWORD}
        response = client.post("/staff/login?" + urlencode({"next": target}), data=data)
        assert response.status_code == 302, target[:40]
        location = response.headers["Location"]
        assert "\r" not in location and "\n" not in location
        assert "Set-Cookie: x" not in str(response.headers)
        assert location.startswith("/") and not location.startswith("//"), location
        assert "evil.example" not in location and "script" not in location
