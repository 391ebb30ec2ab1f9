"""The outbox's settings and its pure decisions: what is due, what to do with a claimed
delivery, how long to wait before a retry. No database, no I/O: the hardest rules are
the easiest to test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping, Optional

from flask import current_app

# --- Settings ----------------------------------------------------------------------------


def parse_severities(value) -> frozenset[str]:
    """``"SEV-1,SEV-2"`` (or a list) -> {"SEV-1", "SEV-2"}."""
    if isinstance(value, str):
        value = value.split(",")
    return frozenset(str(v).strip().upper() for v in value or () if str(v).strip())


@dataclass(frozen=True)
class Settings:
    severities: frozenset[str]
    delay: timedelta
    batch_size: int
    lease: timedelta
    max_attempts: int
    retry_base: float
    retry_max: float
    pause_after_claim: float

    @classmethod
    def from_config(cls, config: Mapping) -> "Settings":
        return cls(
            severities=parse_severities(config["OUTAGE_EMAIL_SEVERITIES"]),
            delay=timedelta(seconds=float(config["OUTAGE_EMAIL_DELAY_SECONDS"])),
            batch_size=max(1, int(config["NOTIFIER_BATCH_SIZE"])),
            lease=timedelta(seconds=float(config["NOTIFIER_LEASE_SECONDS"])),
            max_attempts=max(1, int(config["NOTIFIER_MAX_ATTEMPTS"])),
            retry_base=float(config["NOTIFIER_RETRY_BASE_SECONDS"]),
            retry_max=float(config["NOTIFIER_RETRY_MAX_SECONDS"]),
            pause_after_claim=pause_after_claim(config),
        )


def pause_after_claim(config: Mapping) -> float:
    """NOTIFIER_TEST_PAUSE_AFTER_CLAIM (seconds), a test-only knob: honoured under
    TESTING only, so that a stray setting can never slow production's notifier."""
    if not config.get("TESTING"):
        return 0.0
    return float(config.get("NOTIFIER_TEST_PAUSE_AFTER_CLAIM") or 0)


def reminder_offsets(value) -> tuple[int, ...]:
    """MAINTENANCE_REMINDER_HOURS (``"24,1"``, ``"0.02"``, a number or a list) -> the
    reminders' offsets before a window's start in whole minutes, largest first (at least
    one minute each). Raises ValueError for anything else."""
    if isinstance(value, (int, float)):
        value = [value]
    elif isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    minutes = set()
    for part in value or ():
        hours = float(str(part).strip())
        if not hours > 0 or hours > 24 * 365:
            raise ValueError(f"MAINTENANCE_REMINDER_HOURS: {part!r} is not a number of "
                             "hours above 0")
        minutes.add(max(1, round(hours * 60)))
    return tuple(sorted(minutes, reverse=True))


def current_settings() -> Settings:
    return Settings.from_config(current_app.config)


# --- A claimed delivery ------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery, as plain data: the SMTP phase holds no transaction open.

    (Here, not in ``notifier``, because ``compose`` reads it too and ``notifier`` imports
    ``compose``.)
    """

    delivery_id: int
    claim_token: str
    attempts: int
    kind: str
    notification_id: int
    notification_token: str
    incident_id: Optional[int]
    subscriber_id: int
    subscriber_public_id: str
    email: str
    audience: str
    #: The subscriber's time zone (IANA name; None: SITE_TIMEZONE), for the times in it.
    timezone: Optional[str] = None
    #: The window a maintenance notice is about (None for every other kind).
    maintenance_id: Optional[int] = None


# --- Decisions (pure) --------------------------------------------------------------------


def outage_email_due_at(
    severity: str, started_at: datetime, *, severities: Iterable[str], delay: timedelta
) -> Optional[datetime]:
    """When an incident of this severity and start becomes due its outage email (it is due
    once ``now`` is past this instant), or None if its severity never gets one."""
    if severity not in set(severities):
        return None
    return started_at + delay


def outage_email_due(
    incident, now: datetime, *, severities: Iterable[str], delay: timedelta
) -> bool:
    """Unresolved, of an emailed severity, and unresolved for MORE than ``delay`` since
    its started_at (the playbook: "Email affected users if outage >30 minutes")."""
    if incident.status == "resolved":
        return False
    due_at = outage_email_due_at(incident.severity, incident.started_at,
                                 severities=severities, delay=delay)
    return due_at is not None and now > due_at


def delivery_action(kind: str, subscriber_status: str, incident_resolved: bool) -> str:
    """At claim time: ``send`` or ``cancel`` a due delivery.

    Incident emails and "manage" go to confirmed subscribers only (unsubscribed and
    bouncing ones get nothing more); a confirmation goes to a pending one only; an outage
    email is never sent once its incident is resolved.
    """
    if kind == "confirm":
        return "send" if subscriber_status == "pending" else "cancel"
    if subscriber_status != "confirmed":
        return "cancel"
    if kind == "outage" and incident_resolved:
        return "cancel"
    return "send"


def action_before_send(kind: str, subscriber_status: str, incident_resolved: bool,
                       held: bool) -> str:
    """Just before a claimed delivery goes: ``send``, ``cancel``, or ``release`` (its
    emails were held meanwhile: back to pending, sent when an admin releases them).

    The claim-time rules (``delivery_action``) asked again, of what is true now: an
    unsubscribe, a bounce, a hold or a resolution committed after the claim wins.
    """
    if held:
        return "release"
    return delivery_action(kind, subscriber_status, incident_resolved)


def maintenance_notice_action(notice: str, notice_revision: int, window_status: str,
                              window_revision: int, notify: bool) -> str:
    """Just before a maintenance notice goes: ``send`` or ``cancel``.

    Nothing goes once the window's notices are turned off. An announcement (``scheduled``,
    ``reminder``) is stale once the window moved (a newer revision), started, ended or was
    cancelled: those told hear the follow-up instead.
    """
    if not notify:
        return "cancel"
    if notice in ("scheduled", "reminder") and (
            window_status != "scheduled" or notice_revision != window_revision):
        return "cancel"
    return "send"


def retry_delay(attempts: int, *, base: float, cap: float, rand: float) -> timedelta:
    """Exponential backoff with "equal jitter": after failure n, wait between half and all
    of ``min(cap, base * 2**(n-1))`` seconds (``rand`` in [0, 1) picks where), so that
    notifiers that failed together do not retry together."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=ceiling / 2 + ceiling / 2 * rand)


def after_temporary_failure(
    attempts: int, *, now: datetime, max_attempts: int, base: float, cap: float, rand: float
) -> tuple[str, Optional[datetime]]:
    """(new status, next attempt) after the ``attempts``-th temporary failure."""
    if attempts >= max_attempts:
        return "failed", None
    return "pending", now + retry_delay(attempts, base=base, cap=cap, rand=rand)


def format_delay(delay: timedelta) -> str:
    """30 minutes, 1 minute, 90 seconds."""
    seconds = int(delay.total_seconds())
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"
