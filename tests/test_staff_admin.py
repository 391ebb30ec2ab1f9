"""Admin pages (components, staff accounts) and changing one's own password, via HTTP."""

from __future__ import annotations

from statuspage.extensions import db
from statuspage.models import Component, StaffUser

from .conftest import PASSWORD, form_fields, login, soup
from .staff_support import audit_events, field_error, snapshot, submit

NEW_PASSWORD = "a much longer new passphrase"


def reload(model, object_id):
    db.session.expire_all()
    return db.session.get(model, object_id)


# --- Components ----------------------------------------------------------------------------


def test_admin_manages_components(app, admin_client, admin, components, make_incident):
    # Create.
    response = submit(admin_client, "/staff/components", "#component-form",
                      name="  Reminders ", description="Meal and medication reminders",
                      group="Notifications", position="7", status="degraded_performance")
    assert response.status_code == 302
    db.session.expire_all()
    reminders = db.session.scalars(db.select(Component).filter_by(name="Reminders")).one()
    assert (reminders.description, reminders.group_name, reminders.position,
            reminders.status) == ("Meal and medication reminders", "Notifications", 7,
                                  "degraded_performance")
    (created,) = audit_events("component.create")
    assert created.actor_id == admin.id and created.after["name"] == "Reminders"
    listed = [r.select_one("th").get_text() for r in
              soup(admin_client.get("/staff/components")).select("tr[data-component-id]")]
    assert listed[-1] == "Reminders"  # by position

    # Edit.
    url = f"/staff/components/{reminders.id}"
    response = submit(admin_client, url, "#component-form", name="Reminders & alerts",
                      group="", position="2", status="operational")
    assert response.status_code == 302
    reminders = reload(Component, reminders.id)
    assert (reminders.name, reminders.group_name, reminders.position, reminders.status) == (
        "Reminders & alerts", None, 2, "operational")
    (edited,) = audit_events("component.edit")
    assert edited.before["name"] == "Reminders" and edited.after["position"] == 2

    # Bad input, on the new and the edit form alike, changes nothing.
    before = snapshot()
    cases = [
        ({"name": " "}, "name", "Give the component a name"),
        ({"name": "login"}, "name", "already a component with this name"),
        ({"name": "n" * 101}, "name", "At most 100"),
        ({"description": "d" * 501}, "description", "At most 500"),
        ({"group": "g" * 101}, "group", "At most 100"),
        ({"position": "first"}, "position", "whole number"),
        ({"position": "-1"}, "position", "from 0 to 9999"),
        ({"position": "99999999999999999999"}, "position", "from 0 to 9999"),
        ({"status": "exploded"}, "status", "Unknown component status"),
    ]
    for fields, field, message in cases:
        for page in ("/staff/components", url):
            response = submit(admin_client, page, "#component-form", **fields)
            assert response.status_code == 422, (page, fields)
            assert message in field_error(response, field), (page, fields)
    assert snapshot() == before

    # A component that incidents name cannot be deleted: their history would change.
    make_incident(admin, components[:1])
    page = admin_client.get(f"/staff/components/{components[0].id}")
    assert soup(page).select_one("#delete-form") is None
    token = form_fields(page, "#component-form")["csrf_token"]
    before = snapshot()
    response = admin_client.post(f"/staff/components/{components[0].id}/delete",
                                 data={"csrf_token": token})
    assert response.status_code == 422
    assert "Incidents refer to this component" in soup(response).select_one(
        ".form-error").get_text()
    assert snapshot() == before

    # An unused one can.
    page = admin_client.get(url)
    response = admin_client.post(f"{url}/delete", data=form_fields(page, "#delete-form"))
    assert response.status_code == 302
    assert reload(Component, reminders.id) is None
    (deleted,) = audit_events("component.delete")
    assert deleted.before["name"] == "Reminders & alerts"


# --- Staff accounts ------------------------------------------------------------------------


def test_admin_creates_an_account_with_a_one_time_password(app, admin_client, admin):
    response = submit(admin_client, "/staff/accounts", "#new-staff-form",
                      email="New.Responder@Example.test", role="responder")
    assert response.status_code == 200
    one_time = soup(response).select_one("#one-time-password").get_text()
    assert len(one_time) >= 12
    assert response.headers["Cache-Control"] == "private, no-store"
    # Shown once: not on the accounts page, not in a flash message.
    assert one_time not in admin_client.get("/staff/accounts").get_data(as_text=True)
    db.session.expire_all()
    user = db.session.scalars(db.select(StaffUser).filter_by(
        email="new.responder@example.test")).one()
    assert (user.role, user.active, user.must_change_password) == ("responder", True, True)
    (event,) = audit_events("staff.create")
    assert (event.actor_id, event.after) == (admin.id, {"role": "responder"})
    assert one_time not in repr([(e.before, e.after) for e in audit_events()])

    # They sign in with it and must choose their own password before anything else.
    newcomer = app.test_client()
    response = login(newcomer, user.email, one_time)
    assert response.headers["Location"] == "/staff/password"
    for url in ("/staff/", "/staff/incidents/new"):
        assert newcomer.get(url).headers["Location"] == "/staff/password"
    response = submit(newcomer, "/staff/password", "main form", current_password=one_time,
                      new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert response.headers["Location"] == "/staff/"
    assert newcomer.get("/staff/").status_code == 200

    # Bad input changes nothing.
    before = snapshot()
    for fields, field, message in [
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"email": "ADMIN@example.test"}, "email", "already an account"),
        ({"email": "x@example.test", "role": "root"}, "role", "Choose admin or responder"),
    ]:
        response = submit(admin_client, "/staff/accounts", "#new-staff-form", **fields)
        assert response.status_code == 422, fields
        assert message in field_error(response, field), fields
    assert snapshot() == before


def test_admin_changes_roles_deactivates_and_resets(app, admin_client, admin, responder,
                                                    responder_client):
    row = f"tr[data-user-id='{responder.id}']"

    # Promote: the responder's next request already has admin pages.
    response = submit(admin_client, "/staff/accounts", f"{row} form.account-form",
                      url=f"/staff/accounts/{responder.id}", role="admin")
    assert response.status_code == 302
    assert responder_client.get("/staff/components").status_code == 200
    (event,) = audit_events("staff.edit")
    assert (event.before, event.after) == ({"role": "responder", "active": True},
                                           {"role": "admin", "active": True})

    # Deactivate: their session ends and they cannot sign in.
    response = submit(admin_client, "/staff/accounts", f"{row} form.account-form",
                      url=f"/staff/accounts/{responder.id}", role="responder", active=None)
    assert response.status_code == 302
    assert responder_client.get("/staff/").headers["Location"].startswith("/staff/login")
    assert login(app.test_client(), responder.email).status_code == 401

    # An admin cannot demote or deactivate themselves (someone must stay admin).
    own = f"tr[data-user-id='{admin.id}']"
    before = snapshot()
    for fields in ({"role": "responder"}, {"active": None}):
        response = submit(admin_client, "/staff/accounts", f"{own} form.account-form",
                          url=f"/staff/accounts/{admin.id}", **fields)
        assert response.status_code == 422
        assert "You cannot demote or deactivate yourself." in soup(response).select_one(
            f"{own} .field-error").get_text()
    assert snapshot() == before

    # Reset: a one-time password, shown once; the old password no longer works.
    submit(admin_client, "/staff/accounts", f"{row} form.account-form",
           url=f"/staff/accounts/{responder.id}", role="responder", active="y")
    response = submit(admin_client, "/staff/accounts", f"{row} form.reset-form",
                      url=f"/staff/accounts/{responder.id}/reset-password")
    assert response.status_code == 200
    one_time = soup(response).select_one("#one-time-password").get_text()
    assert login(app.test_client(), responder.email).status_code == 401
    fresh = app.test_client()
    assert login(fresh, responder.email, one_time).headers["Location"] == "/staff/password"
    assert reload(StaffUser, responder.id).must_change_password
    assert [e.target_id for e in audit_events("staff.password")] == [str(responder.id)]


# --- Own password --------------------------------------------------------------------------


def test_changing_your_password_keeps_this_session_and_ends_the_others(app, responder,
                                                                        responder_client):
    other_device = app.test_client()
    assert login(other_device, responder.email).status_code == 302

    before = snapshot()
    for fields, field, message in [
        ({"current_password": "wrong password!"}, "current_password", "not right"),
        ({"new_password": "short", "confirm_password": "short"}, "new_password",
         "at least 12"),
        ({"confirm_password": "something else entirely"}, "confirm_password",
         "not the same"),
        ({"new_password": PASSWORD, "confirm_password": PASSWORD}, "new_password",
         "different from the current"),
    ]:
        data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD, **fields}
        response = submit(responder_client, "/staff/password", "main form", **data)
        assert response.status_code == 422, fields
        assert message in field_error(response, field), fields
    assert snapshot() == before

    response = submit(responder_client, "/staff/password", "main form",
                      current_password=PASSWORD, new_password=NEW_PASSWORD,
                      confirm_password=NEW_PASSWORD)
    assert response.headers["Location"] == "/staff/"
    assert "Password changed" in responder_client.get("/staff/").get_data(as_text=True)
    assert responder_client.get("/staff/incidents/new").status_code == 200  # still in
    assert other_device.get("/staff/").headers["Location"].startswith("/staff/login")
    assert login(app.test_client(), responder.email).status_code == 401
    assert login(app.test_client(), responder.email, NEW_PASSWORD).status_code == 302
    (event,) = audit_events("staff.password")
    assert event.actor_id == responder.id
