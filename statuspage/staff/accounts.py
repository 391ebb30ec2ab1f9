"""Staff accounts (admins: add, role and active, reset a password); your own password and
display name."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField

from .. import accounts
from .gate import admin_required
from ..clock import utcnow
from ..extensions import db
from ..forms import CLEAN, ActionForm, select_choices
from ..models import ROLES, StaffUser
from .common import INVALID, actor, bp, commit_or_show_errors, get_or_404


ROLE_CHOICES = [(r, r.capitalize()) for r in ROLES]


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


def _all_staff() -> list[StaffUser]:
    return list(db.session.scalars(db.select(StaffUser).order_by(StaffUser.email)))


def _render_accounts(form=None, errors=None, row_errors=None, status=200):
    return render_template(
        "staff/accounts.html", form=form or NewStaffForm(formdata=None),
        errors=errors or {}, row_errors=row_errors or {}, users=_all_staff(),
        edit_form=StaffEditForm(formdata=None), action_form=ActionForm(),
        role_choices=ROLE_CHOICES,
    ), status


def _one_time_password_page(user: StaffUser, password: str, created: bool):
    return render_template("staff/one_time_password.html", user=user, password=password,
                           created=created)


@bp.route("/accounts", methods=["GET", "POST"], endpoint="accounts")
@admin_required
def accounts_page():
    if request.method == "GET":
        return _render_accounts()
    form = NewStaffForm()
    password = accounts.generate_password()
    done = commit_or_show_errors(
        accounts.create_staff, form.email.data or "", form.role.data or "", password,
        actor=actor(), now=utcnow(), must_change_password=True,
    )
    if not done.ok:
        return _render_accounts(form=form, errors=done.errors, status=INVALID)
    # Shown once, in this response only: never flashed (the session cookie is readable).
    return _one_time_password_page(done.result, password, created=True)


@bp.post("/accounts/<int:user_id>")
@admin_required
def account(user_id: int):
    user = get_or_404(StaffUser, user_id)
    form = StaffEditForm()
    done = commit_or_show_errors(accounts.set_role_and_active, user, role=form.role.data or "",
                                 active=form.active.data, actor=actor(), now=utcnow())
    if not done.ok:
        return _render_accounts(row_errors={user.id: done.message}, status=INVALID)
    flash(f"Saved {user.email}: {user.role}, {'active' if user.active else 'inactive'}.",
          "success")
    return redirect(url_for("staff.accounts"))


@bp.post("/accounts/<int:user_id>/reset-password")
@admin_required
def reset_password(user_id: int):
    user = get_or_404(StaffUser, user_id)
    password = accounts.reset_password(user, actor=actor(), now=utcnow())
    db.session.commit()
    if user.id == current_user.id:
        login_user(user)  # an admin resetting their own password stays signed in
    return _one_time_password_page(user, password, created=False)


# --- Own password --------------------------------------------------------------------------


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Change your own password: other sessions end, this one stays signed in."""
    form = PasswordForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        user = actor()
        if (form.new_password.data or "") != (form.confirm_password.data or ""):
            errors["confirm_password"] = "The two new passwords are not the same."
        else:
            done = commit_or_show_errors(accounts.change_password, user,
                                         form.current_password.data or "",
                                         form.new_password.data or "", now=utcnow())
            if done.ok:
                login_user(user)  # the session carries the new session_version
                flash("Password changed. Your other sessions have been signed out.",
                      "success")
                return redirect(url_for("staff.dashboard"))
            errors = done.errors
    return _render_password(form, errors)


def _render_password(form, errors, name_errors=None):
    return render_template("staff/password.html", form=form, errors=errors,
                           name_errors=name_errors or {}, action_form=ActionForm()), (
        INVALID if errors or name_errors else 200
    )


@bp.post("/display-name")
def display_name():
    """Your display name: shown instead of your address in the roles and in Slack."""
    ActionForm()  # CSRFProtect has already checked the token
    user = actor()
    done = commit_or_show_errors(accounts.set_display_name, user,
                                 request.form.get("display_name") or "", actor=user,
                                 now=utcnow())
    if not done.ok:
        return _render_password(PasswordForm(formdata=None), {}, done.errors)
    flash(f"You are shown as {user.shown_name}.", "success")
    return redirect(url_for("staff.password"))
