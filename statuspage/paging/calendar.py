"""Each staff member's shifts as a calendar to subscribe to (iCalendar, ``statuspage.ical``)
at a secret URL: ``/staff/on-call/calendar/<token>.ics``, no sign-in.

The token is ``<user id>-<secret>``; the whole is stored (``StaffUser.calendar_token``).
Made on first request from the profile; "Reset link" replaces it, so the old URL stops
working at once (404, as for any unknown token). The secret part is compared in constant
time. The feed holds the person's turns (rotation shifts and overrides, as primary and as
secondary) from a week ago to eight weeks ahead.

Functions take the actor and ``now``, audit, flush and never commit.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Optional

from .. import audit, ical
from ..extensions import db
from ..models import StaffUser
from ..numbers import parse_id
from .rotations import ROLE_NAMES, Shift, local_text, shifts_of

#: What the feed shows around now.
PAST = timedelta(weeks=1)
AHEAD = timedelta(weeks=8)


def reset_link(user: StaffUser, *, actor, now: datetime) -> str:
    """Give ``user`` a new calendar token (made, or replacing the old one); audited,
    without the token. Returns the token."""
    had = user.calendar_token is not None
    user.calendar_token = f"{user.id}-{secrets.token_urlsafe(32)}"
    db.session.flush()
    audit.record(actor, "calendar.reset" if had else "calendar.create", user, now=now)
    return user.calendar_token


def user_for_token(token: str) -> Optional[StaffUser]:
    """The active staff member whose calendar token this is, else None."""
    user_id, _, secret = (token or "").partition("-")
    number = parse_id(user_id)
    if number is None or not secret:
        return None
    user = db.session.get(StaffUser, number)
    if user is None or not user.active or not user.calendar_token:
        return None
    if not hmac.compare_digest(user.calendar_token.encode(), token.encode()):
        return None
    return user


def _uid(shift: Shift, host: str) -> str:
    what = f"override-{shift.override_id}" if shift.override_id else f"shift-{shift.shift}"
    return (f"oncall-{shift.role}-{shift.rotation_id}-{what}-"
            f"{shift.start:%Y%m%dT%H%M%SZ}@{host}")


def feed(user: StaffUser, *, site_name: str, public_url: str, now: datetime) -> bytes:
    """The person's shifts as an iCalendar feed (the same shifts give the same bytes)."""
    info = ical.CalendarInfo(site_name, public_url)
    calendar = ical.new_calendar(f"{site_name} on-call: {user.shown_name}", info.host,
                                 "Status page on-call")
    for shift in shifts_of(user.email, now - PAST, now + AHEAD):
        role = ROLE_NAMES[shift.role]
        kind = "override" if shift.override_id else "shift"
        calendar.add_component(ical.new_event(
            _uid(shift, info.host), start=shift.start, end=shift.end,
            changed=shift.changed, created=shift.changed, sequence=0,
            summary=f"On call: {role}",
            description=(f"{role}, {shift.rotation_name} ({kind}), from "
                         f"{local_text(shift.start)} to {local_text(shift.end)}."),
            url=f"{public_url.rstrip('/')}/staff/on-call"))
    return ical.to_bytes(calendar)
