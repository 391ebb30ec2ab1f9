"""The resolution email tells the truth (issue 11): it claims that all features work only
when nothing else is wrong; otherwise it names the features this incident affected and
points to the page. Real SMTP on loopback."""

from __future__ import annotations

from bs4 import BeautifulSoup

from statuspage import incidents
from statuspage.extensions import db
from tests.smtp import app, make_subscriber, smtp, tick  # noqa: F401  (fixtures)
from tests.test_mail import RESOLUTION_PARTICIPANT, RESTORED

FIRST = "The technical issue we reported earlier has been resolved."
ALL_WORK = "All features of the Metabolic-Tracker app are now working normally."
SOME_WORK = ("The features affected by this issue (Login, Saving entries) are working "
             "normally again. Other parts of the app still have issues: see "
             "https://status.example.test/.")


def resolve(incident, actor, clock, **fields):
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="None.", actions="Fixed.", **fields),
        actor=actor, now=clock())
    db.session.commit()


def resolution(smtp_server, address):
    [msg] = [m for m in smtp_server.to(address) if m.subject == RESTORED]
    text = " ".join(msg.text().split())
    html = " ".join(BeautifulSoup(msg.html(), "html.parser").get_text().split())
    return msg.text(), text, html


def outage_then_resolve(clock, responder, components, make_incident, make_subscriber,
                        before_resolving=None):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:2], severity="SEV-1")
    if before_resolving:
        before_resolving()
    clock.advance(minutes=31)
    tick()
    resolve(incident, responder, clock)
    tick()


def test_all_clear_keeps_the_playbooks_words_when_nothing_else_is_wrong(
        smtp, clock, responder, components, make_incident, make_subscriber):
    outage_then_resolve(clock, responder, components, make_incident, make_subscriber)
    raw, text, html = resolution(smtp, "pat@example.test")
    assert raw.startswith(RESOLUTION_PARTICIPANT)
    assert ALL_WORK in html


def test_with_other_incidents_open_it_names_what_works_and_links_the_page(
        smtp, clock, responder, components, make_incident, make_subscriber):
    def others():
        make_incident(responder, components[4:5], title="Reports slow", severity="SEV-3")
        make_incident(responder, components[3:4], title="Photo typo", severity="SEV-4")

    outage_then_resolve(clock, responder, components, make_incident, make_subscriber,
                        others)
    raw, text, html = resolution(smtp, "pat@example.test")
    for body in (text, html):
        assert ALL_WORK not in body
        assert FIRST + " " + SOME_WORK in body
    # Everything else word for word.
    rest = RESOLUTION_PARTICIPANT.split("working normally.\n", 1)[1]
    assert " ".join(rest.split()) in text
    assert "SEV-" not in raw


def test_a_component_still_not_operational_is_enough_to_not_claim_all(
        smtp, clock, admin, responder, components, make_incident, make_subscriber):
    def degraded():
        incidents.set_component_status(components[4], "degraded_performance", actor=admin,
                                       now=clock())
        db.session.commit()

    outage_then_resolve(clock, responder, components, make_incident, make_subscriber,
                        degraded)
    _, text, html = resolution(smtp, "pat@example.test")
    assert ALL_WORK not in text and SOME_WORK in text and SOME_WORK in html
