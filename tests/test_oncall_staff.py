"""The on-call pages (/staff/on-call, /staff/on-call/overrides), the dashboard's "On call
now" panel and the shifts calendar feed (issue 24, point 1), through the real pages on
both databases: admins add, edit and delete; bad input gets its message at the field
(422) and changes nothing; responders see but cannot change; the ICS feed, read with
``icalendar``, holds the person's shifts; a reset link makes the old address 404."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

import icalendar
import pytest

from statuspage.extensions import db
from statuspage.models import AuditEvent, StaffUser
from statuspage.models.paging import Rotation, RotationOverride

from .conftest import form_fields, login, soup
from .staff_support import field_error, submit

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def app(make_app):
    app = make_app(SITE_TIMEZONE="America/New_York")
    with app.app_context():
        yield app


@pytest.fixture
def people(make_staff):
    return [make_staff("responder", email=f"{name}@example.test").email
            for name in ("ann", "bob")]


def text(response) -> str:
    return " ".join(soup(response).get_text(" ").split())


def counts():
    db.session.expire_all()
    return (db.session.query(Rotation).count(), db.session.query(RotationOverride).count(),
            db.session.query(AuditEvent).count())


def add_rotation(client, **fields):
    values = dict(name="Primary daily", role="primary",
                  members="ann@example.test\r\nbob@example.test", handover_every="day",
                  handover_at="2026-03-05T09:00")
    values.update(fields)
    return submit(client, "/staff/on-call", "#rotation-form", **values)


def test_an_admin_adds_a_rotation_and_everyone_sees_who_is_on_call_until_when(
        app, admin_client, responder_client, people, clock):
    clock.set(utc(2026, 3, 1))
    page = admin_client.get("/staff/on-call")
    assert "There are no rotations yet" in text(page)
    response = add_rotation(admin_client)
    assert response.status_code == 302
    clock.set(utc(2026, 3, 6, 20))  # Friday: bob's day (ann Thursday, bob Friday, ...)
    page = responder_client.get("/staff/on-call")
    assert page.status_code == 200
    shown = text(page)
    # bob until Saturday 09:00 EST = 14:00 UTC; the secondary has no one.
    assert "Primary: bob@example.test until 2026-03-07 09:00 EST (Primary daily)" in shown
    assert "Secondary: nobody" in shown
    assert "Next handover: 2026-03-07 09:00 EST" in shown
    row = soup(page).select_one("table.rotations tbody tr")
    assert "Every day at 09:00" in row.get_text(" ")
    assert "bob@example.test (turn now)" in " ".join(row.get_text(" ").split())
    # Responders see no form and cannot post one.
    assert soup(page).select_one("#rotation-form") is None
    assert responder_client.post("/staff/on-call", data={}).status_code in (400, 403)
    # The dashboard's panel says the same; after the spring change, 09:00 EDT.
    clock.set(utc(2026, 3, 8, 13, 30))
    dash = text(admin_client.get("/staff/"))
    assert "On call now Primary: bob@example.test until 2026-03-09 09:00 EDT" in dash
    assert "Next handover: 2026-03-09 09:00 EDT" in dash


@pytest.mark.parametrize("fields, name, message", [
    (dict(members=""), "members", "Add at least one member"),
    (dict(members="ann@example.test\nstranger@example.test"), "members",
     "Not an active staff account: stranger@example.test"),
    (dict(handover_at="next tuesday"), "handover_at", "Enter a date and time"),
    (dict(handover_at=""), "handover_at", "Enter the first handover"),
    (dict(handover_at="2026-03-08T02:30"), "handover_at", "does not exist in America/New_York"),
    (dict(name=""), "name", "Give the rotation a name"),
    (dict(role="tertiary"), "role", "Choose Primary or Secondary."),
    (dict(handover_every="monthly"), "handover_every", "Choose every day or every week."),
])
def test_bad_rotation_input_gets_a_message_at_its_field_and_changes_nothing(
        app, admin_client, people, fields, name, message):
    before = counts()
    response = add_rotation(admin_client, **fields)
    assert response.status_code == 422
    assert message in field_error(response, name)
    assert soup(response).select_one(f"#{name}")["aria-invalid"] == "true"
    assert counts() == before


def test_an_admin_edits_and_deletes_a_rotation(app, admin_client, people, clock):
    add_rotation(admin_client)
    rotation_id = db.session.scalar(db.select(Rotation.id))
    url = f"/staff/on-call/{rotation_id}"
    page = admin_client.get(url)
    assert form_fields(page, "#rotation-form")["handover_at"] == "2026-03-05T09:00"
    response = submit(admin_client, url, "#rotation-form", members="bob@example.test",
                      handover_every="week")
    assert response.status_code == 302
    db.session.expire_all()
    rotation = db.session.get(Rotation, rotation_id)
    assert (rotation.members, rotation.handover_every) == ("bob@example.test", "week")
    bad = submit(admin_client, url, "#rotation-form", members="")
    assert bad.status_code == 422 and "Add at least one member" in field_error(bad, "members")
    # Delete: the confirmation first.
    delete = form_fields(admin_client.get(url), f"form[action='{url}/delete']")
    assert admin_client.post(f"{url}/delete", data={"csrf_token": delete["csrf_token"]}
                             ).status_code == 302
    assert db.session.get(Rotation, rotation_id) is not None
    assert admin_client.post(f"{url}/delete", data={**delete, "confirm": "yes"}
                             ).status_code == 302
    db.session.expire_all()
    assert db.session.get(Rotation, rotation_id) is None
    assert [e.action for e in db.session.scalars(db.select(AuditEvent).order_by(
        AuditEvent.id))][-3:] == ["rotation.create", "rotation.edit", "rotation.delete"]


def test_the_same_form_sent_twice_adds_one_rotation(app, admin_client, people):
    page = admin_client.get("/staff/on-call")
    data = form_fields(page, "#rotation-form")
    data.update(name="Once", members="ann@example.test", handover_at="2026-12-01T09:00")
    assert admin_client.post("/staff/on-call", data=data).status_code == 302
    again = admin_client.post("/staff/on-call", data=data, follow_redirects=True)
    assert "This rotation was already added." in text(again)
    assert db.session.query(Rotation).count() == 1


def test_an_override_wins_and_bad_overrides_are_refused(app, admin_client, make_staff,
                                                        people, clock):
    clock.set(utc(2026, 3, 1))
    add_rotation(admin_client)
    make_staff("responder", email="dee@example.test")
    rotation_id = str(db.session.scalar(db.select(Rotation.id)))
    before = counts()
    for fields, name, message in [
        (dict(starts_at="2026-03-06T15:00", ends_at="2026-03-06T13:00"), "ends_at",
         "The override must end after it starts."),
        (dict(starts_at="2026-03-06 soon", ends_at="2026-03-06T13:00"), "starts_at",
         "Enter a date and time"),
        (dict(member="nobody@example.test"), "member", "Not an active staff account"),
        (dict(rotation=""), "rotation", "Choose one of the rotations."),
    ]:
        values = dict(rotation=rotation_id, member="dee@example.test",
                      starts_at="2026-03-06T13:00", ends_at="2026-03-06T17:00")
        values.update(fields)
        response = submit(admin_client, "/staff/on-call/overrides", "#override-form", **values)
        assert response.status_code == 422, fields
        assert message in field_error(response, name)
    assert counts() == before
    response = submit(admin_client, "/staff/on-call/overrides", "#override-form",
                      rotation=rotation_id, member="DEE@example.test",
                      starts_at="2026-03-06T13:00", ends_at="2026-03-06T17:00")
    assert response.status_code == 302
    clock.set(utc(2026, 3, 6, 19))  # 14:00 EST: within the override
    dash = text(admin_client.get("/staff/"))
    assert ("Primary: dee@example.test until 2026-03-06 17:00 EST (override in Primary "
            "daily)") in dash
    listing = admin_client.get("/staff/on-call/overrides")
    assert "dee@example.test On now" in text(listing)
    override_id = db.session.scalar(db.select(RotationOverride.id))
    form = form_fields(listing, f"form[action='/staff/on-call/overrides/{override_id}/delete']")
    assert admin_client.post(f"/staff/on-call/overrides/{override_id}/delete",
                             data=form).status_code == 302
    assert "Primary: bob@example.test" in text(admin_client.get("/staff/"))


def test_responders_see_overrides_but_cannot_change_them(app, responder_client, people):
    page = responder_client.get("/staff/on-call/overrides")
    assert page.status_code == 200 and soup(page).select_one("#override-form") is None
    token = form_fields(responder_client.get("/staff/on-call"), ".calendar-link form")
    assert responder_client.post("/staff/on-call/overrides", data=token).status_code == 403
    assert responder_client.get("/staff/on-call/1").status_code == 403


def feed_events(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.content_type.startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.data)
    return [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"]))
            for e in calendar.walk("VEVENT")]


def make_link(client) -> str:
    page = client.get("/staff/on-call")
    response = client.post("/staff/on-call/calendar-link",
                           data=form_fields(page, ".calendar-link form"))
    assert response.status_code == 200
    url = soup(response).select_one("#calendar-url").get_text(strip=True)
    assert url.startswith("https://status.example.test/staff/on-call/calendar/")  # PUBLIC_URL
    return urlsplit(url).path


def test_the_calendar_feed_holds_the_persons_shifts_and_a_reset_makes_the_old_url_404(
        app, admin_client, people, clock):
    clock.set(utc(2026, 3, 1))
    add_rotation(admin_client)
    rotation_id = str(db.session.scalar(db.select(Rotation.id)))
    submit(admin_client, "/staff/on-call/overrides", "#override-form", rotation=rotation_id,
           member="bob@example.test", starts_at="2026-03-05T12:00",
           ends_at="2026-03-05T13:00")
    bob = app.test_client()
    assert login(bob, "bob@example.test").status_code == 302
    clock.set(utc(2026, 3, 4))
    url = make_link(bob)
    assert url.startswith("/staff/on-call/calendar/") and url.endswith(".ics")
    anonymous = app.test_client()
    events = feed_events(anonymous, url)
    # bob: the override on Thursday 5 March (12:00-13:00 EST), then every other day at
    # 09:00, 14:00 UTC before the spring change and 13:00 UTC after it.
    assert events[:4] == [
        (utc(2026, 3, 5, 17), utc(2026, 3, 5, 18), "On call: Primary on-call"),
        (utc(2026, 3, 6, 14), utc(2026, 3, 7, 14), "On call: Primary on-call"),
        (utc(2026, 3, 8, 13), utc(2026, 3, 9, 13), "On call: Primary on-call"),
        (utc(2026, 3, 10, 13), utc(2026, 3, 11, 13), "On call: Primary on-call"),
    ]
    # Eight weeks ahead (to 29 April): the override and 27 shifts, the last one ending on
    # 28 April.
    assert events[-1][:2] == (utc(2026, 4, 27, 13), utc(2026, 4, 28, 13))
    assert len(events) == 1 + 27
    # The link is a secret: not shown again on the page, nor in the audit log.
    assert url not in bob.get("/staff/on-call").get_data(as_text=True)
    token = url.rsplit("/", 1)[1][:-4]
    assert all(token not in str(e.after or "") for e in db.session.scalars(
        db.select(AuditEvent)))
    new_url = make_link(bob)
    assert new_url != url
    assert anonymous.get(url).status_code == 404
    assert feed_events(anonymous, new_url)[:1] == events[:1]
    for wrong in ("nothing", "1-" + token.split("-", 1)[1], token[:-1] + "x", "99-abc"):
        assert anonymous.get(f"/staff/on-call/calendar/{wrong}.ics").status_code == 404
    # A deactivated account's feed stops.
    db.session.get(StaffUser, int(token.split("-")[0])).active = False
    db.session.commit()
    assert anonymous.get(new_url).status_code == 404


def test_a_member_whose_account_was_deactivated_is_flagged(app, admin_client, people):
    add_rotation(admin_client)
    db.session.scalar(db.select(StaffUser).where(StaffUser.email == "bob@example.test")
                      ).active = False
    db.session.commit()
    members = [" ".join(li.get_text(" ").split())
               for li in soup(admin_client.get("/staff/on-call")).select(".rotation-members li")]
    flag = "No longer an active account: paged by email only"
    assert [m.startswith("bob@") for m in members] == [False, True]
    assert flag not in members[0] and flag in members[1]


@pytest.mark.parametrize("selector, page, valid, fields", [
    ("#rotation-form", "/staff/on-call",
     dict(name="R", members="ann@example.test", handover_at="2026-12-01T09:00"),
     ["name", "role", "members", "handover_every", "handover_at"]),
    ("#override-form", "/staff/on-call/overrides",
     dict(rotation="1", member="ann@example.test", starts_at="2026-12-01T09:00",
          ends_at="2026-12-01T10:00"),
     ["rotation", "member", "starts_at", "ends_at"]),
])
def test_every_on_call_field_takes_hostile_input_harmlessly(app, admin_client, people,
                                                            selector, page, valid, fields):
    from tests.test_bad_input import HOSTILE, assert_harmless

    if page.endswith("overrides"):
        add_rotation(admin_client, name="Base")
    for name in fields:
        for kind, value in HOSTILE.items():
            what = f"{page}: {name} = {kind}"
            data = form_fields(admin_client.get(page), selector)
            data.update(valid)
            data[name] = value
            before = counts()
            response = admin_client.post(page, data=data)
            assert_harmless(response, what)
            if response.status_code != 302:
                assert counts() == before, what
            else:  # a harmless value stored: the pages show it as text
                for path in ("/staff/", "/staff/on-call", "/staff/on-call/overrides"):
                    assert_harmless(admin_client.get(path), f"{what}: {path}")
                db.session.execute(db.delete(RotationOverride))
                db.session.execute(db.delete(Rotation).where(Rotation.name != "Base"))
                db.session.commit()


def test_two_rotations_of_one_role_are_warned_about(app, admin_client, people):
    add_rotation(admin_client)
    add_rotation(admin_client, name="Primary weekly", handover_every="week")
    page = admin_client.get("/staff/on-call")
    assert ("Several Primary on-call rotations. Only the one with the lowest number counts"
            in text(page))
    rows = soup(page).select("table.rotations tbody tr th")
    assert "Not counted: #1 Primary daily comes first" in rows[1].get_text(" ")
