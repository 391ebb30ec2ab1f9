"""Per-address limits (Flask-Limiter): views are marked with ``@rate_limit``, wrapped per app."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def rate_limit(config_key: str, *, methods: tuple[str, ...] = ("POST",), deduct_when=None,
               key_func=None, shared_scope=None):
    """Limit a view per client address to the limit named by ``config_key``.

    For example ``@rate_limit("SUBSCRIBE_RATE_LIMIT")`` under the ``@bp.route`` decorator.
    The limit string ("10 per minute;50 per hour") is read from the config at each request;
    ``deduct_when(response)`` decides whether a request counts (e.g. failures only);
    ``key_func`` counts by something else than the address (the write API: its key);
    views marked with one ``shared_scope`` share one count (else each view counts apart). The
    counts live in ``RATELIMIT_STORAGE_URI`` (Redis in production: every worker and host
    shares them; ``memory://`` counts per process).

    The view is only marked here: ``init_app`` wraps it with the limiter of each
    app, so that every app (one per test) has its own limiter, storage and key prefix.
    """

    def mark(view):
        view.rate_limit = (config_key, tuple(methods), deduct_when, key_func, shared_scope)
        return view

    return mark


def init_app(app: Flask) -> Limiter:
    """Give ``app`` a Limiter of its own and wrap every view marked by ``rate_limit``.

    Call after the blueprints are registered. The limiter is ``limiter_for(app)``.
    """
    limiter = Limiter(key_func=get_remote_address, swallow_errors=True,
                      headers_enabled=True)
    limiter.init_app(app)
    app.extensions["statuspage_limiter"] = limiter
    for endpoint, view in list(app.view_functions.items()):
        marked = getattr(view, "rate_limit", None)
        if marked is None:
            continue
        config_key, methods, deduct_when, key_func, shared_scope = marked
        limit = lambda key=config_key: app.config[key]  # noqa: E731
        options = dict(methods=list(methods), deduct_when=deduct_when,
                       key_func=key_func or get_remote_address)
        app.view_functions[endpoint] = (
            limiter.shared_limit(limit, scope=shared_scope, **options) if shared_scope
            else limiter.limit(limit, **options))(view)
    return limiter


def limiter_for(app: Flask) -> Limiter:
    return app.extensions["statuspage_limiter"]
