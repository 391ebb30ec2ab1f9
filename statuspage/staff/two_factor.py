"""Two-factor sign-in in the staff area: your own enrolment (QR code, confirm, recovery
codes shown once) and turning it off; an admin's reset of a colleague's second factor."""

from __future__ import annotations

import segno
from flask import current_app, flash, redirect, render_template, url_for

from .. import two_factor
from ..clock import utcnow
from ..forms import TwoFactorCodeForm
from ..models import StaffUser
from ..transactions import write_transaction
from .common import INVALID, actor, bp, commit_or_show_errors, get_or_404
from .gate import admin_required


def _roles_setting() -> str:
    return current_app.config["REQUIRE_2FA_ROLES"]


def _enrol_page(user: StaffUser, form=None, errors=None, status=200):
    issuer = f"{current_app.config['SITE_NAME']} Status"
    uri = two_factor.provisioning_uri(user, issuer)
    # Made here, shown as a data: image (the CSP allows img-src data:): no outside service
    # ever sees the secret. Dark on white whatever the colour scheme, as scanners expect.
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#000",
                                                 light="#fff")
    secret = user.totp_secret or ""
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template(
        "staff/two_factor.html", form=form or TwoFactorCodeForm(formdata=None),
        errors=errors or {}, qr=qr, secret=grouped, issuer=issuer,
        required=two_factor.required_for(user, _roles_setting()),
    ), status


@bp.route("/2fa", methods=["GET"], endpoint="two_factor")
def two_factor_page():
    """Enrolment (a pending secret is made and kept on first view) or the status of 2FA."""
    user = actor()
    if not user.has_two_factor and not user.totp_secret:
        # A GET that writes: in a write transaction of its own, as every POST is (on
        # SQLite a read upgraded to a write fails at once while another process writes).
        # The account is read again under the lock: another tab may have got there first.
        with write_transaction():
            if not user.has_two_factor:
                two_factor.start_enrolment(user)
    if user.has_two_factor:
        return render_template(
            "staff/two_factor_status.html", form=TwoFactorCodeForm(formdata=None),
            errors={}, left=two_factor.unused_recovery_codes(user),
            required=two_factor.required_for(user, _roles_setting()),
        )
    return _enrol_page(user)


@bp.post("/2fa", endpoint="two_factor_confirm")
def two_factor_confirm():
    """Confirm with a current code: 2FA is on, and the recovery codes are shown once."""
    user = actor()
    form = TwoFactorCodeForm()
    done = commit_or_show_errors(two_factor.confirm_enrolment, user, form.code.data or "",
                                 now=utcnow())
    if not done.ok:
        if user.has_two_factor:
            return redirect(url_for("staff.two_factor"))
        return _enrol_page(user, form=form, errors=done.errors, status=INVALID)
    # Shown in this response only: never flashed, never stored in clear.
    return render_template("staff/two_factor_codes.html", codes=done.result)


@bp.post("/2fa/off", endpoint="two_factor_off")
def two_factor_off():
    """Turn your own 2FA off with a current code (when your role does not require it)."""
    user = actor()
    form = TwoFactorCodeForm()
    done = commit_or_show_errors(two_factor.turn_off, user, form.code.data or "",
                                 roles_setting=_roles_setting(), now=utcnow())
    if not done.ok:
        return render_template(
            "staff/two_factor_status.html", form=form, errors=done.errors,
            left=two_factor.unused_recovery_codes(user), required=False,
        ), INVALID
    flash("Two-factor sign-in is off.", "success")
    return redirect(url_for("staff.two_factor"))


@bp.post("/accounts/<int:user_id>/reset-2fa", endpoint="reset_two_factor")
@admin_required
def reset_two_factor(user_id: int):
    """An admin clears a colleague's second factor (audited): they enrol again."""
    user = get_or_404(StaffUser, user_id)
    commit_or_show_errors(two_factor.reset, user, actor=actor(), now=utcnow(),
                          system_label="staff")
    flash(f"Two-factor sign-in of {user.email} was reset: they sign in with their password "
          "and set it up again.", "success")
    return redirect(url_for("staff.accounts"))
