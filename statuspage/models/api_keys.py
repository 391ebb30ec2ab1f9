"""Keys of the write API (``/api/v1``, Atlassian Statuspage's v1 subset)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .incidents import StaffUser

#: The longest key name (it is the audit log's actor label: ``api-key:<name>``, 64 chars).
API_KEY_NAME_MAX = 56


class ApiKey(db.Model):
    """A key an admin made for one tool. Only the SHA-256 of the key is kept: the key is
    shown once, when it is made. A revoked key stays (its name is in the audit log)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(API_KEY_NAME_MAX))
    #: hex SHA-256 of the key (a 256-bit random token: no salt or slow hash needed).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The key's first characters, shown in the list so that an admin can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id"))
    revoked_at: Mapped[Optional[datetime]]
    last_used_at: Mapped[Optional[datetime]]

    created_by: Mapped[Optional[StaffUser]] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
