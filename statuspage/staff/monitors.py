"""Staff monitor pages: the monitors with their state (admins), add, edit, mute, delete;
and the proposals' dismiss button (any staff; publishing is the new-incident form)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField

from .. import queries
from ..clock import utcnow
from ..errors import ValidationError
from ..extensions import db
from ..forms import CLEAN, ActionForm, parse_id, select_choices
from ..models import SEVERITIES, Monitor, MonitorProposal
from ..monitors import outages, settings
from ..severity import MONITOR_DEFAULT
from .common import INVALID, actor, bp, commit_or_show_errors, confirmed, get_or_404
from .gate import admin_required


class MonitorForm(FlaskForm):
    """A monitor's settings. Its values are checked by the domain
    (``monitors.settings.clean``), which gives the messages."""

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


def _component_choices(form: MonitorForm) -> None:
    form.component.choices = [("", "Choose a component")] + [
        (str(c.id), c.name) for c in queries.all_components()]


@bp.get("/monitors")
@admin_required
def monitors():
    rows = list(db.session.scalars(db.select(Monitor).order_by(Monitor.name)))
    return render_template("staff/monitors.html", monitors=rows, action_form=ActionForm())


def _save(monitor: Monitor | None):
    if request.method == "GET" and monitor is not None:
        form = MonitorForm(data={**settings.as_form_data(monitor),
                                 "component": str(monitor.component_id)})
    else:
        form = MonitorForm()
    _component_choices(form)
    template = "staff/monitor_form.html"
    if request.method == "GET":
        return render_template(template, form=form, errors={}, monitor=monitor)
    component_id = parse_id(form.component.data)
    errors: dict[str, str] = {}
    try:
        fields = settings.clean(form.values(), component_id=component_id, existing=monitor)
    except ValidationError as exc:
        errors = exc.errors
    if not errors:
        if monitor is None:
            done = commit_or_show_errors(settings.create, fields, actor=actor(), now=utcnow())
        else:
            done = commit_or_show_errors(settings.edit, monitor, fields, actor=actor(),
                                         now=utcnow())
        if done.ok:
            flash(f"Monitor saved: {fields.name}.", "success")
            return redirect(url_for("staff.monitors"))
        errors = done.errors
    db.session.rollback()
    return render_template(template, form=form, errors=errors, monitor=monitor), INVALID


@bp.route("/monitors/new", methods=["GET", "POST"])
@admin_required
def new_monitor():
    return _save(None)


@bp.route("/monitors/<int:monitor_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_monitor(monitor_id: int):
    return _save(get_or_404(Monitor, monitor_id))


@bp.post("/monitors/<int:monitor_id>/mute")
@admin_required
def mute_monitor(monitor_id: int):
    monitor = get_or_404(Monitor, monitor_id)
    ActionForm()  # CSRFProtect has already checked the token
    muted = not monitor.muted
    done = commit_or_show_errors(settings.set_muted, monitor, muted, actor=actor(),
                                 now=utcnow())
    done.flash(f"Monitor {'muted' if muted else 'unmuted'}: {monitor.name}.")
    return redirect(url_for("staff.monitors"))


@bp.post("/monitors/<int:monitor_id>/delete")
@admin_required
def delete_monitor(monitor_id: int):
    monitor = get_or_404(Monitor, monitor_id)
    if not confirmed():
        flash("Tick the confirmation to delete the monitor. Nothing was deleted.", "error")
        return redirect(url_for("staff.monitors"))
    name = monitor.name
    done = commit_or_show_errors(settings.delete, monitor, actor=actor(), now=utcnow())
    done.flash(f"Monitor deleted: {name}.")
    return redirect(url_for("staff.monitors"))


@bp.post("/proposals/<int:proposal_id>/dismiss")
def dismiss_proposal(proposal_id: int):
    proposal = get_or_404(MonitorProposal, proposal_id)
    ActionForm()
    done = commit_or_show_errors(outages.dismiss, proposal, actor=actor(), now=utcnow())
    done.flash(f"Proposal dismissed: {proposal.component.name}.")
    return redirect(url_for("staff.dashboard"))
