"""The staff maintenance pages: schedule, edit, reschedule, update, start, complete,
cancel; bad input refused with nothing changed; the dashboard's running, upcoming and
overran windows. Through the test client and BeautifulSoup."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage import maintenance
from statuspage.extensions import db
from statuspage.models import AuditEvent, Maintenance, MaintenanceUpdate, Notification
from tests.conftest import T0, form_fields, soup

# T0 is 2026-11-26 12:00 UTC; the site's zone in these tests is Europe/Berlin (CET, +1).
TZ_CONFIG = {"SITE_TIMEZONE": "Europe/Berlin"}


@pytest.fixture
def app(make_app):
    app = make_app(**TZ_CONFIG)
    with app.app_context():
        yield app


def good(taken, **extra) -> dict:
    data = {"title": "Database upgrade", "components": [str(taken[0].id)],
            "scheduled_for": "2026-11-28T02:00", "scheduled_until": "2026-11-28T04:00",
            "description": "You cannot log meals for two hours.", "workaround": "",
            "notify": "y", "auto_start": "y", "auto_complete": "y"}
    data.update(extra)
    return data


def post_new(client, data):
    fields = form_fields(client.get("/staff/maintenance/new"), "form.maintenance-form")
    for name in ("notify", "auto_start", "auto_complete", "components"):
        fields.pop(name, None)
    fields.update(data)
    return client.post("/staff/maintenance/new", data=fields)


def snapshot() -> tuple:
    return (db.session.scalar(db.select(db.func.count(Maintenance.id))),
            db.session.scalar(db.select(db.func.count(Notification.id))),
            db.session.scalar(db.select(db.func.count(AuditEvent.id))))


def test_schedule_through_the_form(responder_client, components, clock):
    response = post_new(responder_client, good(components))
    assert response.status_code == 302
    m = db.session.scalars(db.select(Maintenance)).one()
    # Typed in Europe/Berlin (CET): 02:00 local is 01:00 UTC.
    assert m.scheduled_for == T0.replace(day=28, hour=1)
    assert m.scheduled_until == T0.replace(day=28, hour=3)
    assert [c.name for c in m.components] == [components[0].name]
    assert (m.notify, m.auto_start, m.auto_complete) == (True, True, True)
    page = responder_client.get(response.headers["Location"])
    text = soup(page).get_text(" ", strip=True)
    assert "Maintenance scheduled: Database upgrade." in text
    assert "2026-11-28 02:00 CET" in text
    listing = soup(responder_client.get("/staff/maintenance"))
    assert listing.select_one(f"tr[data-maintenance-id='{m.id}']") is not None
    dashboard = soup(responder_client.get("/staff/"))
    assert dashboard.select_one("#maintenance-heading") is not None
    assert dashboard.select_one(f"tr[data-maintenance-id='{m.id}']") is not None


@pytest.mark.parametrize("change, field, message", [
    ({"title": ""}, "title", "Give the maintenance a title"),
    ({"title": "x" * 201}, "title", "At most 200"),
    ({"components": []}, "components", "Choose at least one component"),
    ({"components": ["9999"]}, "components", "Unknown component"),
    ({"components": ["abc"]}, "components", "Unknown component"),
    ({"scheduled_for": ""}, "scheduled_for", "Enter when the maintenance starts"),
    ({"scheduled_for": "tomorrow"}, "scheduled_for", "Enter a date and time"),
    ({"scheduled_for": "2026-11-20T02:00"}, "scheduled_for", "The start is in the past"),
    ({"scheduled_for": "2028-11-20T02:00", "scheduled_until": "2028-11-20T04:00"},
     "scheduled_for", "within a year"),
    ({"scheduled_until": ""}, "scheduled_until", "Enter when the maintenance ends"),
    ({"scheduled_until": "2026-11-28T01:00"}, "scheduled_until", "The end must be after"),
    ({"scheduled_until": "2026-11-28T02:00"}, "scheduled_until", "The end must be after"),
    ({"scheduled_for": "2027-03-28T02:30", "scheduled_until": "2027-03-28T05:00"},
     "scheduled_for", "does not exist in Europe/Berlin"),
    ({"description": ""}, "description", "Say what users will notice"),
    ({"description": "x" * 5001}, "description", "At most 5000"),
    ({"workaround": "x" * 5001}, "workaround", "At most 5000"),
])
def test_bad_input_is_refused_with_nothing_changed(responder_client, components, change,
                                                   field, message):
    before = snapshot()
    data = good(components)
    data.update(change)
    response = post_new(responder_client, data)
    assert response.status_code == 422
    page = soup(response)
    assert message in page.select_one(f"#{field}-error").get_text()
    assert "Nothing was saved" in page.get_text()
    assert snapshot() == before


def test_the_fall_back_hour_is_its_first_occurrence(responder_client, components):
    response = post_new(responder_client, good(
        components, scheduled_for="2027-10-31T02:30", scheduled_until="2027-10-31T04:00"))
    assert response.status_code == 302
    m = db.session.scalars(db.select(Maintenance)).one()
    assert m.scheduled_for.isoformat() == "2027-10-31T00:30:00+00:00"  # 02:30 CEST


def test_an_overlap_is_allowed_with_a_warning(responder_client, components):
    post_new(responder_client, good(components))
    response = post_new(responder_client, good(components, title="Backup restore test",
                                               scheduled_for="2026-11-28T03:00",
                                               scheduled_until="2026-11-28T05:00"))
    assert response.status_code == 302
    text = soup(responder_client.get(response.headers["Location"])).get_text(" ")
    assert "overlaps \"Database upgrade\"" in text


def window_page(client, m_id):
    return client.get(f"/staff/maintenance/{m_id}")


def action(client, m_id, name, **extra):
    page = window_page(client, m_id)
    form = soup(page).select_one(f"form[action$='/{name}']")
    assert form is not None, name
    data = {el["name"]: el.get("value", "") for el in form.select("input[type=hidden]")}
    data.update(extra)
    return client.post(form["action"], data=data)


def test_the_window_page_runs_a_window_by_hand(responder_client, components, clock):
    post_new(responder_client, good(components, auto_start=None, auto_complete=None))
    m = db.session.scalars(db.select(Maintenance)).one()
    assert not m.auto_start
    # An update, then edit, reschedule, start, verify, complete.
    assert action(responder_client, m.id, "update", **{
        "update-actions": "Preparing the new database."}).status_code == 302
    refused = action(responder_client, m.id, "update", **{"update-actions": ""})
    assert refused.status_code == 422
    assert "Say what is happening" in soup(refused).select_one("#update-actions-error").text
    moved = action(responder_client, m.id, "reschedule", **{
        "reschedule-scheduled_for": "2026-11-29T02:00",
        "reschedule-scheduled_until": "2026-11-29T03:00"})
    assert moved.status_code == 302
    db.session.expire_all()
    assert m.revision == 2 and m.scheduled_for == T0.replace(day=29, hour=1)
    bad_move = action(responder_client, m.id, "reschedule", **{
        "reschedule-scheduled_for": "2026-11-29T02:00",
        "reschedule-scheduled_until": "2026-11-29T01:00"})
    assert bad_move.status_code == 422
    assert "after the start" in soup(bad_move).select_one(
        "#reschedule-scheduled_until-error").text
    db.session.expire_all()
    assert m.revision == 2
    assert action(responder_client, m.id, "start").status_code == 302
    db.session.expire_all()
    assert m.status == "in_progress"
    assert m.components[0].status == "under_maintenance"
    assert action(responder_client, m.id, "verify").status_code == 302
    assert action(responder_client, m.id, "complete").status_code == 302
    db.session.expire_all()
    assert m.status == "completed" and m.components[0].status == "operational"
    statuses = [u.status for u in db.session.scalars(
        db.select(MaintenanceUpdate).order_by(MaintenanceUpdate.id))]
    assert statuses == ["scheduled", "in_progress", "verifying", "completed"]
    page = soup(window_page(responder_client, m.id))
    assert page.select_one("form[action$='/cancel']") is None  # completed: no actions


def test_cancel_needs_the_confirmation(responder_client, components):
    post_new(responder_client, good(components))
    m = db.session.scalars(db.select(Maintenance)).one()
    assert action(responder_client, m.id, "cancel").status_code == 302
    db.session.expire_all()
    assert m.status == "scheduled"
    assert action(responder_client, m.id, "cancel", confirm="yes").status_code == 302
    db.session.expire_all()
    assert m.status == "cancelled"


def test_a_repeated_form_changes_nothing(responder_client, components):
    post_new(responder_client, good(components))
    m = db.session.scalars(db.select(Maintenance)).one()
    page = window_page(responder_client, m.id)
    form = soup(page).select_one("form[action$='/start']")
    data = {el["name"]: el.get("value", "") for el in form.select("input[type=hidden]")}
    assert responder_client.post(form["action"], data=data).status_code == 302
    again = responder_client.post(form["action"], data=data)
    assert "already started" in soup(responder_client.get(again.headers["Location"])).text
    assert db.session.scalar(db.select(db.func.count(MaintenanceUpdate.id))) == 1


def test_the_dashboard_flags_a_window_that_overran(responder_client, responder,
                                                   components, clock):
    start = clock() + timedelta(hours=2)
    m = maintenance.schedule(maintenance.WindowFields(
        title="Database upgrade", component_ids=[components[0].id], scheduled_for=start,
        scheduled_until=start + timedelta(hours=1), description="No meal logging.",
        auto_complete=False), actor=responder, now=clock())
    db.session.commit()
    maintenance.start(m, actor=responder, now=start)
    db.session.commit()
    clock.set(start + timedelta(minutes=59))
    assert soup(responder_client.get("/staff/")).select_one(".overran-warning") is None
    clock.set(start + timedelta(hours=1, minutes=1))
    warning = soup(responder_client.get("/staff/")).select_one(".overran-warning")
    assert warning is not None and "Database upgrade" in warning.get_text()
