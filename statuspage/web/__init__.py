"""What every response shares: sessions only where a view says so (``markers``),
security headers (``headers``), error pages, template filters and the request class."""

from __future__ import annotations

from flask import Flask

from . import errors, filters
from .headers import security_headers
from .forms_parser import Request
from .sessions import CookielessSessionInterface


def init_app(app: Flask) -> None:
    """Proxies, the request class, the cookieless sessions, headers, filters, error pages."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:  # the client's address and scheme as the proxies saw them
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.request_class = Request
    app.session_interface = CookielessSessionInterface()
    app.after_request(security_headers)
    filters.init_app(app)
    errors.init_app(app)
