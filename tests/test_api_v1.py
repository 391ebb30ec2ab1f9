"""The write API (issue 15, point 4): Atlassian Statuspage's v1 subset under /api/v1, keys
made at /staff/api-keys, driven by a Statuspage v1 client from the package registry
(``atlassian-statuspage``, generated from Statuspage's OpenAPI description) against the
app served on loopback, and by raw JSON and form-encoded requests."""

from __future__ import annotations

import json
import re
import threading

import pytest
from werkzeug.serving import make_server

from statuspage.extensions import db
from statuspage.models import ApiKey, Incident, Notification, Webhook, WebhookEvent
from statuspage.outbox import queue
from statuspage.outbox.rules import current_settings

from .conftest import form_fields, soup
from .staff_support import audit_events, snapshot

@pytest.fixture
def page_id(client):
    return client.get("/api/v2/status.json").get_json()["page"]["id"]


def make_key(admin_client, name: str = "PagerDuty") -> str:
    page = admin_client.get("/staff/api-keys")
    data = form_fields(page, "#api-key-form")
    data["name"] = name
    response = admin_client.post("/staff/api-keys", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    return soup(response).select_one("#api-key").get_text(strip=True)


def oauth(key: str) -> dict:
    return {"Authorization": f"OAuth {key}"}


@pytest.fixture
def key(admin_client):
    return make_key(admin_client)


@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _client_library(live_url: str, key: str | None):
    from atlassian_statuspage import ApiClient, ComponentsApi, Configuration, IncidentsApi

    config = Configuration()
    config.host = f"{live_url}/api/v1"
    config.api_key = {"Authorization": key} if key else {}
    config.api_key_prefix = {"Authorization": "OAuth"} if key else {}
    client = ApiClient(config)
    return IncidentsApi(client), ComponentsApi(client)


# --- The Statuspage client from the registry, against the real server ----------------------


def test_a_statuspage_client_opens_resolves_and_sets_a_component(
        app, admin_client, components, live_url, page_id, client, clock):
    from atlassian_statuspage.rest import ApiException

    key = make_key(admin_client, "PagerDuty")
    db.session.add(Webhook(url="https://hooks.example.org/status", secret="whsec_x",
                           scope="all", created_at=clock()))
    db.session.commit()
    incidents_api, components_api = _client_library(live_url, key)
    api_id = str(components[0].id)

    created = incidents_api.post_pages_page_id_incidents({"incident": {
        "name": "Meal logging fails", "status": "investigating", "impact_override": "major",
        "body": "Participants cannot save meals.", "components": {api_id: "major_outage"},
        "component_ids": [api_id]}}, page_id)
    assert created.name == "Meal logging fails" and created.status == "investigating"
    assert created.impact == "major"
    incident_id = created.id

    resolved = incidents_api.patch_pages_page_id_incidents_incident_id(
        {"incident": {"status": "resolved", "body": "Saving meals works again."}},
        page_id, incident_id)
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    assert [u.status for u in resolved.incident_updates] == ["resolved", "investigating"]

    component = components_api.patch_pages_page_id_components_component_id(
        {"component": {"status": "degraded_performance"}}, page_id, str(components[1].id))
    assert component.status == "degraded_performance"
    listed = {c.id: c.status for c in components_api.get_pages_page_id_components(page_id)}
    assert listed[str(components[1].id)] == "degraded_performance"
    assert listed[api_id] == "operational"  # resolving put it back

    db.session.rollback()  # the server's commits, seen from the test's session
    # The audit log names the key; nobody commands the incident; no staff member posted.
    labels = {(e.action, e.actor_label) for e in audit_events()}
    assert {("incident.open", "api-key:PagerDuty"), ("incident.update", "api-key:PagerDuty"),
            ("component.status", "api-key:PagerDuty")} <= labels
    row = db.session.get(Incident, int(incident_id))
    assert row.commander is None and row.created_by is None and row.severity == "SEV-2"
    assert all(u.posted_by is None for u in row.updates)
    # The webhooks are told of each change, as for a staff post.
    kinds = [e.kind for e in db.session.scalars(db.select(WebhookEvent))]
    assert kinds.count("incident") >= 2 and "component" in kinds
    # The public page shows the incident and its updates as a staff post would.
    text = soup(client.get(f"/incidents/{incident_id}")).get_text(" ", strip=True)
    assert "Meal logging fails" in text
    assert "Participants cannot save meals." in text and "Saving meals works again." in text

    # Without a key, with a wrong one, with a revoked one: 401 and nothing changes.
    revoked = make_key(admin_client, "Old tool")
    row = db.session.scalar(db.select(ApiKey).where(ApiKey.name == "Old tool"))
    page = admin_client.get("/staff/api-keys")
    token = soup(page).select_one(f"#api-key-{row.id} input[name=csrf_token]")["value"]
    assert admin_client.post(f"/staff/api-keys/{row.id}/revoke",
                             data={"csrf_token": token, "confirm": "yes"}).status_code == 302
    before = snapshot()
    for bad in (None, "mtsp_not-a-key", revoked):
        api, comps = _client_library(live_url, bad)
        with pytest.raises(ApiException) as caught:
            api.post_pages_page_id_incidents({"incident": {
                "name": "Should not exist", "component_ids": [api_id]}}, page_id)
        assert caught.value.status == 401
        assert "error" in json.loads(caught.value.body)
        with pytest.raises(ApiException) as caught:
            comps.patch_pages_page_id_components_component_id(
                {"component": {"status": "major_outage"}}, page_id, api_id)
        assert caught.value.status == 401
    db.session.rollback()
    assert snapshot() == before


# --- Keys -------------------------------------------------------------------------------------


def test_a_key_is_shown_once_stored_hashed_listed_with_its_last_use_and_revocable(
        app, admin_client, clock, page_id, components):
    key = make_key(admin_client, "Grafana")
    row = db.session.scalar(db.select(ApiKey).where(ApiKey.name == "Grafana"))
    assert key not in (row.key_hash, row.prefix) and len(row.key_hash) == 64
    listing = admin_client.get("/staff/api-keys").get_data(as_text=True)
    assert key not in listing and "Grafana" in listing and "Never" in listing
    assert [e.actor_label for e in audit_events("api_key.create")] == [
        f"staff:{row.created_by_id}"]

    client = app.test_client()
    assert client.get(f"/api/v1/pages/{page_id}/components",
                      headers=oauth(key)).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiKey, row.id).last_used_at == clock()
    cell = soup(admin_client.get("/staff/api-keys")).select_one(
        f"#api-key-{row.id} .api-key-last-used")
    assert "Never" not in cell.get_text()

    page = admin_client.get("/staff/api-keys")
    token = soup(page).select_one(f"#api-key-{row.id} input[name=csrf_token]")["value"]
    admin_client.post(f"/staff/api-keys/{row.id}/revoke",
                      data={"csrf_token": token, "confirm": "yes"})  # the tick (issue 23)
    assert audit_events("api_key.revoke")[0].target_id == str(row.id)
    response = client.get(f"/api/v1/pages/{page_id}/components", headers=oauth(key))
    assert response.status_code == 401 and response.get_json()["error"]
    state = soup(admin_client.get("/staff/api-keys")).select_one(
        f"#api-key-{row.id} .api-key-state")
    assert "Revoked" in state.get_text()


def test_a_key_needs_a_name_and_a_responder_cannot_make_one(
        app, admin_client, responder_client):
    page = admin_client.get("/staff/api-keys")
    data = form_fields(page, "#api-key-form")
    data["name"] = "   "
    response = admin_client.post("/staff/api-keys", data=data)
    assert response.status_code == 422
    assert soup(response).select_one("#name-error")
    assert db.session.scalar(db.select(db.func.count(ApiKey.id))) == 0
    assert responder_client.get("/staff/api-keys").status_code == 403


def test_the_session_cookie_does_not_authenticate_and_no_csrf_token_is_asked(
        app, admin_client, key, page_id, components):
    url = f"/api/v1/pages/{page_id}/incidents"
    body = {"incident": {"name": "x", "component_ids": [str(components[0].id)]}}
    response = admin_client.post(url, json=body)  # signed in, no key
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    response = admin_client.post(url, json=body, headers=oauth(key))  # no CSRF token
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"


# --- Shapes and wire formats ---------------------------------------------------------------


def test_form_encoded_as_statuspage_takes_it(app, client, key, page_id, components):
    first, second = components[0].id, components[1].id
    response = client.post(f"/api/v1/pages/{page_id}/incidents", headers=oauth(key), data={
        "incident[name]": "Sync delayed", "incident[status]": "identified",
        "incident[impact_override]": "critical",
        "incident[body]": "Impact: Readings arrive late.\nActions: Restarting the queue.\n"
                          "Workaround: Refresh the app.",
        f"incident[components][{first}]": "partial_outage",
        "incident[component_ids][]": [str(first), str(second)],
    })
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "identified" and body["impact"] == "critical"
    assert {c["id"] for c in body["components"]} == {str(first), str(second)}
    incident = db.session.get(Incident, int(body["id"]))
    update = incident.latest_update
    assert (update.impact, update.actions, update.workaround) == (
        "Readings arrive late.", "Restarting the queue.", "Refresh the app.")
    assert incident.severity == "SEV-1"
    assert body["incident_updates"][0]["body"].startswith("Impact: Readings arrive late.")

    got = client.get(f"/api/v1/pages/{page_id}/incidents/{incident.id}", headers=oauth(key))
    assert got.get_json()["id"] == str(incident.id)
    listed = client.get(f"/api/v1/pages/{page_id}/incidents", headers=oauth(key)).get_json()
    assert [i["id"] for i in listed] == [str(incident.id)]
    for query in ("?page=2", "?limit=1&page=99999", "?limit=x&page=-1"):
        response = client.get(f"/api/v1/pages/{page_id}/incidents{query}", headers=oauth(key))
        assert response.status_code == 200
        assert response.get_json() == ([] if "page=2" in query or "999" in query
                                       else listed)
    component = client.get(f"/api/v1/pages/{page_id}/components/{first}",
                           headers=oauth(key)).get_json()
    assert component["status"] == "partial_outage" and component["page_id"] == page_id


@pytest.mark.parametrize("impact,severity", [
    (None, "SEV-3"), ("critical", "SEV-1"), ("major", "SEV-2"), ("minor", "SEV-3"),
    ("none", "SEV-4")])
def test_impact_maps_to_severity(app, client, key, page_id, components, impact, severity):
    incident = {"name": "x", "component_ids": [components[0].id]}
    if impact:
        incident["impact_override"] = impact
    response = client.post(f"/api/v1/pages/{page_id}/incidents", headers=oauth(key),
                           json={"incident": incident})
    assert response.status_code == 201
    assert db.session.get(Incident, int(response.get_json()["id"])).severity == severity


def test_a_patch_renames_and_posts_an_update_keeping_the_status(
        app, client, key, page_id, components):
    url = f"/api/v1/pages/{page_id}/incidents"
    created = client.post(url, headers=oauth(key), json={"incident": {
        "name": "Slow", "component_ids": [components[0].id],
        "body": "Pages load slowly."}}).get_json()
    response = client.patch(f"{url}/{created['id']}", headers=oauth(key), json={
        "incident": {"name": "Slow dashboard", "body": "Still slow, cause found.",
                     "impact_override": "minor"}})
    assert response.status_code == 200
    incident = db.session.get(Incident, int(created["id"]))
    assert incident.title == "Slow dashboard" and incident.status == "investigating"
    # The body is the update's text (its Actions); the Impact stays the incident's.
    assert [(u.impact, u.actions) for u in incident.updates] == [
        ("Slow", "Still slow, cause found."), ("Slow", "Pages load slowly.")]
    assert {e.action for e in audit_events() if e.actor_label == "api-key:PagerDuty"} >= {
        "incident.edit", "incident.update"}


# --- Errors: 401, 404, 422, 413, 429; never a 500 ------------------------------------------


def test_errors_answer_statuspage_s_way_and_change_nothing(
        app, client, key, page_id, components, make_incident, admin):
    incident = make_incident(admin, components[:1])
    base = f"/api/v1/pages/{page_id}"
    good = {"incident": {"name": "x", "component_ids": [components[0].id]}}
    before = snapshot()
    cases = [
        ("post", f"/api/v1/pages/another-page/incidents", good, 404),
        ("get", f"{base}/incidents/999999", None, 404),
        ("get", f"{base}/incidents/abc", None, 404),
        ("get", f"{base}/components/99999999999999999999", None, 404),
        ("get", f"{base}/nothing-here", None, 404),
        ("delete", f"{base}/incidents/{incident.id}", None, 405),
        ("post", f"{base}/incidents", {"incident": {"component_ids": [components[0].id]}}, 422),
        ("post", f"{base}/incidents", {"incident": {"name": "x"}}, 422),  # no component
        ("post", f"{base}/incidents", {"incident": {"name": "x", "status": "postmortem",
                                                    "component_ids": [components[0].id]}}, 422),
        ("post", f"{base}/incidents", {"incident": {"name": "x", "status": "scheduled",
                                                    "component_ids": [components[0].id]}}, 422),
        ("post", f"{base}/incidents", {"incident": {"name": "x", "status": "resolved",
                                                    "component_ids": [components[0].id]}}, 422),
        ("post", f"{base}/incidents", {"incident": {"name": "x", "component_ids": ["999"]}},
         422),
        ("post", f"{base}/incidents", {"incident": {"name": "x", "components": {
            str(components[0].id): "on_fire"}}}, 422),
        ("post", f"{base}/incidents", {"incident": {"name": "x", "impact_override": "huge",
                                                    "component_ids": [components[0].id]}}, 422),
        ("patch", f"{base}/incidents/{incident.id}", {"incident": {"status": "completed"}}, 422),
        ("patch", f"{base}/components/{components[0].id}", {"component": {"status": "bad"}},
         422),
        ("patch", f"{base}/components/{components[0].id}", {"component": {}}, 422),
    ]
    for method, url, body, status in cases:
        response = getattr(client, method)(url, headers=oauth(key), json=body)
        assert response.status_code == status, (method, url, body, response.data[:300])
        assert isinstance(response.get_json()["error"], str) and response.get_json()["error"]
    assert snapshot() == before


FUZZ = [
    b"", b"{", b"null", b"[]", b'"incident"', b"\xff\xfe\x00", b"[" * 100_000,
    b'{"incident": null}', b'{"incident": []}', b'{"incident": {"name": 5}}',
    b'{"incident": {"name": ["x"]}}', b'{"incident": {"name": {"a": 1}}}',
    b'{"incident": {"name": "x", "component_ids": "1"}}',
    b'{"incident": {"name": "x", "component_ids": [true]}}',
    b'{"incident": {"name": "x", "component_ids": [{"id": 1}]}}',
    b'{"incident": {"name": "x", "components": ["major_outage"]}}',
    b'{"incident": {"name": "x", "components": {"1": 5}}}',
    b'{"incident": {"name": "x", "deliver_notifications": "perhaps"}}',
    b'{"incident": {"name": "x", "body": 12}}',
    b'{"incident": {"name": "' + b"x" * 200_000 + b'"}}',
]


def test_fuzzed_bodies_get_4xx_and_change_nothing(app, client, key, page_id, components,
                                                   make_incident, admin):
    app.config["API_RATE_LIMIT"] = "1000 per minute"  # (read at each request)
    incident = make_incident(admin, components[:1])
    base = f"/api/v1/pages/{page_id}"
    before = snapshot()
    for url, method in ((f"{base}/incidents", "post"),
                        (f"{base}/incidents/{incident.id}", "patch"),
                        (f"{base}/components/{components[0].id}", "patch")):
        for raw in FUZZ:
            response = getattr(client, method)(url, headers={
                **oauth(key), "Content-Type": "application/json"}, data=raw)
            assert 400 <= response.status_code < 500, (url, raw[:60], response.status_code)
            assert response.get_json()["error"]
        for form in ({"incident[name][x][y][z]": "a"}, {"incident": "x"},
                     {"incident[name]": "\x00" * 10}, {"incident[components][]": "x"},
                     {"incident[component_ids][a]": "1", "incident[name]": "x"},
                     {"component[status][]": "x"}):
            response = getattr(client, method)(url, headers=oauth(key), data=form)
            assert 400 <= response.status_code < 500, (url, form, response.status_code)
    too_big = client.post(f"{base}/incidents", headers={
        **oauth(key), "Content-Type": "application/json"},
        data=b'{"incident": {"name": "' + b"x" * 300_000 + b'"}}')
    assert too_big.status_code == 413 and too_big.get_json()["error"]
    assert snapshot() == before


def test_control_characters_and_lone_surrogates_are_cleaned_as_in_the_staff_forms(
        app, client, key, page_id, components):
    response = client.post(f"/api/v1/pages/{page_id}/incidents", headers={
        **oauth(key), "Content-Type": "application/json"},
        data=b'{"incident": {"name": "Login\\u0000 \\ud800down\\u202e", "component_ids": ['
        + str(components[0].id).encode() + b']}}')
    assert response.status_code == 201
    assert db.session.get(Incident, int(response.get_json()["id"])).title == "Login down"


def test_each_key_is_rate_limited(make_app, admin, components):
    from .conftest import login

    app = make_app(API_RATE_LIMIT="3 per minute")
    with app.app_context():
        admin_client = app.test_client()
        assert login(admin_client, admin.email).status_code == 302
        first, second = make_key(admin_client, "One"), make_key(admin_client, "Two")
        page = app.test_client().get("/api/v2/status.json").get_json()["page"]["id"]
        client = app.test_client()
        url = f"/api/v1/pages/{page}/components"
        # One count per key, whatever the endpoint.
        codes = [client.get(url, headers=oauth(first)).status_code,
                 client.get(f"/api/v1/pages/{page}/incidents", headers=oauth(first)).status_code,
                 client.get(f"{url}/{components[0].id}", headers=oauth(first)).status_code,
                 client.get(url, headers=oauth(first)).status_code]
        assert codes == [200, 200, 200, 429]
        limited = client.get(url, headers=oauth(first))
        assert limited.get_json()["error"] and int(limited.headers["Retry-After"]) > 0
        assert client.get(url, headers=oauth(second)).status_code == 200


# --- deliver_notifications ------------------------------------------------------------------


def test_deliver_notifications_false_holds_the_outage_email_of_that_change(
        app, client, admin_client, key, page_id, components, clock):
    url = f"/api/v1/pages/{page_id}/incidents"
    quiet = client.post(url, headers=oauth(key), json={"incident": {
        "name": "Quiet", "impact_override": "critical", "deliver_notifications": False,
        "component_ids": [components[0].id]}}).get_json()
    loud = client.post(url, headers=oauth(key), json={"incident": {
        "name": "Loud", "impact_override": "critical",
        "component_ids": [components[1].id]}}).get_json()
    clock.advance(minutes=31)
    queue.enqueue_due_outage_emails_and_commit(clock(), current_settings())
    outage = {n.incident_id: n for n in db.session.scalars(
        db.select(Notification).where(Notification.kind == "outage"))}
    assert outage[int(quiet["id"])].enqueued_at is None
    assert outage[int(quiet["id"])].held_at is not None
    assert outage[int(loud["id"])].enqueued_at is not None
    hold = audit_events("emails.hold")
    assert [(e.actor_label, e.target_id) for e in hold] == [("api-key:PagerDuty", quiet["id"])]
    held = soup(admin_client.get(f"/staff/incidents/{quiet['id']}")).select_one(".emails-held")
    assert "Held by a write-API key" in held.get_text(" ", strip=True)

    # Resolving without notifications: no resolution email for the loud one either.
    response = client.patch(f"{url}/{loud['id']}", headers=oauth(key), json={"incident": {
        "status": "resolved", "deliver_notifications": "false"}})
    assert response.status_code == 200
    kinds = {(n.incident_id, n.kind) for n in db.session.scalars(db.select(Notification))}
    assert (int(loud["id"]), "resolution") not in kinds


def test_resolving_with_notifications_queues_the_resolution_email(
        app, client, key, page_id, components, clock):
    url = f"/api/v1/pages/{page_id}/incidents"
    loud = client.post(url, headers=oauth(key), json={"incident": {
        "name": "Loud", "impact_override": "critical",
        "component_ids": [components[1].id]}}).get_json()
    clock.advance(minutes=31)
    queue.enqueue_due_outage_emails_and_commit(clock(), current_settings())
    client.patch(f"{url}/{loud['id']}", headers=oauth(key),
                 json={"incident": {"status": "resolved"}})
    kinds = {(n.incident_id, n.kind) for n in db.session.scalars(db.select(Notification))}
    assert (int(loud["id"]), "resolution") in kinds


def test_the_nginx_configuration_sends_the_write_api_to_the_app(app):
    from statuspage.serving.nginx import nginx_locations

    text = nginx_locations(app, "/srv/export", "127.0.0.1:8000")
    dynamic = re.search(r"location ~ \^/\(([^)]*)\)\(/\|\$\) \{\s*#\s*sessions", text)
    prefixes = dynamic.group(1).split("|")
    assert "api/v1" in prefixes and "api" not in prefixes
