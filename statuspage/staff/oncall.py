"""On-call rotations and overrides (admin, /staff/on-call), and the shifts calendar feed."""

from __future__ import annotations

from .common import bp  # noqa: F401
