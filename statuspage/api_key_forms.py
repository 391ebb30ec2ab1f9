"""The form of the staff page ``/staff/api-keys`` (``forms.py`` is full)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField

from .text import clean_text


def _one_line(value):
    return clean_text(value, single_line=True) if isinstance(value, str) else value


class ApiKeyForm(FlaskForm):
    """A new write-API key: the name of the tool that will use it."""

    name = StringField("Name (the tool that will use the key)", filters=[_one_line])
