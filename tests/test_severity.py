"""The overall status: the table of statuspage-api-v2.md, row by row, worst row wins."""

import re
from pathlib import Path

import pytest

from statuspage import config
from statuspage.models import COMPONENT_STATUSES, SEVERITIES
from statuspage.severity import (API_DEFAULT, BY_IMPACT, CHOICE_ERROR, KEY_CONTACTS_WHEN,
                                 MONITOR_DEFAULT, STAFF_WORDS, BusinessDays, codes_where,
                                 overall_status, suggested_next_update)
from statuspage.severity import SEVERITIES as SEVERITY_INFO
from statuspage.targets import span_text

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


# --- The one table (issue 22, point 5): what each severity means ---------------------------

PLAYBOOK = Path(__file__).parent / "data" / "incident-response-playbook.md"


def playbook_definitions() -> dict[str, dict]:
    """The playbook's "Severity Definitions", read from its copy."""
    text = PLAYBOOK.read_text().split("## Severity Definitions", 1)[1].split("\n## ", 1)[0]
    found = {}
    for block in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        code, name = re.match(r"(SEV-\d): (\w+)", block).groups()
        found[code] = {
            "name": name,
            "definition": re.search(r"\*\*Definition:\*\* (.+)", block).group(1).strip(),
            "examples": tuple(re.findall(r"^- (.+)$", block, flags=re.MULTILINE)),
            "response_time": re.search(r"\*\*Response Time:\*\* (.+)", block).group(1).strip(),
            "resolution_target": re.search(r"\*\*Resolution Target:\*\* (.+)",
                                           block).group(1).strip(),
        }
    return found


def test_the_table_says_the_playbooks_definitions_word_for_word():
    table = {code: {"name": s.name, "definition": s.definition, "examples": s.examples,
                    "response_time": s.response_time, "resolution_target": s.resolution_target}
             for code, s in SEVERITY_INFO.items()}
    assert table == playbook_definitions()


def test_the_spans_are_the_playbooks_times():
    assert {code: (span_text(s.response_span), span_text(s.resolution_span))
            for code, s in SEVERITY_INFO.items()} == {
        "SEV-1": ("15 min", "2 h"), "SEV-2": ("1 h", "4 h"), "SEV-3": ("4 h", "24 h"),
        "SEV-4": ("24 h", "3 business days")}
    assert SEVERITY_INFO["SEV-4"].resolution_span == BusinessDays(3)


def test_who_is_told_and_what_follows_per_severity():
    """What the modules read from the table, severity by severity (it was hard-coded in
    each of them; these are the values they had)."""
    rows = {code: (s.outage_email, s.tells_every_subscriber, s.staff_notices, s.escalates,
                   s.reminds_commander, s.reviewed, s.component_status, s.tone)
            for code, s in SEVERITY_INFO.items()}
    assert rows == {
        "SEV-1": (True, True, ("primary", "executive"), True, True, True, "major_outage",
                  "critical"),
        "SEV-2": (True, False, ("primary",), True, True, True, "partial_outage", "major"),
        "SEV-3": (False, False, (), False, False, False, "degraded_performance", "minor"),
        "SEV-4": (False, False, (), False, False, False, "degraded_performance", "minor"),
    }
    assert BY_IMPACT == {"critical": "SEV-1", "major": "SEV-2", "minor": "SEV-3",
                         "none": "SEV-4"}
    assert (API_DEFAULT, MONITOR_DEFAULT) == ("SEV-3", "SEV-2")
    assert CHOICE_ERROR == "Choose one of SEV-1, SEV-2, SEV-3, SEV-4."
    assert codes_where("reviewed") == ("SEV-1", "SEV-2")
    assert SEVERITIES == tuple(SEVERITY_INFO)


def test_the_outage_email_default_is_the_tables():
    """config.py keeps its documented default (a key operators set); it must say what the
    table says."""
    assert config.OUTAGE_EMAIL_SEVERITIES == ",".join(codes_where("outage_email"))


def test_the_slack_declarations_are_the_playbooks_headings():
    text = PLAYBOOK.read_text()
    declared = {code: s.slack_declared for code, s in SEVERITY_INFO.items()}
    assert declared["SEV-3"] is None and declared["SEV-4"] is None
    for heading, labels in (declared["SEV-1"], declared["SEV-2"]):
        block = text.split(heading, 1)[1].split("```", 1)[0]
        assert [line.split(":", 1)[0].strip() for line in block.strip().splitlines()] == list(
            labels)


def test_the_staff_pages_words_are_the_tables():
    assert STAFF_WORDS == {
        "primary": "SEV-1 or SEV-2",
        "executive": "SEV-1",
        "escalates": "SEV-1 or SEV-2",
        "cadence": "every 15 minutes for SEV-1 and every 30 minutes for SEV-2",
        "suggested": "SEV-1 every 15 minutes, SEV-2 every 30 minutes (the playbook), "
                     "SEV-3 and SEV-4 in 60 minutes",
    }
    assert KEY_CONTACTS_WHEN == {"oncall": "Any SEV-1/2", "tech_lead": "SEV-1 escalation",
                                 "executive_sponsor": "SEV-1 escalation"}
    key_contacts = PLAYBOOK.read_text().split("## Key Contacts", 1)[1]
    for words in KEY_CONTACTS_WHEN.values():
        assert f"| {words} |" in key_contacts
