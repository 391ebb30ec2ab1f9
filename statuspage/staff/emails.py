"""Staff side of the subscriber emails: subscriber counts (admins), an incident's emails
(the block on the staff incident page), hold / release / send now (admins, audited).

Responders see the email status of an incident, never a subscriber's address; admins see
counts and can export or delete one subscriber by address (audited with the subscriber's
opaque id, never the address).
"""

from __future__ import annotations

import json

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from .. import subscriptions
from ..addresses import parse_subscriber_address
from .gate import admin_required
from ..clock import utcnow
from ..extensions import db
from ..models import AUDIENCES, SUBSCRIBER_STATUSES, Incident
from ..outbox import queue, status
from .common import actor, bp, get_or_404, confirmed, incident_button, incident_page


class DeleteSubscriberForm(FlaskForm):
    email = StringField("Email address of the subscriber to delete")


class ExportSubscriberForm(FlaskForm):
    email = StringField("Email address of the subscriber whose data to export")


STATUS_LABELS = {
    "pending": "Waiting for confirmation",
    "confirmed": "Confirmed",
    "unsubscribed": "Unsubscribed",
    "bouncing": "Bouncing (address refused)",
}


@bp.app_template_global("incident_emails")
def incident_emails(incident: Incident) -> status.EmailStatus:
    """For templates/staff/_emails.html on the staff incident page."""
    return status.email_status(incident, utcnow())


#: Said when an action that changes who is told arrives without its confirmation.
NOT_CONFIRMED = "Nothing was changed: tick the box to confirm first."


def _refused(incident_id: int, message: str = NOT_CONFIRMED):
    flash(message, "error")
    return incident_page(incident_id)


@bp.post("/incidents/<int:incident_id>/emails/hold")
@admin_required
def hold(incident_id: int):
    """Hold every email of the incident, the all-clear included (confirmed first)."""
    if not confirmed():
        return _refused(incident_id)
    return incident_button(incident_id, "emails.hold", queue.hold_emails,
                           "This incident's emails are held: none will go out until "
                           "released, not even the resolution email.")


@bp.post("/incidents/<int:incident_id>/emails/release")
@admin_required
def release(incident_id: int):
    return incident_button(incident_id, "emails.release", queue.release_emails,
                           "Hold released: the emails go out as the rules say.")


@bp.post("/incidents/<int:incident_id>/emails/send-now")
@admin_required
def send_now(incident_id: int):
    """The outage email at once (confirmed first), for the severities that get one."""
    incident = get_or_404(Incident, incident_id)
    if not status.email_status(incident, utcnow()).severity_emailed:
        return _refused(incident_id, f"Nothing was sent: {incident.severity} incidents get "
                                     "no outage email.")
    if not confirmed():
        return _refused(incident_id)
    return incident_button(incident_id, "emails.send_now", queue.send_outage_email_now,
                           "Outage email queued for {result} subscriber(s); the notifier "
                           "sends it within seconds.")


#: The column headers of the counts ("Coaches", not "Coachs").
AUDIENCE_PLURALS = {"participant": "Participants", "coach": "Coaches"}


def _subscribers_page(*, delete_error: str | None = None, export_error: str | None = None):
    counts = subscriptions.counts()
    return render_template(
        "staff/subscribers.html", form=DeleteSubscriberForm(formdata=None),
        export_form=ExportSubscriberForm(formdata=None),
        delete_error=delete_error, export_error=export_error, counts=counts,
        audiences=AUDIENCES, statuses=SUBSCRIBER_STATUSES, status_labels=STATUS_LABELS,
        audience_plurals=AUDIENCE_PLURALS,
        totals={a: sum(counts.get((a, s), 0) for s in SUBSCRIBER_STATUSES) for a in AUDIENCES},
    ), (422 if delete_error or export_error else 200)


def _typed_subscriber(form, error_key: str, nothing_done: str):
    """(the subscriber the typed address names, None) or (None, the page saying there is
    none). The address is never echoed, logged or audited."""
    subscriber = subscriptions.find_by_email(form.email.data)
    if subscriber is not None:
        return subscriber, None
    db.session.rollback()
    if parse_subscriber_address(form.email.data) is None:
        message = f"{subscriptions.EMAIL_ERROR} {nothing_done}"
    else:
        message = f"No subscriber has that address. {nothing_done}"
    return None, _subscribers_page(**{error_key: message})


@bp.route("/subscribers", methods=["GET", "POST"])
@admin_required
def subscribers():
    """The counts; the POST deletes one subscriber (by typed address)."""
    if request.method == "POST":
        form = DeleteSubscriberForm()  # CSRFProtect has already checked the token
        subscriber, page = _typed_subscriber(form, "delete_error", "Nothing was deleted.")
        if subscriber is None:
            return page
        subscriptions.delete_subscriber(subscriber, actor=actor(), now=utcnow())
        db.session.commit()
        flash("The subscriber was deleted, with their email history.", "success")
        return redirect(url_for("staff.subscribers"))
    return _subscribers_page()


@bp.post("/subscribers/export")
@admin_required
def subscriber_export():
    """Everything held about one subscriber (typed address) as a JSON download, audited
    with the subscriber's opaque id. A POST: the address never appears in a URL."""
    form = ExportSubscriberForm()  # CSRFProtect has already checked the token
    subscriber, page = _typed_subscriber(form, "export_error", "Nothing was exported.")
    if subscriber is None:
        return page
    data = subscriptions.export_subscriber(subscriber, actor=actor(), now=utcnow())
    db.session.commit()
    response = make_response(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="subscriber-{data["subscriber"]["id"]}.json"')
    response.headers["Cache-Control"] = "no-store"
    return response
