"""Staff set the impact block in the incident forms (declare, update, Resolved, edit), in
``SITE_TIMEZONE``; bad input on each field gets its message and changes nothing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from statuspage.extensions import db
from statuspage.models import Incident

from .conftest import form_fields, login, soup
from .staff_support import (
    audit_events,
    declare,
    field_error,
    post_update,
    snapshot,
    submit,
)

UTC = timezone.utc


@pytest.fixture
def app(make_app):
    app = make_app(SITE_TIMEZONE="Europe/Berlin")
    with app.app_context():
        yield app


@pytest.fixture
def staff(app, responder):
    client = app.test_client()
    assert login(client, responder.email).status_code == 302
    return client


def impact_of(incident_id: int) -> tuple:
    db.session.expire_all()
    i = db.session.get(Incident, incident_id)
    return i.data_status, i.user_action, i.data_gap_from, i.data_gap_until


def with_impact_columns() -> dict:
    state = snapshot()
    state["impact"] = [impact_of(i.id) for i in db.session.scalars(db.select(Incident))]
    return state


def test_declare_with_the_block_in_the_sites_zone(app, clock, staff, components):
    # T0 is 12:00 UTC, 13:00 in Berlin: a window of 12:05 to 12:50 Berlin time.
    response = declare(staff, components[:1], data_status="being_checked",
                       user_action="use_workaround", data_gap_from="2026-11-26T12:05",
                       data_gap_until="2026-11-26T12:50")
    assert response.status_code == 302, field_error(response, "data_gap_from")
    incident = db.session.scalars(db.select(Incident)).one()
    assert impact_of(incident.id) == (
        "being_checked", "use_workaround", datetime(2026, 11, 26, 11, 5, tzinfo=UTC),
        datetime(2026, 11, 26, 11, 50, tzinfo=UTC))
    assert audit_events("incident.open")[-1].after["data_status"] == "being_checked"
    page = staff.get(f"/staff/incidents/{incident.id}")
    assert "Entries between 12:05 and 12:50 CET may be missing" in soup(page).get_text(" ")
    # The next update's form shows what participants read now.
    fields = form_fields(page, "section.update-form form")
    assert (fields["data_status"], fields["user_action"]) == ("being_checked",
                                                              "use_workaround")
    assert fields["data_gap_from"] == "2026-11-26T12:05"


def test_the_resolved_form_sets_the_block_with_the_resolution(
        app, clock, staff, responder, components, make_incident):
    incident = make_incident(responder, components[:1])
    clock.advance(minutes=50)
    response = post_update(staff, incident.id, status="resolved", impact="None.",
                           actions="Fixed.", data_status="some_entries_missing",
                           user_action="reenter_entries", data_gap_from="2026-11-26T13:05",
                           data_gap_until="2026-11-26T13:45")
    assert response.status_code == 302
    assert impact_of(incident.id)[:2] == ("some_entries_missing", "reenter_entries")
    event = audit_events("incident.update")[-1]
    assert event.after["status"] == "resolved"
    assert event.after["data_gap_until"] == "2026-11-26T12:45:00+00:00"


def test_edit_changes_the_block_and_audits_it(app, clock, staff, responder, components,
                                              make_incident):
    incident = make_incident(responder, components[:1])
    response = submit(staff, f"/staff/incidents/{incident.id}/edit", "form.incident-form",
                      data_status="safe", user_action="nothing")
    assert response.status_code == 302
    assert impact_of(incident.id)[:2] == ("safe", "nothing")
    event = audit_events("incident.edit")[-1]
    assert (event.before["data_status"], event.after["data_status"]) == ("not_yet_known",
                                                                         "safe")
    # "Not said yet" takes the action back.
    submit(staff, f"/staff/incidents/{incident.id}/edit", "form.incident-form",
           user_action="")
    assert impact_of(incident.id)[:2] == ("safe", None)


def test_the_form_calls_it_a_clinical_statement_beside_the_no_health_data_warning(
        app, staff, components):
    page = soup(staff.get("/staff/incidents/new"))
    assert page.select_one(".phi-warning")
    note = page.select_one("#impact-note").get_text(" ")
    assert "clinical statement" in note and "nothing sets it automatically" in note
    # Choices and times only: no text box in the block.
    block = page.select_one("fieldset.impact-fields")
    assert not block.select("textarea")
    assert {i["type"] for i in block.select("input")} == {"radio", "datetime-local"}


BAD = [
    ({"data_status": "fine"}, "data_status"),
    ({"data_status": None}, "data_status"),
    ({"user_action": "panic"}, "user_action"),
    ({"data_gap_from": "yesterday", "data_gap_until": "2026-11-26T12:50"}, "data_gap_from"),
    ({"data_gap_from": "2026-11-26T12:05", "data_gap_until": "2026-11-26T25:00"},
     "data_gap_until"),
    ({"data_gap_from": "2026-11-26T12:50", "data_gap_until": "2026-11-26T12:05"},
     "data_gap_until"),
    ({"data_gap_from": "2026-11-26T12:05", "data_gap_until": ""}, "data_gap_until"),
    ({"data_gap_from": "2026-10-20T12:05", "data_gap_until": "2026-10-20T12:50"},
     "data_gap_from"),
    ({"data_gap_from": "2026-11-26T12:05", "data_gap_until": "2026-11-26T14:00"},
     "data_gap_until"),
]


@pytest.mark.parametrize("fields, name", BAD)
@pytest.mark.parametrize("form", ["declare", "update", "resolve", "edit"])
def test_bad_input_shows_its_message_and_changes_nothing(
        app, clock, staff, responder, components, make_incident, form, fields, name):
    incident = make_incident(responder, components[:1])
    before = with_impact_columns()
    if form == "declare":
        response = declare(staff, components[1:2], **fields)
    elif form == "edit":
        response = submit(staff, f"/staff/incidents/{incident.id}/edit",
                          "form.incident-form", **fields)
    else:
        response = post_update(staff, incident.id,
                               status="resolved" if form == "resolve" else "identified",
                               **fields)
    assert response.status_code == 422
    assert field_error(response, name)
    assert with_impact_columns() == before


def test_a_time_the_clocks_skip_is_refused(app, clock, staff, responder, components,
                                           make_incident):
    # 29 March 2026, 02:30 in Berlin does not exist (02:00 CET -> 03:00 CEST).
    clock.set(datetime(2026, 3, 29, 6, 0, tzinfo=UTC))
    incident = make_incident(responder, components[:1])
    before = with_impact_columns()
    response = post_update(staff, incident.id, data_gap_from="2026-03-29T02:30",
                           data_gap_until="2026-03-29T04:00")
    assert response.status_code == 422
    assert "does not exist in Europe/Berlin" in field_error(response, "data_gap_from")
    assert with_impact_columns() == before
    # Before and after the change, the window is taken.
    response = post_update(staff, incident.id, data_gap_from="2026-03-29T01:30",
                           data_gap_until="2026-03-29T03:30")
    assert response.status_code == 302
    assert impact_of(incident.id)[2:] == (datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
                                          datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
