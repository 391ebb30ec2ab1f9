"""Issue 23, points 4, 5, 8 and the staff part of 7, without a browser: what a Resolved
update says (the staff form, the domain, the write API's ``incident[body]``), the record's
timeline and its count of people, the API key's confirmed revoke, the favicon, the write
API's ``impact_override`` and the outage email's "Started:" line.

The browser half (the form's script, the Slack table at 375 px) is in
tests/test_i23_staff_browser.py."""

from __future__ import annotations

import re

import pytest

from statuspage import incidents, present
from statuspage.extensions import db
from statuspage.models import ApiKey, Incident
from tests.smtp import MAIL_CONFIG, make_subscriber, smtp, tick  # noqa: F401  (fixtures)

from .conftest import form_fields, soup
from .staff_support import post_update

CARRIED = "Participants cannot save meals."
WORKAROUND = "Write meals down and enter them later."


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG)
    with app.app_context():
        yield app


@pytest.fixture
def meals(admin, components, make_incident):
    """An open SEV-2 whose updates say what participants experience and what to do."""
    return make_incident(admin, components[1:2], title="Meal logging fails",
                         impact=CARRIED, actions="We are investigating.",
                         workaround=WORKAROUND)


def public_update_texts(client, incident_id: int) -> list[str]:
    """Each update of the public incident page, newest first, as a reader reads it."""
    page = soup(client.get(f"/incidents/{incident_id}"))
    items = page.select("ol.timeline > li.update")
    assert items, "no update on the public page"
    return [item.get_text(" ", strip=True) for item in items]


# --- Point 4: what "Resolved" says ---------------------------------------------------------


def test_the_form_opened_as_resolved_starts_without_the_old_impact(
        app, responder_client, meals):
    form = soup(responder_client.get(f"/staff/incidents/{meals.id}?status=resolved"))
    assert form.select_one("#status option[selected]")["value"] == "resolved"
    assert form.select_one("textarea#impact").get_text().strip() == ""
    assert form.select_one("textarea#workaround").get_text().strip() == ""

    # Another status starts from what participants read now, and the script is told
    # what was carried (to empty it when Resolved is chosen).
    form = soup(responder_client.get(f"/staff/incidents/{meals.id}"))
    impact = form.select_one("textarea#impact")
    assert impact.get_text().strip() == CARRIED and impact["data-carried"] == CARRIED
    assert form.select_one("textarea#workaround")["data-carried"] == WORKAROUND
    assert form.select_one("select#status").has_attr("data-resolved-empties")
    assert form.select_one("script[src*='resolved-fields.js']") is not None


def test_a_resolved_update_does_not_repeat_the_impact_carried_in_the_form(
        app, client, responder_client, meals):
    # Without script: the form as it comes (Impact and Workaround carried), Resolved chosen.
    response = post_update(responder_client, meals.id, status="resolved",
                           impact=CARRIED, workaround=WORKAROUND,
                           actions="Saving meals works again.")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    incident = db.session.get(Incident, meals.id)
    resolved = incident.latest_update
    assert (incident.status, resolved.impact, resolved.workaround) == ("resolved", "", "")
    newest = public_update_texts(client, meals.id)[0]
    assert "Resolved" in newest and "Saving meals works again." in newest
    assert CARRIED not in newest and WORKAROUND not in newest
    block = present.status_update_block(incident, resolved, present_zone(app))
    assert "\nImpact: None (resolved)\n" in block
    assert "\nWorkaround: None available" in block
    staff = soup(responder_client.get(f"/staff/incidents/{meals.id}"))
    newest_staff = staff.select("li.update")[0].get_text(" ", strip=True)
    assert CARRIED not in newest_staff.split("Status update for Slack")[0]


def present_zone(app):
    from zoneinfo import ZoneInfo

    return ZoneInfo(app.config["SITE_TIMEZONE"])


def test_a_resolved_update_keeps_an_impact_staff_wrote_for_it(app, admin, meals, clock):
    clock.advance(minutes=20)
    incidents.post_update(meals, incidents.UpdateText(
        "resolved", "Meals saved during the outage may show twice.", "Fixed."),
        actor=admin, now=clock())
    db.session.commit()
    assert meals.latest_update.impact == "Meals saved during the outage may show twice."


def test_a_resolved_update_may_leave_the_impact_empty_but_not_another(
        app, admin, meals, clock):
    clock.advance(minutes=20)
    with pytest.raises(incidents.ValidationError) as caught:
        incidents.post_update(meals, incidents.UpdateText("identified", "", "Found it."),
                              actor=admin, now=clock())
    assert "impact" in caught.value.errors
    db.session.rollback()
    update = incidents.post_update(meals, incidents.UpdateText("resolved", "", "Fixed."),
                                   actor=admin, now=clock())
    db.session.commit()
    assert (update.status, update.impact) == ("resolved", "")


# --- Point 4 and 8: the write API ----------------------------------------------------------


def make_key(admin_client, name: str = "PagerDuty") -> str:
    page = admin_client.get("/staff/api-keys")
    data = form_fields(page, "#api-key-form")
    data["name"] = name
    response = admin_client.post("/staff/api-keys", data=data)
    assert response.status_code == 200
    return soup(response).select_one("#api-key").get_text(strip=True)


@pytest.fixture
def api(admin_client, client):
    key = make_key(admin_client)
    page_id = client.get("/api/v2/status.json").get_json()["page"]["id"]
    base = f"/api/v1/pages/{page_id}/incidents"

    def call(method, path="", **incident):
        response = getattr(client, method)(base + path,
                                           headers={"Authorization": f"OAuth {key}"},
                                           json={"incident": incident})
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        return response.get_json()

    return call


def test_the_write_apis_body_is_the_updates_text_not_its_impact(app, api, client,
                                                                components):
    created = api("post", name="Meal logging fails", impact_override="major",
                  body="We are looking into failed meal saves.",
                  component_ids=[components[1].id])
    incident = db.session.get(Incident, int(created["id"]))
    first = incident.latest_update
    assert (first.impact, first.actions) == (
        "Meal logging fails", "We are looking into failed meal saves.")
    # Statuspage's own resolve: the body is what the update says, under Resolved.
    api("patch", f"/{created['id']}", status="resolved", body="Saving meals works again.")
    db.session.expire_all()
    resolved = db.session.get(Incident, int(created["id"])).latest_update
    assert (resolved.status, resolved.impact, resolved.actions) == (
        "resolved", "", "Saving meals works again.")
    got = client.get(f"/api/v2/incidents.json").get_json()["incidents"][0]
    assert got["incident_updates"][0]["body"] == "Actions: Saving meals works again."


def test_the_write_api_resolves_without_carrying_the_impact(app, api, client, components):
    created = api("post", name="Meal logging fails", component_ids=[components[1].id],
                  body=f"Impact: {CARRIED}\nActions: Looking.\nWorkaround: {WORKAROUND}")
    api("patch", f"/{created['id']}", body="Cause found.")  # still open: Impact kept
    api("patch", f"/{created['id']}", status="resolved")
    db.session.expire_all()
    updates = db.session.get(Incident, int(created["id"])).updates
    assert [(u.status, u.impact, u.actions, u.workaround) for u in updates] == [
        ("resolved", "", "This incident has been resolved.", ""),
        ("investigating", CARRIED, "Cause found.", ""),
        ("investigating", CARRIED, "Looking.", WORKAROUND),
    ]
    newest = public_update_texts(client, int(created["id"]))[0]
    assert CARRIED not in newest


def test_the_write_api_echoes_impact_override_as_sent(app, api, components):
    created = api("post", name="Slow charts", impact_override="none",
                  component_ids=[components[0].id])
    assert (created["impact_override"], created["impact"]) == ("none", "none")
    patched = api("patch", f"/{created['id']}", impact_override="major")
    assert (patched["impact_override"], patched["impact"]) == ("major", "major")
    assert api("patch", f"/{created['id']}", name="Slow charts again")[
        "impact_override"] is None  # not sent: nothing to echo
    assert db.session.get(Incident, int(created["id"])).severity == "SEV-2"


# --- Point 5: the record tells the story ---------------------------------------------------


def record_text(client, incident_id: int) -> str:
    page = client.get(f"/staff/incidents/{incident_id}/record")
    return soup(page).select_one("pre.record-text").get_text()


def test_the_records_timeline_says_what_each_update_changed(
        app, admin_client, admin, meals, clock, make_subscriber):  # noqa: F811
    steps = [("identified", CARRIED, "Found a full disk."),
             ("monitoring", CARRIED, "Freed space; watching."),
             ("identified", "Some meals still fail to save.", "The disk filled again."),
             ("identified", "Some meals still fail to save.", "Moving the logs elsewhere."),
             ("resolved", "", "Logs moved; saving works.")]
    for status, impact, actions in steps:
        clock.advance(minutes=10)
        incidents.post_update(meals, incidents.UpdateText(status, impact, actions),
                              actor=admin, now=clock())
        db.session.commit()
    text = record_text(admin_client, meals.id)
    rows = [line for line in text.splitlines() if "Update posted" in line
            or "Back to" in line]
    who = f" by {admin.email}"
    assert [row.split(" | ")[1].rstrip(" |") for row in rows] == [
        f"Update posted (Identified){who}: Found a full disk.",
        f"Update posted (Monitoring){who}: Freed space; watching.",
        f"Back to Identified{who}: The disk filled again. "
        "Impact now: Some meals still fail to save.",
        f"Update posted (still Identified){who}: Moving the logs elsewhere.",
        f"Update posted (Resolved){who}: Logs moved; saving works.",
    ]
    assert f"Incident declared (SEV-2, Investigating){who}: {CARRIED}" in text
    assert text.count(CARRIED) == 1  # the declaration's, never repeated


@pytest.mark.parametrize("people,words", [(0, "0 subscribers emailed"),
                                          (1, "1 subscriber emailed"),
                                          (2, "2 subscribers emailed")])
def test_the_record_counts_subscribers_with_the_noun_right(
        app, admin_client, admin, components, make_incident, make_subscriber, clock,  # noqa: F811
        people, words):
    for n in range(people):
        make_subscriber(f"p{n}@example.test")
    incident = make_incident(admin, components[:1], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    assert f"- Users affected: {words}\n" in record_text(admin_client, incident.id)


# --- Point 7 (staff): revoking a key asks for the tick -------------------------------------


def test_revoking_an_api_key_asks_for_the_ticked_confirmation(app, admin_client):
    make_key(admin_client, "Uptime monitor")
    row = db.session.scalar(db.select(ApiKey).where(ApiKey.name == "Uptime monitor"))
    page = admin_client.get("/staff/api-keys")
    form = soup(page).select_one(f"#api-key-{row.id} form")
    box = form.select_one("input[type=checkbox][name=confirm]")
    assert box is not None and box.has_attr("required")
    assert "revoke" in soup(page).select_one(f"label[for={box['id']}]").get_text().lower()
    fields = form_fields(page, f"#api-key-{row.id} form")
    fields.pop("confirm", None)
    url = f"/staff/api-keys/{row.id}/revoke"
    refused = admin_client.post(url, data=fields, follow_redirects=True)
    assert "Nothing was revoked" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ApiKey, row.id).revoked_at is None
    done = admin_client.post(url, data={**fields, "confirm": "yes"}, follow_redirects=True)
    assert "API key revoked: Uptime monitor." in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ApiKey, row.id).revoked_at is not None


# --- Point 8: the favicon, the outage email's "Started:" -----------------------------------


def test_the_favicon_is_served_and_linked(app, client, admin_client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    for who, path in ((client, "/"), (client, "/history"), (admin_client, "/staff/")):
        link = soup(who.get(path)).select_one("head link[rel~=icon]")
        assert link is not None and link["href"] == "/favicon.ico", path
    error = soup(client.get("/no-such-page")).select_one("head link[rel~=icon]")
    assert error is not None and error["href"] == "/favicon.ico"

    from statuspage.serving.publish import site_paths

    assert ("/favicon.ico", "") in site_paths(app).pages  # the static export carries it


def test_with_a_site_logo_the_logo_is_the_icon(make_app, tmp_path):
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
           b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
           b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
    logo = tmp_path / "logo.png"
    logo.write_bytes(png)
    app = make_app(SITE_LOGO=str(logo))
    with app.app_context():
        client = app.test_client()
        response = client.get("/favicon.ico")
        assert (response.status_code, response.mimetype, response.data) == (
            200, "image/png", png)
        link = soup(client.get("/")).select_one("head link[rel~=icon]")
        assert (link["href"], link["type"]) == ("/logo.png", "image/png")


def test_the_outage_emails_started_line_is_in_the_body_above_the_signature(
        app, smtp, clock, responder, components, make_incident, make_subscriber):  # noqa: F811
    make_subscriber("pat@example.test")
    make_incident(responder, components[:1], severity="SEV-1", workaround="Use the web app.")
    clock.advance(minutes=31)
    tick()
    [msg] = smtp.to("pat@example.test")
    text = msg.text()
    body, _, footer = text.partition("\n-- \n")
    started = "Started: 26 November 2026, 12:00 UTC"
    assert started in body and started not in footer
    # With the other facts, after the playbook's Workaround and before its closing words.
    assert body.index("Workaround:\nUse the web app.\n\n" + started + "\n") < body.index(
        "We will send another update") < body.index("Thank you for your patience,")
    html = msg.html()
    signature = html.index("Thank you for your patience,")
    assert re.search(r"Started: 26 November 2026, 12:00 UTC", html[:signature])
    assert "Started:" not in html[signature:]
