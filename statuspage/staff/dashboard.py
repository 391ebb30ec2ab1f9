"""The staff dashboard: open incidents by urgency (with their commander and the playbook's
response and resolution targets), planned maintenance (running, with one
that overran its end flagged, and upcoming), and the components' quick status."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField

from .. import incidents, maintenance, queries, targets
from ..clock import utcnow
from ..forms import COMPONENT_STATUS_CHOICES, select_choices
from ..models import Component
from ..monitors.outages import monitor_blocks
from ..paging.business_hours import parse as business_hours
from ..severity import SEVERITY_RANK
from ..web.filters import site_tz
from .common import INVALID, actor, bp, commit_or_show_errors, get_or_404


class ComponentStatusForm(FlaskForm):
    status = SelectField("Status", choices=select_choices(COMPONENT_STATUS_CHOICES),
                         validate_choice=False)


@bp.get("/")
def dashboard():
    return _render_dashboard()


def _render_dashboard(component_errors: dict | None = None, status: int = 200):
    now = utcnow()
    tz = site_tz()
    hours = business_hours(current_app.config["BUSINESS_HOURS"])
    rows = []
    for incident in queries.open_incidents():
        latest = incident.latest_update
        due = queries.next_update_due(incident, now)
        rows.append(
            {
                "incident": incident,
                "age": (now - incident.started_at).total_seconds(),
                "since_update": (now - latest.posted_at).total_seconds() if latest else None,
                "due": due,
                "overdue": due is not None and due <= now,
                "due_in": (due - now).total_seconds() if due is not None else None,
                # The playbook's response and resolution targets, from detection.
                "targets": targets.targets_for(incident.severity, incident.started_at,
                                               incident.acknowledged_at,
                                               incident.resolved_at, now, tz, hours),
            }
        )
    # What needs doing first: overdue, then the most severe, then the newest.
    rows.sort(key=lambda r: (not r["overdue"], SEVERITY_RANK[r["incident"].severity],
                             -r["incident"].started_at.timestamp()))
    return render_template(
        "staff/dashboard.html",
        rows=rows,
        components=queries.all_components(),
        status_form=ComponentStatusForm(),
        component_errors=component_errors or {},
        now=now,
        maintenance_running=maintenance.running(),
        maintenance_upcoming=maintenance.upcoming(),
        maintenance_labels=maintenance.STATUS_LABELS,
        overran=maintenance.overran,
        late_to_start=maintenance.late_to_start,
        **monitor_blocks(),
    ), status


@bp.post("/components/<int:component_id>/status")
def component_status(component_id: int):
    """The dashboard's quick status change, outside any incident update (audited)."""
    component = get_or_404(Component, component_id)
    form = ComponentStatusForm()
    done = commit_or_show_errors(incidents.set_component_status, component,
                                 form.status.data or "", actor=actor(), now=utcnow())
    if not done.ok:
        return _render_dashboard({component.id: done.errors.get("status", done.message)},
                                 INVALID)
    flash(f"{component.name}: {component.status_label}.", "success")
    return redirect(url_for("staff.dashboard"))
