"""A monitor that is down with an open proposal, and a muted one: for the accessibility
and browser tests of /staff/monitors and the dashboard's proposal block."""

from __future__ import annotations

from datetime import timedelta

from statuspage.extensions import db
from statuspage.models import Monitor, MonitorProposal


def make_monitored(components, clock) -> dict:
    now = clock()
    first = now - timedelta(seconds=90)
    down = Monitor(name="App ready", url="http://10.0.0.5:8000/health/ready",
                   component_id=components[2].id, state="down", consecutive_failures=3,
                   failing_since=first, last_checked_at=now, last_ok=False,
                   last_latency_ms=5001, last_error="timed out after 5 s",
                   created_at=now, updated_at=now)
    muted = Monitor(name="Database", url="http://10.0.0.5:8000/health/db", muted=True,
                    component_id=components[3].id, created_at=now, updated_at=now)
    db.session.add_all([down, muted])
    db.session.flush()
    proposal = MonitorProposal(
        monitor_id=down.id, component_id=down.component_id, severity="SEV-2",
        first_failed_at=first, status="open", created_at=now, updated_at=now,
        last_errors=[{"at": first.isoformat(), "error": "HTTP 503"},
                     {"at": now.isoformat(), "error": "timed out after 5 s"}])
    db.session.add(proposal)
    db.session.flush()
    down.proposal_id = proposal.id
    db.session.commit()
    return {"monitor": down.id, "muted": muted.id, "proposal": proposal.id}


def monitor_pages(ids: dict) -> list[str]:
    return ["/staff/monitors", "/staff/monitors/new", f"/staff/monitors/{ids['monitor']}/edit",
            f"/staff/incidents/new?proposal={ids['proposal']}"]
