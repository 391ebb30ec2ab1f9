"""Serving: render once, serve many.

The render cache and the refresher that keeps each process's bytes current, HTTP caching
(conditional requests, encodings), the page store (the last pages on disk, served while the
database is down), the site version, the static export and its nginx configuration, and the
ASGI/WSGI entry points (``statuspage.asgi`` and ``statuspage.wsgi`` re-export them).
"""
