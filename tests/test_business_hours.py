"""Business hours (issue 24, point 3): BUSINESS_HOURS is read as the playbook's working day
("SEV-3/4: Create ticket, handle next business day"), a bad value stops the app at start
with what to write; a SEV-3/4 pages no one: in business hours the primary on call gets an
email at once, after hours at the next business hours' start (to whoever is primary then),
and its response target counts business hours only ("next business day" on the
dashboard). Through the real notifier tick and SMTP on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from statuspage import contacts, incidents
from statuspage.extensions import db
from statuspage.paging.business_hours import (BadBusinessHours, add_open_time, is_open,
                                              next_start, parse)
from statuspage.targets import targets_for
from tests.conftest import login, soup
from tests.paging_support import (NIGHT, PRIMARY, SECONDARY, app, declare,  # noqa: F401
                                  email_rows, pages, people, smtp)
from tests.smtp import tick

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
WORKDAY = parse("Mon-Fri 09:00-17:00")


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


@pytest.mark.parametrize("value, days, start, end", [
    ("Mon-Fri 09:00-17:00", {0, 1, 2, 3, 4}, "09:00", "17:00"),
    ("Mon-Sun 00:00-23:59", set(range(7)), "00:00", None),
    ("Mon,Wed 08:00-12:00", {0, 2}, "08:00", "12:00"),
    ("mon-wed,Fri 8:30-12:00", {0, 1, 2, 4}, "08:30", "12:00"),
    ("Fri-Mon 22:00-24:00", {4, 5, 6, 0}, "22:00", None),
])
def test_the_playbooks_ways_of_writing_the_working_day(value, days, start, end):
    hours = parse(value)
    assert hours.days == frozenset(days)
    assert hours.start.strftime("%H:%M") == start
    assert (hours.end and hours.end.strftime("%H:%M")) == end


@pytest.mark.parametrize("value, why", [
    ("", "not days and a time range"),
    ("Mon-Fri", "not days and a time range"),
    ("9-5", "not days and a time range"),
    ("Mon-Fry 09:00-17:00", "'Fry' is not a day"),
    ("Mon,,Fri 09:00-17:00", "an empty day in the list"),
    ("Mon-Fri 17:00-09:00", "ends before it starts"),
    ("Mon-Fri 09:00-25:00", "25:00 is not a time of day"),
])
def test_a_bad_value_says_what_is_wrong_and_what_to_write(value, why):
    with pytest.raises(BadBusinessHours) as caught:
        parse(value)
    assert why in str(caught.value)
    assert "'Mon-Fri 09:00-17:00'" in str(caught.value)


def test_a_bad_value_stops_the_app_at_start(make_app):
    with pytest.raises(RuntimeError, match=r"BUSINESS_HOURS='Mon-Fri 9-5': not days"):
        make_app(BUSINESS_HOURS="Mon-Fri 9-5")
    with pytest.raises(RuntimeError, match="PAGE_ESCALATION_MINUTES"):
        make_app(PAGE_ESCALATION_MINUTES=0)
    with pytest.raises(RuntimeError, match="PAGE_REPEAT_LIMIT"):
        make_app(PAGE_REPEAT_LIMIT="three")


def test_open_and_the_next_start_keep_the_wall_time_across_a_daylight_saving_change():
    # Friday 23 October 2026, 18:00 CEST: closed; the clocks go back on Sunday.
    friday_evening = berlin(2026, 10, 23, 18, 0)
    assert not is_open(friday_evening, BERLIN, WORKDAY)
    assert next_start(friday_evening, BERLIN, WORKDAY) == berlin(2026, 10, 26, 9, 0)
    assert berlin(2026, 10, 26, 9, 0).hour == 8  # 09:00 CET is 08:00 UTC (07:00 before)
    assert is_open(berlin(2026, 10, 23, 16, 59), BERLIN, WORKDAY)
    assert not is_open(berlin(2026, 10, 23, 17, 0), BERLIN, WORKDAY)
    assert next_start(berlin(2026, 10, 23, 10, 0), BERLIN, WORKDAY) == \
        berlin(2026, 10, 23, 10, 0)
    every_day = parse("Mon-Sun 00:00-23:59")
    assert is_open(berlin(2026, 10, 25, 23, 59, 30), BERLIN, every_day)


def test_a_response_target_counts_business_hours_only():
    friday_four = berlin(2026, 11, 27, 16, 0)
    assert add_open_time(friday_four, timedelta(hours=4), BERLIN, WORKDAY) == \
        berlin(2026, 11, 30, 12, 0)  # one hour on Friday, three on Monday
    response, _ = targets_for("SEV-3", berlin(2026, 11, 28, 3, 0), None, None,
                              berlin(2026, 11, 28, 3, 0), BERLIN, WORKDAY)
    assert response.due == berlin(2026, 11, 30, 13, 0)
    assert response.span == "4 h of business hours"
    assert response.note == "next business day: counted from Mon 09:00"
    paged, _ = targets_for("SEV-1", friday_four, None, None, friday_four, BERLIN, WORKDAY)
    assert paged.due == friday_four + timedelta(minutes=15) and paged.note == ""


def test_a_sev3_at_night_pages_no_one_and_emails_the_primary_at_the_next_start(
        app, admin, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock, severity="SEV-3", title="Charts slow")
    tick()
    clock.set(berlin(2026, 11, 26, 8, 59, 59))
    tick()
    assert pages() == [] and email_rows("oncall") == [] and smtp.messages == []
    # Someone else takes the primary's turn before the morning: the email goes to them.
    values = {r: contacts.ContactValue(v.name, v.email) for r, v in contacts.contacts().items()}
    values["oncall"] = contacts.ContactValue("Sid Second", SECONDARY)
    contacts.save(values, None, actor=admin, now=clock())
    db.session.commit()
    clock.set(berlin(2026, 11, 26, 9, 0))
    tick()
    tick()
    assert pages() == []
    [mail] = smtp.messages
    assert mail.to == SECONDARY
    assert mail.subject == "Metabolic-Tracker SEV-3 incident: Charts slow"
    text = mail.text()
    assert "It pages no one" in text and "counted in business hours" in text
    assert "/ack/" not in text and "No one can sign in." not in text
    assert [r.status for r in email_rows("oncall")] == ["sent"]


def test_a_sev4_in_business_hours_emails_the_primary_at_once_and_once(
        app, clock, smtp, people, responder, components):  # noqa: F811
    clock.set(berlin(2026, 11, 26, 10, 0))
    incident = declare(responder, components, clock, severity="SEV-4", title="Typo")
    assert [r.recipient for r in email_rows("oncall")] == [PRIMARY]  # with the declaration
    tick()
    incidents.edit_incident(incident, actor=responder, now=clock(), title="A typo",
                            severity="SEV-4", component_ids=[components[0].id],
                            started_at=incident.started_at)
    db.session.commit()
    tick()
    assert [m.to for m in smtp.messages] == [PRIMARY]
    assert pages() == []


def test_a_sev3_resolved_before_the_morning_tells_no_one(
        app, clock, smtp, people, responder, components):  # noqa: F811
    incident = declare(responder, components, clock, severity="SEV-3")
    incidents.post_update(incident, incidents.UpdateText(
        status="resolved", impact="", actions="Fixed."), actor=responder, now=clock())
    db.session.commit()
    clock.set(berlin(2026, 11, 26, 9, 30))
    tick()
    assert smtp.messages == [] and email_rows("oncall") == []


def test_the_dashboard_says_next_business_day(
        app, clock, smtp, people, responder, components):  # noqa: F811
    declare(responder, components, clock, severity="SEV-3", title="Charts slow")
    client = app.test_client()
    login(client, responder.email)
    page = soup(client.get("/staff/"))
    response = page.select_one(".target-response")
    assert "Response (4 h of business hours)" in response.get_text(" ", strip=True)
    assert response.select_one(".target-note").get_text(strip=True) == \
        "(next business day: counted from Thu 09:00)"
    assert NIGHT.astimezone(BERLIN).hour == 2
