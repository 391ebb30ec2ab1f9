"""The default data a new page starts with: the playbook's examples of what can break."""

from __future__ import annotations

from datetime import datetime

from .extensions import db
from .models import Component

#: The playbook's examples of what can break, as the default components.
DEFAULT_COMPONENTS = (
    ("Login", "Signing in to the app"),
    ("Saving entries", "Logging meals, measurements and other entries"),
    ("Charts & dashboards", "Charts and dashboards of your entries"),
    ("Food photo analysis", "Analysing food photos"),
    ("Report generation", "Generating reports"),
)


def seed_components(now: datetime) -> int:
    """Add the default components that are missing; returns how many were added."""
    existing = set(db.session.scalars(db.select(Component.name)))
    added = 0
    for position, (name, description) in enumerate(DEFAULT_COMPONENTS):
        if name in existing:
            continue
        db.session.add(Component(name=name, description=description, position=position,
                                 status="operational", created_at=now, updated_at=now))
        added += 1
    return added
