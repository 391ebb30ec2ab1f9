"""The security headers of every response, and the Content-Security-Policy, stated once:
the app sends them, and ``statuspage.nginx`` writes the same ones for the static export."""

from __future__ import annotations

from flask import current_app, request

from .markers import view_markers
from .sessions import request_uses_session

#: The site's policy: no inline script or style, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors {ancestors}"
)
#: The widgets' policy (badge, embed): any site may show them; nothing in them runs
#: script or loads from elsewhere.
EMBED_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
             "form-action 'none'; frame-ancestors *")
#: The site's policy for what no other site may frame.
PAGE_CSP = CSP.format(ancestors="'none'")


def fixed_headers(csp: str, *, frameable: bool) -> list[tuple[str, str]]:
    """CSP, nosniff, no referrer (tokens live in URLs), and DENY framing unless frameable."""
    headers = [("Content-Security-Policy", csp), ("X-Content-Type-Options", "nosniff"),
               ("Referrer-Policy", "no-referrer")]
    if not frameable:
        headers.append(("X-Frame-Options", "DENY"))
    return headers


def security_headers(response):
    """CSP without inline script, nosniff, no referrer (tokens live in URLs), HSTS on https."""
    app = current_app._get_current_object()
    headers = response.headers
    frameable = request.endpoint in view_markers(app).frameable_endpoints
    csp = CSP.format(ancestors="*") if frameable else PAGE_CSP
    for name, value in fixed_headers(csp, frameable=frameable):
        headers.setdefault(name, value)
    if app.config["PUBLIC_URL"].startswith("https://"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request_uses_session(app) and "Cache-Control" not in headers:
        headers["Cache-Control"] = "private, no-store"
    return response
