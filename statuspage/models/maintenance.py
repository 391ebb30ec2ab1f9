"""Planned maintenance windows: the window, the components it takes, and its updates."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .incidents import Component, StaffUser
from .vocab import COMPONENT_STATUSES, ISSUE_MAX, MAINTENANCE_STATUSES, _in


class Maintenance(db.Model):
    """A planned window: ``scheduled`` -> ``in_progress`` -> (``verifying``) -> ``completed``,
    or ``cancelled``. Times are UTC; staff type them in SITE_TIMEZONE."""

    __tablename__ = "maintenances"
    __table_args__ = (
        CheckConstraint(f"status IN {_in(MAINTENANCE_STATUSES)}", name="status"),
        CheckConstraint("scheduled_until > scheduled_for", name="window"),
        Index("ix_maintenances_status_scheduled_for", "status", "scheduled_for"),
        Index("ix_maintenances_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(ISSUE_MAX))
    #: What users will notice.
    description: Mapped[str] = mapped_column(Text, default="")
    workaround: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    scheduled_for: Mapped[datetime]
    scheduled_until: Mapped[datetime]
    #: The notifier's tick starts / completes the window at its times.
    auto_start: Mapped[bool] = mapped_column(default=True)
    auto_complete: Mapped[bool] = mapped_column(default=True)
    #: Whether subscribers get this window's notices at all.
    notify: Mapped[bool] = mapped_column(default=True)
    #: Raised on every reschedule: the calendar's SEQUENCE, and what re-arms the notices.
    revision: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[Optional[datetime]]
    completed_at: Mapped[Optional[datetime]]
    cancelled_at: Mapped[Optional[datetime]]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    created_by: Mapped[Optional[StaffUser]] = relationship()
    taken: Mapped[list["MaintenanceComponent"]] = relationship(
        back_populates="maintenance", cascade="all, delete-orphan", passive_deletes=True,
    )
    updates: Mapped[list["MaintenanceUpdate"]] = relationship(
        back_populates="maintenance", cascade="all, delete-orphan", passive_deletes=True,
        order_by="(MaintenanceUpdate.posted_at.desc(), MaintenanceUpdate.id.desc())",
    )

    @property
    def components(self) -> list[Component]:
        return [t.component for t in self.taken]

    def __repr__(self) -> str:
        return f"<Maintenance {self.id} {self.status} {self.title!r}>"


class MaintenanceComponent(db.Model):
    """A component a window takes, and the status it had when the window started (so that
    the window's end can give it back)."""

    __tablename__ = "maintenance_components"
    __table_args__ = (
        CheckConstraint(f"status_before IS NULL OR status_before IN {_in(COMPONENT_STATUSES)}",
                        name="status_before"),
        Index("ix_maintenance_components_component_id", "component_id"),
    )

    maintenance_id: Mapped[int] = mapped_column(
        ForeignKey("maintenances.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True)
    status_before: Mapped[Optional[str]] = mapped_column(String(32))

    maintenance: Mapped[Maintenance] = relationship(back_populates="taken")
    component: Mapped[Component] = relationship()


class MaintenanceUpdate(db.Model):
    """One update of a window, in the playbook's status-update shape where it fits.
    ``posted_by`` is None for the transitions the notifier makes at the window's times."""

    __tablename__ = "maintenance_updates"
    __table_args__ = (
        CheckConstraint(f"status IN {_in(MAINTENANCE_STATUSES)}", name="status"),
        Index("ix_maintenance_updates_maintenance_id_posted_at", "maintenance_id", "posted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    maintenance_id: Mapped[int] = mapped_column(
        ForeignKey("maintenances.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    impact: Mapped[str] = mapped_column(Text, default="")
    actions: Mapped[str] = mapped_column(Text, default="")
    workaround: Mapped[str] = mapped_column(Text, default="")
    next_update_at: Mapped[Optional[datetime]]
    posted_at: Mapped[datetime]
    posted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    redacted_at: Mapped[Optional[datetime]]

    maintenance: Mapped[Maintenance] = relationship(back_populates="updates")
    posted_by: Mapped[Optional[StaffUser]] = relationship()
