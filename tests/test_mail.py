"""The emails themselves (the playbook's words, both parts, the headers) and what the
notifier does when the SMTP server misbehaves. A real SMTP server on loopback."""

from __future__ import annotations

import email
import re
from datetime import datetime, timezone
from email import policy

import pytest
from bs4 import BeautifulSoup

from statuspage import incidents, mail
from statuspage.outbox import compose
from statuspage.extensions import db
from statuspage.models import Delivery, Subscriber
from tests.smtp import app, make_subscriber, smtp, tick  # noqa: F401  (fixtures)

OUTAGE = "Metabolic-Tracker Temporary Service Disruption"
T_SEND = datetime(2026, 11, 26, 12, 31, tzinfo=timezone.utc)
RESTORED = "Metabolic-Tracker Service Restored"

# The playbook's "User Email - Outage Notification", filled in; the incident's start is
# said in the body, with the facts after the Workaround (issue 23, point 8).
OUTAGE_PARTICIPANT = """\
Dear Participant,

We are currently experiencing a technical issue that may affect your ability
to use the Metabolic-Tracker app. Our team is actively working to resolve
this as quickly as possible.

What's affected:
- Login
- Saving entries

Workaround:
Use the web app at app.example.test.

Started: 26 November 2026, 12:00 UTC

We will send another update when the issue is resolved. We apologize for
any inconvenience.

If you have urgent health concerns, please contact your healthcare provider
directly.

Thank you for your patience,
The Metabolic-Tracker Team
"""

OUTAGE_COACH = OUTAGE_PARTICIPANT.replace("Dear Participant,", "Dear Coach,").replace(
    "this as quickly as possible.\n",
    "this as quickly as possible.\n\nPlease let your participants know.\n",
)

# The playbook's "User Email - Resolution".
RESOLUTION_PARTICIPANT = """\
Dear Participant,

The technical issue we reported earlier has been resolved. All features
of the Metabolic-Tracker app are now working normally.

If you were unable to log entries during the outage, you can still add
them now with the correct date and time.

Thank you for your patience. If you notice any ongoing issues, please
contact your coach or email support@metabolic-tracker.app.

Best regards,
The Metabolic-Tracker Team
"""

RESOLUTION_COACH = RESOLUTION_PARTICIPANT.replace("Dear Participant,", "Dear Coach,").replace(
    "please\ncontact your coach or email support@", "please\nemail support@"
)


@pytest.fixture
def outage(clock, responder, components, make_incident):
    """A SEV-1 on Login and Saving entries, its outage email just due."""
    incident = make_incident(responder, components[:2], severity="SEV-1",
                             workaround="Use the web app at app.example.test.")
    clock.advance(minutes=30, seconds=1)
    return incident


def resolve(incident, actor, clock):
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="None.", actions="Fixed."), actor=actor, now=clock())
    db.session.commit()


def mail_parse(raw: bytes):
    return email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)


def deliveries(kind=None):
    from statuspage.models import Notification

    query = db.select(Delivery).join(Notification).order_by(Delivery.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query))


# --- The words ---------------------------------------------------------------------------


def test_outage_email_has_the_playbooks_words_for_a_participant(
        smtp, outage, make_subscriber):
    sub = make_subscriber("pat@example.test")
    tick()
    [msg] = smtp.to("pat@example.test")
    assert msg.subject == OUTAGE
    text = msg.text()
    assert text.startswith(OUTAGE_PARTICIPANT)
    # After the sign-off: the incident page and the unsubscribe link.
    tail = text[len(OUTAGE_PARTICIPANT):]
    assert f"https://status.example.test/incidents/{outage.id}" in tail
    assert re.search(r"https://status\.example\.test/unsubscribe/\S+", tail)
    assert "Please let your participants know" not in text
    assert sub.email not in tail.replace(msg.to, "")  # only as the recipient


def test_outage_email_for_a_coach_asks_them_to_tell_participants(
        smtp, outage, make_subscriber):
    make_subscriber("coach@example.test", audience="coach")
    tick()
    [msg] = smtp.to("coach@example.test")
    assert msg.text().startswith(OUTAGE_COACH)


def test_outage_email_without_workaround_says_so(smtp, clock, responder, components,
                                                 make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    make_incident(responder, components[1:2], severity="SEV-2", workaround="")
    clock.advance(minutes=31)
    tick()
    text = smtp.to("pat@example.test")[0].text()
    assert "What's affected:\n- Saving entries\n\nWorkaround:\nNo workaround is available " \
           "yet.\n" in text


def test_outage_email_gives_the_latest_updates_workaround_and_never_redacted_text(
        smtp, clock, admin, responder, components, make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    incident = make_incident(responder, components[:1], severity="SEV-1",
                             workaround="Old advice.")
    clock.advance(minutes=10)
    update = incidents.post_update(incident, incidents.UpdateText(
        status="identified", impact="Cannot sign in.", actions="Rolling back.",
        workaround="Patient 12 glucose 9.1: use paper"), actor=responder, now=clock())
    db.session.commit()
    incidents.redact_update(update, actor=admin, now=clock())
    db.session.commit()
    clock.advance(minutes=21)
    tick()
    text = smtp.to("pat@example.test")[0].text()
    assert "glucose" not in text and "[redacted]" not in text
    assert "Old advice." not in text  # the latest update's workaround, not an older one
    assert "Workaround:\nNo workaround is available yet.\n" in text


def test_resolution_email_has_the_playbooks_words_by_audience(
        smtp, clock, outage, responder, make_subscriber):
    make_subscriber("pat@example.test")
    make_subscriber("coach@example.test", audience="coach")
    tick()
    clock.advance(minutes=5)
    resolve(outage, responder, clock)
    tick()
    [pat] = [m for m in smtp.to("pat@example.test") if m.subject == RESTORED]
    [coach] = [m for m in smtp.to("coach@example.test") if m.subject == RESTORED]
    assert pat.text().startswith(RESOLUTION_PARTICIPANT)
    assert coach.text().startswith(RESOLUTION_COACH)
    for msg in (pat, coach):
        tail = msg.text().split("The Metabolic-Tracker Team\n", 1)[1]
        assert f"/incidents/{outage.id}" in tail and "/unsubscribe/" in tail


def test_support_address_comes_from_config(make_app, smtp):
    from tests.smtp import MAIL_CONFIG

    app = make_app(MAIL_PORT=smtp.port, SUPPORT_EMAIL="help@example.test", **MAIL_CONFIG)
    with app.app_context():
        rendered = compose.render_email(app.jinja_env, "resolution", {
            "site_name": "Metabolic-Tracker", "audience": "participant", "kind": "resolution",
            "support_email": app.config["SUPPORT_EMAIL"], "incident_url": "https://x/i/1"})
    assert "contact your coach or email help@example.test." in rendered.text
    assert "help@example.test" in rendered.html


def test_both_parts_and_the_headers(smtp, outage, make_subscriber):
    sub = make_subscriber("pat@example.test")
    tick()
    [received] = smtp.messages
    msg = received.message
    assert msg.get_content_type() == "multipart/alternative"
    assert b"Content-Transfer-Encoding: 7bit" in received.raw  # the prepared message
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    # One recipient per message, in the envelope and in To:.
    assert received.rcpt_tos == ["pat@example.test"]
    assert str(msg["To"]) == "pat@example.test"
    assert msg.get_all("Cc") is None and msg.get_all("Bcc") is None
    assert str(msg["From"]) == "Metabolic-Tracker Status <status@example.test>"
    assert received.mail_from == "status@example.test"
    # Our own Message-ID, on our own domain; a List-Id; RFC 8058 one-click unsubscribe.
    assert re.fullmatch(r"<[0-9a-f]{32}\.\d+@status\.example\.test>", str(msg["Message-ID"]))
    assert str(msg["List-Id"]) == "Metabolic-Tracker status <status-emails.status.example.test>"
    unsubscribe = str(msg["List-Unsubscribe"])
    assert re.fullmatch(r"<https://status\.example\.test/unsubscribe/[A-Za-z0-9_.-]+>",
                        unsubscribe)
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    # The visible link is the same URL, in both parts.
    url = unsubscribe[1:-1]
    assert url in received.text()
    html = BeautifulSoup(received.html(), "html.parser")
    assert url in [a["href"] for a in html.find_all("a")]
    assert f"https://status.example.test/incidents/{outage.id}" in [
        a["href"] for a in html.find_all("a")]
    assert [li.text for li in html.find_all("li")] == ["Login", "Saving entries"]
    assert "Dear Participant," in html.text
    assert "Use the web app at app.example.test." in html.text
    # The token carries the subscriber's opaque id, never the address.
    from statuspage.tokens import read_token

    token = url.split("/unsubscribe/")[1]
    assert read_token("unsubscribe", token) == sub.public_id
    assert sub.email not in url


def test_list_unsubscribe_url_works_as_one_click(app, smtp, outage, make_subscriber):
    sub = make_subscriber("pat@example.test")
    tick()
    url = str(smtp.messages[0].message["List-Unsubscribe"])[1:-1]
    path = url.replace("https://status.example.test", "")
    response = app.test_client().post(path, data="List-Unsubscribe=One-Click",
                                      content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    db.session.expire_all()
    assert db.session.get(Subscriber, sub.id).status == "unsubscribed"


def test_html_part_escapes_what_staff_typed(smtp, clock, responder, components, make_incident,
                                            make_subscriber):
    make_subscriber("pat@example.test")
    make_incident(responder, components[:1], severity="SEV-1",
                  workaround="<script>alert(1)</script> & <b>bold</b>")
    clock.advance(minutes=31)
    tick()
    html = smtp.messages[0].html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>alert(1)</script> & <b>bold</b>" in smtp.messages[0].text()


def test_body_rendered_once_per_incident_and_audience(smtp, outage, make_subscriber,
                                                      monkeypatch):
    for _ in range(5):
        make_subscriber()
    for _ in range(3):
        make_subscriber(audience="coach")
    calls = []
    real = compose.render_email
    monkeypatch.setattr(compose, "render_email",
                        lambda env, kind, ctx: calls.append((kind, ctx["audience"])) or
                        real(env, kind, ctx))
    tick()
    assert len(smtp.messages) == 8
    assert sorted(calls) == [("outage", "coach"), ("outage", "participant")]
    # ... and yet each message has its own unsubscribe link.
    links = {str(m.message["List-Unsubscribe"]) for m in smtp.messages}
    assert len(links) == 8


def test_one_smtp_connection_per_batch(smtp, outage, make_subscriber):
    for _ in range(6):
        make_subscriber()
    tick()
    assert len(smtp.messages) == 6
    assert len(smtp.sessions) == 1


# --- A misbehaving server ----------------------------------------------------------------


def test_server_down_for_the_whole_fan_out_then_back(smtp, clock, outage, make_subscriber):
    subs = [make_subscriber() for _ in range(7)]
    smtp.down()
    report = tick()
    assert report.sent == 0 and report.retrying == 7
    assert smtp.messages == []
    assert all(d.status == "pending" and d.attempts == 1 for d in deliveries())
    smtp.up()
    tick()  # not yet: every delivery waits for its backoff
    assert smtp.messages == []
    clock.advance(minutes=5)
    tick()
    assert smtp.recipients() == sorted(s.email for s in subs)
    clock.advance(hours=3)
    tick()
    assert len(smtp.messages) == 7  # exactly one each


@pytest.mark.parametrize("drop", [False, True], ids=["451", "dropped"])
def test_server_failing_after_k_of_n_does_not_send_those_k_again(
        smtp, clock, outage, make_subscriber, drop):
    subs = [make_subscriber() for _ in range(6)]
    smtp.fail_after_messages(2, drop=drop)
    tick()
    first = smtp.recipients()
    assert len(first) == 2
    assert sum(d.status == "sent" for d in deliveries()) == 2
    smtp.reset()
    clock.advance(minutes=10)
    tick()
    clock.advance(hours=3)
    tick()
    assert smtp.recipients() == sorted(s.email for s in subs)  # each exactly once
    for address in first:
        assert len(smtp.to(address)) == 1


def test_a_550_for_one_address_touches_only_that_one(smtp, clock, outage, responder,
                                                     make_subscriber):
    good = [make_subscriber() for _ in range(4)]
    bad = make_subscriber("gone@example.test")
    smtp.refuse("gone@example.test", "550 5.1.1 <gone@example.test>: No such user")
    tick()
    assert smtp.recipients() == sorted(s.email for s in good)
    db.session.expire_all()
    assert db.session.get(Subscriber, bad.id).status == "bouncing"
    assert all(db.session.get(Subscriber, s.id).status == "confirmed" for s in good)
    [failed] = [d for d in deliveries() if d.status == "failed"]
    assert failed.subscriber_id == bad.id
    assert "gone@example.test" not in failed.last_error and failed.last_error.startswith("550")
    # Never tried again, and no all-clear for them either.
    smtp.reset()
    clock.advance(hours=5)
    resolve(outage, responder, clock)
    tick()
    assert smtp.to("gone@example.test") == []
    assert len(smtp.recipients(RESTORED)) == 4


@pytest.mark.parametrize("reply", ["451 4.2.1 Mailbox busy", "421 4.7.0 Try again later"])
def test_a_temporary_refusal_for_one_address_is_retried(smtp, clock, outage, make_subscriber,
                                                        reply):
    others = [make_subscriber() for _ in range(3)]
    make_subscriber("busy@example.test")
    smtp.refuse("busy@example.test", reply)
    tick()
    assert smtp.recipients() == sorted(s.email for s in others)
    [waiting] = [d for d in deliveries() if d.status != "sent"]
    assert waiting.status == "pending" and waiting.attempts == 1
    assert waiting.last_error.startswith(reply[:3])
    smtp.reset()
    clock.advance(minutes=5)
    tick()
    assert len(smtp.to("busy@example.test")) == 1
    assert len(smtp.messages) == 4


def test_a_stalled_server_times_out_and_the_email_goes_later(app, smtp, clock, outage,
                                                            make_subscriber):
    app.config["SMTP_TIMEOUT_SECONDS"] = 0.5
    make_subscriber("pat@example.test")
    smtp.stall(seconds=5)
    report = tick()  # returns: the timeout decides, not the server
    assert report.sent == 0 and report.retrying == 1
    assert deliveries()[0].last_error == "timed out"
    smtp.reset()
    clock.advance(minutes=5)
    tick()
    assert len(smtp.to("pat@example.test")) == 1


def test_message_id_is_the_same_on_a_retry(smtp, clock, outage, make_subscriber):
    make_subscriber("pat@example.test")
    smtp.fail_after_messages(0, "451 4.3.0 Try again later")
    tick()
    [refused] = smtp.rejected
    smtp.reset()
    clock.advance(minutes=5)
    tick()
    [accepted] = smtp.messages
    assert accepted.message["Message-ID"] == refused.message["Message-ID"]


def test_gives_up_after_max_attempts_with_growing_backoff(app, smtp, clock, outage,
                                                          make_subscriber):
    app.config["NOTIFIER_MAX_ATTEMPTS"] = 3
    make_subscriber("pat@example.test")
    smtp.refuse_all("451 4.3.0 Try again later")
    waits = []
    for _ in range(3):
        tick()
        [d] = deliveries()
        if d.status == "pending":
            waits.append((d.next_attempt_at - clock()).total_seconds())
            clock.set(d.next_attempt_at)
    [d] = deliveries()
    assert d.status == "failed" and d.attempts == 3
    # rand 0.5: three quarters of 30 s, then of 60 s.
    assert waits == [22.5, 45.0]
    smtp.reset()
    clock.advance(hours=5)
    tick()
    assert smtp.messages == []


def test_prepared_message_is_the_built_message_with_the_recipients_parts(app):
    rendered = compose.render_email(app.jinja_env, "outage", {
        "site_name": "Metabolic-Tracker", "audience": "coach", "kind": "outage",
        "incident_url": "https://status.example.test/incidents/7", "components": ["Login"],
        "workaround": "Use the web app."})
    common = dict(sender="Status <status@example.test>", list_id="L <l.example.test>",
                  date=T_SEND)
    url = "https://status.example.test/unsubscribe/abc.def"
    urls = {mail.UNSUBSCRIBE_URL: url,
            mail.PREFERENCES_URL: "https://status.example.test/subscription/ghi.jkl"}
    prepared = mail.prepare_message(rendered, **common)
    assert prepared is not None
    fast = mail_parse(prepared.fill(recipient="pat@example.test", message_id="<1.2@x.test>",
                                    urls=urls))
    text, html = rendered.personalise(urls)
    slow = mail_parse(mail.message_bytes(mail.build_message(
        recipient="pat@example.test", subject=rendered.subject, text=text, html=html,
        message_id="<1.2@x.test>", unsubscribe_url=url, **common)))
    for header in ("Subject", "From", "To", "Date", "Message-ID", "List-Id",
                   "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert fast[header] == slow[header], header
    for part in ("plain", "html"):
        assert fast.get_body((part,)).get_content() == slow.get_body((part,)).get_content()
    assert "__STATUSPAGE" not in fast.as_string()


def test_text_that_is_not_plain_ascii_is_built_per_recipient_and_reads_the_same(
        smtp, clock, responder, components, make_incident, make_subscriber):
    make_subscriber("pat@example.test")
    make_incident(responder, components[:1], severity="SEV-1",
                  workaround="Utilisez l’application web — merci.")
    clock.advance(minutes=31)
    tick()
    [msg] = smtp.messages
    assert b"Content-Transfer-Encoding: quoted-printable" in msg.raw  # built for them
    assert "Workaround:\nUtilisez l’application web — merci.\n" in msg.text()
    assert "Utilisez l’application web — merci." in msg.html()
    assert str(msg.message["List-Unsubscribe"]).startswith(
        "<https://status.example.test/unsubscribe/")
