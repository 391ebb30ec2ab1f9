"""What a severity means, in one table: the playbook's words, its targets and cadence, who
is told and when, and what it implies for components, the API and the overall status.

Every other module reads this table (``SEVERITIES[code].attribute`` or the helpers below)
rather than naming a severity itself; ``tests/test_layout.py`` checks it. The words are the
playbook's, word for word (``tests/data`` holds the copy the tests compare with).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterable, Optional, Union


@dataclass(frozen=True)
class BusinessDays:
    """A span counted in business days (Monday to Friday, in the site's zone)."""

    days: int


Span = Union[timedelta, BusinessDays]


@dataclass(frozen=True)
class Severity:
    """One row of the table: what the playbook says of a severity and what follows from it."""

    code: str
    name: str
    definition: str
    examples: tuple[str, ...]
    #: The playbook's "Response Time" and "Resolution Target", as it words them...
    response_time: str
    resolution_target: str
    #: ...and as spans counted from detection (``targets``).
    response_span: Span
    resolution_span: Span
    #: How often the playbook asks for an update in #incidents (None: it sets no cadence).
    update_cadence: Optional[timedelta]
    #: The Statuspage API ``impact`` of an incident of this severity.
    impact: str
    #: The row of the overall-status table an open incident of this severity makes true.
    overall: tuple[str, str]
    #: The status staff usually give an affected component (a suggestion; staff may
    #: choose any).
    component_status: str
    #: Its incidents get the outage email by default: OUTAGE_EMAIL_SEVERITIES's default
    #: lists it (operators may set the key otherwise; a test keeps the two in step).
    outage_email: bool = False
    #: Its outage email reaches every confirmed subscriber, whatever they chose (the app
    #: is down for everyone).
    tells_every_subscriber: bool = False
    #: The escalation matrix's columns told on declaration (``outbox.staff_notices``).
    staff_notices: tuple[str, ...] = ()
    #: Its Escalate To roles are told when the response target passes unacknowledged.
    escalates: bool = False
    #: Declaring it (or a monitor proposing it) pages the primary on call at once, at any
    #: hour, and starts the escalation chain (the playbook's After Hours Protocol); the
    #: others email the primary in business hours (``paging``).
    pages: bool = False
    #: A record within 24 h and a review within 72 h are asked for once resolved.
    reviewed: bool = False
    #: The playbook's #incidents declaration for this severity: its heading and the labels
    #: of its lines (``outbox.slack`` fills them); None: the status update block.
    slack_declared: Optional[tuple[str, tuple[str, ...]]] = None

    @property
    def reminds_commander(self) -> bool:
        """The commander is reminded of the next update where the playbook sets a cadence."""
        return self.update_cadence is not None

    @property
    def tone(self) -> str:
        """The overall-status indicator whose colour a public label wears (never "none":
        an incident is never shown as all well)."""
        return self.impact if self.impact != "none" else "minor"


CRITICAL = ("critical", "Major System Outage")
PARTIAL = ("major", "Partial System Outage")
MINOR_OUTAGE = ("minor", "Minor Service Outage")

SEVERITIES: dict[str, Severity] = {
    s.code: s
    for s in (
        Severity(
            "SEV-1", "Critical",
            "Application completely unavailable OR data loss/corruption OR security breach",
            ("Application down for all users", "Database unresponsive",
             "Data loss or corruption", "Security breach or unauthorized access",
             "PHI exposure"),
            "Immediate (within 15 minutes)", "2 hours",
            timedelta(minutes=15), timedelta(hours=2), timedelta(minutes=15),
            "critical", CRITICAL, "major_outage",
            outage_email=True, tells_every_subscriber=True,
            staff_notices=("primary", "executive"), escalates=True, pages=True, reviewed=True,
            slack_declared=(":rotating_light: SEV-1 INCIDENT DECLARED",
                            ("Description", "Time Detected", "Impact",
                             "Incident Commander", "Status")),
        ),
        Severity(
            "SEV-2", "High",
            "Major feature broken OR significant performance degradation affecting many users",
            ("Login not working", "Cannot save any data",
             "Charts/dashboards completely broken", ">50% of users affected by issues",
             "API errors >10% rate"),
            "1 hour", "4 hours",
            timedelta(hours=1), timedelta(hours=4), timedelta(minutes=30),
            "major", PARTIAL, "partial_outage",
            outage_email=True, staff_notices=("primary",), escalates=True, pages=True,
            reviewed=True,
            slack_declared=(":warning: SEV-2 INCIDENT",
                            ("Description", "Impact", "Investigating")),
        ),
        Severity(
            "SEV-3", "Medium",
            "Feature partially broken OR performance issues affecting some users",
            ("Food photo analysis failing", "Report generation broken",
             "Individual feature not working", "<50% of users affected",
             "Performance degradation"),
            "4 hours", "24 hours",
            timedelta(hours=4), timedelta(hours=24), None,
            # An open SEV-3/4 outranks a merely degraded component: listed first in the table.
            "minor", MINOR_OUTAGE, "degraded_performance",
        ),
        Severity(
            "SEV-4", "Low",
            "Minor issue OR cosmetic problems OR single user affected",
            ("UI glitch", "Minor display issues", "Single user having trouble",
             "Non-critical feature issue"),
            "24 hours", "3 business days",
            timedelta(hours=24), BusinessDays(3), None,
            "none", MINOR_OUTAGE, "degraded_performance",
        ),
    )
}

#: The severities, gravest first (the playbook's order; the forms' choices).
CODES: tuple[str, ...] = tuple(SEVERITIES)
#: Severities in the playbook's order, gravest first (the front page's order).
SEVERITY_RANK = {code: rank for rank, code in enumerate(SEVERITIES)}
#: Statuspage's ``impact`` -> our severity (the write API's ``impact_override``).
BY_IMPACT = {info.impact: code for code, info in SEVERITIES.items()}
#: The write API's incident without ``impact_override``: no outage email unless staff
#: raise it.
API_DEFAULT = "SEV-3"
#: What a monitor proposes unless its admin chose otherwise.
MONITOR_DEFAULT = "SEV-2"
#: What a form or the monitors' settings say to a severity that is none of these.
CHOICE_ERROR = f"Choose one of {', '.join(CODES)}."

#: Suggested next-update interval where the playbook sets no cadence.
DEFAULT_NEXT_UPDATE = timedelta(minutes=60)


def codes_where(test: Union[str, Callable[[Severity], bool]]) -> tuple[str, ...]:
    """The severities whose attribute named ``test`` is true (or that pass ``test``),
    gravest first."""
    check = (lambda info: getattr(info, test)) if isinstance(test, str) else test
    return tuple(code for code, info in SEVERITIES.items() if check(info))


def suggested_next_update(severity: str) -> timedelta:
    return SEVERITIES[severity].update_cadence or DEFAULT_NEXT_UPDATE


# --- Words that name severities: the playbook's, and the pages' (derived from the table) ---


#: The playbook's Key Contacts, "When to Contact", where it names a severity: its words,
#: shown as the roles' hints (what the status page does is the table's attributes).
KEY_CONTACTS_WHEN = {"oncall": "Any SEV-1/2", "tech_lead": "SEV-1 escalation",
                     "executive_sponsor": "SEV-1 escalation"}


def either(codes: Iterable[str]) -> str:
    """``SEV-1 or SEV-2``."""
    return " or ".join(codes)


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def told_on_declaration(column: str) -> tuple[str, ...]:
    """The severities whose declaration tells this column of the escalation matrix."""
    return codes_where(lambda info: column in info.staff_notices)


def staff_words() -> dict[str, str]:
    """The staff pages' help texts' phrases for what the table says."""
    cadence = codes_where(lambda info: info.update_cadence is not None)
    others = [code for code in SEVERITIES if code not in cadence]
    return {
        "primary": either(told_on_declaration("primary")),
        "executive": either(told_on_declaration("executive")),
        "escalates": either(codes_where("escalates")),
        # "every 15 minutes for SEV-1 and every 30 minutes for SEV-2"
        "cadence": " and ".join(
            f"every {_minutes(SEVERITIES[c].update_cadence)} minutes for {c}" for c in cadence),
        # "SEV-1 every 15 minutes, SEV-2 every 30 minutes (the playbook), SEV-3 and SEV-4
        # in 60 minutes"
        "suggested": ", ".join(
            f"{c} every {_minutes(SEVERITIES[c].update_cadence)} minutes" for c in cadence)
        + f" (the playbook), {' and '.join(others)} in {_minutes(DEFAULT_NEXT_UPDATE)} minutes",
    }


STAFF_WORDS = staff_words()


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
            candidates.append(CRITICAL)
        elif status == "partial_outage":
            candidates.append(PARTIAL)
        elif status == "degraded_performance":
            candidates.append(("minor", "Partially Degraded Service"))
        elif status == "under_maintenance":
            candidates.append(("maintenance", "Service Under Maintenance"))
    for severity in open_incident_severities:
        info = SEVERITIES.get(severity)
        candidates.append(info.overall if info is not None else MINOR_OUTAGE)
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
