"""The error pages: one template, a title and a sentence per status."""

from __future__ import annotations

from flask import Flask, render_template

#: status -> (title, message); 400 shows the error's own description when it has one.
ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your account may not do this."),
    404: ("Not found", "There is no page at this address."),
    405: ("Method not allowed", "This address does not accept that."),
    413: ("Too large", "What you sent is larger than this site accepts."),
    429: ("Too many requests", "You sent this too often. Wait a few minutes and try again."),
    500: ("Something went wrong", "The page could not be shown. Please try again in a minute."),
}


def error_page(code: int, title: str, message: str):
    """The error page for ``code``, as a (body, status) pair."""
    return render_template("errors/error.html", code=code, title=title, message=message), code


def init_app(app: Flask) -> None:
    """Register a handler for each status in ``ERROR_PAGES``."""
    for code, (title, message) in ERROR_PAGES.items():
        def handler(e, code=code, title=title, message=message):
            if code == 400:
                message = getattr(e, "description", "") or message
            return error_page(code, title, message)

        app.register_error_handler(code, handler)
