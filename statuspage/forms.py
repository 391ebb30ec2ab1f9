"""Flask-WTF forms (CSRF on every one); the parsing of what the browser sends is in
``form_parsing`` (re-exported here, where the views import it from).

The forms parse and render; the rules (which statuses, which lengths, which times) live
in the domain modules, whose ``ValidationError`` messages the views put back at the
fields. Parsing problems (a date that is not a date) are reported the same way, keyed by
the form field's name.
"""

from __future__ import annotations


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

from .form_parsing import (  # noqa: F401  (the views' words: forms.parse_id, ...)
    COMPONENT_STATUS_PREFIX,
    DATETIME_HELP,
    IMPACT_FIELDS,
    MAX_ID,
    QUICK_MINUTES,
    fill_data_impact,
    parse_component_ids,
    parse_component_statuses,
    parse_data_impact,
    parse_existing_local,
    parse_id,
    parse_local_datetime,
    parse_next_update,
    parse_position,
    parse_review_on,
    parse_started_at,
    parse_window_time,
    same_minute,
    to_local_input,
)
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
from .text import clean_text

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms import SelectChoice

    def select_choices(pairs) -> list:
        return [SelectChoice(value, label) for value, label in pairs]

except ImportError:  # pragma: no cover - older WTForms

    def select_choices(pairs) -> list:
        return list(pairs)



#: The status staff usually give an affected component at each severity (a suggestion the
#: form's script makes when "affected" is ticked; staff may choose any).
USUAL_COMPONENT_STATUS = {code: info.component_status for code, info in SEVERITY_INFO.items()}

COMPONENT_STATUS_CHOICES = [(s, COMPONENT_STATUS_LABELS[s]) for s in COMPONENT_STATUSES]
ROLE_CHOICES = [(r, r.capitalize()) for r in ROLES]

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
