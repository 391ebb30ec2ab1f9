"""Uptime (issue 15): every change of a component's status, the time this page was
running, and one row per component per day rolled up from both."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .vocab import COMPONENT_STATUSES, _in

#: Who changed a component's status. "migration": the status a component had when its
#: history began (migration 0012).
STATUS_SOURCES = ("incident", "maintenance", "staff", "monitor", "api", "migration")


class StatusChange(db.Model):
    """One change of a component's status (append-only). The first row of a component
    (``old_status`` None) is its creation, or the start of its history."""

    __tablename__ = "component_status_history"
    __table_args__ = (
        Index("ix_component_status_history_component_at", "component_id", "at"),
        CheckConstraint(f"source IN {_in(STATUS_SOURCES)}", name="source"),
        CheckConstraint(f"new_status IN {_in(COMPONENT_STATUSES)}", name="new_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    old_status: Mapped[Optional[str]] = mapped_column(String(32))
    new_status: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"))
    maintenance_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("maintenances.id", ondelete="SET NULL"))


class CoverageInterval(db.Model):
    """A stretch of time during which this status page was running (its notifier, or a
    monitor, beat). Extended by each beat; a new row after a gap."""

    __tablename__ = "coverage_intervals"
    __table_args__ = (Index("ix_coverage_intervals_ended_at", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]


class UptimeDay(db.Model):
    """A finished day (in SITE_TIMEZONE) of one component: minutes in each status, minutes
    with no data, the worst status (None: no data at all) and the incidents touching it."""

    __tablename__ = "uptime_days"
    __table_args__ = (UniqueConstraint("component_id", "day"), Index("ix_uptime_days_day", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    day: Mapped[date]
    operational_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    under_maintenance_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    degraded_performance_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    partial_outage_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    major_outage_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    no_data_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    worst_status: Mapped[Optional[str]] = mapped_column(String(32))
    incident_ids: Mapped[list] = mapped_column(JSON, default=list)
    computed_at: Mapped[datetime]
