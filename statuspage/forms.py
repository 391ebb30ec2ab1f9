"""Flask-WTF forms (CSRF on every one) and the parsing of what the browser sends.

The forms parse and render; the rules (which statuses, which lengths, which times) live
in the domain modules, whose ``ValidationError`` messages the views put back at the
fields. Parsing problems (a date that is not a date) are reported the same way, keyed by
the form field's name.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Mapping, Optional
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from .data_impact import DataImpact
from .models import (
    COMPONENT_STATUS_LABELS,
    COMPONENT_STATUSES,
    EMAIL_MAX,
    INCIDENT_STATUS_LABELS,
    INCIDENT_STATUSES,
    ROLES,
    SEVERITIES,
)
from .present import DATA_STATUS_WORDS, USER_ACTION_WORDS
from .severity import SEVERITIES as SEVERITY_INFO
from .severity import suggested_next_update
from .text import clean_text

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms import SelectChoice

    def select_choices(pairs) -> list:
        return [SelectChoice(value, label) for value, label in pairs]

except ImportError:  # pragma: no cover - older WTForms

    def select_choices(pairs) -> list:
        return list(pairs)


#: Name prefix of the per-component status selects: ``component_status-<id>``.
COMPONENT_STATUS_PREFIX = "component_status-"

#: The status staff usually give an affected component at each severity (a suggestion the
#: form's script makes when "affected" is ticked; staff may choose any).
USUAL_COMPONENT_STATUS = {
    "SEV-1": "major_outage",
    "SEV-2": "partial_outage",
    "SEV-3": "degraded_performance",
    "SEV-4": "degraded_performance",
}

INCIDENT_STATUS_CHOICES = [(s, INCIDENT_STATUS_LABELS[s]) for s in INCIDENT_STATUSES]
COMPONENT_STATUS_CHOICES = [(s, COMPONENT_STATUS_LABELS[s]) for s in COMPONENT_STATUSES]
SEVERITY_CHOICES = [(s, f"{s}: {SEVERITY_INFO[s].name}") for s in SEVERITIES]
ROLE_CHOICES = [(r, r.capitalize()) for r in ROLES]

#: Quick choices for the next update; a typed time wins over "suggested" and "".
NEXT_UPDATE_CHOICES = [
    ("suggested", "Suggested: the severity's cadence"),
    ("15", "In 15 minutes"),
    ("30", "In 30 minutes"),
    ("60", "In 60 minutes"),
    ("", "No time promised (or the time typed below)"),
]
QUICK_MINUTES = {"15": 15, "30": 30, "60": 60}

#: The impact block's choices in the words participants read ("" for "what to do": not said).
DATA_STATUS_CHOICES = [(s, w) for s, w in DATA_STATUS_WORDS.items()]
USER_ACTION_CHOICES = [("", "Not said yet")] + [(a, w) for a, w in USER_ACTION_WORDS.items()]

#: What a ``datetime-local`` input sends (with or without seconds), and a typed fallback.
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
DATETIME_HELP = "Enter a date and time, for example 2026-11-26T14:30."
#: The largest id the database's integer column holds: a lookup beyond it is a 404, not
#: an error from PostgreSQL.
MAX_ID = 2**31 - 1
INPUT_MAX = 10_000  # longer than any domain limit: the domain gives the exact message


def _clean(value):
    """What a field echoes back and hands on: no NUL, control or bidi-override characters
    (the domain cleans again before storing; this keeps them out of the re-shown form)."""
    return clean_text(value) if isinstance(value, str) else value


def _one_line(value):
    """What is echoed back into the form: no control characters, one line."""
    return clean_text(value, single_line=True) if isinstance(value, str) else value


#: Filters of every text field.
CLEAN = [_clean]


class LoginForm(FlaskForm):
    email = EmailField("Email", filters=CLEAN,
                       validators=[DataRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class TwoFactorCodeForm(FlaskForm):
    """The second step of sign-in, enrolment's confirmation, turning 2FA off: one code."""

    code = StringField("Code", filters=CLEAN, validators=[DataRequired(), Length(max=32)])


class ActionForm(FlaskForm):
    """A button that POSTs (reopen, redact, delete, reset): the CSRF token only."""


class _ImpactFields(FlaskForm):
    """The participants' impact block: choices and a window, never free text."""

    data_status = RadioField("Your data", choices=select_choices(DATA_STATUS_CHOICES),
                             default="not_yet_known", validate_choice=False)
    user_action = RadioField("What you need to do", choices=select_choices(USER_ACTION_CHOICES),
                             default="", validate_choice=False)
    data_gap_from = StringField("Entries may be missing from", filters=CLEAN)
    data_gap_until = StringField("until", filters=CLEAN)


class _UpdateFields(_ImpactFields):
    status = SelectField("Status", choices=select_choices(INCIDENT_STATUS_CHOICES),
                         validate_choice=False)
    impact = TextAreaField("Impact: what users are experiencing", filters=CLEAN)
    actions = TextAreaField("Actions: what we're doing", filters=CLEAN)
    workaround = TextAreaField("Workaround (if available)", filters=CLEAN)
    next_update_in = SelectField("Next update", choices=select_choices(NEXT_UPDATE_CHOICES),
                                 default="suggested", validate_choice=False)
    next_update = StringField("Next update at", filters=CLEAN)


class IncidentForm(_UpdateFields):
    """Declare an incident with its first update."""

    issue = StringField("Issue: a brief description", filters=CLEAN)
    severity = RadioField("Severity", choices=select_choices(SEVERITY_CHOICES),
                          validate_choice=False)
    started_at = StringField("Started at (leave empty for now)", filters=CLEAN)
    previous_incident_id = HiddenField(filters=CLEAN)


class UpdateForm(_UpdateFields):
    """The next update of an incident; Resolved takes the staff-only fields too."""

    root_cause = TextAreaField("Root cause (staff only)", filters=CLEAN)
    resolution = TextAreaField("Resolution: what we did (staff only)", filters=CLEAN)
    review_on = StringField("Post-incident review on (staff only)", filters=CLEAN)


class EditIncidentForm(_ImpactFields):
    issue = StringField("Issue: a brief description", filters=CLEAN)
    severity = RadioField("Severity", choices=select_choices(SEVERITY_CHOICES),
                          validate_choice=False)
    started_at = StringField("Started at", filters=CLEAN)


class ComponentForm(FlaskForm):
    name = StringField("Name", filters=CLEAN)
    description = StringField("Description", filters=CLEAN)
    group = StringField("Group (optional)", filters=CLEAN)
    position = StringField("Position (lower comes first)", default="0", filters=CLEAN)
    status = SelectField("Status", choices=select_choices(COMPONENT_STATUS_CHOICES),
                         default="operational", validate_choice=False)


class ComponentStatusForm(FlaskForm):
    status = SelectField("Status", choices=select_choices(COMPONENT_STATUS_CHOICES),
                         validate_choice=False)


class NewStaffForm(FlaskForm):
    email = EmailField("Email", filters=CLEAN)
    role = SelectField("Role", choices=select_choices(ROLE_CHOICES), default="responder",
                       validate_choice=False)


class StaffEditForm(FlaskForm):
    role = SelectField("Role", choices=select_choices(ROLE_CHOICES),
                       validate_choice=False)
    active = BooleanField("Active")


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password")
    new_password = PasswordField("New password")
    confirm_password = PasswordField("New password again")


class DeleteSubscriberForm(FlaskForm):
    email = StringField("Email address of the subscriber to delete")


class ExportSubscriberForm(FlaskForm):
    email = StringField("Email address of the subscriber whose data to export")


class MaintenanceForm(FlaskForm):
    """Schedule a maintenance window, or edit one (its times change by rescheduling)."""

    title = StringField("Title: what the work is", filters=CLEAN)
    scheduled_for = StringField("Starts", filters=CLEAN)
    scheduled_until = StringField("Ends", filters=CLEAN)
    description = TextAreaField("What users will notice", filters=CLEAN)
    workaround = TextAreaField("Workaround (optional)", filters=CLEAN)
    notify = BooleanField("Email subscribers about this window", default=True)
    auto_start = BooleanField("Start it automatically at its start time", default=True)
    auto_complete = BooleanField("Complete it automatically at its end time", default=True)


class RescheduleForm(FlaskForm):
    scheduled_for = StringField("New start", filters=CLEAN)
    scheduled_until = StringField("New end", filters=CLEAN)


class MaintenanceUpdateForm(FlaskForm):
    actions = TextAreaField("What we're doing", filters=CLEAN)
    impact = TextAreaField("What users notice now (optional)", filters=CLEAN)
    workaround = TextAreaField("Workaround (optional)", filters=CLEAN)


class WebhookForm(FlaskForm):
    """A new webhook: its URL, and everything or some components (checkboxes
    ``components``, parsed by ``parse_component_ids``)."""

    url = StringField("URL that receives the notifications", filters=[_one_line])
    scope = RadioField("Which changes", choices=select_choices([
        ("all", "Everything: every incident and component change"),
        ("some", "Only these components:")]), default="all", validate_choice=False)


class SubscribeForm(FlaskForm):
    """The public subscribe form. The ticked ``components`` (checkboxes, one value each)
    are read from the request as a list."""

    # Checked by the domain (subscriptions.subscribe, check_choices), which gives the
    # messages.
    email = StringField("Email address", filters=[_one_line])
    audience = StringField("I am a")  # radio buttons: participant or coach
    scope = StringField("Emails about", default="all")  # radio buttons: all or some
    timezone = StringField("Time zone", filters=[_one_line])  # a select of IANA names
    website = StringField("Leave this field empty")  # the honeypot (subscribe.HONEYPOT)


class PreferencesForm(FlaskForm):
    """A subscriber's preferences page (/subscription/<token>); ``components`` as in
    ``SubscribeForm``."""

    audience = StringField("I am a")
    scope = StringField("Emails about")
    timezone = StringField("Time zone", filters=[_one_line])
    maintenance_notices = StringField("Maintenance notices")  # radio buttons: on or off


# --- Parsing -------------------------------------------------------------------------------


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
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def same_minute(a: datetime, b: datetime) -> bool:
    return a.replace(second=0, microsecond=0) == b.replace(second=0, microsecond=0)


def parse_id(value) -> Optional[int]:
    """A positive id that fits the database's integer column, else None."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


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
    form: _UpdateFields, *, severity: Optional[str], now: datetime, tz: ZoneInfo,
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


def parse_data_impact(form: _ImpactFields, formdata: Mapping, tz: ZoneInfo, errors: dict,
                      was: Optional[DataImpact] = None) -> Optional[DataImpact]:
    """The impact block as typed (None when the form sent none of its fields: unchanged);
    the domain (``data_impact``) checks the choices and the window. A time shown to the
    minute and sent back unchanged keeps its seconds (``was``)."""
    if not any(name in formdata for name in IMPACT_FIELDS):
        return None
    value = DataImpact(
        # From the request, not the field: a radio not sent is not its default.
        data_status=_clean(formdata.get("data_status") or "").strip(),
        user_action=_clean(formdata.get("user_action") or "").strip() or None,
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


def fill_data_impact(form: _ImpactFields, value: DataImpact, tz: ZoneInfo) -> None:
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
    try:
        return int(value)
    except ValueError:
        errors["position"] = "Enter a whole number, for example 3."
        return 0


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
