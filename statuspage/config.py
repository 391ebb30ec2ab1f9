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
#: Left at this default, it follows HOST and PORT (``STATUSPAGE_PORT=5090 make run`` links
#: to http://127.0.0.1:5090); set it whenever the page is reached by another name.
PUBLIC_URL = "http://127.0.0.1:5050"
#: Time zone of staff forms (``datetime-local`` inputs) and of the Slack status block.
#: Readers always see their own local time on public pages.
SITE_TIMEZONE = "UTC"
#: Address participants are asked to write to (resolution email).
SUPPORT_EMAIL = "support@metabolic-tracker.app"
#: The public pages' logo: an image file (.svg, .png, .webp or .jpg, at most 512 KB),
#: absolute or relative to ``instance/``. The app serves it itself at ``/logo.<ext>`` (the
#: CSP allows only the site's own images) and the static export carries it. Empty: the
#: default mark, static/img/mark.svg. A missing or unreadable file stops the app at start.
SITE_LOGO = ""
#: The public header's colour, ``#rrggbb``. The header's white text sits on it in the
#: light and the dark scheme alike, so it must reach WCAG AA for text (4.5:1) against
#: white; the app refuses to start otherwise, naming the contrast it measured.
ACCENT_COLOR = "#0f766e"

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
#: A request body must arrive within this many seconds, plus one second per
#: REQUEST_BODY_MIN_RATE bytes of it; when it falls behind: 408 and the connection closed
#: (a slow sender must not hold the server; README "Security", "Slow clients"). 0: no limit.
REQUEST_BODY_TIMEOUT_SECONDS = 10
#: Bytes a second a request body must keep up on average after that grace: 4096 (32 kbit/s,
#: a third of a 2G EDGE uplink) gives a 256 KiB body 74 s; a trickle is cut after 10 s.
REQUEST_BODY_MIN_RATE = 4096
#: Most form fields accepted in one request.
MAX_FORM_PARTS = 200
#: Staff sessions end after this many seconds without a request.
STAFF_SESSION_IDLE_SECONDS = 12 * 3600
#: Where the per-address rate limits count (Flask-Limiter's storage URI). Use Redis in
#: production, e.g. "redis://127.0.0.1:6379/0", so that every worker and host shares one
#: count. The default "memory://" counts per process: with N gunicorn workers an address
#: gets up to N times the limit. If the storage cannot be reached, each process counts in
#: its own memory until it can again (login keeps working).
RATELIMIT_STORAGE_URI = "memory://"
#: Prefix of the limiter's keys in that storage (several sites may share one Redis).
RATELIMIT_KEY_PREFIX = "statuspage"
#: Flask-Limiter's strategy: a moving window counts exactly the last minute/hour.
RATELIMIT_STRATEGY = "moving-window"
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
#: Failed staff sign-ins allowed per client address (on top of the per-account backoff).
LOGIN_RATE_LIMIT = "10 per minute;60 per hour"
#: Roles that must use two-factor sign-in (TOTP), comma-separated: "admin,responder";
#: empty: no one must (everyone may). Someone of such a role without it is sent to
#: /staff/2fa at sign-in and reaches no other staff page until enrolled.
REQUIRE_2FA_ROLES = "admin"
#: Subscribe form submissions allowed per client address.
SUBSCRIBE_RATE_LIMIT = "5 per minute;30 per hour"
#: Requests allowed per write-API key (``/api/v1``, Statuspage's v1 subset).
API_RATE_LIMIT = "60 per minute"
#: Reverse proxies in front of the app that set X-Forwarded-For/-Proto (nginx, a load
#: balancer): the client address the limits count is taken from them. 0: none, the
#: connection's address is the client's. Never set it higher than the real number of
#: proxies, or clients can choose their own address.
TRUSTED_PROXIES = 0

# --- First admin (make run) -------------------------------------------------------------
#: Email of the first admin that ``make run`` creates when there is none.
ADMIN_EMAIL = "admin@localhost"
#: Its password; empty: one is generated and printed once.
ADMIN_PASSWORD = ""

# --- Serving (make run) -----------------------------------------------------------------
HOST = "127.0.0.1"
PORT = 5050
#: Worker processes.
WEB_WORKERS = 2
#: The HTTP server ``serve`` runs: "granian" (its ASGI interface on ``statuspage.asgi``:
#: rendered public bytes answered on the event loop, everything else in a thread pool;
#: the fastest and shortest-tailed of the servers ``make bench`` compared, README
#: "Performance"), or "gunicorn" (with WEB_WORKER_CLASS).
WEB_SERVER = "granian"
#: gunicorn's worker when WEB_SERVER is "gunicorn": "asgi" (its asyncio worker), or
#: "gthread", or "sync".
WEB_WORKER_CLASS = "asgi"
#: For "asgi" (either server), the pool that runs the WSGI app; threads per "gthread"
#: worker.
WEB_THREADS = 8
#: "asgi" (either server): requests that may wait for one of those threads; past that,
#: 503 with Retry-After at once instead of a queue without bound (the public pages are
#: answered from memory, on the event loop, whatever the pool does). "gthread": half of
#: WEB_THREADS at most read request bodies at once (503 past that), so a GET finds a thread.
WEB_QUEUE_LIMIT = 16

# --- Public page ------------------------------------------------------------------------
#: Resolved incidents younger than this many days are shown on the front page.
RECENT_DAYS = 7
#: Incidents per page of ``/history``.
HISTORY_PAGE_SIZE = 20

# --- Rendered once, served many (statuspage/render_cache.py, statuspage/publish.py) ------
#: Serve the public pages, feeds, API, badge and embed from bytes rendered once per change.
#: None: on, except under TESTING, where the views' own tests see every render (the
#: cache's tests turn it on).
PUBLIC_CACHE = None
#: Each process reads the site version from the database at most this often (seconds); a
#: change is served by every process within this time (a process's own writes at once).
PUBLIC_CACHE_CHECK_SECONDS = 1.0
#: Rendered bytes are rendered again after this many seconds even without a change, for
#: what changes with time alone (the 7-day window, "Last updated").
PUBLIC_CACHE_REFRESH_SECONDS = 60
#: Cache-Control for browsers and CDNs: max-age and stale-while-revalidate bound how old a
#: CDN's copy can be (keep their sum at 2 s or less); stale-if-error lets a CDN keep
#: serving the page while this service is down.
PUBLIC_CACHE_MAX_AGE = 1
PUBLIC_CACHE_STALE_WHILE_REVALIDATE = 1
PUBLIC_CACHE_STALE_IF_ERROR = 86400
#: A "not found" answer (an unknown incident) is kept this many seconds.
PUBLIC_CACHE_NOT_FOUND_SECONDS = 10
#: Most paths kept per process (history pages, incident pages...); the oldest go first.
PUBLIC_CACHE_MAX_ENTRIES = 2000
#: A folder to keep a static copy of the public site in (``flask publisher``; ``serve``
#: starts it when set): re-published within 2 s of every change, for nginx or a CDN.
STATIC_EXPORT_DIR = ""
#: Seconds between two looks of the publisher at the site version (one small query).
PUBLISH_INTERVAL_SECONDS = 0.5
#: Every path is published again this often (seconds) even without a change: the
#: front page's "Last updated" and 7-day window change with time alone.
PUBLISH_REFRESH_SECONDS = 60


# --- Subscriber emails (statuspage/outbox/, statuspage/mail.py) --------------------------
#: Severities whose incidents get the outage email, comma-separated.
OUTAGE_EMAIL_SEVERITIES = "SEV-1,SEV-2"
#: The outage email goes out once an incident has been unresolved for MORE than this many
#: seconds, counted from its started_at (the playbook: "Email affected users if outage
#: >30 minutes").
OUTAGE_EMAIL_DELAY_SECONDS = 1800
#: Confirmation links expire after this many seconds (48 h).
SUBSCRIBE_CONFIRM_MAX_AGE_SECONDS = 48 * 3600
#: Unconfirmed subscribers are deleted this many days after they last asked.
UNCONFIRMED_SUBSCRIBER_MAX_AGE_DAYS = 7
#: At most one confirmation or "manage" email per address in this many seconds, however
#: often the form is sent (so the form cannot be used to flood someone's inbox).
SUBSCRIBE_RESEND_SECONDS = 600
#: ``List-Id`` header of every email; empty: "<SITE_NAME> status <status-emails.HOST>",
#: HOST taken from PUBLIC_URL.
LIST_ID = ""
#: Reminders of a planned maintenance window go this many hours before its start: a number
#: or a comma-separated list (``24,1``; ``0.02`` is 72 seconds, rounded to whole minutes).
#: Env: STATUSPAGE_MAINTENANCE_REMINDER_HOURS.
MAINTENANCE_REMINDER_HOURS = "24,1"

# --- The notifier (flask --app statuspage notifier) -----------------------------------
#: Seconds between two ticks.
NOTIFIER_INTERVAL_SECONDS = 10
#: Deliveries claimed (and sent over one SMTP connection) at a time, by each worker.
NOTIFIER_BATCH_SIZE = 50
#: Workers per channel (subscriber email, ...): each sends over a connection of its own
#: with at most one message in flight, so a notifier killed mid-send resends at most this
#: many messages. Each channel has workers of its own: a slow one never delays another.
OUTBOX_CONCURRENCY = 2
#: Emails per second at most, for the whole notifier process (a provider's limit); empty:
#: as fast as the SMTP server answers. An SMTP 421 or 451 answer also slows the email down.
MAIL_MAX_PER_SECOND = ""
#: A claimed delivery is this process's for this many seconds; if the process dies, any
#: notifier claims it again afterwards. Must be well above NOTIFIER_BATCH_SIZE sends.
NOTIFIER_LEASE_SECONDS = 300
#: Tries per delivery before a temporary failure (4xx, dropped connection, timeout)
#: becomes final.
NOTIFIER_MAX_ATTEMPTS = 10
#: Retry n waits about RETRY_BASE * 2**(n-1) seconds (with jitter: half to all of it),
#: at most RETRY_MAX.
NOTIFIER_RETRY_BASE_SECONDS = 30
NOTIFIER_RETRY_MAX_SECONDS = 1800
#: The health check calls the notifier stale when its heartbeat is older than this. Unset:
#: 3 * NOTIFIER_INTERVAL_SECONDS + 5 + 2 * SMTP_TIMEOUT_SECONDS (95 s), so that a stalled
#: SMTP server never reads as a dead notifier (the rule: statuspage/heartbeat.py).
NOTIFIER_HEARTBEAT_MAX_AGE_SECONDS = None

# --- Webhooks (statuspage/outbox/webhook_*.py; admins add them at /staff/webhooks) ------
#: Seconds one POST to a webhook (or to Slack) may take in all: connect, TLS handshake,
#: sending, the answer's headers and body; a deadline checked at every socket operation
#: (statuspage/outbound.py), so a receiver that trickles cannot stretch it. A timeout is
#: retried.
WEBHOOK_TIMEOUT_SECONDS = 10
#: Webhook deliveries sent at once by a notifier (one per worker): a slow receiver holds
#: one worker for at most WEBHOOK_TIMEOUT_SECONDS while the others serve the other webhooks.
WEBHOOK_WORKERS = 4
#: Tries per event and webhook before a retried failure (timeout, connection error, 5xx,
#: 429) becomes final; the wait between tries is NOTIFIER_RETRY_BASE/MAX_SECONDS'.
WEBHOOK_MAX_ATTEMPTS = 8
#: A webhook is disabled after this many events in a row failed for good (the admins are
#: emailed); an admin enables it again on /staff/webhooks.
WEBHOOK_MAX_FAILURES = 5
#: Allow ``http://`` URLs and addresses that resolve to loopback (127.0.0.0/8, ::1), for
#: tests and a receiver on this machine (webhooks and SLACK_WEBHOOK_URL). Off: https to
#: public addresses only. Private, link-local and the other internal ranges are refused
#: whatever this says (statuspage/outbound.py).
WEBHOOK_ALLOW_LOOPBACK_HTTP = False
#: ``meta.documentation`` of every payload: where a receiver's author reads about it.
WEBHOOK_DOCUMENTATION_URL = (
    "https://support.atlassian.com/statuspage/docs/enable-webhook-notifications/")

# --- Slack #incidents (statuspage/outbox/slack.py) ---------------------------------------
#: An incoming webhook's URL (Slack: an app with "Incoming Webhooks", added to #incidents).
#: Empty: nothing is queued for Slack. It goes where a webhook may go: https to public
#: addresses only (loopback with WEBHOOK_ALLOW_LOOPBACK_HTTP); no redirect is followed.
#: Tries and waits are the webhooks' (WEBHOOK_TIMEOUT_SECONDS, WEBHOOK_MAX_ATTEMPTS,
#: NOTIFIER_RETRY_BASE/MAX_SECONDS).
SLACK_WEBHOOK_URL = ""

# --- Responders (statuspage/targets.py, statuspage/outbox/reminders.py) -------------------
#: A SEV-1/2 incident's commander is emailed (and named in #incidents) this many seconds
#: before its next update is due, or once it is overdue: once per due time.
CADENCE_REMINDER_LEAD_SECONDS = 120
#: Off: no cadence reminder is sent at all (and none is owed later for the time it was off).
CADENCE_REMINDERS = True

# --- Monitors (statuspage/monitors/; admins edit them at /staff/monitors) ----------------
#: Monitors to create at start (``flask seed``, ``serve``, ``monitor``) when none has the
#: name: a JSON list of objects with the monitor form's keys: name, url, component (its
#: name), interval, timeout, failures, successes, severity, auto_publish. E.g.
#: ``[{"name": "App ready", "url": "http://10.0.0.5:8000/health/ready",
#: "component": "Mobile App"}]``. A bad value stops the app at start, saying why.
MONITOR_TARGETS = "[]"
#: Down, up and down again within this many seconds: the same proposal (and no new notice).
MONITOR_FLAP_WINDOW_SECONDS = 600
#: Each check is kept this many days, then rolled into one row per monitor and UTC day.
MONITOR_KEEP_DAYS = 7
#: Seconds between two rounds of the monitor process (each checks the monitors due).
MONITOR_ROUND_SECONDS = 1
#: Checks a monitor process makes at once (one per worker): a slow target holds one worker
#: for at most its timeout, and the other monitors are checked on time by the others.
MONITOR_WORKERS = 8
#: ``/health/ready`` calls the monitor process stale when its heartbeat is older than this.
MONITOR_HEARTBEAT_MAX_AGE_SECONDS = 120

# --- Paging (statuspage/paging/; rotations at /staff/on-call, ways at /staff/profile) ----
#: The SMS provider's Apprise URL, to which a person's phone number (E.164) is appended as
#: the target, e.g. ``twilio://SID:TOKEN@+15550001111``. Empty: no SMS; a person's page
#: URLs and email still go.
SMS_URL = ""
#: A page not acknowledged within this many minutes goes to the chain's next step (the
#: playbook: 15). A number; fractions are allowed (tests, a try-out).
PAGE_ESCALATION_MINUTES = 15
#: After the chain's last step, that step repeats every period at most this many times.
PAGE_REPEAT_LIMIT = 3
#: When a SEV-3/4 emails the primary on call at once; outside, the email waits for the next
#: start. Days as a range or a comma list, then a time range, in SITE_TIMEZONE:
#: ``Mon-Fri 09:00-17:00``, ``Mon-Sun 00:00-23:59``, ``Mon,Wed 08:00-12:00``.
BUSINESS_HOURS = "Mon-Fri 09:00-17:00"
#: Let page URLs and SMS_URL reach private and loopback hosts (a self-hosted ntfy on the
#: office network; the tests' receivers on loopback), over plain http too. Link-local
#: (169.254.0.0/16: a cloud's metadata service) stays refused. Off: https to public
#: addresses only, as for webhooks.
PAGE_ALLOW_PRIVATE_HOSTS = False
#: Per client address: POSTs of the one-tap acknowledgement page (/ack/<token>).
ACK_RATE_LIMIT = "10 per minute;60 per hour"
#: Seconds a page's way may take (connect and answer) before it is tried again later.
PAGE_TIMEOUT_SECONDS = 10
#: Tries of one way of one page before it fails for good (waits: NOTIFIER_RETRY_BASE/MAX).
PAGE_MAX_ATTEMPTS = 5

# --- SMTP (Flask-Mail's keys) -----------------------------------------------------------
MAIL_SERVER = "localhost"
MAIL_PORT = 25
MAIL_USE_TLS = False
MAIL_USE_SSL = False
MAIL_USERNAME = None
MAIL_PASSWORD = None
#: The From of every email, e.g. "Metabolic-Tracker Status <status@example.org>".
MAIL_DEFAULT_SENDER = "Metabolic-Tracker Status <status@localhost>"
#: Seconds an SMTP connect, command or reply may take before it counts as a temporary
#: failure (Flask-Mail sets none: a stalled server would hang the notifier for ever).
SMTP_TIMEOUT_SECONDS = 30


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
