"""Acknowledge a page in one tap: ``/ack/<token>`` (the link in every chain page).

The GET changes nothing (mail and link scanners follow links) and needs no sign-in: it
says which incident, who the link acknowledges as, and shows one button. The button's POST
carries a CSRF token (the page sets the session for it) beside the signed link, is
limited per client address (ACK_RATE_LIMIT), and acknowledges (``paging.acks``): the
chain stops for everyone, the incident is acknowledged, and the page says who answered.
A link that is tampered, expired, already used, for another page, or for a chain someone
else acknowledged gets a page that says so (never a 500), and nothing changes.
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template

from ..clock import utcnow
from ..extensions import csrf, db
from ..forms import ActionForm
from ..paging import acks
from ..ratelimit import rate_limit
from ..web.filters import site_tz
from ..web.markers import uses_session

bp = Blueprint("ack", __name__)

TOO_MANY = ("Too many acknowledgements came from your network. Nothing was changed: wait a "
            "minute and press the button again, or acknowledge on the incident's staff page.")
EXPIRED_FORM = "The page had expired. Nothing was changed: press the button again."


def _private(body, status: int = 200):
    """Pages carrying a token: never cached, never stored, never sent on as a referrer."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(refusal: acks.BadAck):
    return _private(render_template("public/ack.html", refusal=refusal, ack=None, form=None,
                                    done=False, error=None), refusal.status)


def _page(token: str, *, error=None, status: int = 200):
    try:
        ack = acks.read(token, utcnow())
    except acks.BadAck as exc:
        return _refused(exc)
    refusal = acks.refusal(ack, site_tz())
    if refusal is not None:
        return _refused(refusal)
    return _private(render_template("public/ack.html", ack=ack, token=token, form=ActionForm(),
                                    refusal=None, done=False, error=error), status)


@bp.errorhandler(429)
def too_many_requests(error):
    return _private(render_template("public/ack.html", ack=None, form=None, done=False,
                                    refusal=acks.BadAck(TOO_MANY, status=429), error=None),
                    429)


@bp.get("/ack/<token>")
@uses_session
def ack_page(token: str):
    """Which incident, who you are acknowledging as, and one button; changes nothing."""
    return _page(token)


@bp.post("/ack/<token>")
@csrf.exempt  # checked here, so that an expired form gets the page again, not an error
@uses_session
@rate_limit("ACK_RATE_LIMIT", methods=("POST",))
def acknowledge(token: str):
    if not ActionForm().validate():
        db.session.rollback()
        return _page(token, error=EXPIRED_FORM, status=400)
    try:
        ack = acks.acknowledge(token, now=utcnow(), tz=site_tz())
    except acks.BadAck as exc:
        db.session.rollback()
        return _refused(exc)
    db.session.commit()
    return _private(render_template("public/ack.html", ack=ack, refusal=None, form=None,
                                    done=True, error=None))
