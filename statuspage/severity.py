"""The playbook's severity definitions, word for word, and the overall-status rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Optional


@dataclass(frozen=True)
class Severity:
    code: str
    name: str
    definition: str
    examples: tuple[str, ...]
    response_time: str
    resolution_target: str
    #: How often the playbook asks for an update in #incidents (None: it sets no cadence).
    update_cadence: Optional[timedelta]
    #: The Statuspage API ``impact`` of an incident of this severity.
    impact: str


SEVERITIES: dict[str, Severity] = {
    s.code: s
    for s in (
        Severity(
            "SEV-1", "Critical",
            "Application completely unavailable OR data loss/corruption OR security breach",
            ("Application down for all users", "Database unresponsive",
             "Data loss or corruption", "Security breach or unauthorized access",
             "PHI exposure"),
            "Immediate (within 15 minutes)", "2 hours", timedelta(minutes=15), "critical",
        ),
        Severity(
            "SEV-2", "High",
            "Major feature broken OR significant performance degradation affecting many users",
            ("Login not working", "Cannot save any data",
             "Charts/dashboards completely broken", ">50% of users affected by issues",
             "API errors >10% rate"),
            "1 hour", "4 hours", timedelta(minutes=30), "major",
        ),
        Severity(
            "SEV-3", "Medium",
            "Feature partially broken OR performance issues affecting some users",
            ("Food photo analysis failing", "Report generation broken",
             "Individual feature not working", "<50% of users affected",
             "Performance degradation"),
            "4 hours", "24 hours", None, "minor",
        ),
        Severity(
            "SEV-4", "Low",
            "Minor issue OR cosmetic problems OR single user affected",
            ("UI glitch", "Minor display issues", "Single user having trouble",
             "Non-critical feature issue"),
            "24 hours", "3 business days", None, "none",
        ),
    )
}

#: Suggested next-update interval where the playbook sets no cadence.
DEFAULT_NEXT_UPDATE = timedelta(minutes=60)


def suggested_next_update(severity: str) -> timedelta:
    return SEVERITIES[severity].update_cadence or DEFAULT_NEXT_UPDATE


# --- The overall status (statuspage-api-v2.md, "The overall status") ---------------------

ALL_OPERATIONAL = ("none", "All Systems Operational")
_RANK = {"none": 0, "maintenance": 1, "minor": 2, "major": 3, "critical": 4}


def overall_status(
    component_statuses: Iterable[str], open_incident_severities: Iterable[str],
    *, maintenance_running: bool = False,
) -> tuple[str, str]:
    """(indicator, description): the worst row of the table that applies wins.

    ``maintenance_running``: a maintenance window is in progress, which counts as its
    components ``under_maintenance`` even if no component row says so (yet).
    """
    candidates = [ALL_OPERATIONAL]
    if maintenance_running:
        candidates.append(("maintenance", "Service Under Maintenance"))
    for status in component_statuses:
        if status == "major_outage":
            candidates.append(("critical", "Major System Outage"))
        elif status == "partial_outage":
            candidates.append(("major", "Partial System Outage"))
        elif status == "degraded_performance":
            candidates.append(("minor", "Partially Degraded Service"))
        elif status == "under_maintenance":
            candidates.append(("maintenance", "Service Under Maintenance"))
    for severity in open_incident_severities:
        if severity == "SEV-1":
            candidates.append(("critical", "Major System Outage"))
        elif severity == "SEV-2":
            candidates.append(("major", "Partial System Outage"))
        else:
            # An open SEV-3/4 outranks a merely degraded component: listed first in the table.
            candidates.append(("minor", "Minor Service Outage"))
    # Among equal indicators, the row that comes first in the table wins.
    return max(candidates, key=lambda c: (_RANK[c[0]], -_TABLE_ORDER[c[1]]))


_TABLE_ORDER = {
    "Major System Outage": 0,
    "Partial System Outage": 1,
    "Minor Service Outage": 2,
    "Partially Degraded Service": 3,
    "Service Under Maintenance": 4,
    "All Systems Operational": 5,
}


# --- Public words (issue 11) ---------------------------------------------------------------

#: How public surfaces name a severity: the playbook's own word for it, said as the
#: impact ("Critical impact"). "SEV-n" is staff jargon; it stays in the staff area and in
#: the API's ``impact``.
PUBLIC_IMPACT = {code: f"{info.name} impact" for code, info in SEVERITIES.items()}

#: Severities in the playbook's order, gravest first (the front page's order).
SEVERITY_RANK = {code: rank for rank, code in enumerate(SEVERITIES)}
