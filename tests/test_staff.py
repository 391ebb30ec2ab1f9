"""The staff area through HTTP: the gate, incidents from declaration to resolution, the
dashboard, and bad input refused with nothing changed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import Component, Incident, IncidentUpdate

from .conftest import form_fields, login, soup
from .staff_support import (
    audit_events,
    csrf_token,
    declare,
    field_error,
    post_update,
    snapshot,
    submit,
)


def location(response) -> str:
    return response.headers["Location"]


def only_incident() -> Incident:
    db.session.expire_all()
    return db.session.scalars(db.select(Incident)).one()


# --- The gate ------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login_and_back(app, client, admin, components,
                                                       make_incident):
    incident = make_incident(admin, components[:1])
    pages = ["/staff/", "/staff/incidents/new", f"/staff/incidents/{incident.id}",
             f"/staff/incidents/{incident.id}/edit", "/staff/components", "/staff/accounts",
             "/staff/password"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert location(response) == "/staff/login?next=" + url, url

    # A form post without a session is refused and changes nothing.
    before = snapshot()
    response = client.post(f"/staff/components/{components[0].id}/status",
                           data={"status": "major_outage"})
    assert response.status_code in (302, 400)
    assert snapshot() == before

    # Signing in brings the visitor back to the page they asked for.
    response = login(client, admin.email, next_url="/staff/incidents/new")
    assert location(response) == "/staff/incidents/new"
    assert client.get("/staff/incidents/new").status_code == 200


def test_admin_pages_are_refused_to_responders(app, responder_client, admin, responder,
                                               components, make_incident, clock):
    incident = make_incident(admin, components[:1], status="monitoring")
    incidents.post_update(incident, incidents.UpdateText("resolved", "Fixed.", "Done."),
                          actor=admin, now=clock())
    db.session.commit()
    update_id = incident.updates[0].id
    token = csrf_token(responder_client)
    before = snapshot()

    for url in ("/staff/components", f"/staff/components/{components[0].id}",
                "/staff/accounts"):
        assert responder_client.get(url).status_code == 403, url
    posts = {
        "/staff/components": {"name": "New", "position": "1", "status": "operational"},
        f"/staff/components/{components[0].id}": {"name": "Renamed", "position": "0",
                                                  "status": "operational"},
        f"/staff/components/{components[4].id}/delete": {},
        "/staff/accounts": {"email": "new@example.test", "role": "admin"},
        f"/staff/accounts/{responder.id}": {"role": "admin", "active": "y"},
        f"/staff/accounts/{admin.id}/reset-password": {},
        f"/staff/incidents/{incident.id}/reopen": {},
        f"/staff/incidents/{incident.id}/updates/{update_id}/redact": {},
    }
    for url, data in posts.items():
        response = responder_client.post(url, data={"csrf_token": token, **data})
        assert response.status_code == 403, url
        assert "Your account may not do this." in response.get_data(as_text=True)
    assert snapshot() == before

    # The nav offers responders only what they may use.
    nav = soup(responder_client.get("/staff/")).select_one("nav.staff-nav").get_text()
    assert "New incident" in nav and "Components" not in nav and "Staff accounts" not in nav


# --- An incident from declaration to resolution --------------------------------------------


def test_full_incident_lifecycle_through_the_forms(app, responder_client, responder,
                                                   components, clock):
    login_c, saving = components[0], components[1]
    response = declare(
        responder_client, [login_c, saving], severity="SEV-1",
        **{f"component_status-{login_c.id}": "major_outage",
           f"component_status-{saving.id}": "degraded_performance"},
    )
    assert response.status_code == 302
    incident = only_incident()
    assert location(response) == f"/staff/incidents/{incident.id}"
    assert (incident.title, incident.severity, incident.status) == (
        "Login not working", "SEV-1", "investigating")
    assert incident.created_by_id == responder.id
    assert [c.id for c in incident.components] == [login_c.id, saving.id]
    assert incident.started_at == clock()
    # The suggested next update: now plus SEV-1's 15 minute cadence.
    assert incident.updates[0].next_update_at == clock() + timedelta(minutes=15)
    assert (login_c.status, saving.status) == ("major_outage", "degraded_performance")

    page = responder_client.get(location(response))
    assert "Incident declared" in page.get_data(as_text=True)  # the flashed message
    block = soup(page).select_one("pre.status-block").get_text()
    assert block.splitlines()[:3] == ["METABOLIC-TRACKER STATUS UPDATE",
                                      "Time: 2026-11-26 12:00 UTC", "Status: Investigating"]

    clock.advance(minutes=14)
    assert post_update(responder_client, incident.id, status="identified",
                       actions="A bad deploy; rolling back.",
                       next_update_in="30").status_code == 302
    clock.advance(minutes=20)
    assert post_update(responder_client, incident.id, status="monitoring",
                       actions="Rolled back; watching error rates.",
                       workaround="Use the web app.",
                       **{f"component_status-{login_c.id}": "operational"}
                       ).status_code == 302
    incident = only_incident()
    assert incident.status == "monitoring"
    assert incident.updates[0].next_update_at == clock() + timedelta(minutes=15)
    assert login_c.status == "operational"

    # Resolved: the other affected component goes back to operational by itself, unless
    # staff says otherwise.
    clock.advance(minutes=30)
    assert post_update(responder_client, incident.id, status="resolved",
                       actions="Fixed by the rollback.").status_code == 302
    incident = only_incident()
    assert incident.status == "resolved" and incident.resolved_at == clock()
    assert saving.status == "operational"
    assert [u.status for u in incident.updates] == [
        "resolved", "monitoring", "identified", "investigating"]
    assert incident.updates[0].next_update_at is None

    page = responder_client.get(f"/staff/incidents/{incident.id}")
    timeline = soup(page).select("li.update")
    assert [li.select_one(".ustatus").get_text() for li in timeline] == [
        "Resolved", "Monitoring", "Identified", "Investigating"]  # newest first
    assert "Next Update: None (resolved)" in timeline[0].select_one("pre").get_text()
    assert soup(page).select_one("section.update-form") is None  # no more updates
    assert "Declare a recurrence" in page.get_data(as_text=True)

    actions = [e.action for e in audit_events()]
    assert actions.count("incident.open") == 1
    assert actions.count("incident.update") == 4
    # Login: -> major -> operational; Saving: -> degraded -> operational.
    assert actions.count("component.status") == 4
    assert all(e.actor_id == responder.id for e in audit_events())

    # The dashboard lists it no more.
    assert soup(responder_client.get("/staff/")).select("tr.incident-row") == []


def test_new_incident_form_explains_severities_and_warns_about_health_data(
        responder_client, components):
    page = responder_client.get("/staff/incidents/new")
    html = soup(page)
    text = html.get_text(" ", strip=True)
    assert "personal health information" in html.select_one("form.incident-form") \
        .find_previous("p", class_="phi-warning").get_text()
    for code, response_time, target in [
        ("SEV-1", "Immediate (within 15 minutes)", "2 hours"),
        ("SEV-2", "1 hour", "4 hours"),
        ("SEV-3", "4 hours", "24 hours"),
        ("SEV-4", "24 hours", "3 business days"),
    ]:
        label = html.select_one(f"label[for=severity-{code}]").get_text(" ", strip=True)
        assert f"Response time: {response_time}" in label
        assert f"Resolution target: {target}" in label
    assert "Application completely unavailable OR data loss/corruption OR security breach" \
        in text
    assert len(html.select("input[type=checkbox][name=components]")) == len(components)
    assert html.select_one(f"select[name=component_status-{components[0].id}] "
                           "option[selected]")["value"] == ""
    assert html.select_one("input[name=next_update]")["type"] == "datetime-local"
    assert html.select_one("input[name=started_at]")["type"] == "datetime-local"
    quick = [o["value"] for o in html.select("select[name=next_update_in] option")]
    assert {"suggested", "15", "30", "60"} <= set(quick)


def test_every_bad_input_on_the_new_incident_form_changes_nothing(
        app, responder_client, components, clock):
    login_id = str(components[0].id)
    cases = [
        ({"severity": "SEV-5"}, "severity", "Choose one of SEV-1"),
        ({"severity": None}, "severity", "Choose one of SEV-1"),
        ({"status": "closed"}, "status", "Choose one of Investigating"),
        ({"status": "resolved"}, "status", "cannot start resolved"),
        ({"issue": "   "}, "issue", "Describe the issue"),
        ({"issue": "x" * 201}, "issue", "At most 200 characters"),
        ({"impact": ""}, "impact", "required"),
        ({"actions": "y" * 5001}, "actions", "At most 5000 characters"),
        ({"workaround": "z" * 5001}, "workaround", "At most 5000 characters"),
        ({"components": None}, "components", "at least one"),
        ({"components": ["99999"]}, "components", "Unknown component"),
        ({"components": ["login"]}, "components", "Unknown component"),
        ({"components": ["99999999999999999999"]}, "components", "Unknown component"),
        ({"next_update": "2026-11-26T11:00", "next_update_in": ""}, "next_update",
         "must be in the future"),
        ({"next_update": "tomorrow", "next_update_in": ""}, "next_update",
         "Enter a date and time"),
        ({"next_update": "2026-11-26T13:00", "next_update_in": "30"}, "next_update",
         "not both"),
        ({"next_update_in": "90"}, "next_update", "Choose one of the offered"),
        ({"started_at": "2026-11-26T12:30"}, "started_at", "cannot be in the future"),
        ({"started_at": "2025-11-26T12:00"}, "started_at", "30 days"),
        ({"started_at": "0001-01-01T00:00"}, "started_at", "30 days"),
        ({"started_at": "26/11/2026"}, "started_at", "Enter a date and time"),
        ({f"component_status-{login_id}": "broken"}, "component_statuses",
         "Unknown component status"),
        ({"component_status-99999": "major_outage"}, "component_statuses",
         "Unknown component"),
        ({"component_status-x": "major_outage"}, "component_statuses", "Unknown component"),
        ({"previous_incident_id": "12345"}, None, "Unknown incident"),
    ]
    before = snapshot()
    for fields, field, message in cases:
        response = declare(responder_client, components[:1], **fields)
        assert response.status_code == 422, fields
        if field:
            assert message in field_error(response, field), (fields, field_error(response,
                                                                                field))
        else:
            assert message in soup(response).select_one(".form-error").get_text()
        assert "Nothing was saved" in response.get_data(as_text=True)
        # What was typed is kept, so nothing needs typing again.
        assert soup(response).select_one("textarea[name=impact]").get_text().strip() == (
            fields.get("impact", "Participants cannot sign in."))
    assert snapshot() == before


def test_times_are_typed_in_the_site_time_zone(app, responder_client, components, clock):
    app.config["SITE_TIMEZONE"] = "Europe/Berlin"  # UTC+1 in November
    response = declare(responder_client, components[:1], next_update_in="",
                       next_update="2026-11-26T13:45", started_at="2026-11-26T12:40")
    assert response.status_code == 302
    incident = only_incident()
    assert incident.updates[0].next_update_at == datetime(2026, 11, 26, 12, 45,
                                                          tzinfo=timezone.utc)
    assert incident.started_at == datetime(2026, 11, 26, 11, 40, tzinfo=timezone.utc)
    page = responder_client.get(f"/staff/incidents/{incident.id}")
    block = soup(page).select_one("pre.status-block").get_text()
    assert "Time: 2026-11-26 13:00 CET" in block
    assert "Next Update: 2026-11-26 13:45 CET" in block
    # The edit form shows the start in the site's zone too.
    edit = form_fields(responder_client.get(f"/staff/incidents/{incident.id}/edit"),
                       "form.incident-form")
    assert edit["started_at"] == "2026-11-26T12:40"


def test_quick_choices_and_the_suggested_next_update(responder_client, components, clock):
    declare(responder_client, components[:1], severity="SEV-3")
    incident = only_incident()
    # SEV-3 sets no cadence: the suggestion is an hour.
    assert incident.updates[0].next_update_at == clock() + timedelta(minutes=60)
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    assert "Suggested: in 60 minutes (SEV-3)" in page.select_one(
        "select[name=next_update_in]").get_text()
    for choice, minutes in (("15", 15), ("30", 30), ("60", 60)):
        clock.advance(minutes=1)
        assert post_update(responder_client, incident.id, status="investigating",
                           next_update_in=choice).status_code == 302
        assert only_incident().updates[0].next_update_at == clock() + timedelta(
            minutes=minutes)
    assert post_update(responder_client, incident.id, status="investigating",
                       next_update_in="").status_code == 302
    assert only_incident().updates[0].next_update_at is None


def test_the_help_texts_name_the_cadence_and_the_notices_of_each_severity(
        responder_client, components, clock):
    """Their words come from the severity table (issue 22, point 5), unchanged."""
    def text(response) -> str:
        return " ".join(soup(response).get_text(" ").split())

    new = text(responder_client.get("/staff/incidents/new"))
    assert ("The suggestion is now plus the severity's update cadence: SEV-1 every 15 "
            "minutes, SEV-2 every 30 minutes (the playbook), SEV-3 and SEV-4 in 60 "
            "minutes.") in new
    assert ("a SEV-1 or SEV-2 tells the Primary roles (the On-call Engineer when no type "
            "is given), a SEV-1 the Executive column too.") in new
    declare(responder_client, components[:1], severity="SEV-3")
    page = text(responder_client.get(f"/staff/incidents/{only_incident().id}"))
    assert ("The playbook asks for an update in #incidents every 15 minutes for SEV-1 and "
            "every 30 minutes for SEV-2.") in page


# --- Updates: any status until Resolved ---------------------------------------------------


def test_updates_may_go_back_and_the_timeline_says_so(
        app, responder_client, admin, components, make_incident, clock):
    # Replaces the foundation's forward-only test (issue 11): a failed fix goes back.
    incident = make_incident(admin, components[:1], status="monitoring")
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    offered = [o["value"] for o in page.select("select[name=status] option")]
    assert offered == ["investigating", "identified", "monitoring", "resolved"]
    assert page.select_one("select[name=status] option[selected]")["value"] == "monitoring"

    clock.advance(minutes=5)
    assert post_update(responder_client, incident.id,
                       status="identified").status_code == 302
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    newest = page.select_one("ol.updates li.update h3").get_text(" ", strip=True)
    assert newest.startswith("Back to Identified")
    assert only_incident().status == "identified"
    public = soup(responder_client.get(f"/incidents/{incident.id}"))
    words = [s.get_text(strip=True) for s in public.select("ol.timeline .status-word")]
    assert words == ["Back to Identified", "Monitoring"]  # the public timeline says so too

    clock.advance(minutes=5)
    assert post_update(responder_client, incident.id,
                       status="identified").status_code == 302  # the same status: fine
    assert post_update(responder_client, incident.id,
                       status="resolved").status_code == 302

    # Resolved is final: the page offers no form, and a post is refused.
    assert soup(responder_client.get(f"/staff/incidents/{incident.id}")).select_one(
        "section.update-form") is None
    before = snapshot()
    for status in ("resolved", "monitoring"):
        response = responder_client.post(
            f"/staff/incidents/{incident.id}",
            data={"csrf_token": csrf_token(responder_client), "status": status,
                  "impact": "x", "actions": "y", "next_update_in": ""})
        assert response.status_code == 422
        assert "This incident is resolved. An admin can reopen it." in soup(
            response).get_text()
    assert snapshot() == before


def test_bad_update_input_changes_nothing(app, responder_client, admin, components,
                                          make_incident, clock):
    incident = make_incident(admin, components[:2])
    cases = [
        ({"status": "fixed"}, "status", "Choose one of"),
        ({"actions": "  \n "}, "actions", "required"),
        ({"impact": "i" * 5001}, "impact", "At most 5000"),
        ({"next_update": "2026-11-26T11:59", "next_update_in": ""}, "next_update",
         "must be in the future"),
        ({"next_update": "2027-01-01T00:00", "next_update_in": ""}, "next_update",
         "within 14 days"),
        ({f"component_status-{components[0].id}": "down"}, "component_statuses",
         "Unknown component status"),
        ({"component_status-424242": "operational"}, "component_statuses",
         "Unknown component"),
    ]
    before = snapshot()
    for fields, field, message in cases:
        response = post_update(responder_client, incident.id,
                               **{"status": "identified", **fields})
        assert response.status_code == 422, fields
        assert message in field_error(response, field), fields
    assert snapshot() == before
    assert responder_client.get("/staff/incidents/424242").status_code == 404


# --- Dashboard -----------------------------------------------------------------------------


def test_dashboard_shows_age_last_update_and_overdue_incidents(
        responder_client, admin, components, make_incident, clock):
    sev1 = make_incident(admin, components[:1], title="Database unresponsive",
                         severity="SEV-1")  # no promised time: the 15 minute cadence
    promised = make_incident(admin, components[1:2], title="Charts slow", severity="SEV-2",
                             next_update_at=clock() + timedelta(hours=1))
    make_incident(admin, components[2:3], title="UI glitch", severity="SEV-4")
    clock.advance(minutes=10)

    def rows():
        page = soup(responder_client.get("/staff/"))
        return {r.select_one("a").get_text(): r for r in page.select("tr.incident-row")}

    now_rows = rows()
    assert set(now_rows) == {"Database unresponsive", "Charts slow", "UI glitch"}
    assert not any("overdue" in r["class"] for r in now_rows.values())
    assert "in 5 min" in now_rows["Database unresponsive"].select_one(".due").get_text()

    clock.advance(minutes=10)  # 20 minutes in: SEV-1 is 5 minutes overdue
    now_rows = rows()
    sev1_row = now_rows["Database unresponsive"]
    assert "overdue" in sev1_row["class"]
    assert "Overdue by 5 min" in sev1_row.select_one(".due").get_text(" ", strip=True)
    assert sev1_row.select_one(".age").get_text() == "20 min"
    assert sev1_row.select_one(".since-update").get_text() == "20 min ago"
    assert "SEV-1" in sev1_row.get_text()
    assert "overdue" not in now_rows["Charts slow"]["class"]
    assert "No time promised" in now_rows["UI glitch"].get_text()

    # An update clears it; the promised time, once passed, makes the other one overdue.
    assert post_update(responder_client, sev1.id, status="identified",
                       next_update_in="15").status_code == 302
    clock.advance(minutes=45)
    now_rows = rows()
    assert "overdue" in now_rows["Charts slow"]["class"]
    assert "Overdue" in now_rows["Charts slow"].get_text()
    assert promised.id != sev1.id


def test_quick_component_status_change_on_the_dashboard(app, responder_client, responder,
                                                        components):
    login_c = components[0]
    page = responder_client.get("/staff/")
    form = f"tr[data-component-id='{login_c.id}'] form"
    data = form_fields(page, form)
    assert data["status"] == "operational"
    data["status"] = "partial_outage"
    response = responder_client.post(f"/staff/components/{login_c.id}/status", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Component, login_c.id).status == "partial_outage"
    (event,) = audit_events("component.status")
    assert (event.actor_id, event.target_id) == (responder.id, str(login_c.id))
    assert (event.before, event.after) == ({"status": "operational"},
                                           {"status": "partial_outage"})
    row = soup(responder_client.get("/staff/")).select_one(
        f"tr[data-component-id='{login_c.id}']")
    assert "Partial Outage" in row.get_text()

    before = snapshot()
    data["status"] = "on_fire"
    response = responder_client.post(f"/staff/components/{login_c.id}/status", data=data)
    assert response.status_code == 422
    assert "Unknown component status" in soup(response).select_one(
        f"tr[data-component-id='{login_c.id}'] .field-error").get_text()
    assert responder_client.post("/staff/components/999/status",
                                 data=data).status_code == 404
    assert snapshot() == before


# --- Edit, reopen, redact, recurrence ------------------------------------------------------


def test_editing_an_incident_is_audited_and_checked(app, responder_client, responder, admin,
                                                    components, make_incident, clock):
    incident = make_incident(admin, components[:1],
                             started_at=clock() - timedelta(minutes=30, seconds=17))
    clock.advance(minutes=5)
    url = f"/staff/incidents/{incident.id}/edit"

    # Saving the form unchanged changes nothing (the form shows minutes, not seconds).
    before = snapshot()
    assert submit(responder_client, url, "form.incident-form").status_code == 302
    assert snapshot() == before

    response = submit(responder_client, url, "form.incident-form",
                      issue="Login and saving broken", severity="SEV-1",
                      components=[str(components[0].id), str(components[1].id)],
                      started_at="2026-11-26T11:15")
    assert response.status_code == 302
    incident = only_incident()
    assert (incident.title, incident.severity) == ("Login and saving broken", "SEV-1")
    assert [c.id for c in incident.components] == [components[0].id, components[1].id]
    assert incident.started_at == datetime(2026, 11, 26, 11, 15, tzinfo=timezone.utc)
    (event,) = audit_events("incident.edit")
    assert event.actor_id == responder.id
    assert event.before["title"] == "Login not working" and event.before["severity"] == "SEV-2"
    assert event.after["title"] == "Login and saving broken"
    assert event.after["component_ids"] == [components[0].id, components[1].id]

    before = snapshot()
    for fields, field, message in [
        ({"issue": ""}, "issue", "Describe the issue"),
        ({"severity": "SEV-0"}, "severity", "Choose one of"),
        ({"components": None}, "components", "at least one"),
        ({"started_at": ""}, "started_at", "Enter when"),
        ({"started_at": "2026-11-26T12:03"}, "started_at", "after the incident was declared"),
    ]:
        response = submit(responder_client, url, "form.incident-form", **fields)
        assert response.status_code == 422, fields
        assert message in field_error(response, field), fields
    assert snapshot() == before


def test_admin_reopens_and_redacts(app, admin_client, admin, components, make_incident,
                                   clock):
    incident = make_incident(admin, components[:1],
                             impact="Jane Doe's glucose readings were lost",
                             workaround="Call Jane on 555-0100")
    incidents.post_update(incident, incidents.UpdateText("resolved", "None now.", "Fixed."),
                          actor=admin, now=clock())
    db.session.commit()
    first = incident.updates[-1]
    page = admin_client.get(f"/staff/incidents/{incident.id}")

    # Redact the first update: its text is gone from the page and from the Slack block.
    # It cannot be undone, so it is confirmed first: without the tick nothing changes.
    data = form_fields(page, f"#update-{first.id} form.redact")
    redact = f"/staff/incidents/{incident.id}/updates/{first.id}/redact"
    before = snapshot()
    response = admin_client.post(redact, data=data, follow_redirects=True)
    assert "Nothing was redacted: tick the box" in response.get_data(as_text=True)
    assert snapshot() == before
    response = admin_client.post(redact, data={**data, "confirm": "yes"})
    assert response.status_code == 302
    page = admin_client.get(f"/staff/incidents/{incident.id}")
    text = page.get_data(as_text=True)
    assert "Jane" not in text and "555-0100" not in text
    item = soup(page).select_one(f"#update-{first.id}")
    assert "Impact: [redacted]" in item.select_one("pre").get_text()
    assert "Workaround: [redacted]" in item.select_one("pre").get_text()
    (event,) = audit_events("update.redact")
    assert event.after == {"incident_id": incident.id, "redacted": True}
    assert "Jane" not in repr([(e.before, e.after) for e in audit_events()])

    # Reopen: back to Investigating, audited, and updates can be posted again.
    data = form_fields(page, "section.resolved-actions form")
    response = admin_client.post(f"/staff/incidents/{incident.id}/reopen", data=data)
    assert response.status_code == 302
    incident = only_incident()
    assert (incident.status, incident.resolved_at) == ("investigating", None)
    (event,) = audit_events("incident.reopen")
    assert event.before["status"] == "resolved"
    page = soup(admin_client.get(f"/staff/incidents/{incident.id}"))
    assert page.select_one("section.update-form form") is not None

    # The same form again is a repeat: told so, nothing changed.
    before = snapshot()
    response = admin_client.post(f"/staff/incidents/{incident.id}/reopen", data=data,
                                 follow_redirects=True)
    assert "This incident was already reopened." in response.get_data(as_text=True)
    assert snapshot() == before

    # Reopening an open incident is refused with a message, nothing changed.
    data.pop("submission_id")
    response = admin_client.post(f"/staff/incidents/{incident.id}/reopen", data=data,
                                 follow_redirects=True)
    assert "This incident is not resolved." in response.get_data(as_text=True)
    assert snapshot() == before


def test_declare_a_recurrence_of_a_resolved_incident(app, responder_client, admin,
                                                     components, make_incident, clock):
    old = make_incident(admin, components[1:3], title="Charts broken", severity="SEV-3")
    incidents.post_update(old, incidents.UpdateText("resolved", "Fine again.", "Fixed."),
                          actor=admin, now=clock())
    db.session.commit()
    page = soup(responder_client.get(f"/staff/incidents/{old.id}"))
    link = page.find("a", string="Declare a recurrence")["href"]
    assert link == f"/staff/incidents/new?previous={old.id}"

    clock.advance(days=2)
    form = form_fields(responder_client.get(link), "form.incident-form")
    assert (form["issue"], form["severity"], form["previous_incident_id"]) == (
        "Charts broken", "SEV-3", str(old.id))
    checked = soup(responder_client.get(link)).select("input[name=components][checked]")
    assert [c["value"] for c in checked] == [str(components[1].id), str(components[2].id)]
    response = submit(responder_client, link, "form.incident-form",
                      components=[c["value"] for c in checked],
                      impact="Charts do not load again.", actions="Looking into it.",
                      url="/staff/incidents/new")
    assert response.status_code == 302
    db.session.expire_all()
    new = db.session.scalars(db.select(Incident).where(Incident.id != old.id)).one()
    assert new.previous_incident_id == old.id
    assert [c.id for c in new.components] == [components[1].id, components[2].id]
    assert f"A recurrence of #{old.id} Charts broken" in soup(responder_client.get(
        f"/staff/incidents/{new.id}")).get_text(" ", strip=True)


def test_flashed_messages_and_csrf(app, responder_client, components):
    response = declare(responder_client, components[:1])
    page = responder_client.get(location(response))
    flash = soup(page).select_one("ul.flashes li.flash-success")
    assert flash is not None and "Incident declared" in flash.get_text()
    # Shown once.
    assert soup(responder_client.get(location(response))).select_one("ul.flashes") is None

    # A form without its CSRF token is refused.
    before = snapshot()
    response = responder_client.post("/staff/incidents/new", data={
        "issue": "x", "severity": "SEV-1", "components": str(components[0].id),
        "status": "investigating", "impact": "x", "actions": "y"})
    assert response.status_code == 400
    assert snapshot() == before
    assert db.session.scalar(db.select(db.func.count(IncidentUpdate.id))) == 1
