"""The staff area under /staff: one blueprint, ``bp``, made in ``common`` with the gate
(sign in first) and what every view shares; each module below adds its routes to it.

Views are thin: parse the form, call one domain function, commit (``commit_or_show_errors``),
flash, redirect. A domain ``ValidationError`` re-shows the form with its messages at the
fields (status 422), after a rollback, so nothing is stored.
"""

from __future__ import annotations

from . import (  # noqa: F401 (routes)
    accounts,
    api_keys,
    components,
    contacts,
    dashboard,
    emails,
    incidents,
    maintenance,
    monitors,
    oncall,
    paging_panels,
    phi,
    profile,
    record,
    two_factor,
    webhooks,
)
from .common import bp

__all__ = ["bp"]
