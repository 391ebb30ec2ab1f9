"""Staff webhook pages (admins): add one (its secret shown once), see each one's recent
attempts, disable, enable, delete."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField

from .. import queries
from ..clock import utcnow
from ..extensions import db
from ..forms import ONE_LINE, ActionForm, parse_component_ids, select_choices
from ..models import Webhook
from ..outbox import webhooks
from .common import INVALID, actor, bp, commit_or_show_errors, confirmed, get_or_404
from .gate import admin_required


class WebhookForm(FlaskForm):
    """A new webhook: its URL, and everything or some components (checkboxes
    ``components``, parsed by ``parse_component_ids``)."""

    url = StringField("URL that receives the notifications", filters=ONE_LINE)
    scope = RadioField("Which changes", choices=select_choices([
        ("all", "Everything: every incident and component change"),
        ("some", "Only these components:")]), default="all", validate_choice=False)


def _render(form=None, errors=None, status=200, chosen=()):
    hooks = list(db.session.scalars(db.select(Webhook).order_by(Webhook.id)))
    return render_template(
        "staff/webhooks.html", form=form or WebhookForm(formdata=None),
        errors=errors or {}, webhooks=hooks,
        attempts=webhooks.recent_attempts(w.id for w in hooks),
        components=queries.all_components(), chosen=set(chosen),
        action_form=ActionForm(), max_failures=current_app.config["WEBHOOK_MAX_FAILURES"],
    ), status


@bp.route("/webhooks", methods=["GET", "POST"], endpoint="webhooks")
@admin_required
def webhooks_page():
    if request.method == "GET":
        return _render()
    form = WebhookForm()
    errors: dict[str, str] = {}
    ids = parse_component_ids(request.form.getlist("components"), errors)
    if not errors:
        done = commit_or_show_errors(webhooks.create_webhook, form.url.data or "",
                                     form.scope.data or "", ids, actor=actor(),
                                     now=utcnow())
        if done.ok:
            # Shown once, in this response only: never flashed (the session cookie is
            # readable), never shown again.
            return render_template("staff/webhook_secret.html", webhook=done.result)
        errors = done.errors
    return _render(form, errors, INVALID, chosen=ids)


@bp.route("/webhooks/<int:webhook_id>/disable", methods=["GET", "POST"])
@admin_required
def disable_webhook(webhook_id: int):
    """``meta.unsubscribe`` of every payload: a page whose button disables it."""
    webhook = get_or_404(Webhook, webhook_id)
    if request.method == "GET":
        return render_template("staff/webhook_disable.html", webhook=webhook,
                               action_form=ActionForm())
    return _set_active(webhook, False)


@bp.post("/webhooks/<int:webhook_id>/enable")
@admin_required
def enable_webhook(webhook_id: int):
    return _set_active(get_or_404(Webhook, webhook_id), True)


def _set_active(webhook: Webhook, active: bool):
    ActionForm()  # CSRFProtect has already checked the token
    done = commit_or_show_errors(webhooks.set_active, webhook, active, actor=actor(),
                                 now=utcnow())
    done.flash(f"Webhook {'enabled' if active else 'disabled'}: {webhook.url}")
    return redirect(url_for("staff.webhooks"))


@bp.post("/webhooks/<int:webhook_id>/delete")
@admin_required
def delete_webhook(webhook_id: int):
    webhook = get_or_404(Webhook, webhook_id)
    if not confirmed():
        flash("Tick the confirmation to delete the webhook. Nothing was deleted.", "error")
        return redirect(url_for("staff.webhooks"))
    url = webhook.url
    done = commit_or_show_errors(webhooks.delete_webhook, webhook, actor=actor(),
                                 now=utcnow())
    done.flash(f"Webhook deleted: {url}")
    return redirect(url_for("staff.webhooks"))
