"""The internal incident record (staff only): read, edit as Markdown (each save a
revision), download as ``incident-<id>.md``, redact a revision (admin), and its action
items; the dashboard's post-incident and action-item lists come from here too."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

from .. import record
from ..clock import utcnow
from ..errors import ValidationError
from ..extensions import db
from ..forms import CLEAN, ActionForm, parse_id, parse_review_on
from ..models import ActionItem, Incident, RecordRevision, StaffUser
from .common import INVALID, actor, bp, commit_or_show_errors, confirmed, get_or_404
from .gate import admin_required


class RecordForm(FlaskForm):
    """The incident record, edited as Markdown."""

    text = TextAreaField("Record (Markdown)", filters=CLEAN)


class ActionItemForm(FlaskForm):
    """One action item: what, who (a staff id), by when, done."""

    text = StringField("Action", filters=CLEAN)
    owner_id = StringField("Owner")
    due_on = StringField("Due date")
    done = BooleanField("Done")


@bp.app_template_global("post_incident_due")
def post_incident_due() -> list:
    """For the dashboard: resolved SEV-1/2 whose record or review is still to do."""
    return record.post_incident_due(utcnow())


@bp.app_template_global("open_action_items")
def open_action_items() -> list:
    """For the dashboard: action items not yet done, with whether each is overdue."""
    now = utcnow()
    return [(item, record.is_overdue(item, now)) for item in record.open_action_items()]


@bp.get("/incidents/<int:incident_id>/record")
def incident_record(incident_id: int):
    incident = get_or_404(Incident, incident_id)
    return _render(incident)


def _render(incident: Incident, *, text: str | None = None, errors: dict | None = None,
            item_errors: dict | None = None, status: int = 200):
    now = utcnow()
    current = record.current_text(incident)
    return render_template(
        "staff/record.html", incident=incident, current=current,
        text=current if text is None else text, errors=errors or {},
        item_errors=item_errors or {}, revisions=record.revisions(incident.id),
        items=record.action_items(incident.id), is_overdue=record.is_overdue, now=now,
        staff=_staff(), form=RecordForm(), item_form=ActionItemForm(),
        action_form=ActionForm(),
    ), status


def _staff() -> list[StaffUser]:
    return list(db.session.scalars(
        db.select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.email)))


@bp.post("/incidents/<int:incident_id>/record")
def save_record(incident_id: int):
    """Save the edited text as the record's next revision."""
    incident = get_or_404(Incident, incident_id)
    form = RecordForm()
    done = commit_or_show_errors(record.save_revision, incident, form.text.data or "",
                                 actor=actor(), now=utcnow())
    if not done.ok:
        return _render(incident, text=form.text.data or "", errors=done.errors,
                       status=INVALID)
    flash(f"Record saved as revision {done.result.number}.", "success")
    return redirect(url_for("staff.incident_record", incident_id=incident_id))


@bp.get("/incidents/<int:incident_id>/record.md")
def download_record(incident_id: int):
    """The record as ``incident-<id>.md`` (an attachment)."""
    incident = get_or_404(Incident, incident_id)
    return Response(
        record.current_text(incident), mimetype="text/markdown",
        headers={"Content-Disposition": f'attachment; filename="incident-{incident.id}.md"',
                 "Cache-Control": "no-store"})


@bp.post("/incidents/<int:incident_id>/record/revisions/<int:revision_id>/redact")
@admin_required
def redact_record_revision(incident_id: int, revision_id: int):
    """Health data pasted by mistake: the revision's text becomes "[redacted]"."""
    revision = get_or_404(RecordRevision, revision_id)
    if revision.incident_id != incident_id:
        abort(404)
    ActionForm()  # CSRFProtect has already checked the token
    if not confirmed():
        flash("Nothing was redacted: tick the box to confirm first.", "error")
    else:
        commit_or_show_errors(record.redact_revision, revision, actor=actor(), now=utcnow())
        flash(f"Revision {revision.number}'s text was replaced by [redacted].", "success")
    return redirect(url_for("staff.incident_record", incident_id=incident_id))


def _item_input(form: ActionItemForm) -> tuple[record.ActionItemInput, dict]:
    errors: dict = {}
    due_on = parse_review_on(request.form.get("due_on"), errors)
    if "review_on" in errors:
        errors = {"due_on": errors["review_on"]}
    value = record.ActionItemInput(text=form.text.data or "",
                                   owner_id=parse_id(request.form.get("owner_id")),
                                   due_on=due_on, done=bool(form.done.data))
    return value, errors


@bp.post("/incidents/<int:incident_id>/action-items")
def add_action_item(incident_id: int):
    incident = get_or_404(Incident, incident_id)
    value, errors = _item_input(ActionItemForm())
    done = commit_or_show_errors(_checked(record.add_action_item, errors), incident, value,
                                 actor=actor(), now=utcnow())
    if not done.ok:
        return _render(incident, item_errors={"new": done.errors}, status=INVALID)
    flash("Action item added.", "success")
    return redirect(url_for("staff.incident_record", incident_id=incident_id,
                            _anchor="action-items"))


@bp.post("/incidents/<int:incident_id>/action-items/<int:item_id>")
def edit_action_item(incident_id: int, item_id: int):
    item = get_or_404(ActionItem, item_id)
    if item.incident_id != incident_id:
        abort(404)
    value, errors = _item_input(ActionItemForm())
    done = commit_or_show_errors(_checked(record.edit_action_item, errors), item, value,
                                 actor=actor(), now=utcnow())
    if not done.ok:
        return _render(item.incident, item_errors={item.id: done.errors}, status=INVALID)
    flash("Action item saved.", "success")
    return redirect(url_for("staff.incident_record", incident_id=incident_id,
                            _anchor="action-items"))


def _checked(operation, parse_errors: dict):
    """``operation``, refused with the form's own parse errors first (a date not a date)."""
    def run(*args, **kwargs):
        if parse_errors:
            raise ValidationError(parse_errors)
        return operation(*args, **kwargs)
    return run
