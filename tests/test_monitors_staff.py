"""Monitors in the staff area (issue 15): the admins' page and form (the address rule, the
bounds), mute, the dashboard's proposal published in one click (prefilled, started at the
first failed check, the outage email's warning), dismiss, the proposed Resolved update,
and no monitor URL or error text on any public surface."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage import audit
from statuspage.extensions import db
from statuspage.models import Incident, Monitor, MonitorProposal
from statuspage.monitors import runner, settings
from tests.conftest import form_fields, soup
from tests.tracked_app import tracked  # noqa: F401  (fixture)


def add_monitor(component, url, **values):
    raw = {"name": values.pop("name", "App ready"), "url": url, **settings.DEFAULTS,
           **values}
    m = settings.create(settings.clean(raw, component_id=component.id),
                        actor=audit.SystemActor("test"), now=runner.utcnow())
    db.session.commit()
    return m


def down(clock, tracked, n=3, mode="503"):  # noqa: F811
    tracked.set(mode)
    first = clock()
    runner.run_round()
    for _ in range(n - 1):
        clock.advance(seconds=30)
        runner.run_round()
    return first


def new_monitor_form(admin_client, **values):
    data = form_fields(admin_client.get("/staff/monitors/new"), "#monitor-form")
    data.update(values)
    return admin_client.post("/staff/monitors/new", data=data)


def test_an_admin_adds_a_monitor_and_sees_its_state(
        app, clock, admin_client, tracked, components):  # noqa: F811
    response = new_monitor_form(admin_client, name="App ready", url=tracked.url(),
                                component=str(components[0].id), failures="2")
    assert response.status_code == 302
    m = db.session.scalars(db.select(Monitor)).one()
    assert (m.failures, m.successes, m.interval_seconds, m.severity) == (2, 2, 30, "SEV-2")
    page = soup(admin_client.get("/staff/monitors"))
    row = page.select_one(f"#monitor-{m.id}")
    assert row.select_one(".monitor-state").get_text(strip=True) == "Unknown"
    tracked.set("fail")
    runner.run_round()
    clock.advance(seconds=30)
    runner.run_round()
    row = soup(admin_client.get("/staff/monitors")).select_one(f"#monitor-{m.id}")
    assert row.select_one(".monitor-state").get_text(" ", strip=True).startswith("Down since")
    assert row.select_one(".monitor-error").get_text(strip=True) == 'JSON status is "fail"'
    assert row.select_one(".monitor-latency").get_text(strip=True).endswith("ms")
    mute = row.select_one("form[action$='/mute']")
    admin_client.post(mute["action"], data=form_fields(admin_client.get("/staff/monitors"),
                                                       f"#monitor-{m.id} form[action$='/mute']"))
    row = soup(admin_client.get("/staff/monitors")).select_one(f"#monitor-{m.id}")
    assert row.select_one(".monitor-state").get_text(strip=True) == "Muted"


@pytest.mark.parametrize("field, value, message", [
    ("url", "http://169.254.169.254/latest/meta-data/", "Link-local addresses"),
    ("url", "http://[fe80::1]:8000/health", "Link-local addresses"),
    ("url", "ftp://127.0.0.1/health", "Only http:// and https:// URLs"),
    ("url", "not a url", "Only http:// and https:// URLs"),
    ("interval", "5", "from 10 to 86400"),
    ("timeout", "x", "from 1 to 60"),
    ("failures", "0", "from 1 to 20"),
    ("successes", "99999999999999999999", "from 1 to 20"),
    ("severity", "SEV-9", "Choose one of SEV-1"),
    ("component", "999999", "Choose a component"),
    ("name", "", "Give the monitor a name"),
])
def test_the_monitor_form_refuses_bad_values_and_stores_nothing(
        app, admin_client, components, field, value, message):
    values = {"name": "App ready", "url": "http://127.0.0.1:8000/health/ready",
              "component": str(components[0].id), field: value}
    response = new_monitor_form(admin_client, **values)
    assert response.status_code == 422
    page = soup(response)
    assert message in page.select_one(f"#{field}-error").get_text()
    assert db.session.scalars(db.select(Monitor)).all() == []


def test_a_proposal_is_published_in_one_click_from_the_dashboard(
        app, clock, admin_client, tracked, admin, components):  # noqa: F811
    add_monitor(components[0], tracked.url())
    first = down(clock, tracked)
    dashboard = soup(admin_client.get("/staff/"))
    [proposal] = dashboard.select(".monitor-proposals .proposal")
    assert "HTTP 503" in proposal.get_text()  # staff see the errors
    publish = proposal.select_one("a.button")["href"]
    form = admin_client.get(publish)
    page = soup(form)
    assert page.select_one(".outage-email-at-once") is None  # 60 s ago, not 30 min
    fields = form_fields(form, "form.incident-form")
    assert fields["issue"] == f"{components[0].name} is not responding"
    assert fields["severity"] == "SEV-2" and fields["status"] == "investigating"
    assert fields[f"component_status-{components[0].id}"] == "major_outage"
    other_tab = form_fields(admin_client.get(publish), "form.incident-form")
    response = admin_client.post(publish, data=fields)
    assert response.status_code == 302
    incident = db.session.scalars(db.select(Incident)).one()
    assert incident.started_at == first  # the check's own second, not the form's minute
    assert incident.commander_id == admin.id
    p = db.session.scalars(db.select(MonitorProposal)).one()
    assert (p.status, p.incident_id) == ("published", incident.id)
    assert soup(admin_client.get("/staff/")).select(".monitor-proposals .proposal") == []
    twice = admin_client.post(publish, data=other_tab)
    assert twice.status_code == 422  # a second form of the same proposal: refused
    assert "already published" in soup(twice).select_one(".proposal-notice").get_text()
    assert len(db.session.scalars(db.select(Incident)).all()) == 1

    tracked.set("ok")  # back up: the Resolved update is proposed
    for _ in range(2):
        clock.advance(seconds=30)
        runner.run_round()
    [resolve] = soup(admin_client.get("/staff/")).select(".resolve-proposal")
    link = resolve.select_one("a.button")["href"]
    assert link.startswith(f"/staff/incidents/{incident.id}?status=resolved")
    fields = form_fields(admin_client.get(link), ".update-form form")
    assert fields["status"] == "resolved"
    assert db.session.get(Incident, incident.id).status == "investigating"  # staff decide


def test_a_proposal_older_than_30_minutes_warns_that_the_email_goes_at_once(
        app, clock, admin_client, tracked, components):  # noqa: F811
    add_monitor(components[0], tracked.url())
    down(clock, tracked)
    clock.advance(minutes=31)
    p = db.session.scalars(db.select(MonitorProposal)).one()
    page = soup(admin_client.get(f"/staff/incidents/new?proposal={p.id}"))
    assert "The outage email will go at once" in page.select_one(
        ".outage-email-at-once").get_text()


def test_a_proposal_can_be_dismissed(app, clock, responder_client, tracked,
                                     components):  # noqa: F811
    add_monitor(components[0], tracked.url())
    down(clock, tracked)
    page = responder_client.get("/staff/")
    form = soup(page).select_one(".proposal form")
    response = responder_client.post(form["action"], data={
        "csrf_token": form.select_one("input[name=csrf_token]")["value"]})
    assert response.status_code == 302
    assert db.session.scalars(db.select(MonitorProposal)).one().status == "dismissed"
    assert soup(responder_client.get("/staff/")).select(".monitor-proposals") == []
    again = responder_client.post(form["action"], data={
        "csrf_token": form.select_one("input[name=csrf_token]")["value"]})
    assert again.status_code == 302  # refused with a message, nothing changes
    for _ in range(3):  # still down: this outage proposes nothing more
        clock.advance(seconds=30)
        runner.run_round()
    assert len(db.session.scalars(db.select(MonitorProposal)).all()) == 1
    tracked.set("ok")
    for _ in range(2):
        clock.advance(seconds=30)
        runner.run_round()
    clock.advance(seconds=30)
    down(clock, tracked)  # the next outage proposes again
    assert [p.status for p in db.session.scalars(
        db.select(MonitorProposal).order_by(MonitorProposal.id))] == ["dismissed", "open"]


def test_no_monitor_url_or_error_text_on_any_public_surface(
        app, clock, client, tracked, components):  # noqa: F811
    url = tracked.url("/health/ready?token=internal-probe-xyz")
    add_monitor(components[0], url, auto_publish=True)
    down(clock, tracked, mode="fail_named")
    incident = db.session.scalars(db.select(Incident)).one()
    clock.advance(minutes=1)
    paths = ["/", "/history", "/updates", f"/incidents/{incident.id}", "/feed.rss",
             "/feed.atom", f"/components/{components[0].id}/feed.atom", "/badge.svg",
             "/embed", "/api/v2/summary.json", "/api/v2/incidents.json",
             "/api/v2/incidents/unresolved.json", "/api/v2/components.json",
             "/api/v2/status.json"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        for secret in ("internal-probe-xyz", str(tracked.port), "fail-db-replica-7",
                       "health/ready"):
            assert secret not in body, (path, secret)
    assert f"{components[0].name} is not responding" in client.get("/").get_data(
        as_text=True)
    assert timedelta(0) <= clock() - incident.started_at
