"""The notifier's heartbeat: written on every tick, read by ``/health/ready``."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Optional

from .extensions import db
from .models import NotifierHeartbeat


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
    # Forget processes silent for a day, so the table does not grow with restarts.
    db.session.execute(
        db.delete(NotifierHeartbeat).where(NotifierHeartbeat.beat_at < now - timedelta(days=1))
    )


def latest() -> Optional[datetime]:
    """When any notifier last ticked, or None if none ever did."""
    return db.session.scalar(db.select(db.func.max(NotifierHeartbeat.beat_at)))


def is_fresh(now: datetime, max_age_seconds: float) -> bool:
    last = latest()
    return last is not None and (now - last).total_seconds() <= max_age_seconds
