"""Slack #incidents (issue 14, point 2): the playbook's blocks word for word, posted to a
real HTTP receiver on loopback by the notifier's tick, once, in order, through a 503 and a
timeout; the delivery on the staff incident page; the Resolved form's staff-only fields."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from statuspage import incidents
from statuspage.extensions import db
from statuspage.models import Incident, SlackMessage
from statuspage.outbox import queue
from tests.smtp import MAIL_CONFIG, make_subscriber, smtp, tick  # noqa: F401  (fixtures)
from tests.webhook_receiver import receiver  # noqa: F401  (fixture)

from .conftest import soup
from .staff_support import field_error, post_update, snapshot

PLAYBOOK = Path(__file__).parent / "data" / "incident-response-playbook.md"
TIMEOUT = 0.5  # the receiver's stall outlasts it


@pytest.fixture
def app(make_app, smtp, receiver):  # noqa: F811
    app = make_app(MAIL_PORT=smtp.port, **MAIL_CONFIG, SITE_TIMEZONE="Europe/Berlin",
                   SLACK_WEBHOOK_URL=receiver.url(path="/services/T0/B0/x"),
                   WEBHOOK_ALLOW_LOOPBACK_HTTP=True,  # Slack: public addresses only
                   WEBHOOK_TIMEOUT_SECONDS=TIMEOUT)
    with app.app_context():
        yield app


def template(first_line: str) -> str:
    """The playbook's code block that starts with ``first_line``, as written there."""
    lines = PLAYBOOK.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == first_line)
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = []
    for line in lines[start:]:
        if line.strip() == "```":
            break
        block.append(line[indent:])
    return "\n".join(block).rstrip()


def fill(first_line: str, text: str) -> list[str]:
    """``text`` must be the template word for word, each ``[...]`` filled in; the fills."""
    pattern = re.escape(template(first_line))
    pattern = re.sub(r"\\\[[^\]]*\\\]", "(.+)", pattern)
    found = re.fullmatch(pattern, text)
    assert found, f"not the playbook's block:\n{text}\n---\n{template(first_line)}"
    return list(found.groups())


def texts(receiver) -> list[str]:  # noqa: F811
    with receiver.lock:
        return [json.loads(r.body)["text"] for r in receiver.requests]


def messages() -> list[SlackMessage]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(SlackMessage).order_by(SlackMessage.id)))


def update(status="identified", impact="Sign-in fails for some.", actions="Restarting.",
           **fields):
    return incidents.UpdateText(status=status, impact=impact, actions=actions, **fields)


def resolve(incident, actor, clock, **fields):
    incidents.post_update(incident, update(
        "resolved", "Everyone can sign in again.", "Rolled back the release.", **fields),
        actor=actor, now=clock())
    db.session.commit()


# --- The blocks, word for word ------------------------------------------------------------


def test_a_sev1_is_declared_updated_and_resolved_in_the_playbooks_words(
        app, clock, receiver, responder, components, make_incident):  # noqa: F811
    incident = make_incident(responder, components[:1], severity="SEV-1",
                             title="App down for everyone", impact="Nobody can sign in.")
    clock.advance(minutes=10)
    incidents.post_update(incident, update(), actor=responder, now=clock())
    db.session.commit()
    clock.advance(hours=2, minutes=5)
    resolve(incident, responder, clock, root_cause="An expired TLS certificate.",
            resolution="Renewed the certificate.", review_on=date(2026, 11, 30))
    tick()
    declared, updated, resolved = texts(receiver)

    assert fill(":rotating_light: SEV-1 INCIDENT DECLARED", declared) == [
        "App down for everyone", "2026-11-26 13:00 CET", "Nobody can sign in.",
        "responder@example.test"]
    fills = fill("METABOLIC-TRACKER STATUS UPDATE", updated)
    assert fills[:3] == ["2026-11-26 13:10 CET", "Identified", "App down for everyone"]
    assert fill(":white_check_mark: INCIDENT RESOLVED", resolved) == [
        "2 hours 15 minutes", "An expired TLS certificate.", "Renewed the certificate.",
        "2026-11-30"]
    # Plain text, not a code block: Slack renders the emoji codes.
    assert not any("```" in text for text in texts(receiver))
    assert [m.status for m in messages()] == ["sent"] * 3


def test_a_sev2_and_a_sev3_are_declared_in_their_own_blocks(
        app, clock, receiver, responder, components, make_incident):  # noqa: F811
    make_incident(responder, components[:1], severity="SEV-2", title="Slow sync",
                  impact="Entries take minutes to appear.")
    make_incident(responder, components[1:2], severity="SEV-3", title="Charts blank",
                  impact="Charts do not draw.")
    tick()
    sev2, sev3 = texts(receiver)
    assert fill(":warning: SEV-2 INCIDENT", sev2) == [
        "Slow sync", "Entries take minutes to appear.", "responder@example.test"]
    assert fill("METABOLIC-TRACKER STATUS UPDATE", sev3)[1:4] == [
        "Investigating", "Charts blank", "Charts do not draw."]


def test_nothing_is_queued_without_a_webhook_url(
        app, clock, receiver, responder, components, make_incident):  # noqa: F811
    app.config["SLACK_WEBHOOK_URL"] = ""
    make_incident(responder, components[:1], severity="SEV-1")
    tick()
    assert messages() == [] and receiver.requests == []


# --- Delivery -----------------------------------------------------------------------------


def test_a_503_and_a_timeout_are_retried_with_backoff_and_each_message_arrives_once(
        app, clock, receiver, responder, components, make_incident):  # noqa: F811
    incident = make_incident(responder, components[:1], severity="SEV-1")
    incidents.post_update(incident, update(), actor=responder, now=clock())
    db.session.commit()
    receiver.answer(503)
    tick()
    # The first was answered 503: it waits for its retry, and the second waits for it.
    assert [(m.status, m.attempts) for m in messages()] == [("pending", 1), ("pending", 0)]
    assert len(receiver.requests) == 1
    tick()  # not due yet: nothing is sent again at once
    assert len(receiver.requests) == 1

    receiver.stall()
    clock.advance(minutes=5)
    tick()
    receiver.unstall()
    first = messages()[0]
    assert (first.status, first.attempts, first.last_error) == ("pending", 2, "timed out")
    clock.advance(minutes=10)
    tick()
    assert [m.status for m in messages()] == ["sent", "sent"]
    received = texts(receiver)
    # Tried three times (503, timeout, 200), then the update once: in order.
    assert received[0] == received[1] == received[2]
    assert received[3].startswith("METABOLIC-TRACKER STATUS UPDATE")
    assert len(received) == 4


def test_a_4xx_is_not_retried_and_the_next_message_goes(
        app, clock, receiver, responder, components, make_incident):  # noqa: F811
    incident = make_incident(responder, components[:1], severity="SEV-2")
    incidents.post_update(incident, update(), actor=responder, now=clock())
    db.session.commit()
    receiver.answer(404)
    tick()
    clock.advance(hours=1)
    tick()
    assert [(m.status, m.attempts) for m in messages()] == [("failed", 1), ("sent", 1)]
    assert len(receiver.requests) == 2


def test_a_hold_on_the_emails_does_not_hold_slack(
        app, clock, receiver, admin, components, make_incident):  # noqa: F811
    incident = make_incident(admin, components[:1], severity="SEV-1")
    queue.hold_emails(incident, actor=admin, now=clock())
    db.session.commit()
    tick()
    assert [m.status for m in messages()] == ["sent"]


def test_slack_text_is_escaped_so_nothing_becomes_a_link_or_a_mention(
        app, clock, receiver, responder, components, make_incident):  # noqa: F811
    make_incident(responder, components[:1], severity="SEV-2",
                  title="Sync <!channel> & <https://evil.example|login>")
    tick()
    [text] = texts(receiver)
    assert "Description: Sync &lt;!channel&gt; &amp; &lt;https://evil.example|login&gt;" \
        in text


def test_the_staff_incident_page_shows_each_message_and_its_delivery(
        app, clock, receiver, responder, responder_client, components,  # noqa: F811
        make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-1")
    incidents.post_update(incident, update(), actor=responder, now=clock())
    db.session.commit()
    receiver.answer(503)
    tick()
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    rows = [[td.get_text(" ", strip=True) for td in tr.select("th, td")]  # a row's header
            for tr in page.select("section.slack-messages tbody tr")]
    assert [r[0] for r in rows] == ["Declaration", "Status update"]
    assert rows[0][1] == "retrying (1 try: HTTP 503)"
    assert rows[1][1] == "waiting"
    clock.advance(minutes=10)
    tick()
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    states = [tr.select("th, td")[1].get_text(" ", strip=True)
              for tr in page.select("section.slack-messages tbody tr")]
    assert states == ["sent (2 tries)", "sent"]


# --- The Resolved form's staff-only fields -----------------------------------------------


def test_the_resolved_form_stores_the_fields_and_slack_tells_them(
        app, clock, receiver, responder, responder_client, components,  # noqa: F811
        make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-2")
    clock.advance(minutes=47)
    response = post_update(responder_client, incident.id, status="resolved",
                           root_cause="A full disk on the database server.",
                           resolution="Freed space and added an alert.",
                           review_on="2026-12-01")
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(Incident, incident.id)
    assert (stored.root_cause, stored.resolution, stored.review_on) == (
        "A full disk on the database server.", "Freed space and added an alert.",
        date(2026, 12, 1))
    tick()
    assert fill(":white_check_mark: INCIDENT RESOLVED", texts(receiver)[-1]) == [
        "0 hours 47 minutes", "A full disk on the database server.",
        "Freed space and added an alert.", "2026-12-01"]


@pytest.mark.parametrize("fields, name, message", [
    ({"review_on": "next tuesday"}, "review_on", "Enter a date such as 2026-12-01."),
    ({"review_on": "2026-02-30"}, "review_on", "Enter a date such as 2026-12-01."),
    ({"review_on": "2031-01-01"}, "review_on",
     "The review date must be within a year of today."),
    ({"root_cause": "x" * 5001}, "root_cause", "At most 5000 characters."),
    ({"resolution": "x" * 5001}, "resolution", "At most 5000 characters."),
    ({"status": "monitoring", "root_cause": "Disk full."}, "root_cause",
     "Root cause, resolution and review date go with Resolved."),
])
def test_bad_input_on_the_new_fields_is_refused_and_changes_nothing(
        app, clock, responder, responder_client, components, make_incident,
        fields, name, message):
    incident = make_incident(responder, components[:1], severity="SEV-2")
    before = snapshot()
    queued = len(messages())
    response = post_update(responder_client, incident.id,
                           **{"status": "resolved", **fields})
    assert response.status_code == 422
    assert field_error(response, name) == message
    assert snapshot() == before and len(messages()) == queued
    assert db.session.get(Incident, incident.id).root_cause is None


def test_a_megabyte_root_cause_is_refused_and_changes_nothing(
        app, clock, responder, responder_client, components, make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-2")
    before = snapshot()
    queued = len(messages())
    response = post_update(responder_client, incident.id, status="resolved",
                           root_cause="x" * (1024 * 1024))
    assert response.status_code in (413, 422)
    assert "Internal Server Error" not in response.get_data(as_text=True)
    assert snapshot() == before and len(messages()) == queued


def test_the_review_date_is_a_date_input_with_its_label(
        app, responder, responder_client, components, make_incident):
    incident = make_incident(responder, components[:1], severity="SEV-2")
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    field = page.select_one("section.update-form input#review_on")
    assert field["type"] == "date"
    assert page.select_one("label[for=review_on]").get_text(strip=True).startswith(
        "Post-incident review on")
    assert page.select_one("textarea#root_cause") is not None


# --- The internal fields never reach a public surface -------------------------------------

SECRET_CAUSE = "ROOTCAUSE-internal-7f3a"
SECRET_FIX = "RESOLUTION-internal-9b2c"


def test_the_internal_fields_never_reach_a_public_surface(
        app, clock, receiver, smtp, responder, components, make_incident,  # noqa: F811
        make_subscriber, runner, tmp_path, admin):
    from statuspage.models import Webhook
    from statuspage.outbox import webhooks

    app.config["WEBHOOK_ALLOW_LOOPBACK_HTTP"] = True
    webhooks.create_webhook(receiver.url(path="/public-hook"), "all", [], actor=admin,
                            now=clock())
    make_subscriber("pat@example.test")
    db.session.commit()
    incident = make_incident(responder, components[:1], severity="SEV-1")
    clock.advance(hours=2)
    tick()  # the outage email
    resolve(incident, responder, clock, root_cause=SECRET_CAUSE, resolution=SECRET_FIX,
            review_on=date(2026, 11, 30))
    clock.advance(minutes=1)
    tick()
    assert db.session.scalar(db.select(db.func.count()).select_from(Webhook)) == 1

    client = app.test_client()
    paths = ["/", f"/incidents/{incident.id}", "/history", "/feed.rss", "/feed.atom",
             "/badge.svg", "/embed", "/api/v2/status.json", "/api/v2/summary.json",
             "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json",
             f"/components/{components[0].id}/feed.rss"]
    seen = []
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        seen.append((path, response.get_data(as_text=True)))
    root = tmp_path / "export"
    assert runner.invoke(args=["publish", str(root)]).exit_code == 0
    seen += [(str(p), p.read_bytes().decode("utf-8", "replace"))
             for p in root.rglob("*") if p.is_file() and p.suffix != ".gz"]
    assert smtp.messages, "the subscriber was emailed"
    seen += [("email", m.message.as_string()) for m in smtp.messages]
    public_hooks = [r for r in receiver.requests if r.path == "/public-hook"]
    assert public_hooks, "the webhook was told"
    seen += [("webhook", r.body.decode()) for r in public_hooks]
    for where, text in seen:
        assert SECRET_CAUSE not in text and SECRET_FIX not in text, where
    # ...while Slack, for the responders, has them.
    slack = [json.loads(r.body)["text"] for r in receiver.requests
             if r.path != "/public-hook"]
    assert any(SECRET_CAUSE in t and SECRET_FIX in t for t in slack)


def test_a_redacted_update_leaves_the_messages_not_yet_sent(
        app, clock, receiver, admin, components, make_incident):  # noqa: F811
    incident = make_incident(admin, components[:1], severity="SEV-2",
                             impact="Pat's glucose readings are wrong.")
    incidents.redact_update(incident.updates[0], actor=admin, now=clock())
    db.session.commit()
    tick()
    [text] = texts(receiver)
    assert "glucose" not in text
    assert fill(":warning: SEV-2 INCIDENT", text)[1] == "[redacted]"
