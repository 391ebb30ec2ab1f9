"""Monitors of the tracked app: their settings and state, each check, the daily rollups,
the proposed incidents they raise, and the monitor processes' heartbeats."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import (JSON, BigInteger, CheckConstraint, ForeignKey, Index, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .incidents import Component, Incident
from ..severity import MONITOR_DEFAULT
from .vocab import NAME_MAX, SEVERITIES, _in

MONITOR_STATES = ("unknown", "up", "down")
PROPOSAL_STATUSES = ("open", "published", "dismissed")
URL_MAX = 2000
ERROR_MAX = 300


class Monitor(db.Model):
    """One URL checked every ``interval_seconds``; ``next_check_at`` is the lease: the
    process that moves it forward (in one write transaction) is the one that checks."""

    __tablename__ = "monitors"
    __table_args__ = (
        CheckConstraint(f"state IN {_in(MONITOR_STATES)}", name="state"),
        CheckConstraint(f"severity IN {_in(SEVERITIES)}", name="severity"),
        Index("ix_monitors_next_check_at", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    url: Mapped[str] = mapped_column(String(URL_MAX))
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    interval_seconds: Mapped[int] = mapped_column(default=30)
    timeout_seconds: Mapped[int] = mapped_column(default=5)
    failures: Mapped[int] = mapped_column(default=3)
    successes: Mapped[int] = mapped_column(default=2)
    severity: Mapped[str] = mapped_column(String(8), default=MONITOR_DEFAULT)
    auto_publish: Mapped[bool] = mapped_column(default=False)
    muted: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(8), default="unknown")
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    consecutive_successes: Mapped[int] = mapped_column(default=0)
    #: The first failed check of the current run of failures (None while it passes).
    failing_since: Mapped[Optional[datetime]]
    next_check_at: Mapped[Optional[datetime]]
    last_checked_at: Mapped[Optional[datetime]]
    last_ok: Mapped[Optional[bool]]
    last_latency_ms: Mapped[Optional[int]]
    last_status_code: Mapped[Optional[int]]
    last_error: Mapped[Optional[str]] = mapped_column(String(ERROR_MAX))
    #: The proposal of the outage under way (None while up, or during maintenance).
    #: (No foreign key: the two tables would refer to each other; a stale id finds nothing.)
    proposal_id: Mapped[Optional[int]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    component: Mapped[Component] = relationship()

    @property
    def shown_state(self) -> str:
        return "muted" if self.muted else self.state


class MonitorCheck(db.Model):
    """One check's result; rolled up into MonitorDay and deleted after MONITOR_KEEP_DAYS."""

    __tablename__ = "monitor_checks"
    __table_args__ = (Index("ix_monitor_checks_monitor_id_at", "monitor_id", "at"),
                      Index("ix_monitor_checks_at", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    ok: Mapped[bool]
    latency_ms: Mapped[int]
    status_code: Mapped[Optional[int]]
    error: Mapped[Optional[str]] = mapped_column(String(ERROR_MAX))


class MonitorDay(db.Model):
    """The checks of one monitor on one UTC day, once their rows are gone."""

    __tablename__ = "monitor_days"
    __table_args__ = (UniqueConstraint("monitor_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    day: Mapped[date]
    checks: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    latency_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    max_latency_ms: Mapped[int] = mapped_column(default=0)

    @property
    def mean_latency_ms(self) -> int:
        return round(self.latency_sum_ms / self.checks) if self.checks else 0


class MonitorProposal(db.Model):
    """A proposed incident: one per outage (unique on the monitor and the first failed
    check), told once, when it opens: the on-call contact's email (``StaffEmail`` rows of
    kind "monitor") and, with Slack set, a #incidents message."""

    __tablename__ = "monitor_proposals"
    __table_args__ = (
        UniqueConstraint("monitor_id", "first_failed_at"),
        CheckConstraint(f"status IN {_in(PROPOSAL_STATUSES)}", name="status"),
        CheckConstraint(f"severity IN {_in(SEVERITIES)}", name="severity"),
        Index("ix_monitor_proposals_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    severity: Mapped[str] = mapped_column(String(8))
    first_failed_at: Mapped[datetime]
    #: The last few errors, newest last: [{"at": iso, "error": text}] (staff only).
    last_errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")
    incident_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"))
    auto_published: Mapped[bool] = mapped_column(default=False)
    #: When the monitor came back up (cleared when it fails again within the flap window).
    recovered_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    monitor: Mapped[Monitor] = relationship(foreign_keys=[monitor_id])
    component: Mapped[Component] = relationship()
    incident: Mapped[Optional[Incident]] = relationship()


class MonitorHeartbeat(db.Model):
    """Each monitor process writes its last round here; ``/health/ready`` reads the newest."""

    __tablename__ = "monitor_heartbeats"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    beat_at: Mapped[datetime]
