"""Planned maintenance through the notifier's tick: scheduled, reminded, started and
completed at the window's times, with the right emails to the right people exactly once
each (two notifiers at once included); rescheduled and cancelled notices only to those
already told; a window under an incident; no outage email for a maintenance. Real SMTP on
loopback, a controllable clock, SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from statuspage import heartbeat, incidents, maintenance
from statuspage.extensions import db
from statuspage.models import AuditEvent, Component, Delivery, Maintenance, Notification
from statuspage.outbox import compose, rules
from tests.conftest import T0
from tests.smtp import (  # noqa: F401  (fixtures)
    app,
    make_subscriber,
    notifier_thread,
    smtp,
    tick,
)

SITE = "Metabolic-Tracker"
SCHEDULED = f"{SITE} Planned Maintenance"
REMINDER = f"{SITE} Planned Maintenance Reminder"
STARTED = f"{SITE} Planned Maintenance Started"
COMPLETED = f"{SITE} Planned Maintenance Completed"
RESCHEDULED = f"{SITE} Planned Maintenance Rescheduled"
CANCELLED = f"{SITE} Planned Maintenance Cancelled"
OUTAGE = f"{SITE} Temporary Service Disruption"


def fields(components, start, end, **extra) -> maintenance.WindowFields:
    values = dict(title="Database upgrade", component_ids=[c.id for c in components],
                  scheduled_for=start, scheduled_until=end,
                  description="You cannot log meals for two hours.",
                  workaround="Write your meals down and enter them afterwards.")
    values.update(extra)
    return maintenance.WindowFields(**values)


def schedule(actor, components, start, end, now, **extra) -> Maintenance:
    m = maintenance.schedule(fields(components, start, end, **extra), actor=actor, now=now)
    db.session.commit()
    return m


def subjects(smtp_server) -> Counter:
    return Counter((m.to, m.subject) for m in smtp_server.messages)


def status_of(component_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Component, component_id).status


def window(m_id: int) -> Maintenance:
    db.session.expire_all()
    return db.session.get(Maintenance, m_id)


# --- Pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize("value, minutes", [
    ("24,1", (1440, 60)), ("1, 24", (1440, 60)), ("0.02", (1,)), (2, (120,)),
    ("1,1", (60,)),
])
def test_reminder_hours_take_a_number_or_a_list(value, minutes):
    assert rules.reminder_offsets(value) == minutes


@pytest.mark.parametrize("value", ["soon", "0", "-1", "24,x"])
def test_reminder_hours_refuse_what_is_not_hours(value):
    with pytest.raises(ValueError):
        rules.reminder_offsets(value)


def test_the_window_is_written_in_a_zone_with_its_name():
    berlin = ZoneInfo("Europe/Berlin")
    start = T0 + timedelta(days=2, hours=1)  # 2026-11-28 13:00 UTC
    assert compose.format_window(start, start + timedelta(hours=2), berlin) == (
        "Saturday 28 November 2026, 14:00 CET to 16:00 CET (Europe/Berlin)")
    assert compose.format_window(start, start + timedelta(hours=12), ZoneInfo("UTC")) == (
        "Saturday 28 November 2026, 13:00 UTC to Sunday 29 November 2026, 01:00 UTC")


@pytest.mark.parametrize("notice, revision, status, current, notify, action", [
    ("reminder", 1, "scheduled", 1, True, "send"),
    ("reminder", 1, "scheduled", 2, True, "cancel"),  # moved since
    ("reminder", 1, "cancelled", 1, True, "cancel"),
    ("scheduled", 1, "in_progress", 1, True, "cancel"),
    ("started", 1, "in_progress", 1, False, "cancel"),  # notices turned off
    ("cancelled", 1, "cancelled", 1, True, "send"),
])
def test_a_stale_announcement_is_not_sent(notice, revision, status, current, notify, action):
    assert rules.maintenance_notice_action(notice, revision, status, current,
                                           notify) == action


# --- The whole life of a window -------------------------------------------------------------


def test_a_window_is_announced_reminded_started_and_completed_once_each(
        app, clock, smtp, responder, components, make_subscriber):
    participant = make_subscriber("pat@example.test")
    coach = make_subscriber("coach@example.test", audience="coach")
    make_subscriber("pending@example.test", status="pending")
    taken = components[:2]
    start = T0 + timedelta(days=2)
    m = schedule(responder, taken, start, start + timedelta(hours=2), clock())
    tick()
    assert subjects(smtp) == Counter({(participant.email, SCHEDULED): 1,
                                      (coach.email, SCHEDULED): 1})
    announce = smtp.to(coach.email)[0]
    text = announce.text()
    assert "Dear Coach" in text and "Please let your participants know." in text
    assert "Saturday 28 November 2026, 12:00 UTC to 14:00 UTC" in text
    assert f"https://status.example.test/maintenance/{m.id}" in text
    assert "You cannot log meals for two hours." in text
    assert "please contact your healthcare provider" in text
    assert announce.message["List-Unsubscribe"]
    assert "Dear Participant" in smtp.to(participant.email)[0].text()
    assert "Please let your participants know." not in smtp.to(participant.email)[0].text()

    smtp.clear()
    clock.set(start - timedelta(hours=24, seconds=1))
    tick()
    assert smtp.messages == []
    clock.set(start - timedelta(hours=24))
    tick()
    tick()
    assert subjects(smtp) == Counter({(participant.email, REMINDER): 1,
                                      (coach.email, REMINDER): 1})
    smtp.clear()
    clock.set(start - timedelta(minutes=59))
    tick()
    assert subjects(smtp) == Counter({(participant.email, REMINDER): 1,
                                      (coach.email, REMINDER): 1})

    smtp.clear()
    clock.set(start)
    tick()
    assert window(m.id).status == "in_progress"
    assert [status_of(c.id) for c in taken] == ["under_maintenance"] * 2
    assert status_of(components[2].id) == "operational"
    assert subjects(smtp) == Counter({(participant.email, STARTED): 1,
                                      (coach.email, STARTED): 1})
    first = window(m.id).updates[0]
    assert (first.status, first.posted_at, first.posted_by_id) == ("in_progress", start, None)

    smtp.clear()
    clock.set(start + timedelta(hours=2, seconds=5))
    tick()
    tick()
    done = window(m.id)
    assert done.status == "completed" and done.completed_at == clock()
    assert [status_of(c.id) for c in taken] == ["operational"] * 2
    assert subjects(smtp) == Counter({(participant.email, COMPLETED): 1,
                                      (coach.email, COMPLETED): 1})
    assert "available again" in smtp.to(participant.email)[0].text()
    assert [u.status for u in done.updates] == ["completed", "in_progress"]
    actions = [e.action for e in db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.target_type == "maintenances")
        .order_by(AuditEvent.id))]
    assert actions == ["maintenance.schedule", "maintenance.start", "maintenance.complete"]
    # No outage email, ever, for a maintenance.
    clock.advance(hours=5)
    tick()
    assert OUTAGE not in {m.subject for m in smtp.messages}


def test_a_window_starting_within_the_hour_is_not_announced_but_starts_and_ends_aloud(
        app, clock, smtp, responder, components, make_subscriber):
    person = make_subscriber()
    start = clock() + timedelta(minutes=30)
    m = schedule(responder, components[:1], start, start + timedelta(hours=1), clock())
    tick()
    assert smtp.messages == []
    clock.set(start)
    tick()
    clock.set(start + timedelta(hours=1))
    tick()
    assert [msg.subject for msg in smtp.to(person.email)] == [STARTED, COMPLETED]
    assert window(m.id).status == "completed"


def test_reminders_missed_while_the_notifier_was_down_go_once(
        app, clock, smtp, responder, components, make_subscriber):
    person = make_subscriber()
    start = clock() + timedelta(days=3)
    schedule(responder, components[:1], start, start + timedelta(hours=1), clock())
    tick()
    smtp.clear()
    clock.set(start - timedelta(minutes=30))  # both the 24 h and the 1 h reminder passed
    tick()
    tick()
    assert [msg.subject for msg in smtp.to(person.email)] == [REMINDER]


def test_a_reminder_due_after_the_start_is_not_sent(
        app, clock, smtp, responder, components, make_subscriber):
    person = make_subscriber()
    start = clock() + timedelta(days=3)
    schedule(responder, components[:1], start, start + timedelta(hours=4), clock(),
             auto_start=False)
    tick()
    smtp.clear()
    clock.set(start + timedelta(minutes=1))  # the notifier was down over both reminders
    tick()
    assert smtp.to(person.email) == []


def test_notify_off_sends_nothing_for_the_window(
        app, clock, smtp, responder, components, make_subscriber):
    make_subscriber()
    start = clock() + timedelta(days=2)
    m = schedule(responder, components[:1], start, start + timedelta(hours=1), clock(),
                 notify=False)
    for at in (start - timedelta(hours=1), start, start + timedelta(hours=1)):
        clock.set(at)
        tick()
    assert window(m.id).status == "completed"
    assert smtp.messages == []


def test_a_short_reminder_setting_reminds_minutes_ahead(
        app, clock, smtp, responder, components, make_subscriber):
    app.config["MAINTENANCE_REMINDER_HOURS"] = "0.02"  # 72 s: one minute
    person = make_subscriber()
    start = clock() + timedelta(minutes=2)
    m = schedule(responder, components[:1], start, start + timedelta(minutes=5), clock())
    tick()
    assert smtp.messages == []  # two minutes ahead: no announcement
    clock.set(start - timedelta(minutes=1))
    tick()
    assert [msg.subject for msg in smtp.to(person.email)] == [REMINDER]
    assert window(m.id).status == "scheduled"


# --- Reschedule and cancel ------------------------------------------------------------------


def test_rescheduled_and_cancelled_go_only_to_those_already_told(
        app, clock, smtp, responder, components, make_subscriber):
    told = make_subscriber("told@example.test")
    start = clock() + timedelta(days=2)
    m = schedule(responder, components[:1], start, start + timedelta(hours=2), clock())
    tick()
    late = make_subscriber("late@example.test")  # confirmed after the announcement
    smtp.clear()
    new_start = start + timedelta(days=1)
    maintenance.reschedule(window(m.id), new_start, new_start + timedelta(hours=2),
                           actor=responder, now=clock())
    db.session.commit()
    assert window(m.id).revision == 2
    tick()
    assert subjects(smtp) == Counter({(told.email, RESCHEDULED): 1})
    assert "Sunday 29 November 2026, 12:00 UTC to 14:00 UTC" in smtp.to(told.email)[0].text()

    # The reminders move with the window: none at the old time, one each at the new.
    smtp.clear()
    clock.set(start - timedelta(hours=24))
    tick()
    assert smtp.messages == []
    clock.set(new_start - timedelta(hours=24))
    tick()
    assert subjects(smtp) == Counter({(told.email, REMINDER): 1, (late.email, REMINDER): 1})

    smtp.clear()
    unaware = make_subscriber("unaware@example.test")
    maintenance.cancel(window(m.id), actor=responder, now=clock())
    db.session.commit()
    clock.set(new_start - timedelta(minutes=59))  # the 1 h reminder's time: nothing
    tick()
    assert subjects(smtp) == Counter({(told.email, CANCELLED): 1, (late.email, CANCELLED): 1})
    assert unaware.email not in smtp.recipients()
    clock.set(new_start + timedelta(hours=3))
    tick()
    assert window(m.id).status == "cancelled"
    assert len(smtp.messages) == 2


def test_a_cancelled_windows_pending_reminders_are_not_sent(
        app, clock, smtp, responder, components, make_subscriber):
    """The announcement and the reminder are queued, the window is cancelled before they
    go: nobody was told, so nothing goes at all."""
    make_subscriber()
    start = clock() + timedelta(minutes=90)
    m = schedule(responder, components[:1], start, start + timedelta(hours=1), clock(),
                 notify=True)
    smtp.down()
    clock.set(start - timedelta(minutes=60))
    tick()  # announcement and 1 h reminder queued, and not sent (the server is down)
    queued = db.session.scalars(db.select(Delivery.status)).all()
    assert queued == ["pending", "pending"]
    maintenance.cancel(window(m.id), actor=responder, now=clock())
    db.session.commit()
    smtp.up()
    clock.advance(hours=1)
    tick()
    assert smtp.messages == []


def test_a_notice_sent_while_the_window_moved_is_followed_up(
        app, clock, smtp, responder, components, make_subscriber):
    """A reminder claimed before the cancellation and accepted after it: its reader, told
    of the window only by that reminder, is owed the cancellation too."""
    early = make_subscriber("early@example.test")
    start = clock() + timedelta(days=2)
    m = schedule(responder, components[:1], start, start + timedelta(hours=1), clock())
    tick()
    late = make_subscriber("late@example.test")  # hears of it first by the reminder
    clock.set(start - timedelta(hours=24))
    in_flight = smtp.hold(after=1)  # early's reminder goes, late's is held
    with notifier_thread(app):
        in_flight.wait_reached()
        assert in_flight.recipients == [late.email]
        maintenance.cancel(window(m.id), actor=responder, now=clock())
        db.session.commit()
        in_flight.release()
    tick()
    assert [msg.subject for msg in smtp.to(early.email)] == [SCHEDULED, REMINDER, CANCELLED]
    assert [msg.subject for msg in smtp.to(late.email)] == [REMINDER, CANCELLED]


# --- Components -----------------------------------------------------------------------------


def test_a_window_under_an_incident_keeps_the_worse_status(
        app, clock, smtp, responder, components, make_incident, make_subscriber):
    make_subscriber()
    logging_, sync = components[0], components[1]
    start = clock() + timedelta(hours=2)
    m = schedule(responder, [logging_, sync], start, start + timedelta(hours=2), clock())
    clock.set(start - timedelta(minutes=10))
    incident = make_incident(responder, [logging_], severity="SEV-2",
                             component_statuses={logging_.id: "partial_outage"})
    clock.set(start)
    tick()
    assert status_of(logging_.id) == "partial_outage"
    assert status_of(sync.id) == "under_maintenance"
    # The incident resolves during the window: the window still holds the component.
    clock.advance(minutes=20)
    incidents.post_update(db.session.get(type(incident), incident.id), incidents.UpdateText(
        status="resolved", impact="Back.", actions="Fixed."), actor=responder, now=clock())
    db.session.commit()
    assert status_of(logging_.id) == "under_maintenance"
    clock.set(start + timedelta(hours=2))
    tick()
    assert status_of(logging_.id) == "operational" and status_of(sync.id) == "operational"


def test_a_window_ending_under_an_open_incident_gives_the_component_to_it(
        app, clock, smtp, responder, components, make_incident, make_subscriber):
    person = make_subscriber()
    logging_ = components[0]
    start = clock() + timedelta(hours=2)
    m = schedule(responder, [logging_], start, start + timedelta(hours=1), clock())
    clock.set(start)
    tick()
    clock.advance(minutes=10)
    make_incident(responder, [logging_], severity="SEV-1",
                  component_statuses={logging_.id: "major_outage"})
    assert status_of(logging_.id) == "major_outage"
    clock.set(start + timedelta(hours=1))
    tick()
    assert window(m.id).status == "completed"
    assert status_of(logging_.id) == "major_outage"
    completed = [msg for msg in smtp.to(person.email) if msg.subject == COMPLETED]
    assert "still affected by another issue" in completed[0].text()
    # The incident opened during the window still gets its outage email.
    clock.advance(minutes=31)
    tick()
    assert OUTAGE in [msg.subject for msg in smtp.to(person.email)]


def test_two_windows_on_one_component(app, clock, smtp, responder, components):
    c = components[0]
    start = clock() + timedelta(hours=2)
    a = schedule(responder, [c], start, start + timedelta(hours=1), clock())
    b = schedule(responder, [c], start + timedelta(minutes=30), start + timedelta(hours=3),
                 clock())
    assert [w.id for w in maintenance.overlapping(window(a.id))] == [b.id]
    clock.set(start + timedelta(minutes=30))
    tick()
    clock.set(start + timedelta(hours=1))
    tick()
    assert window(a.id).status == "completed"
    assert status_of(c.id) == "under_maintenance"  # b still runs
    clock.set(start + timedelta(hours=3))
    tick()
    assert status_of(c.id) == "operational"


# --- Two notifiers ------------------------------------------------------------------------


def test_two_notifiers_at_once_move_each_window_and_send_each_notice_once(
        app, clock, smtp, responder, components, make_subscriber):
    people = [make_subscriber(f"p{i}@example.test") for i in range(4)]
    # Both threads are one process, one heartbeat row: write it once beforehand, so that
    # they update it instead of racing to insert it.
    heartbeat.beat(clock())
    db.session.commit()
    start = clock() + timedelta(days=2)
    m = schedule(responder, components[:1], start, start + timedelta(hours=1), clock())
    for at in (clock(), start - timedelta(hours=24), start - timedelta(hours=1), start,
               start + timedelta(hours=1)):
        clock.set(at)
        with notifier_thread(app), notifier_thread(app):
            pass
    got = subjects(smtp)
    expected = Counter({(p.email, s): 1 for p in people
                        for s in (SCHEDULED, REMINDER, STARTED, COMPLETED)})
    expected.update({(p.email, REMINDER): 1 for p in people})  # 24 h and 1 h
    assert got == expected
    db.session.expire_all()
    updates = window(m.id).updates
    assert [u.status for u in updates] == ["completed", "in_progress"]
    assert db.session.scalar(db.select(db.func.count(Notification.id)).where(
        Notification.maintenance_id == m.id, Notification.notice == "started")) == 1
