"""The staff area's gate: signed-in staff only, admins only where marked."""

from __future__ import annotations

from functools import wraps

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user


def require_staff():
    """A before_request hook: sign in first; a reset password must be changed first."""
    if not current_user.is_authenticated:
        flash("Please sign in to continue.", "info")
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target))
    if current_user.must_change_password and request.endpoint != "staff.password":
        return redirect(url_for("staff.password"))
    return None


def admin_required(view):
    """Responders get 403 Forbidden."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
