"""The staff pages' view of paging (issue 24): the incident page's panel (every page of
its chain: who, which step, which ways and what each answered, when acknowledged and by
whom) and the dashboard's incidents being paged and unacknowledged. Template globals only:
the pages include ``staff/_paging.html`` and ``staff/_paging_now.html``."""

from __future__ import annotations

from ..clock import utcnow
from ..outbox import paging_status
from .common import bp


@bp.app_template_global("incident_paging")
def incident_paging(incident):
    """The incident's chain as the staff see it (None: it never paged)."""
    return paging_status.paging_of("incident", incident.id, utcnow())


@bp.app_template_global("paging_now")
def paging_now() -> list:
    """Incidents and monitor proposals being paged, not yet acknowledged."""
    return paging_status.being_paged(utcnow())
