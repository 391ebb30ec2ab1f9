"""Public subscribe flow: /subscribe, /confirm/<token>, /unsubscribe/<token>, and the
preferences page /subscription/<token>.

/subscribe and the preferences page use the session (their forms have a CSRF token: the
preferences form changes more than one click should). The confirm and unsubscribe pages
are cookieless: the signed token in the URL is the capability, so their POSTs need no
CSRF token, and the RFC 8058 one-click POST (a mail client, no cookie) must work as it is.
A GET never changes anything (mail scanners follow links). Nothing here sends mail. No
page says whether an address is subscribed: the token pages never show the address.

The form's POST is limited per client address (SUBSCRIBE_RATE_LIMIT) and carries a
honeypot field that people never see: a form with it filled gets the same "check your
inbox" answer as any other, and nothing is stored or queued.
"""

from __future__ import annotations

import logging
from typing import Optional

from flask import (Blueprint, current_app, make_response, redirect, render_template,
                   request, url_for)
from flask_wtf import FlaskForm
from wtforms import StringField

from .. import subscriptions
from ..clock import utcnow
from ..subscriber_words import what_you_get
from ..extensions import csrf, db
from ..forms import ONE_LINE, ActionForm
from ..queries import all_components
from ..ratelimit import rate_limit
from ..errors import ValidationError
from ..tokens import ExpiredToken, InvalidToken
from ..web.markers import uses_session


class SubscribeForm(FlaskForm):
    """The public subscribe form. The ticked ``components`` (checkboxes, one value each)
    are read from the request as a list."""

    # Checked by the domain (subscriptions.subscribe, check_choices), which gives the
    # messages.
    email = StringField("Email address", filters=ONE_LINE)
    audience = StringField("I am a")  # radio buttons: participant or coach
    scope = StringField("Emails about", default="all")  # radio buttons: all or some
    timezone = StringField("Time zone", filters=ONE_LINE)  # a select of IANA names
    website = StringField("Leave this field empty")  # the honeypot (subscribe.HONEYPOT)


class PreferencesForm(FlaskForm):
    """A subscriber's preferences page (/subscription/<token>); ``components`` as in
    ``SubscribeForm``."""

    audience = StringField("I am a")
    scope = StringField("Emails about")
    timezone = StringField("Time zone", filters=ONE_LINE)
    maintenance_notices = StringField("Maintenance notices")  # radio buttons: on or off


bp = Blueprint("subscribe", __name__)
log = logging.getLogger("statuspage.subscribe")

#: The honeypot's name: a field robots like to fill. Hidden from people (the "honeypot"
#: class in site.css, aria-hidden, out of the tab order), so only robots send it filled.
HONEYPOT = "website"
TOO_MANY = ("Too many subscription requests came from your network. Nothing was saved: "
            "please wait a few minutes and try again.")

def _private(response):
    """Pages carrying a token: never cached, never stored."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _promise(subscriber=None):
    """What the page says a subscriber gets (this one's choices, listed back, if given)."""
    listed = subscriptions.listed_choices(subscriber) if subscriber is not None else None
    return what_you_get(current_app.config, listed)


def _choice_lists(form) -> dict:
    """What the choice fields offer, and what is ticked (as the form last sent it)."""
    ticked = {str(v) for v in request.form.getlist("components")} if form.is_submitted() \
        else set()
    return {"components": all_components(), "ticked": ticked,
            "zones": subscriptions.known_timezones(),
            "site_timezone": current_app.config["SITE_TIMEZONE"]}


def _choices(form, maintenance_notices: Optional[str] = "on"):
    """The choices the form sent, checked by the domain when it asks."""
    return lambda: subscriptions.check_choices(
        form.scope.data, request.form.getlist("components"), form.timezone.data,
        maintenance_notices)


def _subscribe_page(form, errors: dict[str, str], status: int):
    response = make_response(
        render_template("public/subscribe.html", form=form, errors=errors,
                        promise=_promise(), **_choice_lists(form)),
        status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(429)
def too_many_requests(error):
    """The address's limit (SUBSCRIBE_RATE_LIMIT): the form again, with what to do."""
    return _subscribe_page(SubscribeForm(), {"form": TOO_MANY}, 429)


@bp.route("/subscribe", methods=["GET", "POST"])
@uses_session
@rate_limit("SUBSCRIBE_RATE_LIMIT", methods=("POST",))
def subscribe():
    form = SubscribeForm()
    errors: dict[str, str] = {}
    if form.is_submitted():
        if not form.validate():  # the CSRF token
            errors["form"] = ("The form had expired. Nothing was saved: please try again.")
        elif form.website.data:
            # A robot: the answer a person gets, and nothing stored or queued.
            log.info("subscribe: honeypot field filled; nothing stored")
            return redirect(url_for("subscribe.check_inbox"), code=303)
        else:
            try:
                subscriptions.subscribe(form.email.data, form.audience.data, now=utcnow(),
                                        choices=_choices(form))
            except ValidationError as exc:
                db.session.rollback()
                errors = exc.errors
            else:
                db.session.commit()
                return redirect(url_for("subscribe.check_inbox"), code=303)
    return _subscribe_page(form, errors, 400 if errors else 200)


@bp.get("/subscribe/check-inbox")
def check_inbox():
    return render_template("public/subscribe_sent.html")


@bp.get("/confirm/<token>")
def confirm_page(token: str):
    try:
        subscriber = subscriptions.subscriber_for_confirm_token(token)
    except ExpiredToken:
        return _private((render_template("public/confirm_invalid.html", expired=True), 400))
    except InvalidToken:
        return _private((render_template("public/confirm_invalid.html", expired=False), 400))
    return _private(render_template("public/confirm.html", token=token,
                                    already=subscriber.status == "confirmed",
                                    audience=subscriber.audience,
                                    promise=_promise(subscriber)))


@bp.post("/confirm/<token>")
@csrf.exempt
def confirm(token: str):
    try:
        subscriber = subscriptions.confirm(token, now=utcnow())
    except InvalidToken as exc:
        db.session.rollback()
        return _private((render_template("public/confirm_invalid.html",
                                         expired=isinstance(exc, ExpiredToken)), 400))
    db.session.commit()
    return _private(render_template("public/confirm_done.html", audience=subscriber.audience,
                                    promise=_promise(subscriber)))


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    try:
        subscriber = subscriptions.subscriber_for_unsubscribe_token(token)
    except InvalidToken:
        return _private((render_template("public/unsubscribe_invalid.html"), 400))
    already = subscriber is None or subscriber.status == "unsubscribed"
    return _private(render_template("public/unsubscribe.html", token=token, already=already))


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str):
    """The page's button and RFC 8058's one-click POST ("List-Unsubscribe=One-Click", sent
    by mail clients with no cookie): either unsubscribes at once."""
    try:
        subscriptions.unsubscribe(token, now=utcnow())
    except InvalidToken:
        db.session.rollback()
        return _private((render_template("public/unsubscribe_invalid.html"), 400))
    db.session.commit()
    return _private(render_template("public/unsubscribe_done.html"))


# --- The preferences page ----------------------------------------------------------------


def _preferences_page(token: str, subscriber, form, errors: dict[str, str], status: int,
                      saved: bool = False):
    if not form.is_submitted():  # what they chose, in the form
        form.audience.data = subscriber.audience
        form.scope.data = subscriber.scope
        form.timezone.data = subscriber.timezone or current_app.config["SITE_TIMEZONE"]
        form.maintenance_notices.data = "on" if subscriber.maintenance_notices else "off"
    lists = _choice_lists(form)
    if not form.is_submitted():
        lists["ticked"] = {str(c.id) for c in subscriber.components}
    return _private((render_template(
        "public/preferences.html", token=token, subscriber=subscriber, form=form,
        errors=errors, saved=saved, unsubscribe_form=ActionForm(formdata=None),
        can_change=subscriptions.can_change_preferences(subscriber), **lists), status))


def _invalid_preferences_link():
    return _private((render_template("public/preferences_invalid.html"), 400))


@bp.route("/subscription/<token>", methods=["GET", "POST"])
@uses_session
def preferences(token: str):
    """A subscriber's choices (audience, components, time zone, maintenance notices),
    reached from every email; the POST saves them."""
    try:
        subscriber = subscriptions.subscriber_for_preferences_token(token)
    except InvalidToken:
        return _invalid_preferences_link()
    form = PreferencesForm()
    errors: dict[str, str] = {}
    if form.is_submitted():  # CSRFProtect has already checked the token
        try:
            subscriptions.update_preferences(
                subscriber, form.audience.data,
                _choices(form, form.maintenance_notices.data), now=utcnow())
        except ValidationError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            return redirect(url_for("subscribe.preferences", token=token, saved=1), code=303)
    return _preferences_page(token, subscriber, form, errors, 400 if errors else 200,
                             saved=request.args.get("saved") == "1")


@bp.post("/subscription/<token>/unsubscribe")
@uses_session
def preferences_unsubscribe(token: str):
    """The preferences page's "Unsubscribe" button (with its CSRF token)."""
    try:
        subscriber = subscriptions.subscriber_for_preferences_token(token)
    except InvalidToken:
        return _invalid_preferences_link()
    subscriptions.stop_emails(subscriber, now=utcnow())
    db.session.commit()
    return _private(render_template("public/unsubscribe_done.html"))
