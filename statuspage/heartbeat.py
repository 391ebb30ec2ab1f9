"""The notifier's heartbeat: written on every tick and, while it sends, between messages;
read by ``/health/ready`` and the staff incident page.

The staleness rule (``max_age_seconds``): a notifier that works writes its heartbeat at
least every NOTIFIER_INTERVAL_SECONDS when idle, and, while sending, before each message
once the last one is BEAT_EVERY_SECONDS old. One message against a stalled SMTP server
costs at most two SMTP_TIMEOUT_SECONDS (a connection that hangs, then a reply that never
comes). So unless NOTIFIER_HEARTBEAT_MAX_AGE_SECONDS says otherwise, the heartbeat is stale
after ``MISSED_TICKS * interval + BEAT_EVERY_SECONDS + 2 * SMTP_TIMEOUT_SECONDS`` (95 s with
the defaults): long enough that a stall never reads as a dead notifier, short enough that
a dead one shows within two minutes.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Mapping, Optional

from flask import current_app, has_app_context

from . import coverage
from .extensions import db
from .models import NotifierHeartbeat

#: While sending, the heartbeat is written before a message once the last is this old.
BEAT_EVERY_SECONDS = 5.0
#: Idle ticks that may be missed before the notifier counts as stale.
MISSED_TICKS = 3
#: NOTIFIER_INTERVAL_SECONDS and SMTP_TIMEOUT_SECONDS, when config does not say.
DEFAULT_INTERVAL_SECONDS = 10.0
DEFAULT_SMTP_TIMEOUT_SECONDS = 30.0


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(now: datetime, name: Optional[str] = None) -> None:
    """Record that this notifier ticked at ``now``; the caller commits."""
    name = name or process_name()
    row = db.session.get(NotifierHeartbeat, name)
    if row is None:
        db.session.add(NotifierHeartbeat(name=name, beat_at=now))
    else:
        row.beat_at = now
    # The uptime bars' "was this page running" record (issue 15).
    config = current_app.config if has_app_context() else {}
    coverage.extend(now, "notifier", max_age_seconds(config))
    # Forget processes silent for a day, so the table does not grow with restarts.
    db.session.execute(
        db.delete(NotifierHeartbeat).where(NotifierHeartbeat.beat_at < now - timedelta(days=1))
    )


def due(now: datetime, last: Optional[datetime]) -> bool:
    """Between two messages: is it time to write the heartbeat again?"""
    return last is None or not 0 <= (now - last).total_seconds() < BEAT_EVERY_SECONDS


def max_age_seconds(config: Mapping) -> float:
    """How old the newest heartbeat may be before the notifier counts as stale (the rule in
    the module docstring): NOTIFIER_HEARTBEAT_MAX_AGE_SECONDS if set, else derived from the
    tick interval and the SMTP timeout."""
    configured = config.get("NOTIFIER_HEARTBEAT_MAX_AGE_SECONDS")
    if configured:
        return float(configured)
    interval = float(config.get("NOTIFIER_INTERVAL_SECONDS") or DEFAULT_INTERVAL_SECONDS)
    smtp_timeout = float(config.get("SMTP_TIMEOUT_SECONDS") or DEFAULT_SMTP_TIMEOUT_SECONDS)
    return MISSED_TICKS * interval + BEAT_EVERY_SECONDS + 2 * smtp_timeout


def latest() -> Optional[datetime]:
    """When any notifier last ticked, or None if none ever did."""
    return db.session.scalar(db.select(db.func.max(NotifierHeartbeat.beat_at)))


def is_fresh(now: datetime, max_age_seconds: float) -> bool:
    last = latest()
    return last is not None and (now - last).total_seconds() <= max_age_seconds
