"""The site version that the render cache and the publisher follow."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, CheckConstraint, Index
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class SiteState(db.Model):
    """One row: the version of everything the public sees, bumped in the same transaction
    as every publicly visible change, so that every process's rendered pages and the
    static export know when to render again."""

    __tablename__ = "site_state"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    changed_at: Mapped[datetime]


class SiteChange(db.Model):
    """Which incident pages a version changed (incident_id None: every one), so the static
    publisher renders only those again. Pruned by the publisher after a day."""

    __tablename__ = "site_changes"
    __table_args__ = (Index("ix_site_changes_version", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    incident_id: Mapped[Optional[int]]
    at: Mapped[datetime]
