"""The staff area's gate: signed-in staff only, admins only where marked."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from ..two_factor import needs_enrolment

#: The staff pages open to someone who must enrol in 2FA and has not yet.
ENROLMENT_ENDPOINTS = frozenset({"staff.two_factor", "staff.two_factor_confirm"})


def require_staff():
    """A before_request hook: sign in first; a reset password must be changed first; a
    role that must use 2FA enrols first. The shifts calendar feed is open: its secret
    token is its key (staff/oncall.py)."""
    if request.endpoint == "staff.oncall_calendar":
        return None
    if not current_user.is_authenticated:
        flash("Please sign in to continue.", "info")
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target))
    if current_user.must_change_password and request.endpoint != "staff.password":
        return redirect(url_for("staff.password"))
    # A role that must use 2FA (REQUIRE_2FA_ROLES) reaches nothing but enrolment until then.
    if (request.endpoint not in ENROLMENT_ENDPOINTS
            and needs_enrolment(current_user, current_app.config["REQUIRE_2FA_ROLES"])):
        flash("Your role must use two-factor sign-in: set it up to continue.", "info")
        return redirect(url_for("staff.two_factor"))
    return None


def admin_required(view):
    """Responders get 403 Forbidden."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
