"""The one source of "now".

Domain functions take ``now`` as an argument; views and the notifier get it from here.
Tests set ``app.config["CLOCK"]`` to a callable (see ``tests/conftest.py``) to move time.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app, has_app_context


def system_utcnow() -> datetime:
    return datetime.now(timezone.utc)


def utcnow() -> datetime:
    """Timezone-aware UTC now, from the app's clock when one is configured."""
    if has_app_context():
        clock = current_app.config.get("CLOCK")
        if clock is not None:
            return clock()
    return system_utcnow()
