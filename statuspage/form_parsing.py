"""The parsing of what the browser sends: local times in a time zone, ids, component
statuses, the next update, the impact block, positions and dates. Problems are added to
``errors``, keyed by the form field's name (the forms themselves are in ``forms``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Mapping, Optional
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm

from .data_impact import DataImpact
from .numbers import MAX_ID, parse_id, whole_number  # noqa: F401 (forms re-exports them)
from .severity import SEVERITIES as SEVERITY_INFO
from .severity import suggested_next_update
from .text import clean_text

#: Name prefix of the per-component status selects: ``component_status-<id>``.
COMPONENT_STATUS_PREFIX = "component_status-"
#: The minutes of the next update's quick choices (``staff.incidents.NEXT_UPDATE_CHOICES``).
QUICK_MINUTES = {"15": 15, "30": 30, "60": 60}
#: What a ``datetime-local`` input sends (with or without seconds), and a typed fallback.
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
DATETIME_HELP = "Enter a date and time, for example 2026-11-26T14:30."


def parse_local_datetime(value: Optional[str], tz: ZoneInfo) -> Optional[datetime]:
    """A ``datetime-local`` value in the site's zone as aware UTC; None when empty.

    Raises ``ValueError`` for anything that is not a date and time.
    """
    value = (value or "").strip()
    if not value:
        return None
    for fmt in _LOCAL_FORMATS:
        try:
            naive = datetime.strptime(value, fmt)
        except ValueError:
            continue
        try:
            return naive.replace(tzinfo=tz).astimezone(timezone.utc)
        except (OverflowError, ValueError):
            break  # year 1 or 9999 shifted out of range
    raise ValueError(value)


def to_local_input(value: Optional[datetime], tz: ZoneInfo) -> str:
    """An aware datetime as a ``datetime-local`` value in the site's zone."""
    if value is None:
        return ""
    return value.astimezone(tz).isoformat(timespec="minutes")[:16]  # a year < 1000 padded


def same_minute(a: datetime, b: datetime) -> bool:
    return a.replace(second=0, microsecond=0) == b.replace(second=0, microsecond=0)


def parse_component_ids(values: list[str], errors: dict) -> list[int]:
    """The checked ``components``; an id that cannot be one is an unknown component."""
    ids = []
    for value in values:
        number = parse_id(value)
        if number is None:
            errors["components"] = "Unknown component."
        else:
            ids.append(number)
    return ids


def parse_component_statuses(formdata: Mapping, errors: dict) -> dict[int, str]:
    """``component_status-<id>`` selects; "" means no change."""
    statuses: dict[int, str] = {}
    for key in formdata:
        if not key.startswith(COMPONENT_STATUS_PREFIX):
            continue
        value = (formdata.get(key) or "").strip()
        if not value:
            continue
        number = parse_id(key[len(COMPONENT_STATUS_PREFIX):])
        if number is None:
            errors["component_statuses"] = "Unknown component."
            continue
        statuses[number] = value
    return statuses


def parse_next_update(
    form: FlaskForm, *, severity: Optional[str], now: datetime, tz: ZoneInfo,
    errors: dict,
) -> Optional[datetime]:
    """The promised time of the next update from the quick choice or the typed time.

    A typed time wins over the suggestion; a typed time with an explicit +15/+30/+60 is
    ambiguous and refused.
    """
    choice = form.next_update_in.data or ""
    try:
        typed = parse_local_datetime(form.next_update.data, tz)
    except ValueError:
        errors["next_update"] = DATETIME_HELP
        return None
    if choice in QUICK_MINUTES:
        if typed is not None:
            errors["next_update"] = "Choose a quick choice or type a time, not both."
            return None
        return now + timedelta(minutes=QUICK_MINUTES[choice])
    if typed is not None:
        return typed
    if choice == "suggested":
        if severity in SEVERITY_INFO:
            return now + suggested_next_update(severity)
        return None  # the severity's own error says what to fix
    if choice:
        errors["next_update"] = "Choose one of the offered times."
    return None


def parse_existing_local(value: Optional[str], tz: ZoneInfo, name: str,
                         errors: dict) -> Optional[datetime]:
    """A ``datetime-local`` value as aware UTC, refusing a time the clocks skip (the
    change to summer time): it happened at no moment."""
    try:
        moment = parse_local_datetime(value, tz)
    except ValueError:
        errors[name] = DATETIME_HELP
        return None
    if moment is not None:
        typed = datetime.strptime(to_local_input(moment, tz), "%Y-%m-%dT%H:%M")
        naive = parse_local_datetime(value, timezone.utc)
        if naive is not None and typed != naive.replace(tzinfo=None, second=0):
            errors[name] = (f"This time does not exist in {tz.key}: the clocks skip it. "
                            "Enter a time before or after the change.")
            return None
    return moment


IMPACT_FIELDS = ("data_status", "user_action", "data_gap_from", "data_gap_until")


def parse_data_impact(form: FlaskForm, formdata: Mapping, tz: ZoneInfo, errors: dict,
                      was: Optional[DataImpact] = None) -> Optional[DataImpact]:
    """The impact block as typed (None when the form sent none of its fields: unchanged);
    the domain (``data_impact``) checks the choices and the window. A time shown to the
    minute and sent back unchanged keeps its seconds (``was``)."""
    if not any(name in formdata for name in IMPACT_FIELDS):
        return None
    value = DataImpact(
        # From the request, not the field: a radio not sent is not its default.
        data_status=clean_text(formdata.get("data_status") or "").strip(),
        user_action=clean_text(formdata.get("user_action") or "").strip() or None,
        data_gap_from=parse_existing_local(form.data_gap_from.data, tz, "data_gap_from",
                                           errors),
        data_gap_until=parse_existing_local(form.data_gap_until.data, tz, "data_gap_until",
                                            errors),
    )
    if was is not None:
        start, end = value.data_gap_from, value.data_gap_until
        if start and was.data_gap_from and same_minute(start, was.data_gap_from):
            start = was.data_gap_from
        if end and was.data_gap_until and same_minute(end, was.data_gap_until):
            end = was.data_gap_until
        value = DataImpact(value.data_status, value.user_action, start, end)
    return value


def fill_data_impact(form: FlaskForm, value: DataImpact, tz: ZoneInfo) -> None:
    """Show what the incident says now in the form."""
    form.data_status.data = value.data_status
    form.user_action.data = value.user_action or ""
    form.data_gap_from.data = to_local_input(value.data_gap_from, tz)
    form.data_gap_until.data = to_local_input(value.data_gap_until, tz)


def parse_window_time(value: Optional[str], tz: ZoneInfo, name: str, errors: dict
                      ) -> Optional[datetime]:
    """A maintenance window's start or end typed in the site's zone, as aware UTC (None
    when empty or wrong, with the message under ``name``): as ``parse_existing_local``."""
    return parse_existing_local((value or "").strip(), tz, name, errors)


def parse_started_at(value: Optional[str], tz: ZoneInfo, errors: dict) -> Optional[datetime]:
    try:
        return parse_local_datetime(value, tz)
    except ValueError:
        errors["started_at"] = DATETIME_HELP
        return None


def parse_position(value: Optional[str], errors: dict) -> int:
    value = (value or "").strip()
    if not value:
        return 0
    number = whole_number(value, signed=True)
    if number is None:
        errors["position"] = "Enter a whole number, for example 3."
        return 0
    return number


def parse_review_on(value: Optional[str], errors: dict) -> Optional[date]:
    """The review date typed as YYYY-MM-DD (a date input sends that); None when empty."""
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        errors["review_on"] = "Enter a date such as 2026-12-01."
        return None
