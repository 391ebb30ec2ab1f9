"""Monitors (issue 15, points 1 and 2): checks of a real HTTP server on loopback that fails
on demand, the proposal after exactly N failures and once per outage (its on-call email on
real SMTP), auto-publish with started_at at the first failure and the outage email 30
minutes after it, flapping, two check loops sharing the work, recovery, muting,
maintenance, the daily rollup and MONITOR_TARGETS."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from statuspage import audit, maintenance
from statuspage.extensions import db
from statuspage.models import (AuditEvent, Component, Incident, Monitor, MonitorCheck,
                               MonitorDay, MonitorProposal)
from statuspage.monitors import probe, runner, settings
from tests.smtp import MAIL_CONFIG, make_subscriber, smtp, tick  # noqa: F401  (fixtures)
from tests.tracked_app import TrackedApp, tracked  # noqa: F401  (fixture)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG)
    with app.app_context():
        yield app


def add_monitor(component, url, **values):
    raw = {"name": values.pop("name", "App ready"), "url": url, **settings.DEFAULTS,
           **values}
    m = settings.create(settings.clean(raw, component_id=component.id),
                        actor=audit.SystemActor("test"), now=db.session.info.get("now")
                        or runner.utcnow())
    db.session.commit()
    return m


def rounds(clock, n, every=30):
    """``n`` rounds, ``every`` seconds apart (the first at the clock's time)."""
    for i in range(n):
        if i:
            clock.advance(seconds=every)
        runner.run_round()


def later(clock, n=1, every=30):
    """``n`` more rounds, each ``every`` seconds after the last."""
    for _ in range(n):
        clock.advance(seconds=every)
        runner.run_round()


def proposals():
    return list(db.session.scalars(db.select(MonitorProposal).order_by(MonitorProposal.id)))


def monitor_emails(smtp):  # noqa: F811
    return [m for m in smtp.messages if "monitor:" in m.subject]


# --- One check -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, ok, error", [
    ("ok", True, None), ("pass", True, None), ("healthy", True, None), ("text", True, None),
    ("redirect_same", True, None),
    ("503", False, "HTTP 503"), ("fail", False, 'JSON status is "fail"'),
    ("badjson", False, "the JSON body does not parse"),
    ("redirect_away", False, "redirect to another host (not followed)"),
    ("huge", False, "the JSON body does not parse"),
])
def test_a_check_is_down_on_what_the_issue_names(tracked, mode, ok, error):  # noqa: F811
    tracked.set(mode)
    result = probe.check(tracked.url(), 2)
    assert (result.ok, result.error) == (ok, error)
    assert result.latency_ms >= 0


def test_a_timeout_and_a_refused_connection_are_down(tracked):  # noqa: F811
    tracked.set("slow")
    result = probe.check(tracked.url(), 1)
    assert not result.ok and result.error == "timed out after 1 s"
    result = probe.check(TrackedApp.refused(), 1)
    assert not result.ok and result.error.startswith("ConnectionRefusedError")


def test_link_local_addresses_are_refused_even_through_a_name():
    for url in ("http://169.254.169.254/latest/meta-data", "http://[fe80::1]/",
                "ftp://127.0.0.1/", "http://user:pw@127.0.0.1/"):
        with pytest.raises(probe.RefusedURL):
            probe.check_url(url)
    with pytest.raises(probe.RefusedURL, match="Link-local"):
        probe.check_url("http://metadata.internal/", lambda host, port: ["169.254.169.254"])
    result = probe.check("http://metadata.internal/", 1,
                         resolver=lambda host, port: ["10.0.0.1", "169.254.169.254"])
    assert not result.ok and "Link-local" in result.error


# --- Proposals ---------------------------------------------------------------------------------


def test_the_proposal_comes_after_exactly_n_failures_and_once_per_outage(
        app, clock, smtp, tracked, admin, components):  # noqa: F811
    m = add_monitor(components[0], tracked.url(), failures=3)
    rounds(clock, 2)
    assert db.session.get(Monitor, m.id).state == "up"
    tracked.set("503")
    first = clock.advance(seconds=30)
    runner.run_round()
    tracked.set("fail")
    later(clock)
    assert proposals() == []  # two failures of three
    tracked.set("badjson")
    later(clock)
    [proposal] = proposals()
    assert proposal.first_failed_at == first
    assert proposal.severity == "SEV-2" and proposal.component_id == components[0].id
    assert [e["error"] for e in proposal.last_errors] == ["the JSON body does not parse"]
    later(clock, 3)  # still down: the same outage
    assert len(proposals()) == 1
    assert len(proposals()[0].last_errors) == 4
    tick()
    tick()
    [email] = monitor_emails(smtp)
    assert email.to == admin.email
    assert email.subject == f"Metabolic-Tracker monitor: {components[0].name} is down (SEV-2)"
    assert "the JSON body does not parse" in email.text()
    assert tracked.url() not in email.text()
    checks = db.session.scalar(db.select(db.func.count()).select_from(MonitorCheck))
    assert checks == 2 + 3 + 3


def test_auto_publish_starts_at_the_first_failure_and_the_outage_email_goes_30_min_after(
        app, clock, smtp, tracked, admin, components, make_subscriber):  # noqa: F811
    make_subscriber(email="pat@example.test")
    component = components[0]
    add_monitor(component, tracked.url(), auto_publish=True, failures=3, name="Login")
    tracked.set("503")
    first = clock()
    rounds(clock, 3)
    [incident] = db.session.scalars(db.select(Incident)).all()
    assert incident.started_at == first
    assert incident.status == "investigating" and incident.severity == "SEV-2"
    assert incident.title == f"{component.name} is not responding"
    assert incident.commander is None and incident.created_by is None
    assert db.session.get(Component, component.id).status == "major_outage"
    opened = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action ==
                                                           "incident.open"))
    assert opened.actor_label == "monitor:Login"
    [proposal] = proposals()
    assert proposal.incident_id == incident.id and proposal.auto_published
    clock.set(first + timedelta(minutes=30))
    tick()
    assert smtp.to("pat@example.test") == []
    clock.set(first + timedelta(minutes=30, seconds=1))
    tick()
    [outage] = smtp.to("pat@example.test")
    assert outage.subject == "Metabolic-Tracker Temporary Service Disruption"


def test_the_notice_goes_to_the_on_call_engineer_when_the_contact_is_set(
        app, clock, smtp, tracked, admin, components):  # noqa: F811
    """Issue 14's key contacts name who is on call: the proposal is told to them alone."""
    from statuspage import contacts

    values = contacts.contacts()
    values["oncall"] = contacts.ContactValue("Dana On-call", "oncall@example.test")
    contacts.save(values, None, actor=admin, now=clock())
    db.session.commit()
    m = add_monitor(components[0], tracked.url(), failures=1)
    rounds(clock, 1)
    tracked.set("503")
    later(clock)
    assert len(proposals()) == 1 and db.session.get(Monitor, m.id).state == "down"
    tick()
    [email] = monitor_emails(smtp)
    assert email.to == "oncall@example.test"


def test_flapping_makes_one_proposal_and_one_notice(
        app, clock, smtp, tracked, admin, components):  # noqa: F811
    add_monitor(components[0], tracked.url(), failures=1, successes=1)
    tracked.set("503")
    runner.run_round()
    tracked.set("ok")
    rounds(clock, 2)
    tracked.set("503")
    clock.advance(seconds=30)
    runner.run_round()  # down again 60 s after it came up: within 600 s
    [proposal] = proposals()
    assert proposal.recovered_at is None
    tick()
    assert len(monitor_emails(smtp)) == 1
    tracked.set("ok")
    clock.advance(seconds=30)
    runner.run_round()
    clock.advance(seconds=601)
    tracked.set("503")
    runner.run_round()  # past the window: a new outage
    assert len(proposals()) == 2
    tick()
    assert len(monitor_emails(smtp)) == 2


def test_the_notice_goes_to_slack_once_when_configured(
        app, clock, smtp, tracked, admin, components, receiver):  # noqa: F811
    app.config["SLACK_WEBHOOK_URL"] = receiver.url(path="/services/T0/B0/x")
    app.config["WEBHOOK_ALLOW_LOOPBACK_HTTP"] = True  # Slack: public addresses only
    add_monitor(components[0], tracked.url(), failures=1)
    tracked.set("503")
    runner.run_round()
    tick()
    tick()
    with receiver.lock:
        texts = [json.loads(r.body)["text"] for r in receiver.requests]
    [text] = [t for t in texts if t.startswith(":rotating_light: MONITOR:")]
    assert f"finds {components[0].name} down since" in text and "HTTP 503" in text
    assert tracked.url() not in text
    assert len(monitor_emails(smtp)) == 1


def test_two_check_loops_check_each_monitor_once_per_interval(
        app, make_app, clock, tracked, components):  # noqa: F811
    for n in range(3):
        add_monitor(components[n], tracked.url(), name=f"m{n}")
    other = make_app()

    def loop(which, name):
        with which.app_context():
            for _ in range(3):
                runner.run_round(name=name)
            db.session.remove()

    for _ in range(2):
        threads = [threading.Thread(target=loop, args=(a, n))
                   for a, n in ((app, "one"), (other, "two"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        clock.advance(seconds=29)  # not yet due again
        loop(app, "three")
        clock.advance(seconds=1)
    db.session.rollback()
    counts = db.session.execute(db.select(MonitorCheck.monitor_id, db.func.count())
                                .group_by(MonitorCheck.monitor_id)).all()
    assert sorted(c for _, c in counts) == [2, 2, 2]
    assert tracked.hits == 6


def test_recovery_posts_monitoring_for_an_auto_published_incident(
        app, clock, tracked, admin, components):  # noqa: F811
    add_monitor(components[0], tracked.url(), auto_publish=True, failures=2, successes=2)
    tracked.set("fail")
    rounds(clock, 2)
    tracked.set("ok")
    later(clock)
    incident = db.session.scalars(db.select(Incident)).one()
    assert incident.status == "investigating"
    clock.advance(seconds=30)
    runner.run_round()
    db.session.refresh(incident)
    assert incident.status == "monitoring"  # Resolved is left to staff
    assert incident.latest_update.posted_by_id is None
    assert db.session.get(Component, components[0].id).status == "operational"


def test_a_muted_monitor_is_not_checked(app, clock, tracked, components):  # noqa: F811
    m = add_monitor(components[0], tracked.url())
    settings.set_muted(m, True, actor=audit.SystemActor("test"), now=clock())
    db.session.commit()
    tracked.set("503")
    rounds(clock, 5)
    assert tracked.hits == 0 and proposals() == []


def test_no_proposal_while_a_maintenance_window_runs(
        app, clock, tracked, admin, admin_client, components):  # noqa: F811
    window = maintenance.schedule(maintenance.WindowFields(
        title="Database upgrade", component_ids=[components[0].id],
        scheduled_for=clock() + timedelta(minutes=1),
        scheduled_until=clock() + timedelta(hours=1), description="Upgrade."),
        actor=admin, now=clock())
    db.session.commit()
    clock.advance(minutes=1)
    maintenance.start(window, actor=admin, now=clock())
    db.session.commit()
    add_monitor(components[0], tracked.url(), auto_publish=True, failures=1)
    tracked.set("503")
    rounds(clock, 3)
    assert proposals() == [] and db.session.scalars(db.select(Incident)).all() == []
    from statuspage.monitors.outages import failing_in_maintenance
    assert [m.name for m in failing_in_maintenance()] == ["App ready"]
    dashboard = admin_client.get("/staff/").get_data(as_text=True)
    assert "“App ready” failing during maintenance" in dashboard
    maintenance.complete(window, actor=admin, now=clock())
    db.session.commit()
    later(clock)  # still failing once the window is over: now it proposes
    assert len(proposals()) == 1 and len(db.session.scalars(db.select(Incident)).all()) == 1


def test_old_checks_are_rolled_up_per_day_once(app, clock, tracked, components):  # noqa: F811
    m = add_monitor(components[0], tracked.url(), failures=5)
    runner.run_round()
    tracked.set("503")
    later(clock, 2)
    clock.advance(days=9)
    runner.run_round()  # rolls the first three up, keeps its own
    runner.run_round()
    [day] = db.session.scalars(db.select(MonitorDay)).all()
    assert (day.monitor_id, day.checks, day.failures) == (m.id, 3, 2)
    assert day.max_latency_ms >= day.mean_latency_ms >= 0
    assert db.session.scalar(db.select(db.func.count()).select_from(MonitorCheck)) == 1


# --- MONITOR_TARGETS and readiness ---------------------------------------------------------------


def test_monitor_targets_seed_idempotently_by_name(app, tracked, components):  # noqa: F811
    targets = [{"name": "App ready", "url": tracked.url(), "component": components[1].name,
                "failures": 4, "auto_publish": True}]
    app.config["MONITOR_TARGETS"] = json.dumps(targets)
    runner_ = app.test_cli_runner()
    for _ in range(2):
        result = runner_.invoke(args=["seed"])
        assert result.exit_code == 0, result.output
    m = db.session.scalars(db.select(Monitor)).one()
    assert (m.component_id, m.failures, m.auto_publish, m.interval_seconds) == (
        components[1].id, 4, True, 30)


@pytest.mark.parametrize("value, message", [
    ("[{", "MONITOR_TARGETS is not valid JSON"),
    ('{"name": "x"}', "must be a JSON list"),
    ('[{"name": "x", "url": "http://127.0.0.1/", "component": "API", "colour": 1}]',
     "unknown key(s) colour"),
    ('[{"name": "x", "component": "API"}]', 'entry 1 needs "url"'),
])
def test_a_malformed_monitor_targets_stops_seed_saying_why(app, value, message):
    app.config["MONITOR_TARGETS"] = value
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 2
    assert f"Error: {message}" in result.output or message in result.output
    assert "Traceback" not in result.output
    assert db.session.scalars(db.select(Monitor)).all() == []


def test_a_bad_monitor_target_stops_seed_with_a_message(app, components):
    app.config["MONITOR_TARGETS"] = ('[{"name": "Meta", "url": "http://169.254.169.254/", '
                                     '"component": "Nope"}]')
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 2
    assert "MONITOR_TARGETS entry 1 (Meta)" in result.output
    assert "Link-local" in result.output and "Choose a component" in result.output
    assert "Traceback" not in result.output


def test_ready_reports_the_monitor_heartbeat_when_monitors_exist(
        app, clock, client, tracked, components):  # noqa: F811
    from statuspage import heartbeat
    heartbeat.beat(clock())
    db.session.commit()
    assert "monitor" not in client.get("/health/ready").get_json()["checks"]
    add_monitor(components[0], tracked.url())
    body = client.get("/health/ready")
    assert body.status_code == 503
    assert body.get_json()["checks"]["monitor"]["error"] == "no monitor process has ever run"
    runner.run_round()
    heartbeat.beat(clock())
    db.session.commit()
    body = client.get("/health/ready")
    assert body.status_code == 200, body.get_json()
    assert body.get_json()["checks"]["monitor"]["status"] == "pass"
