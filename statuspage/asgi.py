"""``statuspage.asgi:app`` stays where deployments name it; the code lives in ``statuspage.serving.asgi``."""

from .serving import asgi as _asgi


def __getattr__(name: str):
    return getattr(_asgi, name)
