"""``<int:...>`` in a route takes ASCII digits only (werkzeug's own matches ``\\d``, which
takes every Unicode digit: "/incidents/١" was incident 1). ``statuspage.numbers`` reads
the ids that come in forms, query strings and API bodies the same way."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter


class AsciiIntegerConverter(IntegerConverter):
    regex = r"[0-9]+"


def init_app(app: Flask) -> None:
    """Before any route is added: a rule takes its converter when it is made."""
    app.url_map.converters["int"] = AsciiIntegerConverter
