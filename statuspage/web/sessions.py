"""The session cookie only where a view is declared to use it (``web.markers``)."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from .markers import view_markers


def request_uses_session(app: Flask) -> bool:
    """Whether the view answering this request may read and set the session cookie."""
    endpoint = request.endpoint
    if endpoint is None:
        # Flask opens the session before it matches the URL: match it here, or every
        # staff request would start with an empty session (no login, no CSRF token).
        try:
            endpoint, _ = app.create_url_adapter(request).match()
        except Exception:  # NotFound, MethodNotAllowed, RequestRedirect
            return False
    return endpoint in view_markers(app).session_endpoints


class CookielessSessionInterface(SecureCookieSessionInterface):
    """Public pages never read or set a cookie, so that any cache may keep them.

    Everything is cookieless unless its blueprint or view says otherwise, so a new public
    path is cacheable by default.
    """

    def open_session(self, app, request_):
        if request_uses_session(app):
            return super().open_session(app, request_)
        return self.session_class()

    def save_session(self, app, session, response):
        if request_uses_session(app):
            return super().save_session(app, session, response)
        return None
