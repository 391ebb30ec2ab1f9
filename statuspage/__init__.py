"""The Metabolic-Tracker status page: ``create_app`` reads like a table of contents."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask import Flask

from . import config as default_config
from . import ratelimit, transactions
from .extensions import csrf, db, login_manager, migrate
from .extensions import mail as mail_extension  # `statuspage.mail` is the mail module

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("STATUSPAGE_INSTANCE_PATH", str(ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    load_config(app, test_config)
    init_extensions(app)
    register_event_listeners(app)
    register_blueprints(app)
    ratelimit.init_app(app)  # after the blueprints: wraps the views marked @rate_limit
    register_web(app)
    register_cli(app)
    register_public_cache_and_publishing(app)
    return app


def _public_url(config) -> str:
    """PUBLIC_URL, or, left at its default, the address ``serve`` listens on (a host that
    listens everywhere is linked as 127.0.0.1), so that a page moved to another port does
    not send people to the old one."""
    url = str(config["PUBLIC_URL"]).rstrip("/")
    if url != default_config.PUBLIC_URL:
        return url
    host = str(config["HOST"])
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{'[' + host + ']' if ':' in host else host}:{int(config['PORT'])}"


def load_config(app: Flask, test_config: dict | None) -> None:
    """Defaults, ``instance/config.py``, ``STATUSPAGE_*``, ``DATABASE_URL``, test_config."""
    app.config.from_object(default_config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("STATUSPAGE")
    if os.environ.get("DATABASE_URL") and not os.environ.get("STATUSPAGE_DATABASE_URL"):
        app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    if test_config:
        app.config.update(test_config)

    app.config["SQLALCHEMY_DATABASE_URI"] = default_config.database_url(
        app.config["DATABASE_URL"], app.instance_path
    )
    is_embedded = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:")
    if not app.config.get("SECRET_KEY"):
        if not is_embedded:
            raise RuntimeError(
                "SECRET_KEY must be set (STATUSPAGE_SECRET_KEY) when DATABASE_URL is not the "
                "embedded SQLite default: every host that serves this page must share one key."
            )
        app.config["SECRET_KEY"] = default_config.load_or_create_secret_key(app.instance_path)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": not is_embedded})
    app.config["PUBLIC_URL"] = _public_url(app.config)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config["PUBLIC_URL"].startswith("https://")
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        seconds=app.config["STAFF_SESSION_IDLE_SECONDS"]
    )
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # the session's own lifetime bounds it
    check_paging_settings(app.config)


def check_paging_settings(config) -> None:
    """BUSINESS_HOURS and the chain's numbers: a bad value stops the app at start, with
    what to write, rather than the first SEV-3 at night."""
    from .outbox import paging

    paging.check_config(config)


def init_extensions(app: Flask) -> None:
    os.makedirs(app.instance_path, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    mail_extension.init_app(app)
    login_manager.init_app(app)
    transactions.init_app(app)  # SQLite's set-up; requests that may write lock up front


def register_event_listeners(app: Flask) -> None:
    """Who hears of what an operation records: every process (web, notifier, monitors,
    ``flask`` commands) is built here, so none records an event that nobody hears."""
    from .outbox import listeners

    listeners.init_app(app)


def register_blueprints(app: Flask) -> None:
    from .public import ack, api, api_v1, feeds, health, page as public, subscribe, widgets
    from . import auth, staff
    from .web import converters

    converters.init_app(app)  # <int:...> takes ASCII digits only; before the first route
    for module in (public, subscribe, feeds, api, api_v1, health, widgets, auth, staff, ack):
        app.register_blueprint(module.bp)


def register_web(app: Flask) -> None:
    """Cookieless sessions, security headers, error pages, template filters."""
    from . import web

    web.init_app(app)


def register_cli(app: Flask) -> None:
    from . import cli

    cli.init_app(app)


def register_public_cache_and_publishing(app: Flask) -> None:
    from .serving import publish, render_cache

    render_cache.init_app(app)  # app.wsgi_app = PublicCache(app.wsgi_app, app)
    publish.init_app(app)  # flask publish DIR, flask publisher
