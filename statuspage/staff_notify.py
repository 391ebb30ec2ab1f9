"""Staff side of the subscriber emails: subscriber counts (admins), an incident's emails
(the block on the staff incident page), hold / release / send now (admins, audited).

Responders see the email status of an incident, never a subscriber's address; admins see
counts and can export or delete one subscriber by address (audited with the subscriber's
opaque id, never the address).
"""

from __future__ import annotations

import json

from flask import (Blueprint, abort, flash, make_response, redirect, render_template,
                   request, url_for)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField

from . import subscriptions
from .addresses import parse_subscriber_address
from .auth import admin_required, require_staff
from .clock import utcnow
from .extensions import db
from .errors import NotAllowed, ValidationError
from .models import AUDIENCES, SUBSCRIBER_STATUSES, Incident
from .outbox import queue, status

bp = Blueprint("staff_notify", __name__, url_prefix="/staff")

STATUS_LABELS = {
    "pending": "Waiting for confirmation",
    "confirmed": "Confirmed",
    "unsubscribed": "Unsubscribed",
    "bouncing": "Bouncing (address refused)",
}


class ButtonForm(FlaskForm):
    """A POST button: the CSRF token only."""


class DeleteSubscriberForm(FlaskForm):
    email = StringField("Email address of the subscriber to delete")


class ExportSubscriberForm(FlaskForm):
    email = StringField("Email address of the subscriber whose data to export")


bp.before_request(require_staff)


@bp.app_template_global("incident_emails")
def incident_emails(incident: Incident) -> status.EmailStatus:
    """For templates/staff/_emails.html on the staff incident page."""
    return status.email_status(incident, utcnow())


def _incident_page(incident_id: int):
    return redirect(url_for("staff.incident", incident_id=incident_id))


def _get_incident(incident_id: int) -> Incident:
    if not 0 < incident_id <= 2**31 - 1:
        abort(404)
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        abort(404)
    return incident


def _admin_action(incident_id: int, action, success: str):
    ButtonForm()  # CSRFProtect has already checked the token
    incident = _get_incident(incident_id)
    try:
        result = action(incident, actor=current_user._get_current_object(), now=utcnow())
    except ValidationError as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "error")
        return _incident_page(incident_id)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    db.session.commit()
    flash(success.format(result=result), "success")
    return _incident_page(incident_id)


@bp.post("/incidents/<int:incident_id>/emails/hold")
@admin_required
def hold(incident_id: int):
    return _admin_action(incident_id, queue.hold_emails,
                         "This incident's emails are held: none will go out until released.")


@bp.post("/incidents/<int:incident_id>/emails/release")
@admin_required
def release(incident_id: int):
    return _admin_action(incident_id, queue.release_emails,
                         "Hold released: the emails go out as the rules say.")


@bp.post("/incidents/<int:incident_id>/emails/send-now")
@admin_required
def send_now(incident_id: int):
    return _admin_action(incident_id, queue.send_outage_email_now,
                         "Outage email queued for {result} subscriber(s); the notifier "
                         "sends it within seconds.")


def _subscribers_page(*, delete_error: str | None = None, export_error: str | None = None):
    counts = subscriptions.counts()
    return render_template(
        "staff/subscribers.html", form=DeleteSubscriberForm(formdata=None),
        export_form=ExportSubscriberForm(formdata=None),
        delete_error=delete_error, export_error=export_error, counts=counts,
        audiences=AUDIENCES, statuses=SUBSCRIBER_STATUSES, status_labels=STATUS_LABELS,
        totals={a: sum(counts.get((a, s), 0) for s in SUBSCRIBER_STATUSES) for a in AUDIENCES},
    ), (422 if delete_error or export_error else 200)


def _no_subscriber(typed: str | None, nothing_done: str) -> str:
    """The message when the typed address names no subscriber. The address is never
    echoed, logged or audited."""
    if parse_subscriber_address(typed) is None:
        return f"{subscriptions.EMAIL_ERROR} {nothing_done}"
    return f"No subscriber has that address. {nothing_done}"


@bp.route("/subscribers", methods=["GET", "POST"])
@admin_required
def subscribers():
    """The counts; the POST deletes one subscriber (by typed address)."""
    if request.method == "POST":
        form = DeleteSubscriberForm()  # CSRFProtect has already checked the token
        subscriber = subscriptions.find_by_email(form.email.data)
        if subscriber is None:
            db.session.rollback()
            return _subscribers_page(
                delete_error=_no_subscriber(form.email.data, "Nothing was deleted."))
        subscriptions.delete_subscriber(subscriber, actor=current_user._get_current_object(),
                                        now=utcnow())
        db.session.commit()
        flash("The subscriber was deleted, with their email history.", "success")
        return redirect(url_for("staff_notify.subscribers"))
    return _subscribers_page()


@bp.post("/subscribers/export")
@admin_required
def subscriber_export():
    """Everything held about one subscriber (typed address) as a JSON download, audited
    with the subscriber's opaque id. A POST: the address never appears in a URL."""
    form = ExportSubscriberForm()  # CSRFProtect has already checked the token
    subscriber = subscriptions.find_by_email(form.email.data)
    if subscriber is None:
        db.session.rollback()
        return _subscribers_page(
            export_error=_no_subscriber(form.email.data, "Nothing was exported."))
    data = subscriptions.export_subscriber(
        subscriber, actor=current_user._get_current_object(), now=utcnow())
    db.session.commit()
    response = make_response(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="subscriber-{data["subscriber"]["id"]}.json"')
    response.headers["Cache-Control"] = "no-store"
    return response
