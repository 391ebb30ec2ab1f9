"""Staff incident pages: declare, post an update, edit, reopen (admin), redact (admin),
the roles (commander, communications lead) and the commander's acknowledgement.

A domain ``ValidationError`` re-renders the form with its messages at the fields (status
422), after a rollback, so nothing is stored.
"""

from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.routing import BuildError
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField

from .. import contacts, incidents, present, queries, roles
from ..outbox import slack, staff_notices
from .gate import admin_required
from ..clock import utcnow
from ..extensions import db
from ..forms import (
    CLEAN,
    ActionForm,
    parse_component_ids,
    fill_data_impact,
    parse_component_statuses,
    parse_data_impact,
    parse_id,
    parse_next_update,
    parse_review_on,
    parse_started_at,
    same_minute,
    select_choices,
    to_local_input,
)
from ..data_impact import DataImpact, current_data_impact
from ..incidents import UpdateText
from ..models import (
    INCIDENT_STATUS_LABELS,
    INCIDENT_STATUSES,
    SEVERITIES,
    Incident,
    IncidentUpdate,
    MonitorProposal,
    StaffUser,
)
from ..monitors import outages
from ..monitors.prefill import outage_email_when, proposal_prefill
from ..present import DATA_STATUS_WORDS, USER_ACTION_WORDS
from ..severity import SEVERITIES as SEVERITY_INFO
from ..severity import suggested_next_update
from ..web.filters import site_tz
from .common import (
    INVALID,
    actor,
    bp,
    commit_once,
    commit_or_show_errors,
    confirmed,
    get_or_404,
    incident_button,
    incident_page,
    show_repeat,
)

INCIDENT_STATUS_CHOICES = [(s, INCIDENT_STATUS_LABELS[s]) for s in INCIDENT_STATUSES]
SEVERITY_CHOICES = [(s, f"{s}: {SEVERITY_INFO[s].name}") for s in SEVERITIES]
#: Quick choices for the next update; a typed time wins over "suggested" and "".
NEXT_UPDATE_CHOICES = [
    ("suggested", "Suggested: the severity's cadence"),
    ("15", "In 15 minutes"),
    ("30", "In 30 minutes"),
    ("60", "In 60 minutes"),
    ("", "No time promised (or the time typed below)"),
]

#: The impact block's choices in the words participants read ("" for "what to do": not said).
DATA_STATUS_CHOICES = [(s, w) for s, w in DATA_STATUS_WORDS.items()]
USER_ACTION_CHOICES = [("", "Not said yet")] + [(a, w) for a, w in USER_ACTION_WORDS.items()]


class _ImpactFields(FlaskForm):
    """The participants' impact block: choices and a window, never free text."""

    data_status = RadioField("Your data", choices=select_choices(DATA_STATUS_CHOICES),
                             default="not_yet_known", validate_choice=False)
    user_action = RadioField("What you need to do", choices=select_choices(USER_ACTION_CHOICES),
                             default="", validate_choice=False)
    data_gap_from = StringField("Entries may be missing from", filters=CLEAN)
    data_gap_until = StringField("until", filters=CLEAN)


class _UpdateFields(_ImpactFields):
    status = SelectField("Status", choices=select_choices(INCIDENT_STATUS_CHOICES),
                         validate_choice=False)
    impact = TextAreaField("Impact: what users are experiencing", filters=CLEAN)
    actions = TextAreaField("Actions: what we're doing", filters=CLEAN)
    workaround = TextAreaField("Workaround (if available)", filters=CLEAN)
    next_update_in = SelectField("Next update", choices=select_choices(NEXT_UPDATE_CHOICES),
                                 default="suggested", validate_choice=False)
    next_update = StringField("Next update at", filters=CLEAN)


class IncidentForm(_UpdateFields):
    """Declare an incident with its first update."""

    issue = StringField("Issue: a brief description", filters=CLEAN)
    severity = RadioField("Severity", choices=select_choices(SEVERITY_CHOICES),
                          validate_choice=False)
    started_at = StringField("Started at (leave empty for now)", filters=CLEAN)
    previous_incident_id = HiddenField(filters=CLEAN)


class UpdateForm(_UpdateFields):
    """The next update of an incident; Resolved takes the staff-only fields too."""

    root_cause = TextAreaField("Root cause (staff only)", filters=CLEAN)
    resolution = TextAreaField("Resolution: what we did (staff only)", filters=CLEAN)
    review_on = StringField("Post-incident review on (staff only)", filters=CLEAN)


class EditIncidentForm(_ImpactFields):
    issue = StringField("Issue: a brief description", filters=CLEAN)
    severity = RadioField("Severity", choices=select_choices(SEVERITY_CHOICES),
                          validate_choice=False)
    started_at = StringField("Started at", filters=CLEAN)


def _update_text(form, *, severity, now, tz, errors, affected=(), was=None) -> UpdateText:
    return UpdateText(
        status=form.status.data or "",
        impact=form.impact.data or "",
        actions=form.actions.data or "",
        workaround=form.workaround.data or "",
        next_update_at=parse_next_update(form, severity=severity, now=now, tz=tz,
                                         errors=errors),
        component_statuses=parse_component_statuses(request.form, errors),
        affected_ids=list(affected),
        data_impact=parse_data_impact(form, request.form, tz, errors, was),
        root_cause=getattr(form, "root_cause", None) and form.root_cause.data or "",
        resolution=getattr(form, "resolution", None) and form.resolution.data or "",
        review_on=parse_review_on(getattr(form, "review_on", None)
                                  and form.review_on.data, errors),
    )


@bp.route("/incidents/new", methods=["GET", "POST"])
def new_incident():
    form = IncidentForm()
    tz = site_tz()
    errors: dict[str, str] = {}
    checked: list[int] = []
    previous = None
    if request.method == "GET":
        form.status.data = "investigating"
        fill_data_impact(form, DataImpact(), tz)
        previous_id = parse_id(request.args.get("previous"))
        previous = db.session.get(Incident, previous_id) if previous_id else None
        if previous is not None:
            form.issue.data = previous.title
            form.severity.data = previous.severity
            form.previous_incident_id.data = str(previous.id)
            checked = [c.id for c in previous.components]
        proposal = _proposal(request.args.get("proposal"))
        if proposal is not None:  # a monitor's proposal, published in one click
            checked, chosen = proposal_prefill(form, proposal, tz)
            return _render_new(form, errors, checked, chosen, None, proposal=proposal)
        return _render_new(form, errors, checked, {}, previous)

    now = utcnow()
    checked = parse_component_ids(request.form.getlist("components"), errors)
    started_at = parse_started_at(form.started_at.data, tz, errors)
    previous_id = None
    if form.previous_incident_id.data:
        previous_id = parse_id(form.previous_incident_id.data)
        if previous_id is None:
            errors["previous_incident"] = "Unknown incident."
        else:
            previous = db.session.get(Incident, previous_id)
    update = _update_text(form, severity=form.severity.data, now=now, tz=tz, errors=errors)
    proposal = _proposal(request.form.get("proposal_id"), only_open=False)
    if proposal is not None and started_at is not None and same_minute(
            started_at, proposal.first_failed_at):
        started_at = proposal.first_failed_at  # the form's minute: the check's own second
    if not errors:
        done = commit_once(
            "incident.open", *((outages.publish, proposal) if proposal is not None
                               else (incidents.open_incident,)), actor=actor(), now=now,
            title=form.issue.data or "", severity=form.severity.data or "",
            component_ids=checked, update=update,
            started_at=started_at, previous_incident_id=previous_id,
            **vars(_declaration()),
        )
        if done.repeat is not None:
            return show_repeat(done.repeat)
        if done.ok:
            flash(f"Incident declared: {done.result.title}. Copy the status update below "
                  "into #incidents.", "success")
            return incident_page(done.result.id)
        errors = done.errors
    return _render_new(form, errors, checked, update.component_statuses, previous, INVALID,
                       proposal=proposal)


def _declaration() -> contacts.Declaration:
    """The declaration fields as the form sent them (checked by the domain)."""
    return contacts.Declaration(request.form.get("incident_type") or None,
                                request.form.get("health_data_affected") == "y")


def _render_new(form, errors, checked, chosen_statuses, previous, status=200, proposal=None):
    return render_template(
        "staff/incident_new.html",
        form=form, errors=errors, components=queries.all_components(),
        checked=set(checked),
        chosen_statuses=chosen_statuses, previous=previous,
        declaration=_declaration() if request.method == "POST"
        else contacts.Declaration(None, False), incident_types=contacts.INCIDENT_TYPES,
        proposal=proposal,
        outage_email=proposal and outage_email_when(proposal),
    ), status


def _proposal(value, only_open: bool = True) -> MonitorProposal | None:
    """The monitor's proposal the form publishes (a published or dismissed one is refused
    by ``outages.publish`` on POST, with its message)."""
    number = parse_id(value) if value else None
    proposal = db.session.get(MonitorProposal, number) if number else None
    if proposal is None or (only_open and proposal.status != "open"):
        return None
    return proposal


@bp.route("/incidents/<int:incident_id>", methods=["GET", "POST"])
def incident(incident_id: int):
    """The timeline, each update as the playbook's block, and the next update's form."""
    incident = get_or_404(Incident, incident_id)
    form = UpdateForm()
    errors: dict[str, str] = {}
    chosen: dict[int, str] = {}
    if request.method == "GET":
        form.status.data = incident.status
        if request.args.get("status") == "resolved" and not incident.is_resolved:
            form.status.data = "resolved"  # the dashboard proposes it: the monitor is up
        fill_data_impact(form, current_data_impact(incident), site_tz())
        if form.status.data != "resolved":
            # The next update starts from what participants read now; a Resolved one
            # starts empty (static/js/resolved-fields.js empties them when Resolved is
            # chosen, and the domain drops what is carried over unchanged).
            form.impact.data, form.workaround.data = _carried(incident)
        return _render_incident(incident, form, errors, chosen)

    now = utcnow()
    affected = parse_component_ids(request.form.getlist("components"), errors)
    update = _update_text(form, severity=incident.severity, now=now, tz=site_tz(),
                          errors=errors, affected=affected, was=current_data_impact(incident))
    chosen = update.component_statuses
    if not errors:
        done = commit_once("incident.update", incidents.post_update, incident, update,
                           actor=actor(), now=now)
        if done.repeat is not None:
            return show_repeat(done.repeat, incident.id)
        if done.ok:
            flash(f"Update posted: {incident.status_label}.", "success")
            return incident_page(incident.id)
        errors = done.errors
    return _render_incident(incident, form, errors, chosen, INVALID, affected)


def _carried(incident: Incident) -> tuple[str, str]:
    """The last update's Impact and Workaround, which the next update starts from (none
    from a redacted update)."""
    latest = incident.latest_update
    if latest is None or latest.is_redacted:
        return "", ""
    return latest.impact, latest.workaround


def _render_incident(incident, form, errors, chosen, status=200, affected=()):
    tz = site_tz()
    now = utcnow()
    if not incident.is_resolved:
        # Any status: forward, or back when a fix failed; the current one says so.
        form.status.choices = select_choices(
            (value, f"{label} (current)" if value == incident.status else label)
            for value, label in INCIDENT_STATUS_CHOICES
        )
    minutes = int(suggested_next_update(incident.severity).total_seconds() // 60)
    form.next_update_in.choices = select_choices(
        ("suggested", f"Suggested: in {minutes} minutes ({incident.severity})")
        if value == "suggested" else (value, label)
        for value, label in NEXT_UPDATE_CHOICES
    )
    due = queries.next_update_due(incident, now)
    return render_template(
        "staff/incident.html",
        incident=incident,
        form=form,
        errors=errors,
        chosen_statuses=chosen,
        components=queries.all_components(),
        affected_ids={c.id for c in incident.components} | set(affected),
        steps=queries.update_steps(incident),
        blocks={u.id: present.status_update_block(incident, u, tz)
                for u in incident.updates},
        action_form=ActionForm(),
        carried=_carried(incident),
        due=due,
        overdue=due is not None and due <= now,
        now=now,
        public_link=_public_link(incident),
        slack_messages=slack.messages_for(incident.id),
        slack_configured=slack.configured(),
        incident_type_name=contacts.type_name(incident.incident_type),
        notices=staff_notices.summary(incident.id),
        staff=db.session.scalars(db.select(StaffUser).where(StaffUser.active.is_(True))
                                 .order_by(StaffUser.email)).all(),
    ), status


def _public_link(incident: Incident) -> str | None:
    """The incident's public permalink, once the public blueprint serves one."""
    try:
        return url_for("public.incident", incident_id=incident.id)
    except BuildError:
        return None


@bp.route("/incidents/<int:incident_id>/edit", methods=["GET", "POST"])
def edit_incident(incident_id: int):
    """Correct the issue, severity, affected components or start (audited)."""
    incident = get_or_404(Incident, incident_id)
    form = EditIncidentForm()
    tz = site_tz()
    errors: dict[str, str] = {}
    if request.method == "GET":
        form.issue.data = incident.title
        form.severity.data = incident.severity
        form.started_at.data = to_local_input(incident.started_at, tz)
        fill_data_impact(form, current_data_impact(incident), tz)
        checked = [c.id for c in incident.components]
        return _render_edit(incident, form, errors, checked)

    checked = parse_component_ids(request.form.getlist("components"), errors)
    started_at = parse_started_at(form.started_at.data, tz, errors)
    if started_at is not None and same_minute(started_at, incident.started_at):
        started_at = incident.started_at  # the form shows minutes; keep the seconds
    impact = parse_data_impact(form, request.form, tz, errors, current_data_impact(incident))
    if not errors:
        done = commit_once(
            "incident.edit", incidents.edit_incident, incident, actor=actor(), now=utcnow(),
            title=form.issue.data or "", severity=form.severity.data or "",
            component_ids=checked, started_at=started_at, data_impact=impact,
            # A form or script without the field keeps what the incident has.
            declaration=_declaration() if "incident_type" in request.form else None,
        )
        if done.repeat is not None:
            return show_repeat(done.repeat, incident.id)
        if done.ok:
            flash("Incident saved.", "success")
            return incident_page(incident.id)
        errors = done.errors
    return _render_edit(incident, form, errors, checked, INVALID)


def _render_edit(incident, form, errors, checked, status=200):
    return render_template(
        "staff/incident_edit.html", incident=incident, form=form, errors=errors,
        components=queries.all_components(), checked=set(checked),
        declaration=_declaration() if request.method == "POST" else contacts.Declaration(
            incident.incident_type, incident.health_data_affected),
        incident_types=contacts.INCIDENT_TYPES,
    ), status


@bp.post("/incidents/<int:incident_id>/reopen")
@admin_required
def reopen_incident(incident_id: int):
    return incident_button(incident_id, "incident.reopen", incidents.reopen,
                           "Incident reopened as Investigating. Post an update to say why.")


@bp.post("/incidents/<int:incident_id>/updates/<int:update_id>/redact")
@admin_required
def redact_update(incident_id: int, update_id: int):
    """Health data pasted by mistake: the update's text becomes "[redacted]" everywhere."""
    update = get_or_404(IncidentUpdate, update_id)
    if update.incident_id != incident_id:
        abort(404)
    if not confirmed():
        flash("Nothing was redacted: tick the box to confirm first.", "error")
        return incident_page(incident_id)
    done = commit_once("update.redact", incidents.redact_update, update, actor=actor(),
                       now=utcnow())
    if done.repeat is not None:
        return show_repeat(done.repeat, incident_id)
    done.flash("The update's text was replaced by [redacted].")
    return incident_page(incident_id)


# --- Roles and acknowledgement -------------------------------------------------------------


def _staff_choice(name: str, errors: dict) -> int | None:
    """The staff id chosen in ``name`` (empty: none); an unreadable value is an error."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    staff_id = parse_id(raw)
    if staff_id is None:
        errors[name] = "Choose an active staff member."
    return staff_id


@bp.post("/incidents/<int:incident_id>/roles")
def incident_roles(incident_id: int):
    """Name the Incident Commander and the Communications Lead (audited)."""
    ActionForm()  # CSRFProtect has already checked the token
    incident = get_or_404(Incident, incident_id)
    errors: dict[str, str] = {}
    commander_id = _staff_choice("commander", errors)
    comms_lead_id = _staff_choice("comms_lead", errors)
    if errors:
        flash("Nothing was changed: " + " ".join(errors.values()), "error")
        return incident_page(incident_id)
    done = commit_or_show_errors(roles.set_roles, incident, commander_id=commander_id,
                                 comms_lead_id=comms_lead_id, actor=actor(), now=utcnow())
    done.flash("Roles saved.")
    return incident_page(incident_id)


@bp.post("/incidents/<int:incident_id>/acknowledge")
def acknowledge_incident(incident_id: int):
    """The commander's one button: the response target is met by it (audited)."""
    ActionForm()
    incident = get_or_404(Incident, incident_id)
    done = commit_or_show_errors(roles.acknowledge, incident, actor=actor(), now=utcnow())
    done.flash("Acknowledged: the response target counts this time.")
    return incident_page(incident_id)
