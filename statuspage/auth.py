"""Staff sign-in (password, then a code when the account has 2FA), logout, the user
loader, and the ``next`` check."""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from . import accounts, two_factor
from .clock import utcnow
from .extensions import db, login_manager
from .ratelimit import limiter_for, rate_limit
from .forms import CLEAN, TwoFactorCodeForm
from .models import EMAIL_MAX, StaffUser


class LoginForm(FlaskForm):
    email = EmailField("Email", filters=CLEAN,
                       validators=[DataRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


bp = Blueprint("auth", __name__, url_prefix="/staff")

#: The one answer to every failed sign-in: a wrong email or password, a locked or inactive
#: account, too many attempts from this address. It tells an attacker nothing.
LOGIN_FAILED = ("That email and password did not work, or there were too many attempts: "
                "wait a few minutes and try again.")
#: The session key of a sign-in whose password was right and whose code is awaited.
PENDING = "pending_2fa"
#: Seconds the code may be given after the password.
PENDING_SECONDS = 300


@login_manager.user_loader
def load_user(user_id: str):
    """Sessions carry "id:session_version"; a bumped version ends them."""
    try:
        uid, version = (int(part) for part in user_id.split(":"))
    except ValueError:
        return None
    user = db.session.get(StaffUser, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a relative path on this site, else None (no open redirect)."""
    if not target:
        return None
    decoded = unquote(target)
    for text in (target, decoded):
        if "\\" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
            return None
        if not text.startswith("/") or text.startswith("//"):
            return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.after_request
def no_store(response):
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


def _failed(response) -> bool:
    """Only failed sign-ins count against the address's limit."""
    return response.status_code != 302


@bp.errorhandler(429)
def too_many_attempts(error):
    """The address's limit (LOGIN_RATE_LIMIT). The password step: the same answer as any
    failed sign-in. The code step (whoever is there gave a right password): that page
    again, saying for how long."""
    if request.endpoint == "auth.login_code" and _pending_user() is not None:
        limit = limiter_for(current_app).current_limit
        left = limit.reset_at - time.time() if limit is not None else 60
        return render_template("staff/login_code.html", form=TwoFactorCodeForm(formdata=None),
                               error=two_factor.limited(left)), 429
    form = LoginForm(formdata=None)
    return render_template("staff/login.html", form=form, error=LOGIN_FAILED), 429


@bp.route("/login", methods=["GET", "POST"])
@rate_limit("LOGIN_RATE_LIMIT", methods=("POST",), deduct_when=_failed)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("staff.dashboard"))
    form = LoginForm()
    error = None
    status = 200
    if request.method == "POST" and not form.validate():
        error, status = "Enter your email address and your password.", 400
    elif form.is_submitted():
        user = accounts.authenticate(form.email.data, form.password.data, now=utcnow())
        db.session.commit()  # keep the failure counter, or the reset and a new hash
        if user is None:
            error, status = LOGIN_FAILED, 401
        elif user.has_two_factor:
            # Not signed in yet: the session only says who gave a right password, when.
            session.clear()
            session[PENDING] = {"user": user.get_id(), "at": utcnow().timestamp(),
                                "next": safe_next(request.args.get("next"))}
            return redirect(url_for("auth.login_code"))
        else:
            return _sign_in(user, safe_next(request.args.get("next")))
    return render_template("staff/login.html", form=form, error=error), status


def _sign_in(user: StaffUser, next_url: str | None):
    session.clear()
    session.permanent = True
    login_user(user)
    if user.must_change_password:  # the password page says why
        return redirect(url_for("staff.password"))
    if two_factor.needs_enrolment(user, current_app.config["REQUIRE_2FA_ROLES"]):
        return redirect(url_for("staff.two_factor"))
    return redirect(next_url or url_for("staff.dashboard"))


def _pending_user() -> StaffUser | None:
    """Who gave a right password in this session less than PENDING_SECONDS ago."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    try:
        age = utcnow().timestamp() - float(pending.get("at"))
    except (TypeError, ValueError):
        return None
    if not 0 <= age <= PENDING_SECONDS:
        return None
    return load_user(str(pending.get("user", "")))


@bp.route("/login/code", methods=["GET", "POST"])
@rate_limit("LOGIN_RATE_LIMIT", methods=("POST",), deduct_when=_failed)
def login_code():
    """The second step: a code from the authenticator app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("staff.dashboard"))
    user = _pending_user()
    if user is None:
        session.pop(PENDING, None)
        flash("Sign in again: enter your email and password.", "info")
        return redirect(url_for("auth.login"))
    form = TwoFactorCodeForm()
    error = None
    status = 200
    if request.method == "POST" and not form.validate():
        error, status = "Enter the code from your authenticator app.", 400
    elif form.is_submitted():
        now = utcnow()
        kind = accounts.authenticate_code(user, form.code.data, now=now)
        db.session.commit()  # keep the failure counter, or the used step or code
        if kind is None and user.locked_until is not None and user.locked_until > now:
            # A real lockout (this code's failure, or earlier ones): say for how long.
            error = two_factor.locked_out((user.locked_until - now).total_seconds())
            status = 401
        elif kind is None:  # a wrong code, nothing locked: nothing about waiting
            error, status = two_factor.WRONG_SIGN_IN_CODE, 401
        else:
            next_url = session.get(PENDING, {}).get("next")
            response = _sign_in(user, safe_next(next_url))
            if kind == "recovery":
                left = two_factor.unused_recovery_codes(user)
                flash(f"You signed in with a recovery code; {left} left. If your phone is "
                      "lost, ask an admin to reset your two-factor sign-in.", "info")
            return response
    return render_template("staff/login_code.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    accounts.end_sessions(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
