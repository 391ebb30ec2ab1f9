"""The incident forms as people use them (issue 11): one row per component, components
that return to what is still true on Resolved, the dashboard's warning, one-time
submissions (repeated, concurrent), confirmations and the subscribers page's words."""

from __future__ import annotations


import sqlalchemy as sa

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import Component, Incident, IncidentUpdate

from .conftest import form_fields, soup
from .staff_support import declare, post_update, snapshot


def by_name(name: str) -> Component:
    db.session.expire_all()
    return db.session.scalars(db.select(Component).where(Component.name == name)).one()


def updates_count() -> int:
    db.session.expire_all()
    return db.session.scalar(db.select(sa.func.count(IncidentUpdate.id)))


def text(status, **fields):
    fields.setdefault("impact", "Participants cannot save entries.")
    fields.setdefault("actions", "Working on it.")
    return incidents.UpdateText(status=status, **fields)


# --- One control per component -------------------------------------------------------------


def test_each_component_row_holds_affected_and_status_together(app, responder_client,
                                                               components):
    page = soup(responder_client.get("/staff/incidents/new"))
    rows = page.select("form.incident-form [data-component-row]")
    assert len(rows) == len(components)
    for row, component in zip(rows, components):
        assert component.name in row.get_text(" ", strip=True)
        assert row.select_one(f"input[name=components][value='{component.id}']")
        assert row.select_one(f"select[name='component_status-{component.id}']")
    assert page.select_one("script[src$='js/component-rows.js']") is not None


def test_point_1_reproduction_leaves_the_page_green(app, client, responder_client,
                                                    components):
    """Issue 11, point 1: a SEV-2 with Saving entries ticked and Food photo analysis (not
    ticked) set to Major Outage, then Resolved."""
    saving, photos = by_name("Saving entries"), by_name("Food photo analysis")
    response = declare(responder_client, [saving], severity="SEV-2",
                       **{f"component_status-{photos.id}": "major_outage"})
    assert response.status_code == 302
    incident = db.session.scalars(db.select(Incident)).one()
    # The component it took down is one it affects.
    assert {c.name for c in incident.components} == {"Saving entries", "Food photo analysis"}
    assert client.get("/api/v2/status.json").get_json()["status"]["indicator"] != "none"

    assert post_update(responder_client, incident.id, status="resolved").status_code == 302
    assert by_name("Food photo analysis").status == "operational"
    assert client.get("/api/v2/status.json").get_json()["status"]["indicator"] == "none"
    banner = soup(client.get("/")).select_one("section.banner").get_text(" ", strip=True)
    assert "All Systems Operational" in banner
    assert "Outage" not in banner


def test_update_form_can_add_an_affected_component(app, responder_client, admin,
                                                   components, make_incident):
    login, saving = components[0], components[1]
    incident = make_incident(admin, [login])
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    form = page.select_one("section.update-form form")
    # Already affected: said so (the edit page removes it); the others offer the box.
    assert form.select_one(f"input[name=components][value='{login.id}']") is None
    assert form.select_one(f"input[name=components][value='{saving.id}']") is not None
    assert post_update(responder_client, incident.id,
                       components=[str(saving.id)]).status_code == 302
    db.session.expire_all()
    assert {c.id for c in db.session.get(Incident, incident.id).components} == {
        login.id, saving.id}


def test_resolved_keeps_the_worst_status_another_open_incident_claims(
        app, admin, components, make_incident, clock):
    login, saving, reports = components[0], components[1], components[4]
    first = make_incident(admin, [login, saving], severity="SEV-1",
                          component_statuses={login.id: "major_outage",
                                              saving.id: "major_outage"})
    clock.advance(minutes=5)
    make_incident(admin, [login], title="Slow sign-in", severity="SEV-3",
                  component_statuses={login.id: "degraded_performance",
                                      reports.id: "partial_outage"})
    clock.advance(minutes=5)
    incidents.post_update(first, text("resolved"), actor=admin, now=clock())
    db.session.commit()
    # Login is still claimed (degraded) by the open SEV-3; Saving entries is not.
    assert by_name(login.name).status == "degraded_performance"
    assert by_name(saving.name).status == "operational"
    assert by_name(reports.name).status == "partial_outage"


def test_staff_may_choose_otherwise_on_the_resolved_form(app, admin, components,
                                                         make_incident, clock):
    login = components[0]
    incident = make_incident(admin, [login], component_statuses={login.id: "major_outage"})
    incidents.post_update(incident, text("resolved", component_statuses={
        login.id: "degraded_performance"}), actor=admin, now=clock())
    db.session.commit()
    assert by_name(login.name).status == "degraded_performance"


def test_dashboard_warns_about_components_with_nothing_behind_them(
        app, admin_client, admin, components, make_incident, clock):
    login, reports = components[0], components[4]
    make_incident(admin, [login], component_statuses={login.id: "major_outage"})
    page = soup(admin_client.get("/staff/"))
    assert page.select_one("section.unbacked-warning") is None  # an open incident claims it

    token = form_fields(admin_client.get("/staff/"), "form.quick-status")["csrf_token"]
    admin_client.post(f"/staff/components/{reports.id}/status",
                      data={"csrf_token": token, "status": "degraded_performance"})
    warning = soup(admin_client.get("/staff/")).select_one("section.unbacked-warning")
    assert warning is not None
    assert [li.get_text(" ", strip=True) for li in warning.select("li")] == [
        "Report generation: Degraded Performance"]


# --- One-time submissions ------------------------------------------------------------------


def test_a_repeated_update_form_posts_once_and_says_so(app, responder_client, admin,
                                                       components, make_incident):
    incident = make_incident(admin, components[:1])
    url = f"/staff/incidents/{incident.id}"
    data = form_fields(responder_client.get(url), "section.update-form form")
    data.update(impact="Still down.", actions="Rolling back.")
    assert data["submission_id"]
    first = responder_client.post(url, data=data)
    assert first.status_code == 302
    assert updates_count() == 2
    before = snapshot()
    repeat = responder_client.post(url, data=data, follow_redirects=True)
    assert repeat.status_code == 200
    assert "This update was already posted." in repeat.get_data(as_text=True)
    assert snapshot() == before
    # A POST without the id (a script) is accepted as before.
    data.pop("submission_id")
    assert responder_client.post(url, data=data).status_code == 302
    assert updates_count() == 3


def test_a_repeated_declaration_declares_once(app, responder_client, components):
    page = responder_client.get("/staff/incidents/new")
    data = form_fields(page, "form.incident-form")
    data.update(issue="Login not working", severity="SEV-2",
                components=[str(components[0].id)], impact="Cannot sign in.",
                actions="Restarting.")
    assert responder_client.post("/staff/incidents/new", data=data).status_code == 302
    repeat = responder_client.post("/staff/incidents/new", data=data, follow_redirects=True)
    assert "This incident was already declared." in repeat.get_data(as_text=True)
    assert db.session.scalar(db.select(sa.func.count(Incident.id))) == 1


def test_a_form_reshown_with_errors_keeps_its_id(app, responder_client, admin, components,
                                                 make_incident):
    incident = make_incident(admin, components[:1])
    url = f"/staff/incidents/{incident.id}"
    data = form_fields(responder_client.get(url), "section.update-form form")
    refused = responder_client.post(url, data={**data, "actions": ""})
    assert refused.status_code == 422
    again = form_fields(refused, "section.update-form form")
    assert again["submission_id"] == data["submission_id"]
    assert responder_client.post(url, data={**again, "actions": "Fixed it."}
                                 ).status_code == 302
    assert updates_count() == 2


# --- Confirmations -------------------------------------------------------------------------


def test_send_now_is_offered_only_to_severities_that_get_the_outage_email(
        app, admin_client, admin, components, make_incident):
    low = make_incident(admin, components[:1], severity="SEV-3")
    page = admin_client.get(f"/staff/incidents/{low.id}")
    send = f"/staff/incidents/{low.id}/emails/send-now"
    assert soup(page).select_one(f"form[action='{send}']") is None
    before = snapshot()
    token = form_fields(page, "section.update-form form")["csrf_token"]
    refused = admin_client.post(send, data={"csrf_token": token, "confirm": "yes"},
                                follow_redirects=True)
    assert "SEV-3 incidents get no outage email" in refused.get_data(as_text=True)
    assert snapshot() == before
    high = make_incident(admin, components[:1], severity="SEV-1")
    page = soup(admin_client.get(f"/staff/incidents/{high.id}"))
    form = page.select_one(f"form[action='/staff/incidents/{high.id}/emails/send-now']")
    assert form.select_one("input[name=confirm][required]") is not None


# --- Words ---------------------------------------------------------------------------------


def test_subscribers_page_says_coaches(app, admin_client):
    headers = [th.get_text(strip=True) for th in
               soup(admin_client.get("/staff/subscribers")).select("thead th")]
    assert headers == ["State", "Participants", "Coaches"]


def test_limited_fields_have_a_live_counter_script(app, responder_client, admin,
                                                   components, make_incident):
    page = soup(responder_client.get("/staff/incidents/new"))
    assert page.select_one("input[name=issue]")["maxlength"] == "200"
    assert page.select_one("script[src$='js/char-counter.js']") is not None
    # The server still enforces the limit.
    response = declare(responder_client, components[:1], issue="x" * 229)
    assert response.status_code == 422
    assert "At most 200 characters." in response.get_data(as_text=True)
