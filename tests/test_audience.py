"""Who gets what (issue 13, 3 and 4): scoped subscribers get the outage and resolution
emails of their components only, "everything" gets all, a SEV-1 reaches everyone, the
resolution goes to whoever the outage email reached; times in each subscriber's zone;
what staff see before the email goes; a deleted component's only choosers fall back to
everything. A real SMTP server, the app's clock."""

from __future__ import annotations

import re

import pytest

from statuspage import components as component_ops
from statuspage import incidents, subscriptions, tokens
from statuspage.extensions import db
from statuspage.models import Component, Subscriber
from statuspage.outbox import audience, compose
from tests.conftest import form_fields, soup
from tests.smtp import app, make_subscriber, smtp, tick  # noqa: F401  (fixtures)

OUTAGE = "Metabolic-Tracker Temporary Service Disruption"
RESTORED = "Metabolic-Tracker Service Restored"


def by_name(components, name: str) -> Component:
    return next(c for c in components if c.name == name)


@pytest.fixture
def choose(app):
    """Set a subscriber's choices directly (as the preferences page stores them)."""

    def set_choices(sub, *components, timezone=None, maintenance=True):
        sub.scope = "some" if components else "all"
        sub.components = list(components)
        sub.timezone = timezone
        sub.maintenance_notices = maintenance
        db.session.commit()
        return sub

    return set_choices


@pytest.fixture
def people(components, make_subscriber, choose):
    """A participant of Login only, one of Food photo analysis only, one of everything."""
    login, photos = by_name(components, "Login"), by_name(components, "Food photo analysis")
    return {
        "login": choose(make_subscriber("login@example.test"), login),
        "photos": choose(make_subscriber("photos@example.test"), photos),
        "all": make_subscriber("all@example.test", audience="coach"),
    }


def resolve(incident, actor, clock):
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="None.", actions="Fixed."), actor=actor, now=clock())
    db.session.commit()


def got(smtp, subject: str) -> list[str]:
    return smtp.recipients(subject)


def test_login_subscriber_gets_logins_emails_and_not_food_photo_analysis(
        smtp, clock, responder, components, make_incident, people):
    login = make_incident(responder, [by_name(components, "Login")], severity="SEV-2")
    photos = make_incident(responder, [by_name(components, "Food photo analysis")],
                           title="Photos not analysed", severity="SEV-2")
    clock.advance(minutes=31)
    tick()
    assert sorted(r for m in smtp.messages for r in m.rcpt_tos if m.subject == OUTAGE) == [
        "all@example.test", "all@example.test", "login@example.test", "photos@example.test"]
    login_mail = smtp.to("login@example.test")
    assert len(login_mail) == 1 and f"/incidents/{login.id}" in login_mail[0].text()
    photo_mail = smtp.to("photos@example.test")
    assert len(photo_mail) == 1 and f"/incidents/{photos.id}" in photo_mail[0].text()
    smtp.clear()
    clock.advance(minutes=5)
    resolve(login, responder, clock)
    tick()
    assert got(smtp, RESTORED) == ["all@example.test", "login@example.test"]


def test_a_sev1_reaches_every_subscriber_whatever_they_chose(
        smtp, clock, responder, components, make_incident, people):
    make_incident(responder, [by_name(components, "Login")], severity="SEV-1")
    clock.advance(minutes=31)
    tick()
    assert got(smtp, OUTAGE) == ["all@example.test", "login@example.test",
                                 "photos@example.test"]


def test_a_change_of_choices_after_the_outage_email_keeps_the_all_clear(
        app, smtp, clock, responder, components, make_incident, people):
    incident = make_incident(responder, [by_name(components, "Login")], severity="SEV-2")
    clock.advance(minutes=31)
    tick()
    assert "login@example.test" in got(smtp, OUTAGE)
    # Login's subscriber switches to Food photo analysis on the preferences page.
    token = tokens.preferences_token(people["login"].public_id)
    client = app.test_client()
    page = client.get(f"/subscription/{token}")
    data = form_fields(page, "form.preferences-form")
    data.update(scope="some", components=[str(by_name(components, "Food photo analysis").id)])
    assert client.post(f"/subscription/{token}", data=data).status_code == 303
    db.session.expire_all()
    assert [c.name for c in people["login"].components] == ["Food photo analysis"]
    smtp.clear()
    resolve(incident, responder, clock)
    tick()
    assert got(smtp, RESTORED) == ["all@example.test", "login@example.test"]


def test_maintenance_notices_follow_components_and_the_off_switch(
        app, components, make_subscriber, choose):
    login, photos = by_name(components, "Login"), by_name(components, "Food photo analysis")
    choose(make_subscriber("login@example.test"), login)
    choose(make_subscriber("quiet@example.test"), login, maintenance=False)
    choose(make_subscriber("photos@example.test"), photos)
    make_subscriber("all@example.test")
    ids = set(db.session.scalars(audience.maintenance_recipients([login.id])))
    emails = sorted(db.session.get(Subscriber, i).email for i in ids)
    assert emails == ["all@example.test", "login@example.test"]


def test_times_in_each_subscribers_zone_rendered_once_per_zone(
        app, smtp, clock, responder, components, make_incident, make_subscriber, choose,
        monkeypatch):
    app.config["SITE_TIMEZONE"] = "Europe/London"
    choose(make_subscriber("berlin1@example.test"), timezone="Europe/Berlin")
    choose(make_subscriber("berlin2@example.test"), timezone="Europe/Berlin")
    choose(make_subscriber("ny@example.test"), timezone="America/New_York")
    make_subscriber("site@example.test")  # no zone of their own: SITE_TIMEZONE
    renders = []
    real = compose.render_email
    monkeypatch.setattr(compose, "render_email",
                        lambda *a, **k: renders.append(a[1]) or real(*a, **k))
    incident = make_incident(responder, components[:1], severity="SEV-1")  # 12:00 UTC
    clock.advance(minutes=31)
    tick()
    assert renders == ["outage"] * 3  # one per zone, not one per subscriber
    started = {"berlin1": "Started: 26 November 2026, 13:00 CET",
               "berlin2": "Started: 26 November 2026, 13:00 CET",
               "ny": "Started: 26 November 2026, 07:00 EST",
               "site": "Started: 26 November 2026, 12:00 GMT"}
    for who, line in started.items():
        [msg] = smtp.to(f"{who}@example.test")
        assert line in msg.text() and line in msg.html()
    smtp.clear()
    clock.advance(minutes=15)  # resolved at 12:46 UTC
    resolve(incident, responder, clock)
    tick()
    [ny] = smtp.to("ny@example.test")
    assert "Resolved: 26 November 2026, 07:46 EST" in ny.text()
    [berlin] = smtp.to("berlin1@example.test")
    assert "Resolved: 26 November 2026, 13:46 CET" in berlin.text()
    assert "(Europe/Berlin)" in berlin.text()


def test_time_helpers_name_the_zone_and_both_dates_across_midnight():
    from datetime import datetime, timezone

    tz = compose.zone("Europe/Berlin")
    a = datetime(2026, 11, 26, 13, 5, tzinfo=timezone.utc)
    b = datetime(2026, 11, 26, 13, 50, tzinfo=timezone.utc)
    assert compose.time_in_zone(a, tz) == "14:05 CET"
    assert compose.window_in_zone(a, b, tz) == "14:05 and 14:50 CET"
    late = datetime(2026, 11, 26, 22, 30, tzinfo=timezone.utc)
    assert compose.window_in_zone(late, b.replace(day=27), tz) == (
        "26 November 2026, 23:30 and 27 November 2026, 14:50 CET")
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
    assert compose.time_in_zone(summer, tz) == "14:00 CEST"
    assert compose.time_in_zone(a, compose.zone("America/Sao_Paulo")) == "10:05 UTC-03"
    # A zone no longer known falls back to the site's.
    assert compose.zone("Mars/Olympus", "Europe/London").key == "Europe/London"


def test_staff_see_how_many_the_outage_email_will_reach_and_why(
        app, clock, responder, responder_client, components, make_incident, people,
        make_subscriber):
    make_subscriber("pending@example.test", status="pending")  # not counted
    incident = make_incident(responder, components[:2], severity="SEV-2")
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    reach = page.select_one(".emails-reach").get_text()
    assert re.sub(r"\s+", " ", reach) == (
        "The outage email will reach 2 of 3 subscribers: everything, or Login, "
        "Saving entries (what they subscribed to).")
    sev1 = make_incident(responder, components[1:2], severity="SEV-1")
    page = soup(responder_client.get(f"/staff/incidents/{sev1.id}"))
    assert "3 of 3 subscribers: everyone (SEV-1)." in re.sub(
        r"\s+", " ", page.select_one(".emails-reach").get_text())


def test_deleting_a_component_falls_its_only_choosers_back_to_everything(
        app, clock, admin, components, make_subscriber, choose):
    login, photos = by_name(components, "Login"), by_name(components, "Food photo analysis")
    only = choose(make_subscriber("only@example.test"), photos)
    both = choose(make_subscriber("both@example.test"), photos, login)
    component_ops.delete_component(photos, actor=admin, now=clock())
    db.session.commit()
    db.session.expire_all()
    assert (only.scope, only.components, only.scope_fallback_at) == ("all", [], clock())
    assert (both.scope, [c.name for c in both.components], both.scope_fallback_at) == (
        "some", ["Login"], None)
    # Their preferences page tells them, until they save.
    client = app.test_client()
    url = f"/subscription/{tokens.preferences_token(only.public_id)}"
    page = client.get(url)
    assert "was removed from this page" in page.get_data(as_text=True)
    assert client.post(url, data=form_fields(page, "form.preferences-form")).status_code == 303
    assert "was removed" not in client.get(url).get_data(as_text=True)
    db.session.expire_all()
    assert only.scope_fallback_at is None and only.scope == "all"


def test_a_new_component_reaches_those_of_everything_only(
        app, clock, admin, components, make_subscriber, choose):
    choose(make_subscriber("login@example.test"), by_name(components, "Login"))
    make_subscriber("all@example.test")
    new = component_ops.create_component(component_ops.ComponentFields(name="Messages"),
                                         actor=admin, now=clock())
    db.session.commit()
    ids = db.session.scalars(audience.outage_recipients([new.id], "SEV-2"))
    assert [db.session.get(Subscriber, i).email for i in ids] == ["all@example.test"]


def test_export_and_delete_carry_the_choices(app, clock, admin, components,
                                            make_subscriber, choose):
    sub = choose(make_subscriber("pat@example.test"), by_name(components, "Login"),
                 timezone="Europe/Berlin", maintenance=False)
    data = subscriptions.export_subscriber(sub, actor=admin, now=clock())["subscriber"]
    assert (data["scope"], data["components"], data["timezone"],
            data["maintenance_notices"]) == ("some", ["Login"], "Europe/Berlin", False)
    subscriptions.delete_subscriber(sub, actor=admin, now=clock())
    db.session.commit()
    from statuspage.models import subscriber_components

    assert db.session.scalar(db.select(db.func.count()).select_from(
        subscriber_components)) == 0
