"""The overall status: the table of statuspage-api-v2.md, row by row, worst row wins."""

import pytest

from statuspage.models import COMPONENT_STATUSES, SEVERITIES
from statuspage.severity import SEVERITIES as SEVERITY_INFO
from statuspage.severity import overall_status, suggested_next_update

CRITICAL = ("critical", "Major System Outage")
MAJOR = ("major", "Partial System Outage")
MINOR_OUTAGE = ("minor", "Minor Service Outage")
DEGRADED = ("minor", "Partially Degraded Service")
MAINTENANCE = ("maintenance", "Service Under Maintenance")
OPERATIONAL = ("none", "All Systems Operational")


@pytest.mark.parametrize(
    "components, severities, expected",
    [
        # Row 6: otherwise.
        ([], [], OPERATIONAL),
        (["operational"] * 5, [], OPERATIONAL),
        # Row 1: a component in major_outage, or an open SEV-1.
        (["operational", "major_outage"], [], CRITICAL),
        ([], ["SEV-1"], CRITICAL),
        (["operational"], ["SEV-1"], CRITICAL),
        # Row 2: a component in partial_outage, or an open SEV-2.
        (["partial_outage", "operational"], [], MAJOR),
        ([], ["SEV-2"], MAJOR),
        # Row 3: an open SEV-3 or SEV-4.
        ([], ["SEV-3"], MINOR_OUTAGE),
        (["operational"], ["SEV-4"], MINOR_OUTAGE),
        # Row 4: a component in degraded_performance.
        (["degraded_performance", "operational"], [], DEGRADED),
        # Row 5: a component under maintenance, nothing worse.
        (["under_maintenance", "operational"], [], MAINTENANCE),
        # The worst row that applies wins.
        (["major_outage", "partial_outage", "degraded_performance"], ["SEV-3"], CRITICAL),
        (["partial_outage"], ["SEV-1"], CRITICAL),
        (["degraded_performance"], ["SEV-2"], MAJOR),
        (["under_maintenance"], ["SEV-2"], MAJOR),
        (["degraded_performance", "under_maintenance"], [], DEGRADED),
        (["under_maintenance"], ["SEV-4"], MINOR_OUTAGE),
        # Row 3 comes before row 4: an open SEV-3 outranks a degraded component.
        (["degraded_performance"], ["SEV-3"], MINOR_OUTAGE),
        (["degraded_performance"], ["SEV-4"], MINOR_OUTAGE),
        (["operational", "degraded_performance"], ["SEV-4", "SEV-3"], MINOR_OUTAGE),
        # Several open incidents: the worst one counts.
        ([], ["SEV-4", "SEV-2", "SEV-3"], MAJOR),
        ([], ["SEV-3", "SEV-1"], CRITICAL),
    ],
)
def test_overall_status_follows_the_table(components, severities, expected):
    assert overall_status(components, severities) == expected


def test_overall_status_accepts_generators():
    assert overall_status(iter(["partial_outage"]), iter([])) == MAJOR


@pytest.mark.parametrize("status", COMPONENT_STATUSES)
@pytest.mark.parametrize("severity", [None, *SEVERITIES])
def test_every_combination_gives_an_allowed_indicator(status, severity):
    indicator, description = overall_status([status], [severity] if severity else [])
    assert indicator in {"none", "minor", "major", "critical", "maintenance"}
    assert description in {d for _, d in
                           (CRITICAL, MAJOR, MINOR_OUTAGE, DEGRADED, MAINTENANCE, OPERATIONAL)}


def test_severities_follow_the_playbook():
    assert list(SEVERITY_INFO) == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    assert [s.name for s in SEVERITY_INFO.values()] == ["Critical", "High", "Medium", "Low"]
    assert [s.impact for s in SEVERITY_INFO.values()] == ["critical", "major", "minor", "none"]
    assert SEVERITY_INFO["SEV-1"].response_time == "Immediate (within 15 minutes)"
    assert SEVERITY_INFO["SEV-4"].resolution_target == "3 business days"


def test_suggested_next_update_uses_the_playbook_cadence():
    assert suggested_next_update("SEV-1").total_seconds() == 15 * 60
    assert suggested_next_update("SEV-2").total_seconds() == 30 * 60
    # The playbook sets no cadence for SEV-3/4: an hour is suggested.
    assert suggested_next_update("SEV-3").total_seconds() == 60 * 60
    assert suggested_next_update("SEV-4").total_seconds() == 60 * 60
