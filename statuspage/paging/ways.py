"""How a person is paged (issue 24, point 2): the ways of a staff member's profile, checked
and shown without their secrets.

A profile has a ``phone`` (E.164, checked with ``phonenumbers``: SMS goes to it through the
operator's SMS_URL) and ``page_urls``: Apprise URLs, one per line (an ntfy topic,
Pushover, Telegram...). A URL's token, topic or password is a secret that reaches the
person's phone: it is never shown back in full, logged or exported. The staff pages show
a phone as "+1 *** *** 0123" and a URL as its scheme and host, "ntfys://ntfy.sh/…".

Apprise itself is the page channel's (``outbox.channels.page``, the one module that may
import it, once the hosts passed the address rule): this module takes its reading as a
function where it needs one (``check_urls``).
"""

from __future__ import annotations

import re
from typing import Callable, Optional
from urllib.parse import urlsplit

import phonenumbers

from .. import audit
from ..errors import ValidationError

#: The most page URLs a profile keeps, and the longest one.
MAX_PAGE_URLS = 10
URL_MAX = 2000
#: E.164 as typed: a "+", then the country code and the number, digits only (at most 15).
_E164 = re.compile(r"\+[1-9][0-9]{5,14}")

PHONE_FORM = ("Enter the number in international (E.164) form: a + and the country code, "
              "then the number, digits only, e.g. +15557654321.")


def parse_phone(text: Optional[str]) -> Optional[str]:
    """The phone number typed, as E.164 (None when left empty); ``ValidationError`` at
    ``phone`` when it is not "+" and digits, or not a number ``phonenumbers`` knows."""
    typed = (text or "").strip()
    if not typed:
        return None
    if not _E164.fullmatch(typed):
        raise ValidationError({"phone": PHONE_FORM})
    try:
        number = phonenumbers.parse(typed, None)
    except phonenumbers.NumberParseException:
        raise ValidationError({"phone": PHONE_FORM}) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError({"phone": "This is not a valid phone number: check the "
                                        "country code and the number's length."})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: Optional[str]) -> str:
    """A phone number as the staff pages show it: the country code and the last four
    digits ("+1 *** *** 0123"); empty for none."""
    if not phone:
        return ""
    digits = phone.lstrip("+")
    try:
        country = str(phonenumbers.parse(phone, None).country_code)
    except phonenumbers.NumberParseException:
        country = digits[:1]
    return f"+{country} *** *** {digits[-4:]}"


def url_lines(text: Optional[str]) -> list[str]:
    """A profile's page URLs, in order (blank lines left out)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def mask_url(url: str, *, show_host: bool) -> str:
    """A page URL as the staff pages show it: the scheme, and the host where the URL names
    the server it goes to (``show_host``; a self-hosted ntfy); never a user, password,
    token, topic, path or query. For a service at a fixed address (Pushover, Telegram,
    Twilio) the part in the host's place is a token: only the scheme is shown."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "(a URL that cannot be read)"
    scheme = parts.scheme.lower() if re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*",
                                                  parts.scheme or "") else "?"
    if show_host and host:
        return f"{scheme}://{host}{f':{port}' if port else ''}/…"
    return f"{scheme}://…"


#: A URL's reading: (the URL) -> the service's name ("ntfy"), or ``ValueError`` saying why
#: it cannot be a way (``outbox.pages.read_page_url``).
Reader = Callable[[str], str]


def check_urls(text: Optional[str], read: Reader, *, field: str = "page_urls"
               ) -> list[str]:
    """The URLs typed (one per line), each read by ``read``; ``ValidationError`` at
    ``field`` naming each line that cannot be a way (its number in the box and why, never
    the URL)."""
    urls, problems = [], []
    for number, line in enumerate((text or "").splitlines(), 1):
        url = line.strip()
        if not url:
            continue
        if len(url) > URL_MAX:
            problems.append(f"Line {number}: at most {URL_MAX} characters.")
            continue
        try:
            read(url)
        except ValueError as exc:
            problems.append(f"Line {number}: {exc}")
            continue
        urls.append(url)
    if problems:
        raise ValidationError({field: " ".join(problems)})
    return urls


def join_urls(urls: list[str]) -> Optional[str]:
    """The profile's column: one URL per line (None for none); ``ValidationError`` past
    ``MAX_PAGE_URLS``."""
    if len(urls) > MAX_PAGE_URLS:
        raise ValidationError({"new_page_urls": f"At most {MAX_PAGE_URLS} page URLs."})
    return "\n".join(urls) or None


def save_ways(user, *, phone: Optional[str], remove_phone: bool, remove: set[int],
              new_urls: Optional[str], read: Reader, actor, now) -> bool:
    """A staff member's ways, from their profile's form (flushes, audits; whether anything
    changed). The saved phone and URLs are never sent back to the form: a phone typed
    replaces the saved one (``remove_phone`` removes it), the saved URLs numbered in
    ``remove`` go, and the URLs typed in ``new_urls`` are added after the rest.
    ``ValidationError`` at ``phone`` / ``new_page_urls``: nothing changes."""
    errors: dict[str, str] = {}
    new_phone = user.phone
    try:
        typed = parse_phone(phone)
        new_phone = typed if typed else (None if remove_phone else user.phone)
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        added = check_urls(new_urls, read, field="new_page_urls")
        kept = [u for n, u in enumerate(url_lines(user.page_urls), 1) if n not in remove]
        joined = join_urls(kept + added)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    before = {"phone": mask_phone(user.phone), "page_urls": len(url_lines(user.page_urls))}
    after = {"phone": mask_phone(new_phone), "page_urls": len(url_lines(joined))}
    if new_phone == user.phone and joined == (user.page_urls or None):
        return False
    user.phone, user.page_urls = new_phone, joined
    # The audit log keeps the masked phone and the number of URLs: never a secret.
    audit.record(actor, "staff.page_ways", user, now=now, before=before, after=after)
    return True
