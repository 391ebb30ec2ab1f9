"""The monitor form (``/staff/monitors``). Its values are checked by the domain
(``monitors.settings.clean``), which gives the messages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField

from .forms import CLEAN, select_choices
from .models import SEVERITIES
from .severity import MONITOR_DEFAULT


class MonitorForm(FlaskForm):
    name = StringField("Name", filters=CLEAN)
    url = StringField("URL to check (e.g. the tracked app's /health/ready)", filters=CLEAN)
    component = SelectField("Component it watches", choices=[], validate_choice=False)
    interval = StringField("Check every (seconds, 10 to 86400)", default="30", filters=CLEAN)
    timeout = StringField("Timeout (seconds, 1 to 60)", default="5", filters=CLEAN)
    failures = StringField("Failed checks in a row before it counts as down (1 to 20)",
                           default="3", filters=CLEAN)
    successes = StringField("Passed checks in a row before it counts as up (1 to 20)",
                            default="2", filters=CLEAN)
    severity = SelectField("Severity to propose", default=MONITOR_DEFAULT,
                           validate_choice=False,
                           choices=select_choices((s, s) for s in SEVERITIES))
    auto_publish = BooleanField("Publish the incident at once (Investigating), without "
                                "waiting for staff")

    def values(self) -> dict:
        return {"name": self.name.data or "", "url": self.url.data or "",
                "interval": self.interval.data, "timeout": self.timeout.data,
                "failures": self.failures.data, "successes": self.successes.data,
                "severity": self.severity.data or "", "auto_publish": bool(
                    self.auto_publish.data)}
