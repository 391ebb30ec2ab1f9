"""Migration 0015 (issue 22): the staff's email moves onto the delivery engine. Built from
the previous release's schema (0014) with rows in it, on each database: every row keeps
its meaning after the upgrade, and the notifier then sends what was owed, once."""

from __future__ import annotations

from types import SimpleNamespace

import os
import secrets
from datetime import date, timedelta

import flask_migrate
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from statuspage import create_app
from statuspage.extensions import db
from statuspage.models import (ActionItem, AuditEvent, Component, Incident, Monitor,
                               SlackMessage, StaffEmail, StaffUser, Webhook)
from tests.conftest import BACKENDS, T0, _base_config
from tests.smtp import MAIL_CONFIG, smtp, tick  # noqa: F401  (fixtures)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(params=BACKENDS)
def fresh_url(request, tmp_path):
    """An empty database (no tables at all), on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    base = make_url(os.environ["TEST_DATABASE_URL"].replace(
        "postgresql://", "postgresql+psycopg://", 1))
    name = f"statuspage_migration_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _rows_at_0014(now):
    """What a running 0014 install holds: an open incident with its contacts' notices
    (one sent, one still to send), a resolved one whose notice was closed, a cadence
    reminder and an action item reminder each sent and each owed, three proposals (one
    told, one owed an hour old, one owed but two days old), and a webhook disabled
    automatically whose admin was not yet told."""
    ids = {}
    # The accounts as 0014 had them (the model has columns of later revisions since).
    users = StaffUser.__table__
    staff, owner = (SimpleNamespace(id=db.session.execute(
        db.insert(users).values(email=email, role=role, password_hash="x", active=True,
                                session_version=1, must_change_password=False,
                                failed_logins=0, created_at=now)
        .returning(users.c.id)).scalar_one())
        for email, role in (("ic@example.test", "admin"),
                            ("owner@example.test", "responder")))
    component = Component(name="Login", position=0, status="operational", created_at=now,
                          updated_at=now)
    db.session.add(component)
    db.session.flush()
    open_incident, resolved = (
        Incident(title=title, severity="SEV-2", status=status, started_at=now - timedelta(
            minutes=20), created_at=now, updated_at=now, commander_id=staff.id)
        for title, status in (("Login down", "investigating"), ("Old", "resolved")))
    db.session.add_all([open_incident, resolved])
    db.session.flush()
    ids.update(staff=staff.id, owner=owner.id, open=open_incident.id, resolved=resolved.id)
    overdue, done = (ActionItem(incident_id=resolved.id, text=text, owner_id=owner.id,
                                due_on=date(2026, 11, 20), created_at=now, updated_at=now)
                     for text in ("Add a disk alert", "Write the runbook"))
    monitor = Monitor(name="App ready", url="http://127.0.0.1:9/ready",
                      component_id=component.id, created_at=now, updated_at=now)
    disabled = Webhook(url="https://hooks.example.test/x", secret="s", active=False,
                       created_at=now)
    db.session.add_all([overdue, done, monitor, disabled])
    db.session.flush()
    ids.update(overdue=overdue.id, done=done.id, monitor=monitor.id, webhook=disabled.id)
    db.session.add(AuditEvent(at=now, actor_label="system", action="webhook.auto_disable",
                              target_type="webhooks", target_id=str(disabled.id)))
    db.session.commit()
    conn = db.session.connection()
    sql = [
        ("INSERT INTO staff_notices (incident_id, kind, email, roles, created_at, "
         "sent_at, outcome) VALUES (:open, 'primary', 'sent@example.test', "
         "'On-call Engineer', :t, :t, 'sent')"),
        ("INSERT INTO staff_notices (incident_id, kind, email, roles, created_at, "
         "lease_until) VALUES (:open, 'primary', 'owed@example.test', 'Tech Lead', :t, :t)"),
        ("INSERT INTO staff_notices (incident_id, kind, email, roles, created_at, "
         "sent_at, outcome) VALUES (:resolved, 'primary', 'late@example.test', "
         "'Tech Lead', :t, :t, 'resolved')"),
        ("INSERT INTO sent_reminders (incident_id, due_at, kind, recipient_id, "
         "claimed_until, sent_at, created_at) VALUES (:open, :earlier, 'cadence', :staff, "
         ":t, :t, :t)"),
        ("INSERT INTO sent_reminders (incident_id, due_at, kind, recipient_id, "
         "claimed_until, created_at) VALUES (:open, :later, 'cadence', :staff, :t, :t)"),
        ("INSERT INTO action_item_reminders (action_item_id, due_on, created_at, sent_at, "
         "outcome) VALUES (:done, '2026-11-20', :t, :t, 'sent')"),
        ("INSERT INTO action_item_reminders (action_item_id, due_on, created_at) "
         "VALUES (:overdue, '2026-11-20', :t)"),
        ("INSERT INTO contacts (role, name, email, updated_at) "
         "VALUES ('oncall', 'Olga', 'oncall@example.test', :t)"),
    ]
    t = now.replace(tzinfo=None) if conn.dialect.name == "sqlite" else now
    # SEV-2: an update every 30 minutes; the incident started 20 minutes ago, so its next
    # update is due in 10 (the reminder owed for it is forgotten, and queued afresh).
    params = dict(ids, t=t, earlier=t - timedelta(minutes=60), later=t + timedelta(minutes=10))
    for statement in sql:
        conn.execute(sa.text(statement), params)
    for first, created, told in ((t - timedelta(hours=3), t - timedelta(hours=3), True),
                                 (t - timedelta(hours=1), t - timedelta(hours=1), False),
                                 (t - timedelta(days=2), t - timedelta(days=2), False)):
        conn.execute(sa.text(
            "INSERT INTO monitor_proposals (monitor_id, component_id, severity, "
            "first_failed_at, last_errors, status, auto_published, created_at, updated_at, "
            "notice_sent_at, slack_sent_at) VALUES (:monitor, :component, 'SEV-2', :first, "
            ":errors, 'open', :no, :created, :created, :told, :told)"),
            {"monitor": ids["monitor"], "component": component.id, "first": first,
             "errors": '[{"at": "x", "error": "HTTP 503"}]', "no": False,
             "created": created, "told": t if told else None})
    db.session.commit()
    return ids


def test_the_staff_emails_keep_their_meaning_through_the_upgrade(
        fresh_url, tmp_path, clock, smtp, receiver):  # noqa: F811
    clock.set(T0)
    config = _base_config(fresh_url, str(tmp_path))
    config.update(CLOCK=clock, MAIL_PORT=smtp.port, CADENCE_REMINDERS=True,
                  SLACK_WEBHOOK_URL=receiver.url(path="/services/T0/B0/x"),
                  WEBHOOK_ALLOW_LOOPBACK_HTTP=True, **MAIL_CONFIG)
    app = create_app(config)
    with app.app_context():
        flask_migrate.upgrade(revision="0014")
        ids = _rows_at_0014(clock())
        flask_migrate.upgrade(revision="0015")

        emails = {(e.kind, e.recipient): e.status for e in db.session.scalars(
            db.select(StaffEmail))}
        assert emails == {
            ("notice", "sent@example.test"): "sent",  # went: stays went
            ("notice", "owed@example.test"): "pending",  # claimed, not sent: owed
            ("notice", "late@example.test"): "cancelled",  # its incident resolved
            ("monitor", "oncall@example.test"): "pending",  # the hour-old proposal
            ("webhook", "ic@example.test"): "pending",  # the admin, of the disabled webhook
        }
        [slack] = db.session.scalars(db.select(SlackMessage)).all()
        assert slack.kind == "monitor" and slack.incident_id is None
        assert 'finds Login down since' in slack.text and "HTTP 503" in slack.text
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("staff_notices")}
        assert not columns & {"lease_until", "sent_at", "outcome"}
        db.session.remove()  # (its reads would hold the tables the next revisions alter)
        flask_migrate.upgrade()  # the later revisions, which the models (and tick) read

        # The notifier sends what was owed, once; the record still shows the notice sent.
        tick()
        tick()
        sent = sorted(m.to for m in smtp.messages)
        assert sent == ["ic@example.test", "oncall@example.test", "owed@example.test",
                        "owner@example.test"]
        clock.advance(minutes=9)  # the update due in a minute: the commander reminded, once
        tick()
        tick()
        assert sorted(m.to for m in smtp.messages) == [
            "ic@example.test", "ic@example.test", "oncall@example.test",
            "owed@example.test", "owner@example.test"]
        assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "webhook.admins_emailed")) == 1
        with receiver.lock:
            assert sum(b'MONITOR' in r.body for r in receiver.requests) == 1
        from statuspage.outbox import staff_notices
        [(_, line)] = staff_notices.summary(ids["open"])
        assert "emailed to 2 contacts" in line
        db.session.remove()
        db.engine.dispose()
