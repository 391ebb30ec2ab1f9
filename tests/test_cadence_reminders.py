"""Cadence reminders (issue 14, point 3): the commander of a SEV-1/2 incident is emailed
(real SMTP on loopback) and named in #incidents (a real HTTP receiver) once per due time,
never for a resolved incident, and not for SEV-3/4."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from statuspage import incidents, roles
from statuspage.extensions import db
from statuspage.models import SentReminder
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)


@pytest.fixture
def app(make_app, smtp, receiver):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG, SITE_TIMEZONE="Europe/Berlin",
                   SLACK_WEBHOOK_URL=receiver.url(path="/services/T0/B0/x"),
                   WEBHOOK_ALLOW_LOOPBACK_HTTP=True,  # Slack: public addresses only
                   CADENCE_REMINDERS=True)
    with app.app_context():
        yield app


def reminders_to(smtp, address):  # noqa: F811
    return [m for m in smtp.messages if m.to == address and "next update" in m.subject]


def slack_reminders(receiver):  # noqa: F811
    with receiver.lock:
        texts = [json.loads(r.body)["text"] for r in receiver.requests]
    return [t for t in texts if t.startswith(":alarm_clock:")]


def test_the_commander_is_reminded_once_per_due_time(
        app, clock, smtp, receiver, responder, make_staff,  # noqa: F811
        components, make_incident):
    commander = make_staff(email="ic@example.test", display_name="Ira Commander")
    incident = make_incident(responder, components[:1], severity="SEV-1",
                             title="App down for everyone")
    roles.set_roles(incident, commander_id=commander.id, comms_lead_id=None,
                    actor=responder, now=clock())
    db.session.commit()
    clock.advance(minutes=12)  # due at +15: more than 120 s away
    tick()
    assert reminders_to(smtp, "ic@example.test") == []
    clock.advance(minutes=1, seconds=1)  # within the lead
    tick()
    tick()
    [email] = reminders_to(smtp, "ic@example.test")
    assert email.subject == "Metabolic-Tracker SEV-1: the next update is due soon"
    assert "App down for everyone" in email.text() and "13:15 CET" in email.text()
    assert f"/staff/incidents/{incident.id}" in email.text()
    [slack] = slack_reminders(receiver)
    assert "Incident Commander: Ira Commander" in slack
    clock.advance(minutes=10)  # overdue now: still the same due time
    tick()
    assert len(reminders_to(smtp, "ic@example.test")) == 1
    assert len(slack_reminders(receiver)) == 1

    incidents.post_update(incident, incidents.UpdateText(
        status="identified", impact="Nobody can sign in.", actions="Rolling back."),
        actor=commander, now=clock())
    db.session.commit()
    clock.advance(minutes=14)  # the new due time, 15 min after the update, is 60 s away
    tick()
    assert len(reminders_to(smtp, "ic@example.test")) == 2
    assert len(slack_reminders(receiver)) == 2
    assert db.session.scalar(db.select(db.func.count()).select_from(SentReminder)) == 2


def test_a_second_reminder_row_for_the_same_due_time_is_refused(
        app, clock, responder, components, make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-2")
    due = clock() + timedelta(minutes=30)
    for _ in range(2):
        db.session.add(SentReminder(incident_id=incident.id, due_at=due, kind="cadence",
                                    created_at=clock()))
    with pytest.raises(Exception, match="(?i)unique"):
        db.session.commit()
    db.session.rollback()


def test_no_reminder_for_a_resolved_incident_nor_a_sev3_or_sev4(
        app, clock, smtp, receiver, responder, components, make_incident):  # noqa: F811
    resolved = make_incident(responder, components[:1], severity="SEV-1")
    incidents.post_update(resolved, incidents.UpdateText(
        status="resolved", impact="Fixed.", actions="Rolled back."),
        actor=responder, now=clock())
    db.session.commit()
    make_incident(responder, components[1:2], severity="SEV-3",
                  next_update_at=clock() + timedelta(minutes=30))
    make_incident(responder, components[2:3], severity="SEV-4",
                  next_update_at=clock() + timedelta(minutes=30))
    clock.advance(hours=3)
    tick()
    assert reminders_to(smtp, "responder@example.test") == []
    assert slack_reminders(receiver) == []


def test_a_reminder_the_smtp_server_refused_for_now_goes_after_its_backoff(
        app, clock, smtp, responder, components, make_incident):  # noqa: F811
    make_incident(responder, components[:1], severity="SEV-2")
    clock.advance(minutes=29)
    smtp.refuse_all()
    tick()
    assert reminders_to(smtp, "responder@example.test") == []
    smtp.reset()
    clock.advance(seconds=30)
    tick()
    tick()
    assert len(reminders_to(smtp, "responder@example.test")) == 1


def test_reminders_switched_off_send_nothing(
        app, clock, smtp, responder, components, make_incident):  # noqa: F811
    app.config["CADENCE_REMINDERS"] = False
    make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(minutes=20)
    tick()
    assert reminders_to(smtp, "responder@example.test") == []
