"""Staff component pages (admins): add, edit, delete a component."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField

from .. import components as component_admin
from .. import queries
from .gate import admin_required
from ..clock import utcnow
from ..forms import (
    CLEAN,
    COMPONENT_STATUS_CHOICES,
    ActionForm,
    parse_position,
    select_choices,
)
from ..models import Component
from .common import INVALID, actor, bp, commit_or_show_errors, get_or_404


class ComponentForm(FlaskForm):
    name = StringField("Name", filters=CLEAN)
    description = StringField("Description", filters=CLEAN)
    group = StringField("Group (optional)", filters=CLEAN)
    position = StringField("Position (lower comes first)", default="0", filters=CLEAN)
    status = SelectField("Status", choices=select_choices(COMPONENT_STATUS_CHOICES),
                         default="operational", validate_choice=False)


def _component_fields(form: ComponentForm, errors: dict) -> component_admin.ComponentFields:
    return component_admin.ComponentFields(
        name=form.name.data or "",
        description=form.description.data or "",
        group=form.group.data or "",
        position=parse_position(form.position.data, errors),
        status=form.status.data or "",
    )


def _fill(form: ComponentForm, component: Component) -> None:
    """The component's stored values, into the form."""
    form.name.data = component.name
    form.description.data = component.description
    form.group.data = component.group_name or ""
    form.position.data = str(component.position)
    form.status.data = component.status


@bp.route("/components", methods=["GET", "POST"])
@admin_required
def components():
    form = ComponentForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        fields = _component_fields(form, errors)
        if not errors:
            done = commit_or_show_errors(component_admin.create_component, fields,
                                         actor=actor(), now=utcnow())
            if done.ok:
                flash(f"Component added: {done.result.name}.", "success")
                return redirect(url_for("staff.components"))
            errors = done.errors
    return render_template(
        "staff/components.html", form=form, errors=errors,
        components=queries.all_components(),
    ), (INVALID if errors else 200)


@bp.route("/components/<int:component_id>", methods=["GET", "POST"])
@admin_required
def component(component_id: int):
    component = get_or_404(Component, component_id)
    form = ComponentForm()
    errors: dict[str, str] = {}
    if request.method == "GET":
        _fill(form, component)
    else:
        fields = _component_fields(form, errors)
        if not errors:
            done = commit_or_show_errors(component_admin.update_component, component, fields,
                                         actor=actor(), now=utcnow())
            if done.ok:
                flash(f"Component saved: {component.name}.", "success")
                return redirect(url_for("staff.components"))
            errors = done.errors
    return _render_component(component, form, errors, INVALID if errors else 200)


def _render_component(component, form, errors, status):
    return render_template(
        "staff/component_edit.html", component=component, form=form, errors=errors,
        action_form=ActionForm(), references=component_admin.incident_count(component),
    ), status


@bp.post("/components/<int:component_id>/delete")
@admin_required
def delete_component(component_id: int):
    component = get_or_404(Component, component_id)
    name = component.name
    done = commit_or_show_errors(component_admin.delete_component, component, actor=actor(),
                                 now=utcnow())
    if not done.ok:
        form = ComponentForm(formdata=None, obj=None)
        _fill(form, component)
        return _render_component(component, form, done.errors, INVALID)
    flash(f"Component deleted: {name}.", "success")
    return redirect(url_for("staff.components"))
