"""What every response shares: sessions only where a view says so (``markers``),
security headers (``headers``), error pages, template filters and the request class."""

from __future__ import annotations

from flask import Flask

from . import errors, filters
from .bodies import BodyDeadline, BoundedBody
from .headers import security_headers
from .forms_parser import Request
from .sessions import CookielessSessionInterface


def init_app(app: Flask) -> None:
    """Proxies, bounded bodies, the request class, cookieless sessions, headers, filters,
    error pages."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:  # the client's address and scheme as the proxies saw them
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    # Chunked bodies too get 413 over MAX_CONTENT_LENGTH, on every worker class; under
    # gunicorn's WSGI workers a body is read by its deadline, by half the threads at most.
    app.wsgi_app = BoundedBody(app.wsgi_app, app.config.get("MAX_CONTENT_LENGTH"),
                               BodyDeadline.from_config(app.config),
                               readers=max(1, int(app.config["WEB_THREADS"]) // 2))
    app.request_class = Request
    app.session_interface = CookielessSessionInterface()
    app.after_request(security_headers)
    filters.init_app(app)
    errors.init_app(app)
