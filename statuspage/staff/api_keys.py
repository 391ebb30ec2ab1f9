"""Staff page of the write API's keys (admins): make one (the key shown once), see each
one's last use, revoke."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from .. import api_keys, api_shape
from ..clock import utcnow
from ..forms import ONE_LINE, ActionForm
from ..models import API_KEY_NAME_MAX, ApiKey
from .common import INVALID, actor, bp, commit_or_show_errors, confirmed, get_or_404
from .gate import admin_required


class ApiKeyForm(FlaskForm):
    """A new write-API key: the name of the tool that will use it."""

    name = StringField("Name (the tool that will use the key)", filters=ONE_LINE)


def _render(form=None, errors=None, status=200):
    return render_template(
        "staff/api_keys.html", form=form or ApiKeyForm(formdata=None), errors=errors or {},
        keys=api_keys.all_keys(), action_form=ActionForm(), name_max=API_KEY_NAME_MAX,
        page_id=api_shape.current_page().id,
    ), status


@bp.route("/api-keys", methods=["GET", "POST"], endpoint="api_keys")
@admin_required
def api_keys_page():
    if request.method == "GET":
        return _render()
    form = ApiKeyForm()
    done = commit_or_show_errors(api_keys.create_key, form.name.data or "", actor=actor(),
                                 now=utcnow())
    if done.ok:
        row, key = done.result
        # Shown once, in this response only: never flashed, never stored, never again.
        response = render_template("staff/api_key_created.html", key_row=row, key=key,
                                   page_id=api_shape.current_page().id)
        return response, 200, {"Cache-Control": "no-store"}
    return _render(form, done.errors, INVALID)


@bp.post("/api-keys/<int:key_id>/revoke")
@admin_required
def revoke_api_key(key_id: int):
    ActionForm()  # CSRFProtect has already checked the token
    row = get_or_404(ApiKey, key_id)
    if not confirmed():  # a revoked key cannot be brought back: the tool needs a new one
        flash("Tick the confirmation to revoke the key. Nothing was revoked.", "error")
        return redirect(url_for("staff.api_keys"))
    done = commit_or_show_errors(api_keys.revoke_key, row, actor=actor(), now=utcnow())
    done.flash(f"API key revoked: {row.name}. Requests with it now get 401.")
    return redirect(url_for("staff.api_keys"))
