"""Staff blueprint: dashboard, incident forms, admin pages; login gate in before_request.

Views are thin: parse the form, call one domain function, commit, redirect. A domain
``ValidationError`` re-renders the form with its messages at the fields (status 422),
after a rollback, so nothing is stored.
"""

from __future__ import annotations


from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user
from werkzeug.routing import BuildError

from . import accounts, incidents
from . import components as component_admin
from .auth import admin_required, require_staff
from .clock import utcnow
from .extensions import db
from .forms import (
    COMPONENT_STATUS_PREFIX,
    INCIDENT_STATUS_CHOICES,
    NEXT_UPDATE_CHOICES,
    ROLE_CHOICES,
    ActionForm,
    ComponentForm,
    ComponentStatusForm,
    EditIncidentForm,
    IncidentForm,
    NewStaffForm,
    PasswordForm,
    StaffEditForm,
    UpdateForm,
    parse_component_ids,
    parse_component_statuses,
    parse_id,
    parse_next_update,
    parse_position,
    parse_started_at,
    same_minute,
    select_choices,
    to_local_input,
)
from .errors import NotAllowed, ValidationError
from .incidents import UpdateText
from .models import (
    COMPONENT_STATUS_LABELS,
    INCIDENT_STATUSES,
    Component,
    Incident,
    IncidentUpdate,
    StaffUser,
)
from .severity import SEVERITIES as SEVERITY_INFO
from .severity import suggested_next_update
from .web.filters import site_tz

bp = Blueprint("staff", __name__, url_prefix="/staff")

INVALID = 422


# --- Gate ----------------------------------------------------------------------------------


bp.before_request(require_staff)


@bp.context_processor
def _staff_context():
    return {
        "site_timezone": current_app_timezone_name(),
        "severity_info": SEVERITY_INFO,
        "component_status_labels": COMPONENT_STATUS_LABELS,
        "component_status_prefix": COMPONENT_STATUS_PREFIX,
    }


def current_app_timezone_name() -> str:
    return site_tz().key


def _actor() -> StaffUser:
    return current_user._get_current_object()


def _all_components() -> list[Component]:
    return list(
        db.session.scalars(
            db.select(Component).order_by(Component.position, Component.name, Component.id)
        )
    )


def _get_incident(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id) if parse_id(incident_id) else None
    if incident is None:
        abort(404)
    return incident


def _get(model, object_id: int):
    found = db.session.get(model, object_id) if parse_id(object_id) else None
    if found is None:
        abort(404)
    return found


# --- Dashboard -----------------------------------------------------------------------------


@bp.get("/")
def dashboard():
    return _render_dashboard()


def _render_dashboard(component_errors: dict | None = None, status: int = 200):
    now = utcnow()
    rows = []
    for incident in incidents.open_incidents():
        latest = incident.latest_update
        due = incidents.next_update_due(incident, now)
        rows.append(
            {
                "incident": incident,
                "age": (now - incident.started_at).total_seconds(),
                "since_update": (now - latest.posted_at).total_seconds() if latest else None,
                "due": due,
                "overdue": due is not None and due <= now,
                "due_in": (due - now).total_seconds() if due is not None else None,
            }
        )
    # What needs doing first: overdue, then the most severe, then the newest.
    rows.sort(key=lambda r: (not r["overdue"], r["incident"].severity,
                             -r["incident"].started_at.timestamp()))
    return render_template(
        "staff/dashboard.html",
        rows=rows,
        components=_all_components(),
        status_form=ComponentStatusForm(),
        component_errors=component_errors or {},
        now=now,
    ), status


@bp.post("/components/<int:component_id>/status")
def component_status(component_id: int):
    """The dashboard's quick status change, outside any incident update (audited)."""
    component = _get(Component, component_id)
    form = ComponentStatusForm()
    try:
        incidents.set_component_status(component, form.status.data or "", actor=_actor(),
                                       now=utcnow())
    except ValidationError as exc:
        db.session.rollback()
        return _render_dashboard({component.id: exc.errors.get("status", str(exc))}, INVALID)
    db.session.commit()
    flash(f"{component.name}: {component.status_label}.", "success")
    return redirect(url_for("staff.dashboard"))


# --- Incidents -----------------------------------------------------------------------------


def _update_text(form, *, severity, now, tz, errors) -> UpdateText:
    return UpdateText(
        status=form.status.data or "",
        impact=form.impact.data or "",
        actions=form.actions.data or "",
        workaround=form.workaround.data or "",
        next_update_at=parse_next_update(form, severity=severity, now=now, tz=tz,
                                         errors=errors),
        component_statuses=parse_component_statuses(request.form, errors),
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
        previous_id = parse_id(request.args.get("previous"))
        previous = db.session.get(Incident, previous_id) if previous_id else None
        if previous is not None:
            form.issue.data = previous.title
            form.severity.data = previous.severity
            form.previous_incident_id.data = str(previous.id)
            checked = [c.id for c in previous.components]
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
    if not errors:
        try:
            incident = incidents.open_incident(
                actor=_actor(), now=now, title=form.issue.data or "",
                severity=form.severity.data or "", component_ids=checked, update=update,
                started_at=started_at, previous_incident_id=previous_id,
            )
        except ValidationError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(f"Incident declared: {incident.title}. Copy the status update below "
                  "into #incidents.", "success")
            return redirect(url_for("staff.incident", incident_id=incident.id))
    return _render_new(form, errors, checked, update.component_statuses, previous, INVALID)


def _render_new(form, errors, checked, chosen_statuses, previous, status=200):
    return render_template(
        "staff/incident_new.html",
        form=form, errors=errors, components=_all_components(), checked=set(checked),
        chosen_statuses=chosen_statuses, previous=previous,
    ), status


@bp.route("/incidents/<int:incident_id>", methods=["GET", "POST"])
def incident(incident_id: int):
    """The timeline, each update as the playbook's block, and the next update's form."""
    incident = _get_incident(incident_id)
    form = UpdateForm()
    errors: dict[str, str] = {}
    chosen: dict[int, str] = {}
    if request.method == "GET":
        form.status.data = incident.status
        latest = incident.latest_update
        if latest is not None and not latest.is_redacted:
            form.impact.data = latest.impact
            form.workaround.data = latest.workaround
        return _render_incident(incident, form, errors, chosen)

    now = utcnow()
    update = _update_text(form, severity=incident.severity, now=now, tz=site_tz(),
                          errors=errors)
    chosen = update.component_statuses
    if not errors:
        try:
            incidents.post_update(incident, update, actor=_actor(), now=now)
        except ValidationError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(f"Update posted: {incident.status_label}.", "success")
            return redirect(url_for("staff.incident", incident_id=incident.id))
    return _render_incident(incident, form, errors, chosen, INVALID)


def _render_incident(incident, form, errors, chosen, status=200):
    tz = site_tz()
    now = utcnow()
    allowed = (
        INCIDENT_STATUSES[INCIDENT_STATUSES.index(incident.status):]
        if not incident.is_resolved else ()
    )
    if allowed:
        form.status.choices = select_choices(
            c for c in INCIDENT_STATUS_CHOICES if c[0] in allowed
        )
    minutes = int(suggested_next_update(incident.severity).total_seconds() // 60)
    form.next_update_in.choices = select_choices(
        ("suggested", f"Suggested: in {minutes} minutes ({incident.severity})")
        if value == "suggested" else (value, label)
        for value, label in NEXT_UPDATE_CHOICES
    )
    due = incidents.next_update_due(incident, now)
    return render_template(
        "staff/incident.html",
        incident=incident,
        form=form,
        errors=errors,
        chosen_statuses=chosen,
        components=_all_components(),
        blocks={u.id: incidents.status_update_block(incident, u, tz)
                for u in incident.updates},
        action_form=ActionForm(),
        due=due,
        overdue=due is not None and due <= now,
        now=now,
        public_link=_public_link(incident),
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
    incident = _get_incident(incident_id)
    form = EditIncidentForm()
    tz = site_tz()
    errors: dict[str, str] = {}
    if request.method == "GET":
        form.issue.data = incident.title
        form.severity.data = incident.severity
        form.started_at.data = to_local_input(incident.started_at, tz)
        checked = [c.id for c in incident.components]
        return _render_edit(incident, form, errors, checked)

    checked = parse_component_ids(request.form.getlist("components"), errors)
    started_at = parse_started_at(form.started_at.data, tz, errors)
    if started_at is not None and same_minute(started_at, incident.started_at):
        started_at = incident.started_at  # the form shows minutes; keep the seconds
    if not errors:
        try:
            incidents.edit_incident(
                incident, actor=_actor(), now=utcnow(), title=form.issue.data or "",
                severity=form.severity.data or "", component_ids=checked,
                started_at=started_at,
            )
        except ValidationError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash("Incident saved.", "success")
            return redirect(url_for("staff.incident", incident_id=incident.id))
    return _render_edit(incident, form, errors, checked, INVALID)


def _render_edit(incident, form, errors, checked, status=200):
    return render_template(
        "staff/incident_edit.html", incident=incident, form=form, errors=errors,
        components=_all_components(), checked=set(checked),
    ), status


@bp.post("/incidents/<int:incident_id>/reopen")
@admin_required
def reopen_incident(incident_id: int):
    incident = _get_incident(incident_id)
    ActionForm()
    try:
        incidents.reopen(incident, actor=_actor(), now=utcnow())
    except ValidationError as exc:
        db.session.rollback()
        flash(exc.errors.get("status", str(exc)), "error")
        return redirect(url_for("staff.incident", incident_id=incident.id))
    except NotAllowed:
        abort(403)
    db.session.commit()
    flash("Incident reopened as Investigating. Post an update to say why.", "success")
    return redirect(url_for("staff.incident", incident_id=incident.id))


@bp.post("/incidents/<int:incident_id>/updates/<int:update_id>/redact")
@admin_required
def redact_update(incident_id: int, update_id: int):
    """Health data pasted by mistake: the update's text becomes "[redacted]" everywhere."""
    update = _get(IncidentUpdate, update_id)
    if update.incident_id != incident_id:
        abort(404)
    try:
        incidents.redact_update(update, actor=_actor(), now=utcnow())
    except NotAllowed:
        abort(403)
    db.session.commit()
    flash("The update's text was replaced by [redacted].", "success")
    return redirect(url_for("staff.incident", incident_id=incident_id))


# --- Components (admin) --------------------------------------------------------------------


def _component_fields(form: ComponentForm, errors: dict) -> component_admin.ComponentFields:
    return component_admin.ComponentFields(
        name=form.name.data or "",
        description=form.description.data or "",
        group=form.group.data or "",
        position=parse_position(form.position.data, errors),
        status=form.status.data or "",
    )


@bp.route("/components", methods=["GET", "POST"])
@admin_required
def components():
    form = ComponentForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        fields = _component_fields(form, errors)
        if not errors:
            try:
                component = component_admin.create_component(fields, actor=_actor(),
                                                              now=utcnow())
            except ValidationError as exc:
                db.session.rollback()
                errors = exc.errors
            else:
                db.session.commit()
                flash(f"Component added: {component.name}.", "success")
                return redirect(url_for("staff.components"))
    return render_template(
        "staff/components.html", form=form, errors=errors, components=_all_components(),
    ), (INVALID if errors else 200)


@bp.route("/components/<int:component_id>", methods=["GET", "POST"])
@admin_required
def component(component_id: int):
    component = _get(Component, component_id)
    form = ComponentForm()
    errors: dict[str, str] = {}
    if request.method == "GET":
        form.name.data = component.name
        form.description.data = component.description
        form.group.data = component.group_name or ""
        form.position.data = str(component.position)
        form.status.data = component.status
    else:
        fields = _component_fields(form, errors)
        if not errors:
            try:
                component_admin.update_component(component, fields, actor=_actor(),
                                                 now=utcnow())
            except ValidationError as exc:
                db.session.rollback()
                errors = exc.errors
            else:
                db.session.commit()
                flash(f"Component saved: {component.name}.", "success")
                return redirect(url_for("staff.components"))
    return _render_component(component, form, errors, INVALID if errors else 200)


def _render_component(component, form, errors, status):
    return render_template(
        "staff/component_edit.html", component=component, form=form, errors=errors,
        action_form=ActionForm(), references=component_admin.incident_count(component),
    ), status


@bp.post("/components/<int:component_id>/delete")
@admin_required
def delete_component(component_id: int):
    component = _get(Component, component_id)
    name = component.name
    try:
        component_admin.delete_component(component, actor=_actor(), now=utcnow())
    except ValidationError as exc:
        db.session.rollback()
        form = ComponentForm(formdata=None, obj=None)
        form.name.data = component.name
        form.description.data = component.description
        form.group.data = component.group_name or ""
        form.position.data = str(component.position)
        form.status.data = component.status
        return _render_component(component, form, exc.errors, INVALID)
    db.session.commit()
    flash(f"Component deleted: {name}.", "success")
    return redirect(url_for("staff.components"))


# --- Staff accounts (admin) ----------------------------------------------------------------


def _all_staff() -> list[StaffUser]:
    return list(db.session.scalars(db.select(StaffUser).order_by(StaffUser.email)))


def _render_accounts(form=None, errors=None, row_errors=None, status=200):
    return render_template(
        "staff/accounts.html", form=form or NewStaffForm(formdata=None),
        errors=errors or {}, row_errors=row_errors or {}, users=_all_staff(),
        edit_form=StaffEditForm(formdata=None), action_form=ActionForm(),
        role_choices=ROLE_CHOICES,
    ), status


def _one_time_password_page(user: StaffUser, password: str, created: bool):
    return render_template("staff/one_time_password.html", user=user, password=password,
                           created=created)


@bp.route("/accounts", methods=["GET", "POST"], endpoint="accounts")
@admin_required
def accounts_page():
    if request.method == "GET":
        return _render_accounts()
    form = NewStaffForm()
    password = accounts.generate_password()
    try:
        user = accounts.create_staff(
            form.email.data or "", form.role.data or "", password, actor=_actor(),
            now=utcnow(), must_change_password=True,
        )
    except ValidationError as exc:
        db.session.rollback()
        return _render_accounts(form=form, errors=exc.errors, status=INVALID)
    db.session.commit()
    # Shown once, in this response only: never flashed (the session cookie is readable).
    return _one_time_password_page(user, password, created=True)



@bp.post("/accounts/<int:user_id>")
@admin_required
def account(user_id: int):
    user = _get(StaffUser, user_id)
    form = StaffEditForm()
    try:
        accounts.set_role_and_active(user, role=form.role.data or "", active=form.active.data,
                                     actor=_actor(), now=utcnow())
    except ValidationError as exc:
        db.session.rollback()
        message = " ".join(exc.errors.values())
        return _render_accounts(row_errors={user.id: message}, status=INVALID)
    db.session.commit()
    flash(f"Saved {user.email}: {user.role}, {'active' if user.active else 'inactive'}.",
          "success")
    return redirect(url_for("staff.accounts"))


@bp.post("/accounts/<int:user_id>/reset-password")
@admin_required
def reset_password(user_id: int):
    user = _get(StaffUser, user_id)
    password = accounts.reset_password(user, actor=_actor(), now=utcnow())
    db.session.commit()
    if user.id == current_user.id:
        login_user(user)  # an admin resetting their own password stays signed in
    return _one_time_password_page(user, password, created=False)


# --- Own password --------------------------------------------------------------------------


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Change your own password: other sessions end, this one stays signed in."""
    form = PasswordForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        user = _actor()
        if (form.new_password.data or "") != (form.confirm_password.data or ""):
            errors["confirm_password"] = "The two new passwords are not the same."
        else:
            try:
                accounts.change_password(user, form.current_password.data or "",
                                         form.new_password.data or "", now=utcnow())
            except ValidationError as exc:
                errors = exc.errors
        if errors:
            db.session.rollback()
        else:
            db.session.commit()
            login_user(user)  # the session carries the new session_version
            flash("Password changed. Your other sessions have been signed out.", "success")
            return redirect(url_for("staff.dashboard"))
    return render_template("staff/password.html", form=form, errors=errors), (
        INVALID if errors else 200
    )
