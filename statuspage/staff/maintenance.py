"""Staff maintenance pages (responders and admins): the list, schedule, and each window's
page (edit, reschedule, post an update, start now, verify, complete now, cancel).

Thin views: parse, call one ``statuspage.maintenance`` operation once per form shown
(``commit_once``), flash, redirect; a ``ValidationError`` re-shows the page with its
messages at the fields (422), nothing stored. Times are typed in SITE_TIMEZONE.
"""

from __future__ import annotations

from typing import Callable

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

from .. import maintenance as domain
from .. import queries
from ..clock import utcnow
from ..forms import (
    CLEAN,
    ActionForm,
    parse_component_ids,
    parse_window_time,
    same_minute,
    to_local_input,
)
from ..models import Maintenance
from ..web.filters import site_tz
from .common import INVALID, Outcome, actor, bp, commit_once, get_or_404


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


#: What a repeated submission of a maintenance form is told.
ALREADY_DONE = {
    "maintenance.schedule": "This maintenance was already scheduled.",
    "maintenance.edit": "These changes were already saved.",
    "maintenance.reschedule": "This window was already moved.",
    "maintenance.update": "This update was already posted.",
    "maintenance.start": "This maintenance was already started.",
    "maintenance.verify": "This maintenance was already marked as verifying.",
    "maintenance.complete": "This maintenance was already completed.",
    "maintenance.cancel": "This maintenance was already cancelled.",
}


def _page(maintenance_id: int):
    return redirect(url_for("staff.maintenance_window", maintenance_id=maintenance_id))


def _repeat(done: Outcome, maintenance_id: int | None = None):
    flash(ALREADY_DONE.get(done.repeat.action, "This form was already submitted."), "info")
    if maintenance_id is None:
        return redirect(url_for("staff.maintenance_list"))
    return _page(maintenance_id)


def _warn_overlaps(m: Maintenance) -> None:
    """Two windows on one component at once are allowed; staff are told."""
    for other in domain.overlapping(m):
        shared = sorted({c.name for c in other.components} & {c.name for c in m.components})
        flash(f"Note: this window overlaps \"{other.title}\" (#{other.id}) on "
              f"{', '.join(shared)}. Both will run as scheduled.", "info")


def _prefixed(prefix: str, errors: dict) -> dict:
    """The domain's messages keyed by the prefixed form's field names ("status" stays)."""
    return {k if k == "status" else f"{prefix}-{k}": v for k, v in errors.items()}


def _fields(form: MaintenanceForm, errors: dict) -> domain.WindowFields:
    tz = site_tz()
    return domain.WindowFields(
        title=form.title.data or "",
        component_ids=parse_component_ids(request.form.getlist("components"), errors),
        scheduled_for=parse_window_time(form.scheduled_for.data, tz, "scheduled_for", errors),
        scheduled_until=parse_window_time(form.scheduled_until.data, tz, "scheduled_until",
                                          errors),
        description=form.description.data or "", workaround=form.workaround.data or "",
        notify=bool(form.notify.data), auto_start=bool(form.auto_start.data),
        auto_complete=bool(form.auto_complete.data), errors=dict(errors),
    )


@bp.get("/maintenance")
def maintenance_list():
    """Upcoming, running and recent windows."""
    return render_template(
        "staff/maintenance_list.html", upcoming=domain.upcoming(),
        running=domain.running(), recent=domain.recent(), now=utcnow(),
        labels=domain.STATUS_LABELS, overran=domain.overran,
        late_to_start=domain.late_to_start)


@bp.route("/maintenance/new", methods=["GET", "POST"])
def new_maintenance():
    form = MaintenanceForm()
    errors: dict[str, str] = {}
    checked: list[int] = []
    if request.method == "POST":
        fields = _fields(form, errors)
        checked = fields.component_ids
        done = commit_once("maintenance.schedule", domain.schedule, fields, actor=actor(),
                           now=utcnow())
        if done.repeat is not None:
            return _repeat(done)
        if done.ok:
            m = done.result
            flash(f"Maintenance scheduled: {m.title}.", "success")
            _warn_overlaps(m)
            return _page(m.id)
        errors = done.errors
    return render_template(
        "staff/maintenance_new.html", form=form, errors=errors,
        components=queries.all_components(), checked=set(checked),
    ), INVALID if errors else 200


@bp.get("/maintenance/<int:maintenance_id>")
def maintenance_window(maintenance_id: int):
    m = get_or_404(Maintenance, maintenance_id)
    return _render_window(m)


def _render_window(m: Maintenance, *, edit_form=None, reschedule_form=None,
                   update_form=None, errors: dict | None = None, checked=None,
                   status: int = 200):
    tz = site_tz()
    if edit_form is None:
        edit_form = MaintenanceForm(formdata=None, obj=m)
    if reschedule_form is None:
        reschedule_form = RescheduleForm(formdata=None, prefix="reschedule")
        reschedule_form.scheduled_for.data = to_local_input(m.scheduled_for, tz)
        reschedule_form.scheduled_until.data = to_local_input(m.scheduled_until, tz)
    return render_template(
        "staff/maintenance.html", m=m, edit_form=edit_form,
        reschedule_form=reschedule_form,
        update_form=update_form or MaintenanceUpdateForm(formdata=None, prefix="update"),
        action_form=ActionForm(), errors=errors or {}, labels=domain.STATUS_LABELS,
        components=queries.all_components(),
        checked=set(checked if checked is not None else (t.component_id for t in m.taken)),
        overlaps=domain.overlapping(m), told=domain.told_count(m), now=utcnow(),
        overran=domain.overran(m, utcnow()), late_to_start=domain.late_to_start(m, utcnow()),
        is_open=m.status not in ("completed", "cancelled"),
        running=m.status in ("in_progress", "verifying"),
    ), status


@bp.post("/maintenance/<int:maintenance_id>/edit")
def edit_maintenance(maintenance_id: int):
    m = get_or_404(Maintenance, maintenance_id)
    form = MaintenanceForm()
    errors: dict[str, str] = {}
    fields = _fields(form, errors)
    # The edit form has no times: they change by rescheduling.
    fields.errors.pop("scheduled_for", None)
    fields.errors.pop("scheduled_until", None)
    done = commit_once("maintenance.edit", domain.edit, m, fields, actor=actor(),
                       now=utcnow())
    if done.repeat is not None:
        return _repeat(done, maintenance_id)
    if done.ok:
        flash("Maintenance saved.", "success")
        return _page(maintenance_id)
    return _render_window(m, edit_form=form, errors=done.errors,
                          checked=fields.component_ids, status=INVALID)


@bp.post("/maintenance/<int:maintenance_id>/reschedule")
def reschedule_maintenance(maintenance_id: int):
    m = get_or_404(Maintenance, maintenance_id)
    form = RescheduleForm(prefix="reschedule")
    tz = site_tz()
    errors: dict[str, str] = {}
    start = parse_window_time(form.scheduled_for.data, tz, "scheduled_for", errors)
    end = parse_window_time(form.scheduled_until.data, tz, "scheduled_until", errors)
    # The form shows minutes: an unchanged minute keeps the stored seconds.
    if start is not None and same_minute(start, m.scheduled_for):
        start = m.scheduled_for
    if end is not None and same_minute(end, m.scheduled_until):
        end = m.scheduled_until
    done = commit_once("maintenance.reschedule", domain.reschedule, m, start, end,
                       actor=actor(), now=utcnow(), errors=errors)
    if done.repeat is not None:
        return _repeat(done, maintenance_id)
    if done.ok:
        flash("Window moved. Everyone already told of it will hear of the new time; the "
              "reminders follow the new start.", "success")
        _warn_overlaps(m)
        return _page(maintenance_id)
    return _render_window(m, reschedule_form=form,
                          errors=_prefixed("reschedule", done.errors),
                          status=INVALID)


@bp.post("/maintenance/<int:maintenance_id>/update")
def maintenance_update(maintenance_id: int):
    m = get_or_404(Maintenance, maintenance_id)
    form = MaintenanceUpdateForm(prefix="update")
    text = domain.UpdateText(actions=form.actions.data or "", impact=form.impact.data or "",
                             workaround=form.workaround.data or "")
    done = commit_once("maintenance.update", domain.post_update, m, text, actor=actor(),
                       now=utcnow())
    if done.repeat is not None:
        return _repeat(done, maintenance_id)
    if done.ok:
        flash("Update posted.", "success")
        return _page(maintenance_id)
    return _render_window(m, update_form=form,
                          errors=_prefixed("update", done.errors),
                          status=INVALID)


def _button(maintenance_id: int, action: str, operation: Callable[..., object],
            success: str, **options):
    ActionForm()  # CSRFProtect has already checked the token
    m = get_or_404(Maintenance, maintenance_id)
    done = commit_once(action, operation, m, actor=actor(), now=utcnow(), **options)
    if done.repeat is not None:
        return _repeat(done, maintenance_id)
    done.flash(success)
    return _page(maintenance_id)


@bp.post("/maintenance/<int:maintenance_id>/start")
def start_maintenance(maintenance_id: int):
    return _button(maintenance_id, "maintenance.start", domain.start,
                   "Maintenance started: its components are under maintenance.")


@bp.post("/maintenance/<int:maintenance_id>/verify")
def verify_maintenance(maintenance_id: int):
    return _button(maintenance_id, "maintenance.verify", domain.complete,
                   "Marked as verifying: the components stay under maintenance until you "
                   "complete it.", verifying=True)


@bp.post("/maintenance/<int:maintenance_id>/complete")
def complete_maintenance(maintenance_id: int):
    return _button(maintenance_id, "maintenance.complete", domain.complete,
                   "Maintenance completed: its components are back.")


@bp.post("/maintenance/<int:maintenance_id>/cancel")
def cancel_maintenance(maintenance_id: int):
    if request.form.get("confirm") != "yes":
        flash("Nothing was cancelled: tick the box to confirm first.", "error")
        return _page(maintenance_id)
    return _button(maintenance_id, "maintenance.cancel", domain.cancel,
                   "Maintenance cancelled. Everyone already told of it will hear so.")
