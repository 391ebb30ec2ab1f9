"""``statuspage.wsgi:app`` stays where deployments name it; the code lives in ``statuspage.serving.wsgi``."""

from .serving import wsgi as _wsgi


def __getattr__(name: str):
    return getattr(_wsgi, name)
