"""Every configuration key with its default, documented in one place.

Layers, later wins: these defaults, then ``instance/config.py``, then environment
variables ``STATUSPAGE_<KEY>`` (values parsed as JSON where they parse, else strings),
then ``DATABASE_URL`` from the environment, then the ``test_config`` given to ``create_app``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# --- Site -------------------------------------------------------------------------------
#: Name shown on every page and in every email.
SITE_NAME = "Metabolic-Tracker"
#: Absolute base URL for links that leave the site (emails, feeds, API ``shortlink``).
PUBLIC_URL = "http://127.0.0.1:5050"
#: Time zone of staff forms (``datetime-local`` inputs) and of the Slack status block.
#: Readers always see their own local time on public pages.
SITE_TIMEZONE = "UTC"
#: Address participants are asked to write to (resolution email).
SUPPORT_EMAIL = "support@metabolic-tracker.app"

# --- Database ---------------------------------------------------------------------------
#: SQLAlchemy URL. Empty: a SQLite file in ``instance/``. ``postgres://`` and
#: ``postgresql://`` URLs (as Neon and hosting platforms give them) use psycopg 3.
DATABASE_URL = ""
#: Seconds SQLite waits for a lock before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = 15

# --- Security ---------------------------------------------------------------------------
#: Signs sessions and tokens. Generated into ``instance/secret_key`` for the embedded
#: SQLite default; required with any other database, since several hosts must share it.
SECRET_KEY = ""
#: Largest request body accepted, in bytes.
MAX_CONTENT_LENGTH = 256 * 1024
#: Most form fields accepted in one request.
MAX_FORM_PARTS = 200
#: Staff sessions end after this many seconds without a request.
STAFF_SESSION_IDLE_SECONDS = 12 * 3600

# --- First admin (make run) -------------------------------------------------------------
#: Email of the first admin that ``make run`` creates when there is none.
ADMIN_EMAIL = "admin@localhost"
#: Its password; empty: one is generated and printed once.
ADMIN_PASSWORD = ""

# --- Serving (make run) -----------------------------------------------------------------
HOST = "127.0.0.1"
PORT = 5050
#: gunicorn worker processes.
WEB_WORKERS = 2

# --- Public page ------------------------------------------------------------------------
#: Resolved incidents younger than this many days are shown on the front page.
RECENT_DAYS = 7
#: Incidents per page of ``/history``.
HISTORY_PAGE_SIZE = 20


def database_url(value: str | None, instance_path: str) -> str:
    """Turn the configured database URL into the one SQLAlchemy should use."""
    if not value:
        return "sqlite:///" + os.path.join(instance_path, "statuspage.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix):]
    return value


def load_or_create_secret_key(instance_path: str) -> str:
    """Read ``instance/secret_key``, creating it (mode 0600) on first run."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key
