"""Email addresses: one grammar, and the two ways we accept an address.

Staff addresses are typed by an admin and must be plain (RFC 5321's dot-atom local part and a
host name: no spaces, quotes, angle brackets or line breaks), so they are safe in any header or
page. Subscriber addresses are typed by anyone: an internationalised domain is turned into its
ASCII form, and anything that is not a deliverable plain address is refused with ``None``.
"""

from __future__ import annotations

import re
from typing import Optional

from .models import EMAIL_MAX
from .text import clean_text

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_HOST_LABEL = re.compile(_LABEL)
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")


def normalise_staff_email(raw: str) -> str:
    """A staff address as stored and looked up: cleaned, one line, lower case."""
    return clean_text(raw, single_line=True).lower()


def is_plain_address(email: str) -> bool:
    """True for a plain address (safe in a header or a page) no longer than we store."""
    return len(email) <= EMAIL_MAX and _PLAIN_ADDRESS.fullmatch(email) is not None


def parse_subscriber_address(raw: Optional[str]) -> Optional[str]:
    """The address in the form we store (lower case, IDN domain as ASCII), or None."""
    value = clean_text(raw, single_line=True)
    if not value or len(value) > EMAIL_MAX or value.count("@") != 1:
        return None
    local, domain = value.rsplit("@", 1)
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = domain.split(".")
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        return None
    if len(labels) < 2 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None
    address = f"{local}@{domain}".lower()
    return address if len(address) <= EMAIL_MAX else None
