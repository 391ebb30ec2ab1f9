"""What every surface shares: redaction, an update's template lines, time formats, URLs.

The public pages, the feeds, the JSON API, the widgets, the staff pages (and the emails)
show the same update in the same words: this module says them once, so a view never
imports another view to borrow its wording. Pure functions, no database.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional, Protocol
from zoneinfo import ZoneInfo

from flask import current_app

from .models import Incident, IncidentUpdate
from .text import clean_text

#: What an admin's redaction leaves of an update's text, everywhere it is shown.
REDACTED = "[redacted]"


# --- Times ---------------------------------------------------------------------------------


def iso(value: Optional[datetime], timespec: str = "auto") -> Optional[str]:
    """ISO 8601 in UTC with its offset (``None`` stays ``None``).

    ``timespec`` as ``datetime.isoformat``: the JSON API promises milliseconds; audit
    records and data exports keep the default.
    """
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec=timespec)


def local_time(value: datetime, tz: ZoneInfo) -> str:
    """``2026-11-26 14:05 CET``: the time in the site's zone, as the status update block,
    the feeds and the API's update body write it."""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _day(value: datetime) -> str:
    """``26 November``: a date as a participant says it."""
    return f"{value.day} {value:%B}"


def window_text(start: datetime, end: datetime, zone: ZoneInfo, *,
                told_at: Optional[datetime] = None) -> str:
    """A data-gap window in ``zone``: ``14:05 and 14:50 CET``, to follow "between".

    A window that lies within the day the reader is told (``told_at``, in ``zone``) names
    no date; one on another day names it (``on 25 November``), one across midnight names
    both dates. The zone is named once, or at each time when they differ (a change to or
    from summer time inside the window).
    """
    first, last = start.astimezone(zone), end.astimezone(zone)
    told = told_at.astimezone(zone).date() if told_at is not None else None
    one_zone = first.tzname() == last.tzname()
    first_time = f"{first:%H:%M}" if one_zone else f"{first:%H:%M %Z}"
    last_time = f"{last:%H:%M %Z}"
    if first.date() != last.date():
        return f"{_day(first)} {first_time} and {_day(last)} {last_time}"
    if first.date() == told:
        return f"{first_time} and {last_time}"
    return f"{first_time} and {last_time} on {_day(first)}"


# --- The impact block ----------------------------------------------------------------------

#: "Your data": the words of each ``Incident.data_status``.
DATA_STATUS_WORDS = {
    "not_yet_known": "Not yet known",
    "being_checked": "Being checked",
    "some_entries_missing": "Some entries may be missing",
    "safe": "Safe",
}
#: "What you need to do": the words of each ``Incident.user_action``.
USER_ACTION_WORDS = {
    "nothing": "Nothing",
    "use_workaround": "Use the workaround",
    "reenter_entries": "Re-enter the entries that may be missing",
}
DATA_LABEL, ACTION_LABEL, GAP_LABEL = "Your data", "What you need to do", "Data gap"


class ImpactFields(Protocol):
    """An incident, or the block as a value (``data_impact.DataImpact``)."""

    data_status: Optional[str]
    user_action: Optional[str]
    data_gap_from: Optional[datetime]
    data_gap_until: Optional[datetime]


def has_impact(incident: ImpactFields) -> bool:
    """Whether staff said anything in the block (the default says nothing: the emails then
    keep the playbook's words and the pages show no block)."""
    return ((incident.data_status or "not_yet_known") != "not_yet_known"
            or incident.user_action is not None or incident.data_gap_from is not None)


def data_gap_text(incident: ImpactFields, zone: ZoneInfo, *,
                  told_at: Optional[datetime] = None) -> Optional[str]:
    """``between 14:05 and 14:50 CET``, or None without a window."""
    if incident.data_gap_from is None or incident.data_gap_until is None:
        return None
    return "between " + window_text(incident.data_gap_from, incident.data_gap_until, zone,
                                    told_at=told_at)


def impact_lines(incident: ImpactFields, zone: ZoneInfo, *,
                 told_at: Optional[datetime] = None) -> list[tuple[str, str]]:
    """The impact block as (label, words), or [] when staff said nothing. Only the choices
    and the window: the block has no free text, so it can carry no health data."""
    if not has_impact(incident):
        return []
    lines = [(DATA_LABEL, DATA_STATUS_WORDS.get(incident.data_status or "not_yet_known",
                                                DATA_STATUS_WORDS["not_yet_known"]))]
    if incident.user_action in USER_ACTION_WORDS:
        lines.append((ACTION_LABEL, USER_ACTION_WORDS[incident.user_action]))
    gap = data_gap_text(incident, zone, told_at=told_at)
    if gap:
        lines.append((GAP_LABEL, f"Entries {gap} may be missing"))
    return lines


# --- An update's text ----------------------------------------------------------------------


def public_text(update: IncidentUpdate) -> tuple[str, str, str]:
    """(impact, actions, workaround) as the public may read them: "[redacted]" once an
    admin redacted the update, whatever the row still holds."""
    if update.redacted_at is not None:
        return REDACTED, REDACTED, REDACTED if update.workaround else ""
    return update.impact, update.actions, update.workaround


def plain(value: str, *, single_line: bool = False) -> str:
    """Stored text cleaned once more for output.

    Stored text was cleaned on the way in; clean again so that a row written some other
    way can never make lxml raise (NUL, control characters) or reverse a line (U+202E).
    """
    return clean_text(value, single_line=single_line)


def template_lines(impact: str, actions: str, workaround: str,
                   next_update_at: Optional[datetime], tz: ZoneInfo) -> list[tuple[str, str]]:
    """An update's template fields as (label, plain text), without the empty ones.

    Shared by the feeds and the JSON API's ``body``.
    """
    lines = [("Impact", plain(impact)), ("Actions", plain(actions)),
             ("Workaround", plain(workaround))]
    if next_update_at is not None:
        lines.append(("Next Update", local_time(next_update_at, tz)))
    return [(label, value) for label, value in lines if value]


def incident_commander(incident: Incident) -> str:
    """Who the messages and the record name as Incident Commander: their display name,
    else address."""
    if incident.commander is not None:
        return incident.commander.shown_name
    return "Not assigned"


def status_update_block(incident: Incident, update: IncidentUpdate, tz: ZoneInfo) -> str:
    """The update as the playbook's "METABOLIC-TRACKER STATUS UPDATE" block, for Slack."""
    if update.next_update_at is not None:
        next_update = local_time(update.next_update_at, tz)
    elif update.status == "resolved":
        next_update = "None (resolved)"
    else:
        next_update = "Not scheduled"
    return "\n".join(
        [
            "METABOLIC-TRACKER STATUS UPDATE",
            f"Time: {local_time(update.posted_at, tz)}",
            f"Status: {update.status_label}",
            "",
            f"Issue: {incident.title}",
            # A Resolved update may leave the Impact empty: nothing is experienced now.
            f"Impact: {update.impact or 'None (resolved)'}",
            f"Next Update: {next_update}",
            "",
            f"Actions: {update.actions}",
            f"Workaround: {update.workaround or 'None available'}",
        ]
    )


# --- Public URLs ---------------------------------------------------------------------------


def site_url() -> str:
    """The public page's base URL (``PUBLIC_URL``, without a trailing slash)."""
    return current_app.config["PUBLIC_URL"]


def front_page_url(public_url: Optional[str] = None) -> str:
    """The status page itself."""
    return f"{public_url if public_url is not None else site_url()}/"


def incident_url(incident_id: int, public_url: Optional[str] = None) -> str:
    """An incident's public page; ``public_url`` defaults to the app's ``PUBLIC_URL``."""
    return f"{public_url if public_url is not None else site_url()}/incidents/{incident_id}"


def maintenance_url(maintenance_id: int, public_url: Optional[str] = None) -> str:
    """A maintenance window's public page (issue 12)."""
    return f"{public_url if public_url is not None else site_url()}/maintenance/{maintenance_id}"


#: A maintenance window's status in the public's words (pages, feeds, calendar).
MAINTENANCE_STATUS_LABELS = {
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "verifying": "Verifying",
    "completed": "Completed",
    "cancelled": "Cancelled",
}


# --- Durations in words (the public pages) -------------------------------------------------


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def duration_words(seconds: float) -> str:
    """``less than a minute``, ``12 minutes``, ``2 hours 5 minutes``, ``3 days 4 hours``.

    Never seconds: a page rendered once a minute would keep saying "17 s" for a minute.
    """
    minutes = int(max(0, seconds)) // 60
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return _count(minutes, "minute")
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return " ".join([_count(hours, "hour")] + ([_count(minutes, "minute")] if minutes else []))
    days, hours = divmod(hours, 24)
    return " ".join([_count(days, "day")] + ([_count(hours, "hour")] if hours else []))
