"""On-call rotations and overrides (admin, /staff/on-call), and the shifts calendar feed.

Every staff member sees who is on call and the rotations; admins add, edit and delete
rotations and overrides. Each staff member makes (or resets) their own calendar link; the
feed itself (``/staff/on-call/calendar/<token>.ics``) needs no sign-in (``gate``).
"""

from __future__ import annotations

from flask import (Response, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from ..clock import utcnow
from ..extensions import db
from ..forms import CLEAN, ONE_LINE, ActionForm, parse_existing_local, parse_id, select_choices
from ..ical import CONTENT_TYPE
from ..models.paging import Rotation, RotationOverride
from ..paging import calendar, rotations
from ..web.filters import site_tz
from .common import INVALID, Outcome, actor, bp, commit_once, commit_or_show_errors, get_or_404
from .gate import admin_required

ROLE_CHOICES = list(rotations.ROLE_NAMES.items())
EVERY_CHOICES = list(rotations.EVERY_NAMES.items())

ALREADY_DONE = {
    "rotation.create": "This rotation was already added.",
    "rotation.edit": "These changes were already saved.",
    "rotation.override": "This override was already added.",
}


class RotationForm(FlaskForm):
    name = StringField("Name", filters=ONE_LINE)
    role = SelectField("Role", choices=select_choices(ROLE_CHOICES), validate_choice=False)
    members = TextAreaField("Members: staff emails, one per line, in the order they take turns",
                            filters=CLEAN)
    handover_every = SelectField("Handover", choices=select_choices(EVERY_CHOICES),
                                 validate_choice=False)
    handover_at = StringField("First handover", filters=ONE_LINE)


class OverrideForm(FlaskForm):
    rotation = SelectField("Rotation", validate_choice=False)
    member = StringField("Who is on call instead (staff email)", filters=ONE_LINE)
    starts_at = StringField("From", filters=ONE_LINE)
    ends_at = StringField("Until", filters=ONE_LINE)


def _repeat(done: Outcome, endpoint: str = "staff.oncall"):
    flash(ALREADY_DONE.get(done.repeat.action, "This form was already submitted."), "info")
    return redirect(url_for(endpoint))


def _rotation_fields(form: RotationForm) -> rotations.RotationFields:
    errors: dict[str, str] = {}
    at = parse_existing_local(form.handover_at.data, site_tz(), "handover_at", errors)
    return rotations.RotationFields(
        name=form.name.data or "", role=form.role.data or "", members=form.members.data or "",
        handover_every=form.handover_every.data or "", handover_at=at, errors=errors)


@bp.app_template_global("oncall_now_panel")
def oncall_now_panel():
    """What the "On call now" panel shows (``_oncall_now.html``, on the dashboard too)."""
    return rotations.now_panel(utcnow())


def _rows(now):
    rows = []
    all_rotations = rotations.rotations()
    active = rotations.active_emails({m for r in all_rotations for m in r.member_list})
    for rotation in all_rotations:
        rows.append({"rotation": rotation, "member_now": rotations.member_now(rotation, now),
                     "inactive": [m for m in rotation.member_list if m not in active],
                     "next": rotations.next_handover_of(rotation, now),
                     "shadowed_by": rotations.shadowed(rotation),
                     "wall": rotation.handover_at.astimezone(site_tz()).strftime("%H:%M")})
    return rows


def _render(form=None, errors=None, status=200):
    now = utcnow()
    return render_template(
        "staff/oncall.html", rows=_rows(now), oncall_now=rotations.now_panel(now), now=now,
        form=form or RotationForm(formdata=None, role="primary", handover_every="week"),
        errors=errors or {}, role_names=rotations.ROLE_NAMES,
        every_names=rotations.EVERY_NAMES, action_form=ActionForm(),
        upcoming_overrides=rotations.overrides(now),
    ), status


@bp.route("/on-call", methods=["GET", "POST"], endpoint="oncall")
def oncall_page():
    if request.method == "GET":
        return _render()
    if not current_user.is_admin:
        abort(403)
    form = RotationForm()
    done = commit_once("rotation.create", rotations.create_rotation, _rotation_fields(form),
                       actor=actor(), now=utcnow())
    if done.repeat is not None:
        return _repeat(done)
    if done.ok:
        flash(f"Rotation added: {done.result.name}.", "success")
        return redirect(url_for("staff.oncall"))
    return _render(form, done.errors, INVALID)


@bp.route("/on-call/<int:rotation_id>", methods=["GET", "POST"])
@admin_required
def edit_rotation(rotation_id: int):
    rotation = get_or_404(Rotation, rotation_id)
    errors: dict = {}
    if request.method == "GET":
        form = RotationForm(formdata=None, obj=rotation)
        form.members.data = rotation.members
        form.handover_at.data = rotation.handover_at.astimezone(site_tz()).strftime(
            "%Y-%m-%dT%H:%M")
    else:
        form = RotationForm()
        done = commit_once("rotation.edit", rotations.edit_rotation, rotation,
                           _rotation_fields(form), actor=actor(), now=utcnow())
        if done.repeat is not None:
            return _repeat(done)
        if done.ok:
            flash(f"Rotation saved: {rotation.name}." if done.result else "Nothing changed.",
                  "success")
            return redirect(url_for("staff.oncall"))
        errors = done.errors
    return render_template("staff/oncall_edit.html", rotation=rotation, form=form,
                           errors=errors, action_form=ActionForm(),
                           ), INVALID if errors else 200


@bp.post("/on-call/<int:rotation_id>/delete")
@admin_required
def delete_rotation(rotation_id: int):
    rotation = get_or_404(Rotation, rotation_id)
    ActionForm()  # CSRFProtect has already checked the token
    if request.form.get("confirm") != "yes":
        flash("Tick the confirmation to delete the rotation. Nothing was deleted.", "error")
        return redirect(url_for("staff.edit_rotation", rotation_id=rotation_id))
    name = rotation.name
    done = commit_or_show_errors(rotations.delete_rotation, rotation, actor=actor(),
                                 now=utcnow())
    done.flash(f"Rotation deleted: {name}.")
    return redirect(url_for("staff.oncall"))


def _override_form() -> OverrideForm:
    form = OverrideForm()
    form.rotation.choices = select_choices(
        [("", "Choose a rotation")]
        + [(str(r.id), f"{r.name} ({rotations.ROLE_NAMES[r.role]})")
           for r in rotations.rotations()])
    return form


def _render_overrides(form=None, errors=None, status=200):
    now = utcnow()
    form = form or _override_form()
    names = {r.id: r for r in rotations.rotations()}
    return render_template(
        "staff/oncall_overrides.html", form=form, errors=errors or {},
        overrides=rotations.overrides(now), rotations_by_id=names,
        role_names=rotations.ROLE_NAMES, action_form=ActionForm(), now=now,
    ), status


@bp.route("/on-call/overrides", methods=["GET", "POST"], endpoint="oncall_overrides")
def overrides_page():
    if request.method == "GET":
        return _render_overrides()
    if not current_user.is_admin:
        abort(403)
    form = _override_form()
    errors: dict[str, str] = {}
    tz = site_tz()
    fields = rotations.OverrideFields(
        rotation_id=parse_id(form.rotation.data), member=form.member.data or "",
        starts_at=parse_existing_local(form.starts_at.data, tz, "starts_at", errors),
        ends_at=parse_existing_local(form.ends_at.data, tz, "ends_at", errors))
    fields.errors = errors
    done = commit_once("rotation.override", rotations.create_override, fields,
                       actor=actor(), now=utcnow())
    if done.repeat is not None:
        return _repeat(done, "staff.oncall_overrides")
    if done.ok:
        flash(f"Override added: {done.result.member}.", "success")
        return redirect(url_for("staff.oncall_overrides"))
    return _render_overrides(form, done.errors, INVALID)


@bp.post("/on-call/overrides/<int:override_id>/delete")
@admin_required
def delete_override(override_id: int):
    override = get_or_404(RotationOverride, override_id)
    ActionForm()  # CSRFProtect has already checked the token
    member = override.member
    done = commit_or_show_errors(rotations.delete_override, override, actor=actor(),
                                 now=utcnow())
    done.flash(f"Override deleted: {member}.")
    return redirect(url_for("staff.oncall_overrides"))


# --- The calendar ----------------------------------------------------------------------------


@bp.post("/on-call/calendar-link")
def calendar_link():
    """Make or reset the signed-in member's calendar link; the URL is shown once, here."""
    ActionForm()  # CSRFProtect has already checked the token
    me = actor()
    done = commit_or_show_errors(calendar.reset_link, me, actor=me, now=utcnow())
    back = request.form.get("back")
    return render_template(
        "staff/oncall_calendar_link.html",
        url=current_app.config["PUBLIC_URL"].rstrip("/")
        + url_for("staff.oncall_calendar", token=done.result),
        back=url_for("staff.profile") if back == "profile"
        and "staff.profile" in current_app.view_functions else url_for("staff.oncall"))


@bp.get("/on-call/calendar/<token>.ics", endpoint="oncall_calendar")
def calendar_feed(token: str):
    """The shifts of the token's owner (no sign-in: the token is the secret)."""
    user = calendar.user_for_token(token)
    if user is None:
        abort(404)
    body = calendar.feed(user, site_name=current_app.config["SITE_NAME"],
                         public_url=current_app.config["PUBLIC_URL"], now=utcnow())
    db.session.rollback()
    response = Response(body, content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
