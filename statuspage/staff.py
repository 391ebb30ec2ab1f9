"""Staff blueprint: dashboard, incident forms, admin pages; login gate in before_request."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
