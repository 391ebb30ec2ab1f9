"""What other sites show: ``/badge.svg`` (the overall status as an image) and ``/embed``
(a small page, without script, for an iframe: the status and the open incidents).

Both are cookieless and cacheable, read in a fixed number of queries, and may be framed
by any site (they are marked @frameable).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template
from markupsafe import escape

from .. import queries
from ..models import INCIDENT_STATUS_LABELS
from ..present import front_page_url, incident_url
from ..text import clean_text
from ..web.headers import EMBED_CSP
from ..web.markers import cacheable, frameable

bp = Blueprint("widgets", __name__)

CACHE_SECONDS = 30

#: Indicator -> background colour. White text on each has a contrast ratio of 4.5:1 or
#: more; the words carry the meaning, the colour only repeats it.
BADGE_COLOURS = {
    "none": "#2e7d32",
    "maintenance": "#1d4ed8",
    "minor": "#8a5300",
    "major": "#b43c00",
    "critical": "#b91c1c",
}
LABEL_COLOUR = "#4b5563"

#: The playbook's line for anyone reading during an incident.
URGENT_LINE = ("If you have urgent health concerns, please contact your healthcare provider "
               "directly.")

# Per-character widths (px) of 11 px Verdana, near enough to size the boxes; textLength
# makes the text fit them exactly whatever font the reader has.
_NARROW = set("fijlrtI.,:;!'|() ")
_WIDE = set("mwMW@%")


def _text_width(text: str) -> int:
    width = 0.0
    for ch in text:
        width += 4.0 if ch in _NARROW else 10.0 if ch in _WIDE else (
            7.5 if ch.isupper() or ch.isdigit() else 6.6)
    return int(round(width))


def render_badge(label: str, indicator: str, description: str) -> bytes:
    """An accessible SVG badge: ``label | description``, coloured by ``indicator``."""
    label = clean_text(label, single_line=True) or "status"
    description = clean_text(description, single_line=True)
    colour = BADGE_COLOURS.get(indicator, BADGE_COLOURS["critical"])
    pad = 10
    lw, rw = _text_width(label) + 2 * pad, _text_width(description) + 2 * pad
    total = lw + rw
    name = f"{label} status: {description}"
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" \
viewBox="0 0 {total} 20" role="img" aria-label="{escape(name)}">
  <title>{escape(name)}</title>
  <rect width="{lw}" height="20" fill="{LABEL_COLOUR}"/>
  <rect x="{lw}" width="{rw}" height="20" fill="{colour}"/>
  <g fill="#ffffff" font-family="Verdana,DejaVu Sans,Geneva,sans-serif" font-size="11" \
text-anchor="middle" aria-hidden="true">
    <text x="{lw / 2:g}" y="14" textLength="{lw - 2 * pad}" \
lengthAdjust="spacingAndGlyphs">{escape(label)}</text>
    <text x="{lw + rw / 2:g}" y="14" textLength="{rw - 2 * pad}" \
lengthAdjust="spacingAndGlyphs" data-indicator="{escape(indicator)}">{escape(description)}</text>
  </g>
</svg>
"""
    return svg.encode("utf-8")


@bp.after_request
def _embeddable(response):
    # Any site may show these; nothing in them runs script or loads from elsewhere.
    response.headers.setdefault("Content-Security-Policy", EMBED_CSP)
    response.headers.setdefault("Cache-Control", f"public, max-age={CACHE_SECONDS}")
    return response


@bp.route("/badge.svg")
@cacheable
@frameable
def badge():
    current = queries.current_status()
    body = render_badge(current_app.config["SITE_NAME"], current.indicator, current.description)
    return Response(body, content_type="image/svg+xml; charset=utf-8")


@bp.route("/embed")
@cacheable
@frameable
def embed():
    current = queries.current_status()
    incidents = [
        {
            "title": clean_text(i.title, single_line=True),
            "status": INCIDENT_STATUS_LABELS.get(i.status, i.status),
            "url": incident_url(i.id),
        }
        for i in current.unresolved
    ]
    return render_template(
        "public/embed.html",
        indicator=current.indicator,
        description=current.description,
        incidents=incidents,
        page_url=front_page_url(),
        site_label=clean_text(current_app.config["SITE_NAME"], single_line=True),
        urgent_line=URGENT_LINE,
    )


@bp.route("/embed.css")
@cacheable
def embed_css():
    body = render_template("widgets/embed.css")
    response = Response(body, content_type="text/css; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
