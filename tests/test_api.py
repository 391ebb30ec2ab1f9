"""The Statuspage-compatible JSON API, checked against a JSON Schema of the spec
(shared/statuspage-api-v2.md): every key present, every enum one of the allowed values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator

from statuspage import incidents
from statuspage.extensions import db
from tests.conftest import counting_selects

PUBLIC_URL = "https://status.example.test"

# --- The schema -----------------------------------------------------------------------

ISO = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
COMPONENT_STATUSES = ["operational", "degraded_performance", "partial_outage", "major_outage",
                      "under_maintenance"]
INCIDENT_STATUSES = ["investigating", "identified", "monitoring", "resolved", "postmortem"]


def _obj(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


TIME = {"type": "string", "pattern": ISO}
TIME_OR_NULL = {"type": ["string", "null"], "pattern": ISO}
ID = {"type": "string", "pattern": r"^\S+$"}

DEFS = {
    "page": _obj({
        "id": ID, "name": {"type": "string", "minLength": 1},
        "url": {"const": PUBLIC_URL}, "time_zone": {"type": "string", "minLength": 1},
        "updated_at": TIME,
    }),
    "status": _obj({
        "indicator": {"enum": ["none", "minor", "major", "critical", "maintenance"]},
        "description": {"enum": ["All Systems Operational", "Partially Degraded Service",
                                 "Minor Service Outage", "Partial System Outage",
                                 "Major System Outage", "Service Under Maintenance"]},
    }),
    "component": _obj({
        "id": ID, "name": {"type": "string", "minLength": 1},
        "status": {"enum": COMPONENT_STATUSES},
        "created_at": TIME, "updated_at": TIME, "position": {"type": "integer"},
        "description": {"type": ["string", "null"]}, "showcase": {"type": "boolean"},
        "start_date": {"type": ["string", "null"], "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "group_id": {"type": ["string", "null"]}, "page_id": ID,
        "group": {"const": False}, "only_show_if_degraded": {"type": "boolean"},
    }),
    "affected_component": _obj({
        "code": ID, "name": {"type": "string"},
        "old_status": {"enum": COMPONENT_STATUSES}, "new_status": {"enum": COMPONENT_STATUSES},
    }),
    "update": _obj({
        "id": ID, "status": {"enum": INCIDENT_STATUSES}, "body": {"type": "string"},
        "incident_id": ID, "created_at": TIME, "updated_at": TIME, "display_at": TIME,
        "deliver_notifications": {"type": "boolean"},
        "affected_components": {"type": "array",
                                "items": {"$ref": "#/$defs/affected_component"}},
    }),
    "incident": _obj({
        "id": ID, "name": {"type": "string", "minLength": 1},
        "status": {"enum": INCIDENT_STATUSES},
        "impact": {"enum": ["none", "minor", "major", "critical"]},
        "created_at": TIME, "updated_at": TIME, "monitoring_at": TIME_OR_NULL,
        "resolved_at": TIME_OR_NULL, "started_at": TIME,
        "shortlink": {"type": "string", "pattern": "^" + PUBLIC_URL + "/incidents/[0-9]+$"},
        "page_id": ID,
        "incident_updates": {"type": "array", "items": {"$ref": "#/$defs/update"}},
        "components": {"type": "array", "items": {"$ref": "#/$defs/component"}},
    }),
}
MAINTENANCE_STATUSES = ["scheduled", "in_progress", "verifying", "completed"]
# A scheduled maintenance: the incident's fields (its own statuses and impact) plus the window.
DEFS["maintenance_update"] = _obj({
    **DEFS["update"]["properties"], "status": {"enum": MAINTENANCE_STATUSES},
})
DEFS["scheduled_maintenance"] = _obj({
    **DEFS["incident"]["properties"],
    "status": {"enum": MAINTENANCE_STATUSES},
    "impact": {"const": "maintenance"},
    "shortlink": {"type": "string", "pattern": "^" + PUBLIC_URL + "/maintenance/[0-9]+$"},
    "incident_updates": {"type": "array", "items": {"$ref": "#/$defs/maintenance_update"}},
    "scheduled_for": TIME, "scheduled_until": TIME,
})


def _maintenances(status: dict | None = None) -> dict:
    item = {"$ref": "#/$defs/scheduled_maintenance"}
    if status is not None:
        item = {"allOf": [item, {"properties": {"status": status}}]}
    return {"type": "array", "items": item}


def _endpoint(properties: dict) -> dict:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": DEFS,
            **_obj(properties)}


PAGE = {"$ref": "#/$defs/page"}
SCHEMAS = {
    "/api/v2/status.json": _endpoint({"page": PAGE, "status": {"$ref": "#/$defs/status"}}),
    "/api/v2/summary.json": _endpoint({
        "page": PAGE, "status": {"$ref": "#/$defs/status"},
        "components": {"type": "array", "items": {"$ref": "#/$defs/component"}},
        "incidents": {"type": "array", "items": {
            "allOf": [{"$ref": "#/$defs/incident"},
                      {"properties": {"status": {"not": {"const": "resolved"}}}}]}},
        "scheduled_maintenances": _maintenances({"enum": ["scheduled", "in_progress",
                                                           "verifying"]}),
    }),
    "/api/v2/components.json": _endpoint({
        "page": PAGE, "components": {"type": "array", "items": {"$ref": "#/$defs/component"}},
    }),
    "/api/v2/incidents.json": _endpoint({
        "page": PAGE, "incidents": {"type": "array", "maxItems": 50,
                                    "items": {"$ref": "#/$defs/incident"}},
    }),
    "/api/v2/incidents/unresolved.json": _endpoint({
        "page": PAGE, "incidents": {"type": "array", "items": {
            "allOf": [{"$ref": "#/$defs/incident"},
                      {"properties": {"status": {"not": {"const": "resolved"}}}}]}},
    }),
    "/api/v2/scheduled-maintenances.json": _endpoint({
        "page": PAGE, "scheduled_maintenances": {**_maintenances(), "maxItems": 50},
    }),
    "/api/v2/scheduled-maintenances/upcoming.json": _endpoint({
        "page": PAGE, "scheduled_maintenances": _maintenances({"const": "scheduled"}),
    }),
    "/api/v2/scheduled-maintenances/active.json": _endpoint({
        "page": PAGE, "scheduled_maintenances": _maintenances({"enum": ["in_progress",
                                                                      "verifying"]}),
    }),
}


def test_the_schemas_are_valid_schemas():
    for schema in SCHEMAS.values():
        Draft202012Validator.check_schema(schema)


def test_the_schema_rejects_what_strict_clients_reject():
    validator = Draft202012Validator(SCHEMAS["/api/v2/status.json"])
    good = {"page": {"id": "p", "name": "n", "url": PUBLIC_URL, "time_zone": "UTC",
                     "updated_at": "2026-11-26T12:00:00.000+00:00"},
            "status": {"indicator": "none", "description": "All Systems Operational"}}
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "status": {"indicator": "ok",
                                                      "description": "All Systems Operational"}})
    assert not validator.is_valid({**good, "page": {**good["page"], "updated_at": None}})
    assert not validator.is_valid({**good, "page": {**good["page"],
                                                    "updated_at": "2026-11-26T12:00:00"}})
    missing = dict(good["page"])
    del missing["time_zone"]
    assert not validator.is_valid({**good, "page": missing})


def get_all(client) -> dict:
    """Every endpoint, validated against its schema; path -> body."""
    bodies = {}
    for path, schema in SCHEMAS.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "application/json"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Set-Cookie" not in response.headers
        body = response.get_json()
        errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
        assert not errors, f"{path}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
        bodies[path] = body
    return bodies


def post(incident, actor, clock, status, minutes=10, **fields):
    clock.advance(minutes=minutes)
    update = incidents.post_update(
        incident,
        incidents.UpdateText(status=status, impact=fields.pop("impact", "Still slow."),
                             actions=fields.pop("actions", "Working on it."), **fields),
        actor=actor, now=clock(),
    )
    db.session.commit()
    return update


# --- Bodies -----------------------------------------------------------------------------


def test_empty_page(client, clock):
    bodies = get_all(client)
    summary = bodies["/api/v2/summary.json"]
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert summary["components"] == [] and summary["incidents"] == []
    assert summary["scheduled_maintenances"] == []
    assert bodies["/api/v2/incidents.json"]["incidents"] == []
    assert bodies["/api/v2/scheduled-maintenances.json"]["scheduled_maintenances"] == []
    page = summary["page"]
    assert page["url"] == PUBLIC_URL and page["time_zone"] == "UTC"
    assert page["name"] == "Metabolic-Tracker"


def test_page_time_zone_is_the_site_time_zone(make_app):
    app = make_app(SITE_TIMEZONE="Europe/Berlin")
    body = app.test_client().get("/api/v2/status.json").get_json()
    assert body["page"]["time_zone"] == "Europe/Berlin"


def test_components(client, components):
    bodies = get_all(client)
    listed = bodies["/api/v2/components.json"]["components"]
    assert [c["name"] for c in listed] == [c.name for c in components]
    first = listed[0]
    assert first["id"] == str(components[0].id)
    assert first["status"] == "operational" and first["group"] is False
    assert first["group_id"] is None
    assert first["page_id"] == bodies["/api/v2/status.json"]["page"]["id"]
    assert bodies["/api/v2/summary.json"]["components"] == listed


def test_grouped_components_share_a_group_id(client, components):
    components[1].group_name = "Data"
    components[2].group_name = "Data"
    db.session.commit()
    listed = client.get("/api/v2/components.json").get_json()["components"]
    assert listed[0]["group_id"] is None
    assert listed[1]["group_id"] == listed[2]["group_id"] is not None
    assert isinstance(listed[1]["group_id"], str)


@pytest.mark.parametrize("status", COMPONENT_STATUSES)
def test_each_component_status(client, admin, components, clock, status):
    incidents.set_component_status(components[0], status, actor=admin, now=clock())
    db.session.commit()
    bodies = get_all(client)
    listed = bodies["/api/v2/components.json"]["components"]
    assert listed[0]["status"] == status
    assert all(c["status"] == "operational" for c in listed[1:])


def test_open_and_resolved_incidents(client, admin, components, make_incident, clock):
    login, saving = components[0], components[1]
    old = make_incident(admin, [saving], title="Entries not saving", severity="SEV-3",
                        impact="Some entries fail to save.", actions="Investigating.")
    post(old, admin, clock, "resolved", impact="Entries save again.", actions="Fixed.")
    clock.advance(minutes=30)
    open_one = make_incident(
        admin, [login], title="Login not working", severity="SEV-1",
        impact="Nobody can sign in.", actions="Investigating.",
        component_statuses={login.id: "major_outage"},
    )
    started = open_one.started_at
    update = post(open_one, admin, clock, "identified", impact="Nobody can sign in.",
                  actions="Renewing the certificate.", workaround="Use the web app.",
                  next_update_at=clock.now + timedelta(minutes=40),
                  component_statuses={login.id: "partial_outage"})
    post(open_one, admin, clock, "monitoring", impact="Sign-in works again.",
         actions="Watching error rates.")

    bodies = get_all(client)
    summary = bodies["/api/v2/summary.json"]
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    assert [i["name"] for i in summary["incidents"]] == ["Login not working"]
    assert bodies["/api/v2/incidents/unresolved.json"]["incidents"] == summary["incidents"]
    listed = bodies["/api/v2/incidents.json"]["incidents"]
    assert [i["name"] for i in listed] == ["Login not working", "Entries not saving"]

    incident = listed[0]
    assert incident["id"] == str(open_one.id)
    assert incident["impact"] == "critical"  # from the severity, not the Impact line
    assert incident["status"] == "monitoring"
    assert incident["shortlink"] == f"{PUBLIC_URL}/incidents/{open_one.id}"
    assert incident["started_at"] == started.isoformat(timespec="milliseconds")
    assert incident["monitoring_at"] == clock.now.isoformat(timespec="milliseconds")
    assert incident["resolved_at"] is None
    assert [c["name"] for c in incident["components"]] == ["Login"]
    assert incident["components"][0]["status"] == "partial_outage"
    assert [u["status"] for u in incident["incident_updates"]] == [
        "monitoring", "identified", "investigating"]
    identified = incident["incident_updates"][1]
    assert identified["id"] == str(update.id)
    assert identified["incident_id"] == str(open_one.id)
    assert identified["body"] == (
        "Impact: Nobody can sign in.\n"
        "Actions: Renewing the certificate.\n"
        "Workaround: Use the web app.\n"
        "Next Update: 2026-11-26 13:20 UTC"
    )
    assert identified["affected_components"] == [{
        "code": str(login.id), "name": "Login",
        "old_status": "major_outage", "new_status": "partial_outage",
    }]
    assert incident["incident_updates"][0]["body"] == (
        "Impact: Sign-in works again.\nActions: Watching error rates.")
    assert incident["incident_updates"][0]["affected_components"] == []

    resolved = listed[1]
    assert resolved["status"] == "resolved" and resolved["impact"] == "minor"
    assert resolved["resolved_at"] == resolved["incident_updates"][0]["created_at"]
    assert resolved["monitoring_at"] is None

    assert summary["page"]["updated_at"] == clock.now.isoformat(timespec="milliseconds")


@pytest.mark.parametrize("severity,impact", [("SEV-1", "critical"), ("SEV-2", "major"),
                                             ("SEV-3", "minor"), ("SEV-4", "none")])
def test_incident_impact_follows_the_severity(client, admin, components, make_incident,
                                              severity, impact):
    make_incident(admin, components[:1], severity=severity)
    bodies = get_all(client)
    assert bodies["/api/v2/incidents.json"]["incidents"][0]["impact"] == impact


def test_redacted_update_body(client, admin, components, make_incident, clock):
    incident = make_incident(admin, components[:1], impact="Participant 17 weighs 80 kg",
                             workaround="Call 555-0100")
    incidents.redact_update(incident.updates[0], actor=admin, now=clock())
    db.session.commit()
    body = client.get("/api/v2/summary.json").get_data(as_text=True)
    assert "Participant 17" not in body and "555-0100" not in body
    update = client.get("/api/v2/incidents.json").get_json()["incidents"][0][
        "incident_updates"][0]
    assert update["body"] == (
        "Impact: [redacted]\nActions: [redacted]\nWorkaround: [redacted]")


def test_incidents_json_holds_the_50_most_recent(client, admin, components, make_incident,
                                                 clock):
    made = []
    for n in range(52):
        clock.advance(minutes=1)
        made.append(make_incident(admin, components[:1], title=f"Incident {n}",
                                  severity="SEV-4"))
    listed = get_all(client)["/api/v2/incidents.json"]["incidents"]
    assert [i["id"] for i in listed] == [str(i.id) for i in reversed(made)][:50]


# --- The overall status, table-driven ---------------------------------------------------

OPERATIONAL = ("none", "All Systems Operational")
# (component statuses by position, open incident severities, resolved incident severities,
#  expected (indicator, description))
INDICATOR_CASES = [
    ({}, [], [], OPERATIONAL),
    ({0: "degraded_performance"}, [], [], ("minor", "Partially Degraded Service")),
    ({0: "under_maintenance"}, [], [], ("maintenance", "Service Under Maintenance")),
    ({0: "under_maintenance", 1: "degraded_performance"}, [], [],
     ("minor", "Partially Degraded Service")),
    ({0: "partial_outage"}, [], [], ("major", "Partial System Outage")),
    ({0: "partial_outage", 1: "degraded_performance"}, [], [],
     ("major", "Partial System Outage")),
    ({0: "major_outage", 1: "partial_outage"}, [], [], ("critical", "Major System Outage")),
    ({}, ["SEV-1"], [], ("critical", "Major System Outage")),
    ({}, ["SEV-2"], [], ("major", "Partial System Outage")),
    ({}, ["SEV-3"], [], ("minor", "Minor Service Outage")),
    ({}, ["SEV-4"], [], ("minor", "Minor Service Outage")),
    ({0: "degraded_performance"}, ["SEV-4"], [], ("minor", "Minor Service Outage")),
    ({0: "under_maintenance"}, ["SEV-3"], [], ("minor", "Minor Service Outage")),
    ({0: "partial_outage"}, ["SEV-3"], [], ("major", "Partial System Outage")),
    ({0: "degraded_performance"}, ["SEV-2", "SEV-4"], [], ("major", "Partial System Outage")),
    ({0: "partial_outage"}, ["SEV-1"], [], ("critical", "Major System Outage")),
    ({}, [], ["SEV-1"], OPERATIONAL),
    ({0: "under_maintenance"}, [], ["SEV-2"], ("maintenance", "Service Under Maintenance")),
]


@pytest.mark.parametrize("statuses,open_severities,resolved_severities,expected",
                         INDICATOR_CASES)
def test_indicator_table(client, admin, components, make_incident, clock, statuses,
                         open_severities, resolved_severities, expected):
    for severity in resolved_severities:
        incident = make_incident(admin, components[:1], severity=severity)
        post(incident, admin, clock, "resolved", minutes=1)
    for severity in open_severities:
        make_incident(admin, components[:1], severity=severity)
    for position, status in statuses.items():
        incidents.set_component_status(components[position], status, actor=admin, now=clock())
    db.session.commit()
    body = client.get("/api/v2/status.json").get_json()
    assert Draft202012Validator(SCHEMAS["/api/v2/status.json"]).is_valid(body)
    assert (body["status"]["indicator"], body["status"]["description"]) == expected
    summary = client.get("/api/v2/summary.json").get_json()
    assert summary["status"] == body["status"]


# --- Queries ----------------------------------------------------------------------------


def test_a_fixed_number_of_queries(app, client, admin, components, make_incident, clock):
    # One of each kind of row, so that every loader has something to load.
    make_incident(admin, components[:1], component_statuses={components[0].id: "major_outage"})
    _windows_of_every_status(clock, components)

    def counts():
        result = {}
        for path in SCHEMAS:
            with app.app_context(), counting_selects() as statements:
                assert client.get(path).status_code == 200
            result[path] = len(statements)
        return result

    few = counts()
    # summary.json: page, components, incidents (4 with loaders), windows (3 with loaders).
    assert max(few.values()) <= 10, few
    for n in range(5):
        other = make_incident(admin, components[: 1 + n % 3], title=f"Incident {n}",
                              component_statuses={components[1].id: "degraded_performance"})
        post(other, admin, clock, "identified", minutes=1,
             component_statuses={components[1].id: "partial_outage"})
        if n % 2:
            post(other, admin, clock, "resolved", minutes=1)
    assert counts() == few


# --- Scheduled maintenances (issue 12) ------------------------------------------------------


def _windows_of_every_status(clock, components):
    from tests.maintenance_support import add_update, make_window

    made = {}
    for status, starts in (("scheduled", 2), ("in_progress", -0.01), ("verifying", -0.02),
                           ("completed", -3), ("cancelled", 1)):
        window = make_window(clock(), components[:2], title=f"Window {status}", status=status,
                             starts_in=timedelta(days=starts))
        add_update(window, clock(), impact="Saving pauses.", actions="On track.",
                   next_update_at=clock() + timedelta(hours=1))
        made[status] = window
    return made


def test_maintenance_objects_match_the_shape_document(client, components, clock):
    made = _windows_of_every_status(clock, components)
    bodies = {path: client.get(path).get_json() for path in SCHEMAS}
    for path, body in bodies.items():
        errors = list(Draft202012Validator(SCHEMAS[path]).iter_errors(body))
        assert not errors, (path, [e.message for e in errors])
    names = {path: [m["name"] for m in body.get("scheduled_maintenances", [])]
             for path, body in bodies.items()}
    # Cancelled windows are in no list; each list holds what its path says.
    assert names["/api/v2/scheduled-maintenances.json"] == [
        "Window scheduled", "Window in_progress", "Window verifying", "Window completed"]
    assert names["/api/v2/scheduled-maintenances/upcoming.json"] == ["Window scheduled"]
    assert names["/api/v2/scheduled-maintenances/active.json"] == [
        "Window verifying", "Window in_progress"]
    assert names["/api/v2/summary.json"] == [
        "Window verifying", "Window in_progress", "Window scheduled"]
    window = bodies["/api/v2/scheduled-maintenances/upcoming.json"][
        "scheduled_maintenances"][0]
    scheduled = made["scheduled"]
    assert window["shortlink"] == f"{PUBLIC_URL}/maintenance/{scheduled.id}"
    assert window["scheduled_for"] == scheduled.scheduled_for.isoformat(
        timespec="milliseconds")
    assert [c["name"] for c in window["components"]] == [c.name for c in components[:2]]
    assert window["incident_updates"][0]["body"].startswith(
        "Impact: Saving pauses.\nActions: On track.\nNext Update: ")
    assert bodies["/api/v2/status.json"]["status"]["indicator"] == "maintenance"


def test_a_running_window_under_an_incident_keeps_the_worse_status(
        client, admin, components, make_incident, clock):
    from tests.maintenance_support import make_window

    make_window(clock(), components[:1], status="in_progress", starts_in=timedelta(hours=-1))
    assert client.get("/api/v2/status.json").get_json()["status"]["indicator"] == "maintenance"
    make_incident(admin, components[:1], severity="SEV-3")
    assert client.get("/api/v2/status.json").get_json()["status"] == {
        "indicator": "minor", "description": "Minor Service Outage"}


def test_maintenance_lists_hold_the_50_latest(client, components, clock):
    from tests.maintenance_support import make_window

    for n in range(52):
        make_window(clock(), components[:1], title=f"W{n}", status="completed",
                    starts_in=timedelta(days=-100 + n))
    body = client.get("/api/v2/scheduled-maintenances.json").get_json()
    assert Draft202012Validator(SCHEMAS["/api/v2/scheduled-maintenances.json"]).is_valid(body)
    names = [m["name"] for m in body["scheduled_maintenances"]]
    assert len(names) == 50 and names[0] == "W51" and names[-1] == "W2"


def test_unknown_api_path_is_404(client):
    assert client.get("/api/v2/nothing.json").status_code == 404
