"""The error pages: one template, a title and a sentence per status.

The page needs nothing from the database, so it can still be shown when the database is
what failed: it is rendered without Flask's context processors (Flask-Login's loads the
signed-in user, which would fail again and leave Werkzeug's bare "Internal Server Error").

For a staff POST that failed, the 500 page says whether the change was saved. Each request
notes when its session began a commit carrying writes and when one finished (session
events, below):
finished -> saved; begun but not finished, the database not answering -> we cannot tell;
no commit begun -> nothing was saved.
"""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError

from .. import branding
from ..extensions import db

#: status -> (title, message); 400 shows the error's own description when it has one.
ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your account may not do this."),
    404: ("Not found", "There is no page at this address."),
    405: ("Method not allowed", "This address does not accept that."),
    413: ("Too large", "What you sent is larger than this site accepts."),
    429: ("Too many requests", "You sent this too often. Wait a few minutes and try again."),
    500: ("Something went wrong", "The page could not be shown. Please try again in a minute."),
}

#: What a staff member is told when their POST failed, by what became of their change.
SAVED = ("Your change was saved; only the page after it could not be shown. "
         "Open the page again to see it.")
UNKNOWN = ("We cannot tell whether your change was saved: the database stopped answering "
           "while it was being saved. Look at the incident page before you post it again.")
NOT_SAVED = "Nothing was saved. Please try again in a minute."

_BEGUN = "statuspage_commit_begun"
_DONE = "statuspage_commit_done"
_WROTE = "statuspage_transaction_wrote"


#: Paths whose errors are JSON (Statuspage's ``{"error": ...}``), even those no view
#: answered (an unknown path, a method not allowed).
JSON_ERROR_PREFIX = "/api/v1/"


def error_page(code: int, title: str, message: str):
    """The error page for ``code``, as a (body, status) pair; touches no database."""
    if has_request_context() and request.path.startswith(JSON_ERROR_PREFIX):
        return {"error": title + "."}, code
    app = current_app._get_current_object()
    template = app.jinja_env.get_template("errors/error.html")
    body = template.render(code=code, title=title, message=message,
                           site_name=app.config["SITE_NAME"],
                           public_url=app.config["PUBLIC_URL"],
                           site_logo_url=branding.logo_url(app))
    return body, code


def change_outcome(error: BaseException | None) -> str:
    """What became of this request's change: ``SAVED``, ``UNKNOWN`` or ``NOT_SAVED``."""
    if g.get(_BEGUN):  # a commit began and did not finish
        if isinstance(error, DBAPIError) and not isinstance(error, IntegrityError):
            return UNKNOWN  # the database may have committed before the answer was lost
        return NOT_SAVED if not g.get(_DONE) else SAVED
    return SAVED if g.get(_DONE) else NOT_SAVED


def _server_error(e):
    title, message = ERROR_PAGES[500]
    if request.method == "POST" and "staff" in request.blueprints:
        message = change_outcome(getattr(e, "original_exception", None))
    return error_page(500, title, message)


def _wrote(_session, _flush_context) -> None:
    if has_request_context():
        setattr(g, _WROTE, True)


def _commit_begun(session) -> None:
    # Only a commit that carries writes counts: the write lock's commit of an empty read
    # transaction at the start of a request (transactions.py) saves nothing.
    if has_request_context() and (
            g.get(_WROTE) or session.new or session.deleted
            or any(session.is_modified(obj) for obj in session.dirty)):
        setattr(g, _BEGUN, True)


def _commit_done(_session) -> None:
    if has_request_context() and g.get(_BEGUN):
        setattr(g, _BEGUN, False)
        setattr(g, _DONE, True)
    if has_request_context():
        setattr(g, _WROTE, False)


def _rolled_back(_session, *_args) -> None:
    if has_request_context():
        setattr(g, _WROTE, False)  # a begun commit stays begun: the handler reads that


def init_app(app: Flask) -> None:
    """Register a handler for each status in ``ERROR_PAGES``; note the request's commits."""
    for code, (title, message) in ERROR_PAGES.items():
        def handler(e, code=code, title=title, message=message):
            if code == 400:
                message = getattr(e, "description", "") or message
            return error_page(code, title, message)

        app.register_error_handler(code, handler)
    app.register_error_handler(500, _server_error)
    session_class = db.session.session_factory.class_
    for name, fn in (("after_flush", _wrote), ("before_commit", _commit_begun),
                     ("after_commit", _commit_done), ("after_rollback", _rolled_back)):
        if not event.contains(session_class, name, fn):
            event.listen(session_class, name, fn)
