"""Public blueprint: status page, incident page, history. No cookie is read or set."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__)
