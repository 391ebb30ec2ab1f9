"""A staff member's own profile (/staff/profile): how they are paged, a test page."""

from __future__ import annotations

from .common import bp  # noqa: F401
