"""When a page goes (issue 24, points 3 and 6): a monitor's proposal of a SEV-1/2 pages the
primary (a real monitor check of a real HTTP server on loopback), publishing it hands its
chain to the incident (no one paged twice for one outage, the timing and an
acknowledgement carried over), dismissing it or the monitor's recovery stops it, an
auto-published incident pages once; and what the staff see: the incident page's panel and
the record's timeline list every page (who, which step, which ways and what each answered,
who acknowledged), the dashboard the incidents being paged, never a phone number or a
URL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statuspage import audit, incidents
from statuspage.extensions import db
from statuspage.models import MonitorProposal, PageChain, StaffUser
from statuspage.monitors import outages, runner, settings
from tests.conftest import login, soup
from tests.paging_support import (PRIMARY, SECONDARY, ack_link, app,  # noqa: F401
                                  declare, page_mails, pages, people, smtp)
from tests.smtp import tick
from tests.tracked_app import tracked  # noqa: F401  (fixture)


def add_monitor(component, url, clock, **values):
    raw = {"name": "Login", "url": url, **settings.DEFAULTS, "failures": 2, **values}
    monitor = settings.create(settings.clean(raw, component_id=component.id),
                              actor=audit.SystemActor("test"), now=clock())
    db.session.commit()
    return monitor


def down(clock, tracked, n=2):  # noqa: F811
    tracked.set("503")
    for _ in range(n):
        runner.run_round()
        clock.advance(seconds=30)


def chains():
    db.session.rollback()
    return [(c.subject, c.subject_id, c.acknowledged_by, c.closed_at is not None)
            for c in db.session.scalars(db.select(PageChain).order_by(PageChain.id))]


@pytest.fixture
def proposed(app, clock, smtp, people, tracked, components):  # noqa: F811
    """A monitor's SEV-2 proposal at night, its page queued and sent."""
    add_monitor(components[0], tracked.url(), clock)
    down(clock, tracked)
    tick()
    return db.session.scalar(db.select(MonitorProposal))


def test_a_monitors_proposal_pages_the_primary_at_once(proposed, smtp):  # noqa: F811
    assert pages() == [(0, PRIMARY, "Primary on-call")]
    [page] = page_mails(smtp)
    assert page.subject == "Metabolic-Tracker SEV-2 proposed: Login is down"
    assert "proposed by a monitor" in page.text()
    assert any("monitor:" in m.subject for m in smtp.messages)  # its on-call notice stays


def test_publishing_the_proposal_hands_its_chain_to_the_incident(
        app, clock, smtp, proposed, responder, components):  # noqa: F811
    started = db.session.scalar(db.select(PageChain.started_at))
    outages.publish(proposed, actor=responder, now=clock(), title="Login is down",
                    severity="SEV-1", component_ids=[components[0].id],
                    update=incidents.UpdateText(status="investigating", impact="x",
                                                actions="y"))
    db.session.commit()
    tick()
    [(subject, subject_id, _, closed)] = chains()
    assert (subject, closed) == ("incident", False)
    assert pages() == [(0, PRIMARY, "Primary on-call")]  # not paged twice
    assert len(page_mails(smtp, PRIMARY)) == 1
    # The period counts from the proposal's first page, not from the publishing.
    clock.set(started + timedelta(minutes=1.5))
    tick()
    assert pages()[1:] == [(1, SECONDARY, "Secondary on-call")]
    assert page_mails(smtp, SECONDARY)[0].subject.endswith(": Login is down")
    assert "Incident Commander: responder@example.test" in page_mails(smtp, SECONDARY)[0].text()


def test_a_proposals_page_link_still_acknowledges_once_it_became_an_incident(
        app, clock, smtp, proposed, responder, components):  # noqa: F811
    link = ack_link(page_mails(smtp, PRIMARY)[0])
    incident = outages.publish(proposed, actor=responder, now=clock(), title="Login is down",
                               severity="SEV-1", component_ids=[components[0].id],
                               update=incidents.UpdateText(status="investigating",
                                                           impact="x", actions="y"))
    db.session.commit()
    client = app.test_client()
    page = client.get(link)
    assert "Login is down" in soup(page).select_one(".ack-subject").get_text()
    done = client.post(link, data={"csrf_token": soup(page).select_one(
        "input[name=csrf_token]")["value"]})
    assert done.status_code == 200
    assert chains() == [("incident", incident.id, "Olga Oncall", False)]


def test_an_acknowledged_proposal_stays_acknowledged_as_an_incident(
        app, clock, smtp, proposed, responder, components):  # noqa: F811
    client = app.test_client()
    link = ack_link(page_mails(smtp, PRIMARY)[0])
    page = client.get(link)
    client.post(link, data={"csrf_token": soup(page).select_one(
        "input[name=csrf_token]")["value"]})
    outages.publish(db.session.get(MonitorProposal, proposed.id), actor=responder,
                    now=clock(), title="Login is down", severity="SEV-2",
                    component_ids=[components[0].id],
                    update=incidents.UpdateText(status="investigating", impact="x",
                                                actions="y"))
    db.session.commit()
    clock.advance(minutes=10)
    tick()
    assert chains() == [("incident", chains()[0][1], "Olga Oncall", False)]
    assert [to for _, to, _ in pages()] == [PRIMARY]


def test_dismissing_the_proposal_closes_its_chain(
        app, clock, smtp, proposed, responder):  # noqa: F811
    outages.dismiss(proposed, actor=responder, now=clock())
    db.session.commit()
    clock.advance(minutes=10)
    tick()
    assert [to for _, to, _ in pages()] == [PRIMARY]
    assert chains()[0][3]  # closed


def test_the_monitors_recovery_stops_the_chain(
        app, clock, smtp, proposed, tracked):  # noqa: F811
    tracked.set("ok")
    for _ in range(3):
        runner.run_round()
        clock.advance(seconds=20)
    clock.advance(minutes=10)
    tick()
    assert [to for _, to, _ in pages()] == [PRIMARY]


def test_an_auto_published_incident_pages_once(
        app, clock, smtp, people, tracked, components):  # noqa: F811
    add_monitor(components[0], tracked.url(), clock, auto_publish=True)
    down(clock, tracked)
    tick()
    tick()
    assert [(c[0]) for c in chains()] == ["incident"]
    assert pages() == [(0, PRIMARY, "Primary on-call")]
    assert len(page_mails(smtp)) == 1


# --- What the staff see -----------------------------------------------------------------------


def test_the_incident_page_the_record_and_the_dashboard_show_every_page(
        app, clock, smtp, people, responder, components):  # noqa: F811
    secondary = db.session.scalar(db.select(StaffUser).where(StaffUser.email == SECONDARY))
    secondary.phone = "+4915112345678"
    secondary.page_urls = "ntfys://ntfy.example.test/secret-topic-abc"
    db.session.commit()
    incident = declare(responder, components, clock)
    tick()
    clock.advance(minutes=1.5)
    tick()
    client = app.test_client()
    login(client, responder.email)

    dashboard = soup(client.get("/staff/"))
    [row] = dashboard.select(".paging-now li.paged")
    text = row.get_text(" ", strip=True)
    assert "App down for everyone" in text and "Sid Second paged" in text

    page = client.get(f"/staff/incidents/{incident.id}")
    panel = soup(page).select_one("section.paging")
    assert "Being paged, not acknowledged" in panel.get_text(" ", strip=True)
    rows = [[c.get_text(" ", strip=True) for c in tr.select("th, td")]
            for tr in panel.select("tr.page-row")]
    assert [r[0] for r in rows] == ["First page", "Step 1 (secondary)"]
    assert rows[0][1] == "Olga Oncall (Primary on-call)"
    assert rows[1][1] == "Sid Second (Secondary on-call)"
    ways = [li.get_text() for li in panel.select("tr.page-row")[0].select(".page-ways li")]
    assert ways == ["email: sent"]  # Olga has no other way in her profile
    body = page.get_data(as_text=True)
    assert "+4915112345678" not in body and "secret-topic" not in body
    assert "olga@example.test" not in panel.get_text()

    # Acknowledged from the link: the panel and the record say who answered.
    link = ack_link(page_mails(smtp, SECONDARY)[0])
    public = app.test_client()
    ack_page = public.get(link)
    public.post(link, data={"csrf_token": soup(ack_page).select_one(
        "input[name=csrf_token]")["value"]})
    page = client.get(f"/staff/incidents/{incident.id}")
    state = soup(page).select_one("section.paging .paging-state").get_text(" ", strip=True)
    assert state.startswith("Acknowledged by Sid Second")
    assert soup(client.get("/staff/")).select(".paging-now") == []
    from statuspage import record

    lines = [text for _, text in record.timeline(db.session.get(type(incident), incident.id))]
    assert "Paged Olga Oncall (Primary on-call), first page: email: sent" in lines
    [second] = [line for line in lines if line.startswith(
        "Paged Sid Second (Secondary on-call), step 1 (secondary): ")]
    assert "email: sent" in second  # beside the ways of the profile, by their service
    assert "Page acknowledged by Sid Second: the paging stopped" in lines
    assert not any("+49" in line or "secret-topic" in line for line in lines)


def test_an_incident_that_never_paged_has_no_panel(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock, severity="SEV-3")
    client = app.test_client()
    login(client, responder.email)
    assert soup(client.get(f"/staff/incidents/{incident.id}")).select("section.paging") == []
