"""The WSGI entry point for gunicorn: ``gunicorn statuspage.wsgi:app``."""

from . import create_app

app = create_app()
