"""The impact block's rules (issue 13, point 6): the window's words in a zone, the checks
on every field (each refusal changes nothing), and the audit of each change."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from statuspage import incidents, present
from statuspage.data_impact import DataImpact
from statuspage.errors import ValidationError
from statuspage.extensions import db
from statuspage.models import AuditEvent, Incident

from .staff_support import audit_events

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- The window in words -----------------------------------------------------------------


def test_a_window_within_the_day_it_is_told_names_times_and_the_zone():
    text = present.window_text(utc(2026, 11, 26, 13, 5), utc(2026, 11, 26, 13, 50), BERLIN,
                               told_at=utc(2026, 11, 26, 16, 0))
    assert text == "14:05 and 14:50 CET"


def test_a_window_on_another_day_names_its_date():
    text = present.window_text(utc(2026, 11, 25, 13, 5), utc(2026, 11, 25, 13, 50), BERLIN,
                               told_at=utc(2026, 11, 26, 9, 0))
    assert text == "14:05 and 14:50 CET on 25 November"
    # Nothing said of when it is told: the date is named.
    assert present.window_text(utc(2026, 11, 25, 13, 5), utc(2026, 11, 25, 13, 50),
                               BERLIN).endswith("on 25 November")


def test_a_window_across_midnight_names_both_dates():
    text = present.window_text(utc(2026, 11, 26, 22, 40), utc(2026, 11, 26, 23, 30), BERLIN,
                               told_at=utc(2026, 11, 26, 23, 45))
    assert text == "26 November 23:40 and 27 November 00:30 CET"


def test_the_same_window_in_another_zone():
    start, end = utc(2026, 11, 26, 13, 5), utc(2026, 11, 26, 13, 50)
    assert present.window_text(start, end, ZoneInfo("America/New_York"),
                               told_at=end) == "08:05 and 08:50 EST"


def test_a_window_across_the_change_of_summer_time_names_each_zone():
    # 29 March 2026: Berlin's clocks go from 02:00 CET to 03:00 CEST.
    text = present.window_text(utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30), BERLIN,
                               told_at=utc(2026, 3, 29, 2, 0))
    assert text == "01:30 CET and 03:30 CEST"


def test_the_block_says_nothing_until_staff_say_something():
    blank = DataImpact()
    assert present.impact_lines(blank, BERLIN) == []
    said = DataImpact("some_entries_missing", "reenter_entries", utc(2026, 11, 26, 13, 5),
                      utc(2026, 11, 26, 13, 50))
    assert present.impact_lines(said, BERLIN, told_at=utc(2026, 11, 26, 14, 0)) == [
        ("Your data", "Some entries may be missing"),
        ("What you need to do", "Re-enter the entries that may be missing"),
        ("Data gap", "Entries between 14:05 and 14:50 CET may be missing"),
    ]
    assert present.impact_lines(DataImpact(user_action="nothing"), BERLIN) == [
        ("Your data", "Not yet known"), ("What you need to do", "Nothing")]


# --- The checks ----------------------------------------------------------------------------


def incident_row(incident_id: int) -> tuple:
    db.session.expire_all()
    i = db.session.get(Incident, incident_id)
    return (i.data_status, i.user_action, i.data_gap_from, i.data_gap_until, i.status,
            len(i.updates))


def update_text(status="identified", **impact):
    return incidents.UpdateText(status=status, impact="Cannot save entries.",
                                actions="Restoring the database.",
                                data_impact=DataImpact(**impact))


BAD = [
    ({"data_status": "fine"}, "data_status"),
    ({"data_status": ""}, "data_status"),
    ({"user_action": "panic"}, "user_action"),
    ({"data_gap_from": utc(2026, 11, 26, 11, 50), "data_gap_until": utc(2026, 11, 26, 11, 5)},
     "data_gap_until"),
    ({"data_gap_from": utc(2026, 11, 26, 11, 5), "data_gap_until": utc(2026, 11, 26, 11, 5)},
     "data_gap_until"),
    ({"data_gap_from": utc(2026, 11, 26, 11, 5)}, "data_gap_until"),
    ({"data_gap_until": utc(2026, 11, 26, 11, 5)}, "data_gap_from"),
    ({"data_gap_from": utc(2026, 10, 26, 11, 0), "data_gap_until": utc(2026, 10, 27, 11, 0)},
     "data_gap_from"),
    ({"data_gap_from": utc(2026, 11, 26, 11, 0), "data_gap_until": utc(2026, 11, 26, 12, 30)},
     "data_gap_until"),
]


@pytest.mark.parametrize("fields, name", BAD)
def test_bad_input_on_an_update_is_refused_and_changes_nothing(
        app, clock, responder, components, make_incident, fields, name):
    incident = make_incident(responder, components[:1])
    before = incident_row(incident.id)
    audits = len(audit_events())
    with pytest.raises(ValidationError) as caught:
        incidents.post_update(incident, update_text(**fields), actor=responder, now=clock())
    db.session.rollback()
    assert name in caught.value.errors
    assert incident_row(incident.id) == before
    assert len(audit_events()) == audits


@pytest.mark.parametrize("fields, name", BAD)
def test_bad_input_on_declaring_or_editing_is_refused(
        app, clock, responder, components, make_incident, fields, name):
    with pytest.raises(ValidationError) as caught:
        incidents.open_incident(actor=responder, now=clock(), title="Sync failing",
                                severity="SEV-2", component_ids=[components[0].id],
                                update=update_text("investigating", **fields))
    db.session.rollback()
    assert name in caught.value.errors
    assert db.session.scalar(db.select(db.func.count(Incident.id))) == 0

    incident = make_incident(responder, components[:1])
    before = incident_row(incident.id)
    with pytest.raises(ValidationError) as caught:
        incidents.edit_incident(incident, actor=responder, now=clock(), title=incident.title,
                                severity=incident.severity, component_ids=[components[0].id],
                                started_at=incident.started_at,
                                data_impact=DataImpact(**fields))
    db.session.rollback()
    assert name in caught.value.errors
    assert incident_row(incident.id) == before


def test_an_update_sets_the_block_and_its_audit_event_says_before_and_after(
        app, clock, responder, components, make_incident):
    incident = make_incident(responder, components[:1])
    clock.advance(minutes=50)
    window = dict(data_gap_from=clock() - timedelta(minutes=45),
                  data_gap_until=clock() - timedelta(minutes=5))
    incidents.post_update(incident, update_text("resolved", data_status="some_entries_missing",
                                                user_action="reenter_entries", **window),
                          actor=responder, now=clock())
    db.session.commit()
    data_status, action, start, end, status, _ = incident_row(incident.id)
    assert (data_status, action, status) == ("some_entries_missing", "reenter_entries",
                                             "resolved")
    assert (start, end) == (window["data_gap_from"], window["data_gap_until"])
    event = audit_events("incident.update")[-1]
    assert event.before["data_status"] == "not_yet_known" and event.before["user_action"] is None
    assert event.after["data_status"] == "some_entries_missing"
    assert event.after["data_gap_from"] == present.iso(window["data_gap_from"])


def test_an_update_that_leaves_the_block_alone_does_not_audit_it(
        app, clock, responder, components, make_incident):
    incident = make_incident(responder, components[:1])
    incidents.post_update(incident, incidents.UpdateText(
        status="identified", impact="Cannot save.", actions="Rolling back."),
        actor=responder, now=clock())
    db.session.commit()
    assert "data_status" not in audit_events("incident.update")[-1].after


def test_an_edit_changes_the_block_and_keeps_an_old_window(
        app, clock, responder, components, make_incident):
    incident = make_incident(responder, components[:1])
    window = DataImpact("being_checked", None, clock() - timedelta(hours=2),
                        clock() - timedelta(hours=1))
    incidents.edit_incident(incident, actor=responder, now=clock(), title=incident.title,
                            severity=incident.severity, component_ids=[components[0].id],
                            started_at=incident.started_at, data_impact=window)
    db.session.commit()
    event = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.action == "incident.edit")).one()
    assert (event.before["data_status"], event.after["data_status"]) == (
        "not_yet_known", "being_checked")
    # 40 days on, the window is older than 30 days: kept as it is, the rest may change.
    clock.advance(days=40)
    incidents.edit_incident(incident, actor=responder, now=clock(), title=incident.title,
                            severity=incident.severity, component_ids=[components[0].id],
                            started_at=incident.started_at,
                            data_impact=DataImpact("safe", "nothing", window.data_gap_from,
                                                   window.data_gap_until))
    db.session.commit()
    assert incident_row(incident.id)[:2] == ("safe", "nothing")
