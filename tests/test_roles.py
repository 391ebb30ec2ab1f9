"""Incident roles (issue 14, point 1): the commander (the declarer by default), the
Communications Lead, the acknowledgement, display names, and the dashboard's targets."""

from __future__ import annotations

from datetime import timedelta

from statuspage.extensions import db
from statuspage.models import Incident

from .conftest import soup
from .staff_support import audit_events, declare, snapshot, submit


def _incident(incident_id: int) -> Incident:
    db.session.expire_all()
    return db.session.get(Incident, incident_id)


def _roles(client, incident_id: int, **fields):
    return submit(client, f"/staff/incidents/{incident_id}", "form.roles-form",
                  url=f"/staff/incidents/{incident_id}/roles", **fields)


def _dashboard_targets(client, incident_id: int) -> dict[str, str]:
    row = soup(client.get("/staff/")).select_one(f"tr[data-incident-id='{incident_id}']")
    return {li["class"][1]: li.get_text(" ", strip=True) for li in row.select("li.target")}


def test_the_declarer_commands_and_acknowledges_once(app, clock, responder_client,
                                                     responder, components):
    response = declare(responder_client, components[:1], severity="SEV-1")
    incident_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert _incident(incident_id).commander_id == responder.id

    page = responder_client.get(f"/staff/incidents/{incident_id}")
    assert soup(page).select_one(".roles .commander").get_text() == "responder@example.test"
    clock.advance(minutes=5)
    submit(responder_client, f"/staff/incidents/{incident_id}", "form:has(button.acknowledge)",
           url=f"/staff/incidents/{incident_id}/acknowledge")
    assert _incident(incident_id).acknowledged_at == clock()
    [event] = audit_events("incident.acknowledge")
    assert event.actor_id == responder.id
    page = soup(responder_client.get(f"/staff/incidents/{incident_id}"))
    assert page.select_one("button.acknowledge") is None
    assert "Acknowledged" in page.select_one(".roles .acknowledged").get_text()


def test_only_the_commander_acknowledges(app, clock, admin_client, admin, responder,
                                         components, make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-1")
    page = soup(admin_client.get(f"/staff/incidents/{incident.id}"))
    assert page.select_one("button.acknowledge") is None  # not offered to others
    token = page.select_one("form.roles-form input[name=csrf_token]")["value"]
    before = snapshot()
    response = admin_client.post(f"/staff/incidents/{incident.id}/acknowledge",
                                 data={"csrf_token": token}, follow_redirects=True)
    assert "Only the Incident Commander acknowledges" in response.get_data(as_text=True)
    assert snapshot() == before and _incident(incident.id).acknowledged_at is None


def test_changing_the_roles_is_audited_and_shows_display_names(
        app, clock, admin_client, admin, responder, make_staff, components, make_incident):
    lead = make_staff(email="lead@example.test", display_name="Robin Lead")
    incident = make_incident(responder, components[:1], severity="SEV-2")
    response = _roles(admin_client, incident.id, commander=str(admin.id),
                      comms_lead=str(lead.id))
    assert response.status_code == 302
    changed = _incident(incident.id)
    assert (changed.commander_id, changed.comms_lead_id) == (admin.id, lead.id)
    [event] = audit_events("incident.roles")
    assert event.before == {"commander_id": responder.id, "comms_lead_id": None}
    assert event.after == {"commander_id": admin.id, "comms_lead_id": lead.id}
    page = soup(admin_client.get(f"/staff/incidents/{incident.id}"))
    assert page.select_one(".roles .comms-lead").get_text() == "Robin Lead"
    dashboard = soup(admin_client.get("/staff/"))
    assert dashboard.select_one(
        f"tr[data-incident-id='{incident.id}'] .commander").get_text() == "admin@example.test"


def test_bad_role_choices_change_nothing(app, clock, admin_client, admin, responder,
                                         make_staff, components, make_incident):
    gone = make_staff(email="gone@example.test", active=False)
    incident = make_incident(responder, components[:1])
    before = snapshot()
    for fields in ({"commander": "abc"}, {"commander": str(gone.id)},
                   {"commander": "999999"}, {"commander": ""},
                   {"commander": str(admin.id), "comms_lead": "9" * 40}):
        response = _roles(admin_client, incident.id, **fields)
        assert response.status_code == 302
        page = admin_client.get(f"/staff/incidents/{incident.id}").get_data(as_text=True)
        assert "Nothing was changed" in page or "Choose" in page, fields
    assert snapshot() == before
    assert audit_events("incident.roles") == []


def test_a_display_name_is_set_on_the_password_page(app, clock, responder_client,
                                                    responder, components, make_incident):
    response = submit(responder_client, "/staff/password", "form.display-name-form",
                      url="/staff/display-name", display_name="  Sam Responder ")
    assert response.status_code == 302
    incident = make_incident(responder, components[:1])
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    assert page.select_one(".roles .commander").get_text() == "Sam Responder"
    too_long = submit(responder_client, "/staff/password", "form.display-name-form",
                      url="/staff/display-name", display_name="x" * 101)
    assert too_long.status_code == 422
    assert "At most 100 characters" in soup(too_long).select_one(
        "#display_name-error").get_text()
    submit(responder_client, "/staff/password", "form.display-name-form",
           url="/staff/display-name", display_name="")
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    assert page.select_one(".roles .commander").get_text() == "responder@example.test"
    assert len(audit_events("staff.display_name")) == 2


def test_the_dashboard_shows_each_target_met_close_or_missed(
        app, clock, responder_client, responder, components, make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-1")
    targets = _dashboard_targets(responder_client, incident.id)
    assert targets["target-response"].startswith("Response (15 min): On track")
    assert targets["target-resolution"].startswith("Resolution (2 h): On track")
    clock.advance(minutes=13)  # the last fifth of 15 minutes
    assert "Close to being missed" in _dashboard_targets(
        responder_client, incident.id)["target-response"]
    clock.advance(minutes=3)
    targets = _dashboard_targets(responder_client, incident.id)
    assert "Missed" in targets["target-response"]
    assert "On track" in targets["target-resolution"]
    row = soup(responder_client.get("/staff/")).select_one(
        f"tr[data-incident-id='{incident.id}'] li.target-missed strong")
    assert row.get_text() == "Missed"


def test_an_acknowledgement_in_time_meets_the_response_target(
        app, clock, responder_client, responder, components, make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-2")
    clock.advance(minutes=50)
    submit(responder_client, f"/staff/incidents/{incident.id}",
           "form:has(button.acknowledge)", url=f"/staff/incidents/{incident.id}/acknowledge")
    clock.advance(hours=2, minutes=30)  # response long past, resolution in its last fifth
    targets = _dashboard_targets(responder_client, incident.id)
    assert targets["target-response"].startswith("Response (1 h): Met")
    assert targets["target-resolution"].startswith("Resolution (4 h): Close to being missed")
    assert timedelta(hours=4) > clock() - _incident(incident.id).started_at


def test_an_incident_opened_by_a_system_actor_has_no_commander(app, clock, admin_client,
                                                               components, make_incident):
    """A monitor or an API key opens incidents: nobody commands them until staff take them,
    and the audit log names the system actor."""
    from statuspage.audit import SystemActor

    incident = make_incident(SystemActor("monitor:Login health"), components[:1],
                             severity="SEV-1")
    assert incident.commander_id is None and incident.created_by_id is None
    assert incident.latest_update.posted_by_id is None
    [event] = audit_events("incident.open")
    assert event.actor_id is None and event.actor_label == "monitor:Login health"
    page = soup(admin_client.get(f"/staff/incidents/{incident.id}"))
    assert page.select_one("button.acknowledge") is None
