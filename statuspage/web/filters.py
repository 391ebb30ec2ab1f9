"""Template filters and globals: times (the public's in the reader's zone by script, staff's
in the site's zone), durations, and plain text with its line breaks."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request
from markupsafe import Markup, escape

from ..present import impact_lines, local_time


def site_tz() -> ZoneInfo:
    """The site's time zone (``SITE_TIMEZONE``)."""
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


def time_tag(value: datetime | None, fmt: str = "datetime") -> Markup:
    """``<time>`` with the UTC instant, the one way every page shows a time.

    Public pages: the text is the time in ``SITE_TIMEZONE`` with the zone's name (the
    zone every time on the page is in without script, the data-gap window's too), and
    static/js/localtime.js shows it in the reader's zone (``fmt``: ``datetime``, ``date``
    or ``time``).

    Staff pages: the text is the status block's own format, 24 hours with the date and the
    zone, in ``SITE_TIMEZONE`` (``2026-11-26 13:12 CET``), whatever ``fmt`` says: the zone
    staff type times in and paste into Slack, so that the page, the form and the block
    agree. ``data-localised`` tells the script to leave it: the same text with or without
    script.
    """
    if value is None:
        return Markup("")
    iso = value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    if _on_staff_page():
        return Markup('<time datetime="{}" data-localised="1">{}</time>').format(
            iso, local_time(value, site_tz())
        )
    return Markup('<time datetime="{}" data-format="{}">{}</time>').format(
        iso, fmt, local_time(value, site_tz())
    )


def impact_block_lines(incident, told_at: datetime | None = None) -> list[tuple[str, str]]:
    """The incident's impact block in the site's zone (the public pages' macro)."""
    return impact_lines(incident, site_tz(), told_at=told_at)


def _on_staff_page() -> bool:
    return has_request_context() and request.blueprint == "staff"


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def nl2br(text: str | None) -> Markup:
    """Plain text with its line breaks kept; never raw HTML."""
    if not text:
        return Markup("")
    return Markup("<br>\n").join(escape(line) for line in text.splitlines())


def init_app(app: Flask) -> None:
    """The filters, globals and the site's name and address in every template."""
    app.jinja_env.globals.update(time_tag=time_tag, impact_lines=impact_block_lines)
    app.jinja_env.filters.update(nl2br=nl2br, duration=format_duration)

    @app.context_processor
    def _site():
        return {"site_name": app.config["SITE_NAME"], "public_url": app.config["PUBLIC_URL"]}
