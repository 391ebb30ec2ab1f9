"""What more than one view module shares about forms; each form lives beside the views
that use it (``staff/incidents.py`` holds the incident forms, ``auth.py`` the sign-in
form, ...), since a view module may not import another.

Here: the field filters (``CLEAN``, ``ONE_LINE``), ``select_choices``, the component
status choices, and the two forms more than one view module shows (``ActionForm``,
``TwoFactorCodeForm``). The parsing of what the browser sends is in ``form_parsing``,
re-exported here, where the views import it from.

Every form is a Flask-WTF form (CSRF on every one). The forms parse and render; the rules
(which statuses, which lengths, which times) live in the domain modules, whose
``ValidationError`` messages the views put back at the fields. Parsing problems (a date
that is not a date) are reported the same way, keyed by the form field's name.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
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
from .models import COMPONENT_STATUS_LABELS, COMPONENT_STATUSES
from .text import clean_text

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms import SelectChoice

    def select_choices(pairs) -> list:
        return [SelectChoice(value, label) for value, label in pairs]

except ImportError:  # pragma: no cover - older WTForms

    def select_choices(pairs) -> list:
        return list(pairs)


#: Both component forms' status choices (the component page's and the dashboard's).
COMPONENT_STATUS_CHOICES = [(s, COMPONENT_STATUS_LABELS[s]) for s in COMPONENT_STATUSES]


def _clean(value):
    """What a field echoes back and hands on: no NUL, control or bidi-override characters
    (the domain cleans again before storing; this keeps them out of the re-shown form)."""
    return clean_text(value) if isinstance(value, str) else value


def _one_line(value):
    """What is echoed back into the form: no control characters, one line."""
    return clean_text(value, single_line=True) if isinstance(value, str) else value


#: Filters of every text field.
CLEAN = [_clean]
#: Filters of a field that is one line (an address, a URL, a name, a time zone).
ONE_LINE = [_one_line]


class TwoFactorCodeForm(FlaskForm):
    """The second step of sign-in, enrolment's confirmation, turning 2FA off: one code."""

    code = StringField("Code", filters=CLEAN, validators=[DataRequired(), Length(max=32)])


class ActionForm(FlaskForm):
    """A button that POSTs (reopen, redact, delete, reset): the CSRF token only."""
