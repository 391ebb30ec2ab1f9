"""What every response shares: which paths may use a session, time display, error pages."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import io

from flask import Flask, current_app, render_template, request
from flask import Request as FlaskRequest
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup, escape
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

#: Blueprints whose every view may read and set the session cookie.
SESSION_BLUEPRINTS = {"staff", "auth"}


def uses_session(view):
    """Mark a view outside the staff area that needs the session (e.g. a CSRF form)."""
    view.uses_session = True
    return view


def request_uses_session(app: Flask) -> bool:
    endpoint = request.endpoint
    if endpoint is None:
        # Flask opens the session before it matches the URL: match it here, or every
        # staff request would start with an empty session (no login, no CSRF token).
        try:
            endpoint, _ = app.create_url_adapter(request).match()
        except Exception:  # NotFound, MethodNotAllowed, RequestRedirect
            return False
    if endpoint.rpartition(".")[0] in SESSION_BLUEPRINTS:
        return True
    view = app.view_functions.get(endpoint)
    return bool(getattr(view, "uses_session", False))


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


# --- Request bodies --------------------------------------------------------------------


class FieldCountingFormDataParser(FormDataParser):
    """``MAX_FORM_PARTS`` for urlencoded forms too (Werkzeug counts multipart parts only):
    10,000 fields get 413, as a multipart form with as many parts does."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        data = stream.read()  # already bounded by MAX_CONTENT_LENGTH
        if self.max_form_parts is not None:
            fields = sum(1 for part in data.split(b"&") if part)
            if fields > self.max_form_parts:
                raise RequestEntityTooLarge()
        return super()._parse_urlencoded(io.BytesIO(data), mimetype, content_length,
                                         options)


class Request(FlaskRequest):
    form_data_parser_class = FieldCountingFormDataParser


# --- Time ------------------------------------------------------------------------------


def site_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


def format_utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def time_tag(value: datetime | None, fmt: str = "datetime") -> Markup:
    """``<time>`` with the UTC instant; static/js/localtime.js shows it in the reader's zone.

    Without script the reader sees the time in UTC, labelled as such.
    """
    if value is None:
        return Markup("")
    iso = value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Markup('<time datetime="{}" data-format="{}">{}</time>').format(
        iso, fmt, format_utc(value)
    )


def format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def nl2br(text: str | None) -> Markup:
    """Plain text with its line breaks kept; never raw HTML."""
    if not text:
        return Markup("")
    return Markup("<br>\n").join(escape(line) for line in text.splitlines())


# --- Headers on every response ----------------------------------------------------------

#: Paths that other sites may frame (the badge and the embed).
FRAMEABLE_ENDPOINTS = {"widgets.badge", "widgets.embed"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors {ancestors}"
)


def security_headers(response):
    """CSP without inline script, nosniff, no referrer (tokens live in URLs), HSTS on https."""
    headers = response.headers
    frameable = request.endpoint in FRAMEABLE_ENDPOINTS
    headers.setdefault("Content-Security-Policy",
                       CSP.format(ancestors="*" if frameable else "'none'"))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if not frameable:
        headers.setdefault("X-Frame-Options", "DENY")
    if current_app.config["PUBLIC_URL"].startswith("https://"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request_uses_session(current_app) and "Cache-Control" not in headers:
        headers["Cache-Control"] = "private, no-store"
    return response


# --- Errors ----------------------------------------------------------------------------


def _error_page(code: int, title: str, message: str):
    return render_template("errors/error.html", code=code, title=title, message=message), code


def init_app(app: Flask) -> None:
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:  # the client's address and scheme as the proxies saw them
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.request_class = Request
    app.after_request(security_headers)
    app.jinja_env.globals.update(time_tag=time_tag)
    app.jinja_env.filters.update(nl2br=nl2br, duration=format_duration)

    @app.context_processor
    def _site():
        return {"site_name": app.config["SITE_NAME"], "public_url": app.config["PUBLIC_URL"]}

    @app.errorhandler(400)
    def _bad_request(e):
        return _error_page(400, "Bad request", getattr(e, "description", "") or
                           "The request could not be understood.")

    @app.errorhandler(403)
    def _forbidden(e):
        return _error_page(403, "Not allowed", "Your account may not do this.")

    @app.errorhandler(404)
    def _not_found(e):
        return _error_page(404, "Not found", "There is no page at this address.")

    @app.errorhandler(405)
    def _method(e):
        return _error_page(405, "Method not allowed", "This address does not accept that.")

    @app.errorhandler(413)
    def _too_large(e):
        return _error_page(413, "Too large", "What you sent is larger than this site accepts.")

    @app.errorhandler(429)
    def _too_many(e):
        return _error_page(429, "Too many requests",
                           "You sent this too often. Wait a few minutes and try again.")

    @app.errorhandler(500)
    def _server_error(e):
        return _error_page(500, "Something went wrong",
                           "The page could not be shown. Please try again in a minute.")
