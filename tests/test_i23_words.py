"""Issue 23, point 6 (honest words everywhere) and the subscribe form's "I am a" (point 7):

- /updates, /subscribe, the confirmation email (text and HTML, through a real SMTP server),
  the confirm page and the "You are subscribed" page say the same thing about what a
  subscriber gets (outage and all-clear emails, maintenance notices, for the features
  chosen, listed back), with the delay from OUTAGE_EMAIL_DELAY_SECONDS;
- the publish form opened from a monitor's proposal says when the outage email will go,
  from the configured delay;
- a window's completion notice says "What was affected";
- the staff pages' no-health-data footer says where that page's words go;
- a wrong two-factor code says "That code did not work" and nothing about waiting; only a
  real lockout (the account's, or the address's limit) says to wait, and for how long;
- "I am a" starts with nothing chosen, says it is required, and a form sent without it
  gets a clear error (400), not a 500, and stores nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

from statuspage import maintenance, present, subscriptions
from statuspage.extensions import db
from statuspage.models import Subscriber
from tests.conftest import form_fields, login, soup
from tests.smtp import app, make_subscriber, smtp, tick  # noqa: F401  (fixtures)
from tests.test_monitors_staff import add_monitor, down
from tests.test_two_factor import code_now, code_step, enrolled_client, signed_in
from tests.tracked_app import tracked  # noqa: F401  (fixture)

SITE = "Metabolic-Tracker"
CONFIRM_SUBJECT = f"Confirm your {SITE} status emails"


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def listed_on(html) -> list[str]:
    """What a page (or the HTML email) lists under "what you will get"."""
    page = html if isinstance(html, BeautifulSoup) else BeautifulSoup(html, "html.parser")
    return [words(li.get_text(" ")) for li in page.select(".what-you-get li")]


def listed_in_text(text: str) -> list[str]:
    """The same list in the text email: its "- " items, continuation lines joined."""
    items: list[str] = []
    for line in text.splitlines():
        if line.startswith("- "):
            items.append(line[2:])
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
        elif items and not line.strip():
            break
    return [words(item) for item in items]


# --- What a subscriber gets, said the same everywhere ------------------------------------


def test_every_surface_says_the_same_about_what_a_subscriber_gets(app, smtp, components):
    app.config["OUTAGE_EMAIL_DELAY_SECONDS"] = 600  # said from the setting: "10 minutes"
    outage = (f"Outage emails: an email when a major outage of the {SITE} app has lasted "
              "more than 10 minutes, and an all-clear email when it is over.")
    notices = ("Maintenance notices: when maintenance is planned, shortly before it starts, "
               "when it starts and when it is complete, and if it moves or is called off.")
    anyone = [outage, notices, "About: the features you choose, or everything. An outage "
              "of the whole app reaches every subscriber, whatever they chose."]
    client = app.test_client()
    assert listed_on(soup(client.get("/updates"))) == anyone
    form_page = client.get("/subscribe")
    assert listed_on(soup(form_page)) == anyone

    data = form_fields(form_page, "form[action='/subscribe']")
    data.update(email="pat@example.test", audience="coach", scope="some",
                timezone="Europe/Berlin",
                components=[str(components[1].id), str(components[0].id)])
    assert client.post("/subscribe", data=data).status_code == 303
    chosen = [outage, notices,
              f"About: only {components[0].name} and {components[1].name}. An outage of "
              "the whole app reaches you too.", "Times in: Europe/Berlin"]
    tick()
    [msg] = smtp.to("pat@example.test")
    assert msg.subject == CONFIRM_SUBJECT
    assert listed_in_text(msg.text()) == chosen, msg.text()
    assert listed_on(msg.html()) == chosen
    assert "as a coach" in msg.text()
    assert all(len(line) <= 72 for line in msg.text().splitlines()
               if line.startswith(("- ", "  ")))

    confirm_path = re.search(r"https://status\.example\.test(/confirm/\S+)",
                             msg.text()).group(1)
    assert listed_on(soup(client.get(confirm_path))) == chosen
    done = app.test_client().post(confirm_path)
    page = soup(done)
    assert page.h1.get_text(strip=True) == "You are subscribed"
    assert listed_on(page) == chosen
    assert "30 minutes" not in page.get_text() + msg.text() + msg.html()
    # The confirm link again, once confirmed: the same list.
    assert listed_on(soup(app.test_client().get(confirm_path))) == chosen


def test_a_subscriber_of_everything_with_notices_off_hears_it_back(app, smtp, components,
                                                                   make_subscriber):
    sub = make_subscriber("all@example.test", status="pending")
    sub.maintenance_notices = False
    db.session.commit()
    from statuspage.subscriber_words import what_you_get

    listed = subscriptions.listed_choices(sub)
    items = dict(what_you_get(app.config, listed).items)
    assert items["About"] == "everything, features added later too."
    assert items["Maintenance notices"] == "none: you turned them off."
    assert items["Times in"] == app.config["SITE_TIMEZONE"]


# --- "I am a": nothing chosen, said to be required, a clear error without it ------------


def test_i_am_a_starts_empty_says_required_and_is_refused_clearly_when_missing(
        app, smtp, components):
    client = app.test_client()
    page = client.get("/subscribe")
    html = soup(page)
    fieldset = html.select_one("input[name=audience]").find_parent("fieldset")
    assert words(fieldset.legend.get_text(" ")) == "I am a (required)"
    assert html.select("input[name=audience][checked]") == []
    data = form_fields(page, "form[action='/subscribe']")
    assert "audience" not in data
    data["email"] = "nobody-chose@example.test"
    refused = client.post("/subscribe", data=data)
    assert refused.status_code == 400
    error = soup(refused).select_one("#audience-error")
    assert error is not None and error.get_text(strip=True) == "Choose participant or coach."
    assert soup(refused).select_one("input[name=audience]").find_parent(
        "fieldset")["aria-describedby"] == "audience-error"
    db.session.rollback()
    assert db.session.scalar(db.select(Subscriber)) is None


def test_each_feature_checkbox_has_its_own_label(app, smtp, components):
    html = soup(app.test_client().get("/subscribe"))
    boxes = html.select("input[type=checkbox][name=components]")
    assert len(boxes) == len(components)
    for box, component in zip(boxes, components):
        label = html.select_one(f"label[for='{box['id']}']")
        assert label is not None and box.find_parent("label") is label
        assert words(label.get_text(" ")) == component.name


# --- The publish form from a monitor's proposal -----------------------------------------


def test_the_proposal_form_says_when_the_outage_email_goes_from_the_setting(
        app, clock, admin_client, tracked, components):  # noqa: F811
    app.config["OUTAGE_EMAIL_DELAY_SECONDS"] = 600
    add_monitor(components[0], tracked.url())
    first = down(clock, tracked)
    p_url = soup(admin_client.get("/staff/")).select_one(".proposal a.button")["href"]
    notice = words(soup(admin_client.get(p_url)).select_one(".outage-email-when").get_text())
    due = present.local_time(first + timedelta(minutes=10),
                             ZoneInfo(app.config["SITE_TIMEZONE"]))
    assert notice == (f"The outage email will go at {due}, 10 minutes after the first failed "
                      "check (when the incident starts), unless the incident is resolved "
                      "before then.")
    assert "30 minutes" not in notice
    clock.advance(minutes=11)
    notice = soup(admin_client.get(p_url)).select_one(".outage-email-at-once").get_text()
    assert words(notice) == ("The outage email will go at once: the first failed check was "
                             "more than 10 minutes ago (the outage email's delay), and the "
                             "incident starts then.")


def test_the_proposal_form_of_a_severity_without_email_says_none_goes(
        app, clock, admin_client, tracked, components):  # noqa: F811
    add_monitor(components[0], tracked.url(), severity="SEV-3")
    down(clock, tracked)
    clock.advance(minutes=45)
    p_url = soup(admin_client.get("/staff/")).select_one(".proposal a.button")["href"]
    page = soup(admin_client.get(p_url))
    assert page.select_one(".outage-email-at-once") is None
    assert words(page.select_one(".outage-email-when").get_text(" ")).startswith(
        "No outage email: SEV-3 incidents get none")


# --- The completion notice -----------------------------------------------------------------


def test_the_completion_notice_says_what_was_affected(app, clock, smtp, responder,
                                                      components, make_subscriber):
    person = make_subscriber()
    start = clock() + timedelta(days=2)
    maintenance.schedule(maintenance.WindowFields(
        title="Database upgrade", component_ids=[components[1].id], scheduled_for=start,
        scheduled_until=start + timedelta(hours=1),
        description="You cannot log meals for an hour.", workaround=""),
        actor=responder, now=clock())
    db.session.commit()
    tick()
    clock.set(start)
    tick()
    clock.set(start + timedelta(hours=1))
    tick()
    by_subject = {m.subject.rsplit(" ", 1)[-1]: m for m in smtp.to(person.email)}
    assert {"Maintenance", "Started", "Completed"} <= set(by_subject)
    for notice in ("Maintenance", "Started"):
        assert "What's affected:" in by_subject[notice].text()
    done = by_subject["Completed"]
    assert f"What was affected:\n- {components[1].name}" in done.text()
    assert "What's affected" not in done.text() and "What is affected" not in done.text()
    assert "What was affected:" in BeautifulSoup(done.html(), "html.parser").get_text()


# --- The staff pages' footer ---------------------------------------------------------------


def footer(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return words(soup(response).select_one(".phi-footer").get_text(" "))


def test_the_staff_footer_says_where_the_words_of_that_page_go(
        app, admin_client, admin, components, make_incident):
    incident = make_incident(admin, components[:1])
    db.session.commit()
    staff_only = footer(admin_client, f"/staff/incidents/{incident.id}/record")
    assert "stays in the staff area" in staff_only and "public:" not in staff_only
    assert "never shown on the public page" in staff_only
    for path in ("/staff/accounts", "/staff/webhooks", "/staff/api-keys", "/staff/contacts",
                 "/staff/monitors", "/staff/2fa", "/staff/password"):
        assert footer(admin_client, path) == staff_only, path
    public = footer(admin_client, "/staff/components")
    assert public.startswith("No health data. Everything typed on this page is public")
    assert footer(admin_client, "/staff/maintenance/new") == public
    both = footer(admin_client, f"/staff/incidents/{incident.id}")
    assert "The update's words on this page are public" in both
    assert "fields marked “staff only” stay in the staff area" in both
    assert footer(admin_client, "/staff/incidents/new") == both
    assert "health information" in footer(app.test_client(), "/staff/login")
    assert "stays in the staff area" in footer(app.test_client(), "/staff/login")


def test_every_staff_page_is_named_by_the_footer(app):
    from statuspage.staff import phi

    pages = {rule.endpoint for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith(("staff.", "auth."))}
    # (Not pages: signing out, a download, and the shifts calendar feed.)
    assert pages - set(phi.WHERE) == {"auth.logout", "staff.download_record",
                                      "staff.oncall_calendar"}
    assert set(phi.WHERE) <= pages  # no name of a page that is gone


# --- Two-factor sign-in: a wrong code, and a real lockout ---------------------------------


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def error_of(response) -> str:
    return words(soup(response).select_one(".form-error").get_text(" "))


def test_a_wrong_code_says_it_did_not_work_and_only_a_lockout_says_to_wait(
        app, smtp, responder, clock):
    enrolled_client(app, responder, clock)
    c = app.test_client()
    login(c, responder.email)
    refused = code_step(c, wrong(code_now(responder, clock)))
    assert refused.status_code == 401 and not signed_in(c)
    said = error_of(refused)
    assert said == ("That code did not work. Enter the current code from your app, or one "
                    "of your recovery codes.")
    for _ in range(3):  # the 2nd to 4th failures: nothing locked, nothing about waiting
        said = error_of(code_step(c, wrong(code_now(responder, clock))))
        assert not re.search(r"wait|minute|second|too many|attempt", said, re.I), said
    locked = code_step(c, wrong(code_now(responder, clock)))  # the 5th: the account locks
    assert locked.status_code == 401
    assert error_of(locked) == ("Too many failed sign-ins to this account: wait 30 seconds, "
                                "then enter the current code from your app.")
    clock.advance(seconds=10)  # a right code while locked: refused, 20 s left
    assert error_of(code_step(c, code_now(responder, clock))) == (
        "Too many failed sign-ins to this account: wait 20 seconds, then enter the current "
        "code from your app.")
    assert not signed_in(c)
    clock.advance(seconds=21)
    assert code_step(c, code_now(responder, clock)).status_code == 302
    assert signed_in(c)


def test_the_addresss_limit_on_the_code_page_says_for_how_long(app, smtp, responder, clock):
    enrolled_client(app, responder, clock)
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    c = app.test_client()
    login(c, responder.email)  # a right password: not counted
    for _ in range(2):
        assert code_step(c, wrong(code_now(responder, clock))).status_code == 401
    limited = code_step(c, code_now(responder, clock))
    assert limited.status_code == 429
    assert soup(limited).select_one("form input[name=code]") is not None  # the code page
    said = error_of(limited)
    assert re.fullmatch(r"Too many sign-in attempts came from your network: try again "
                        r"in \d+ seconds\.", said), said


def test_the_api_keys_form_does_not_say_its_words_go_public(app, admin_client):
    """A key's name stays in the staff area: the warning above its form says so (it used
    to say, as on the incident forms, that everything typed is shown on the public
    page)."""
    warning = words(soup(admin_client.get("/staff/api-keys")).select_one(
        "#api-key-form").find_previous("p", class_="phi-warning").get_text(" "))
    assert "stays in the staff area" in warning and "public page" not in warning
