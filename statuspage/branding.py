"""The public page's own look: the logo (SITE_LOGO) and the accent colour (ACCENT_COLOR),
checked when the app starts, so that a wrong value stops it with a clear message instead of
a page that cannot be read or an image that is not there."""

from __future__ import annotations

from pathlib import Path

from flask import Response, url_for

from . import config

#: File types SITE_LOGO may be, with the type the app serves each as.
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".webp": "image/webp",
              ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
LOGO_MAX_BYTES = 512 * 1024
#: What stands on ACCENT_COLOR: the header's text, white in both colour schemes.
ACCENT_TEXT = "#ffffff"
ACCENT_MIN_CONTRAST = 4.5


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def check_accent_color(value: object) -> str:
    """ACCENT_COLOR as ``#rrggbb`` (lower case), or ValueError saying what is wrong."""
    text = str(value).strip().lower() if value is not None else ""
    if len(text) == 4 and text.startswith("#"):  # #abc -> #aabbcc
        text = "#" + "".join(ch * 2 for ch in text[1:])
    if len(text) != 7 or text[0] != "#" or any(c not in "0123456789abcdef" for c in text[1:]):
        raise ValueError(f"ACCENT_COLOR must be a colour like #0f766e, not {value!r}.")
    ratio = contrast_ratio(text, ACCENT_TEXT)
    if ratio < ACCENT_MIN_CONTRAST:
        raise ValueError(
            f"ACCENT_COLOR {text} is too light: the header's white text on it has a contrast "
            f"of {ratio:.2f}:1 in both the light and the dark scheme, and WCAG AA asks for "
            f"{ACCENT_MIN_CONTRAST}:1. Choose a darker colour "
            f"(the default, {config.ACCENT_COLOR}, has "
            f"{contrast_ratio(config.ACCENT_COLOR, ACCENT_TEXT):.1f}:1).")
    return text


def read_site_logo(value: object, instance_path: str) -> tuple[bytes, str, str] | None:
    """SITE_LOGO's (bytes, file suffix, content type); None for the default mark.

    ValueError, saying what is wrong, for a file that is missing, too big or of a type the
    page cannot show.
    """
    if not value:
        return None
    path = Path(instance_path) / Path(str(value)).expanduser()  # an absolute path wins
    suffix = path.suffix.lower()
    if suffix not in LOGO_TYPES:
        raise ValueError(f"SITE_LOGO {str(value)!r} must be one of "
                         f"{', '.join(sorted(LOGO_TYPES))}.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"SITE_LOGO {str(path)!r} cannot be read: {exc.strerror}.") from None
    if not data or len(data) > LOGO_MAX_BYTES:
        raise ValueError(f"SITE_LOGO {str(path)!r} is {len(data)} bytes; it must be between 1 "
                         f"and {LOGO_MAX_BYTES} bytes.")
    return data, ".jpg" if suffix == ".jpeg" else suffix, LOGO_TYPES[suffix]


#: Where the app keeps the logo read at start: (bytes, suffix, content type), or None.
LOGO_KEY = "statuspage.site_logo"


def logo_url(app) -> str:
    """The header's logo: ``/logo.<ext>`` when SITE_LOGO is set, else the default mark.

    Needs no database and no context processor, so the error pages can call it too.
    """
    logo = app.extensions.get(LOGO_KEY)
    return (url_for("public.logo") if logo is not None
            else url_for("static", filename="img/mark.svg"))


#: The default icon (the mark at 16, 32 and 48 px, in the static folder), served at
#: /favicon.ico.
FAVICON = "favicon.ico"
FAVICON_TYPE = "image/vnd.microsoft.icon"


def icon_link(app) -> tuple[str, str]:
    """The <head>'s icon as (address, type): the SITE_LOGO when set, else /favicon.ico."""
    logo = app.extensions.get(LOGO_KEY)
    if logo is not None:
        return url_for("public.logo"), logo[2]
    return url_for("public.favicon"), FAVICON_TYPE


def favicon_response(app) -> Response:
    """/favicon.ico, which browsers and feed readers ask for unprompted: the SITE_LOGO's
    bytes when set (as its own type), else the default mark's icon."""
    logo = app.extensions.get(LOGO_KEY)
    if logo is not None:
        return Response(logo[0], content_type=logo[2])
    return Response((Path(app.static_folder) / FAVICON).read_bytes(),
                    content_type=FAVICON_TYPE)
