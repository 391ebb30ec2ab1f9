"""The playbook's response and resolution targets (statuspage/targets.py): spans, business
days in the site's zone, and met / on track / close / missed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from statuspage.targets import add_business_days, state, targets_for

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize("severity, response, resolution", [
    ("SEV-1", timedelta(minutes=15), timedelta(hours=2)),
    ("SEV-2", timedelta(hours=1), timedelta(hours=4)),
    ("SEV-3", timedelta(hours=4), timedelta(hours=24)),
])
def test_each_severity_has_the_playbooks_times(severity, response, resolution):
    r, s = targets_for(severity, START, None, None, START, BERLIN)
    assert (r.due - START, s.due - START) == (response, resolution)


def test_a_sev4_declared_friday_evening_is_due_wednesday_evening():
    friday_evening = datetime(2026, 11, 27, 18, 30, tzinfo=BERLIN)
    response, resolution = targets_for("SEV-4", friday_evening.astimezone(UTC), None, None,
                                       friday_evening.astimezone(UTC), BERLIN)
    assert response.due == friday_evening + timedelta(hours=24)  # not business time
    assert resolution.due.astimezone(BERLIN) == datetime(2026, 12, 2, 18, 30, tzinfo=BERLIN)
    assert resolution.span == "3 business days"


def test_business_days_count_from_monday_for_a_weekend_start():
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN).astimezone(UTC)
    due = add_business_days(saturday, 3, BERLIN)
    assert due.astimezone(BERLIN) == datetime(2026, 12, 3, 0, 0, tzinfo=BERLIN)  # Thursday


def test_business_days_are_weekdays_in_the_sites_zone_not_utc():
    # Friday 23:30 UTC is already Saturday in Tokyo: the clock there starts on Monday.
    friday_late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    tokyo = ZoneInfo("Asia/Tokyo")
    assert add_business_days(friday_late, 1, tokyo).astimezone(tokyo) == datetime(
        2026, 12, 1, 0, 0, tzinfo=tokyo)
    assert add_business_days(friday_late, 1, UTC) == datetime(2026, 11, 30, 23, 30,
                                                              tzinfo=UTC)


def test_a_dst_change_keeps_the_time_of_day():
    friday = datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN)  # clocks go forward on the 29th
    assert add_business_days(friday.astimezone(UTC), 3, BERLIN).astimezone(BERLIN) == (
        datetime(2026, 4, 1, 9, 0, tzinfo=BERLIN))


def test_met_on_track_close_missed():
    due = START + timedelta(minutes=100)
    assert state(START, due, None, START + timedelta(minutes=79)) == "on_track"
    assert state(START, due, None, START + timedelta(minutes=80)) == "close"  # last fifth
    assert state(START, due, None, due) == "close"
    assert state(START, due, None, due + timedelta(seconds=1)) == "missed"
    assert state(START, due, START + timedelta(minutes=99), due + timedelta(hours=5)) == "met"
    assert state(START, due, due + timedelta(minutes=1), due + timedelta(hours=5)) == "missed"


def test_the_acknowledgement_meets_the_response_target():
    now = START + timedelta(minutes=20)
    response, _ = targets_for("SEV-1", START, START + timedelta(minutes=10), None, now, BERLIN)
    assert response.state == "met"
    response, resolution = targets_for("SEV-1", START, None, None, now, BERLIN)
    assert (response.state, resolution.state) == ("missed", "on_track")
