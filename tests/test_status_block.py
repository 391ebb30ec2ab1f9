"""The "METABOLIC-TRACKER STATUS UPDATE" block staff copy into Slack #incidents."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from statuspage import incidents, present
from statuspage.extensions import db

from .conftest import soup

#: The playbook's "Status Update Template", copied word for word.
PLAYBOOK_TEMPLATE = """\
METABOLIC-TRACKER STATUS UPDATE
Time: [timestamp]
Status: [Investigating | Identified | Monitoring | Resolved]

Issue: [brief description]
Impact: [what users are experiencing]
Next Update: [time of next update]

Actions: [what we're doing]
Workaround: [if available]"""

#: A copy of the playbook (the steering repository's shared folder), so that the test runs
#: in every clone.
PLAYBOOK = Path(__file__).resolve().parent / "data" / "incident-response-playbook.md"


def fill(**values) -> str:
    placeholders = {
        "timestamp": "[timestamp]",
        "status": "[Investigating | Identified | Monitoring | Resolved]",
        "issue": "[brief description]",
        "impact": "[what users are experiencing]",
        "next_update": "[time of next update]",
        "actions": "[what we're doing]",
        "workaround": "[if available]",
    }
    block = PLAYBOOK_TEMPLATE
    for key, value in values.items():
        block = block.replace(placeholders[key], value)
    return block


def test_the_copied_template_is_the_playbooks():
    assert "```\n" + PLAYBOOK_TEMPLATE + "\n```" in PLAYBOOK.read_text()


def test_block_fills_the_template_word_for_word(app, admin, components, make_incident,
                                                clock):
    incident = make_incident(
        admin, components[:1], title="Login not working", status="identified",
        impact="Participants cannot sign in.", actions="Rolling back the deploy.",
        workaround="Use the web app.", next_update_at=clock() + timedelta(minutes=30),
    )
    block = present.status_update_block(incident, incident.updates[0], ZoneInfo("UTC"))
    assert block == fill(
        timestamp="2026-11-26 12:00 UTC", status="Identified", issue="Login not working",
        impact="Participants cannot sign in.", next_update="2026-11-26 12:30 UTC",
        actions="Rolling back the deploy.", workaround="Use the web app.",
    )


def test_block_without_workaround_or_next_time_in_the_site_zone(app, admin, components,
                                                                 make_incident, clock):
    incident = make_incident(admin, components[:1], severity="SEV-3",
                             impact="Reports are slow.", actions="Looking.")
    tz = ZoneInfo("America/New_York")
    block = present.status_update_block(incident, incident.updates[0], tz)
    assert block == fill(
        timestamp="2026-11-26 07:00 EST", status="Investigating", issue="Login not working",
        impact="Reports are slow.", next_update="Not scheduled", actions="Looking.",
        workaround="None available",
    )
    clock.advance(hours=2)
    resolved = incidents.post_update(
        incident, incidents.UpdateText("resolved", "Reports work again.", "Fixed."),
        actor=admin, now=clock())
    assert present.status_update_block(incident, resolved, tz) == fill(
        timestamp="2026-11-26 09:00 EST", status="Resolved", issue="Login not working",
        impact="Reports work again.", next_update="None (resolved)", actions="Fixed.",
        workaround="None available",
    )


def test_staff_page_shows_each_updates_block_ready_to_copy(app, responder_client, admin,
                                                           components, make_incident,
                                                           clock):
    incident = make_incident(admin, components[:1], impact="Cannot sign in <at all> & more")
    clock.advance(minutes=10)
    incidents.post_update(incident, incidents.UpdateText("monitoring", "Better.", "Watching."),
                          actor=admin, now=clock())
    db.session.commit()
    page = soup(responder_client.get(f"/staff/incidents/{incident.id}"))
    shown = [pre.get_text() for pre in page.select("li.update pre.status-block")]
    expected = [present.status_update_block(incident, u, ZoneInfo("UTC"))
                for u in incident.updates]
    assert shown == expected
    assert "Impact: Cannot sign in <at all> & more" in shown[1]  # escaped, not mangled
    assert page.select_one("button.copy[data-copy]") is not None
