"""The staff blueprint and what every staff view shares: the gate, the template context,
the actor, the guarded lookup and the commit-or-show-errors step.

The blueprint lives here, not in ``staff/__init__.py``, so that the view modules import
it without importing the package that imports them (the layout test forbids the cycle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generic, Optional, ParamSpec, TypeVar

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from .gate import require_staff
from .. import queries, submissions
from ..clock import utcnow
from ..errors import NotAllowed, ValidationError
from ..extensions import db
from ..forms import COMPONENT_STATUS_PREFIX, ActionForm, parse_id
from ..models import COMPONENT_STATUS_LABELS, Incident, StaffUser, UsedSubmission
from ..severity import SEVERITIES as SEVERITY_INFO
from ..severity import STAFF_WORDS
from ..web.filters import site_tz

bp = Blueprint("staff", __name__, url_prefix="/staff")

#: The status staff usually give an affected component at each severity (a suggestion the
#: form's script makes when "affected" is ticked; staff may choose any).
USUAL_COMPONENT_STATUS = {code: info.component_status for code, info in SEVERITY_INFO.items()}

#: The status of a page re-shown with the domain's messages at its fields.
INVALID = 422

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M")


# --- Gate ----------------------------------------------------------------------------------


bp.before_request(require_staff)


@bp.context_processor
def _staff_context():
    return {
        "site_timezone": current_app_timezone_name(),
        "severity_info": SEVERITY_INFO,
        "severity_words": STAFF_WORDS,
        "component_status_labels": COMPONENT_STATUS_LABELS,
        "component_status_prefix": COMPONENT_STATUS_PREFIX,
        "form_submission_id": form_submission_id,
        "usual_statuses": USUAL_COMPONENT_STATUS,
    }


@bp.app_template_global("unbacked_components")
def unbacked_components() -> list:
    """For the dashboard's warning: components not operational with nothing behind them."""
    return queries.unbacked_components()


def form_submission_id(keep: bool = False) -> str:
    """The one-time id of a form being shown: a fresh one; with ``keep``, the form being
    re-shown with errors keeps the id it was sent with (nothing was stored under it)."""
    if keep and request.method == "POST":
        sent = submissions.parse_submission_id(request.form.get("submission_id"))
        if sent is not None:
            return sent
    return submissions.new_submission_id()


def current_app_timezone_name() -> str:
    """The site's zone name (e.g. "Europe/Berlin"), shown beside every time input."""
    return site_tz().key


# --- What views share ----------------------------------------------------------------------


def actor() -> StaffUser:
    """The signed-in staff member, as the domain operations take them."""
    return current_user._get_current_object()


def get_or_404(model: type[M], object_id: object) -> M:
    """The row with this id, else 404; an id the integer column cannot hold is a 404 too,
    before the database sees it (PostgreSQL would raise, not miss)."""
    number = parse_id(object_id)
    if number is None:
        abort(404)
    return db.get_or_404(model, number)




@dataclass
class Outcome(Generic[T]):
    """What ``commit_or_show_errors`` did: committed (``ok``, with the operation's
    ``result``), or rolled back with the domain's ``errors`` by form field."""

    ok: bool
    result: Optional[T] = None
    errors: dict[str, str] = field(default_factory=dict)
    #: Set when the form's ``submission_id`` was already used: what the first POST did.
    repeat: Optional[UsedSubmission] = None

    @property
    def message(self) -> str:
        """The errors as one sentence, for a flash or a row of a table."""
        return " ".join(self.errors.values())

    def flash(self, success: str) -> None:
        """Flash ``success`` when committed, else why the domain refused (as an error)."""
        if self.ok:
            flash(success, "success")
        else:
            flash(self.message, "error")


def commit_or_show_errors(
    operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> Outcome[T]:
    """Run one domain operation and commit it; on ``ValidationError`` roll back instead.

    The view then flashes and redirects when ``ok``, or re-shows its form with ``errors``
    (nothing was stored). ``NotAllowed`` rolls back and answers 403 Forbidden.
    """
    try:
        result = operation(*args, **kwargs)
    except ValidationError as exc:
        db.session.rollback()
        return Outcome(ok=False, errors=exc.errors)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    db.session.commit()
    return Outcome(ok=True, result=result)


#: What a repeated submission is told, by what the first one did.
ALREADY_DONE = {
    "incident.open": "This incident was already declared.",
    "incident.update": "This update was already posted.",
    "incident.edit": "These changes were already saved.",
    "incident.reopen": "This incident was already reopened.",
    "update.redact": "This update was already redacted.",
    "emails.hold": "The emails were already held.",
    "emails.release": "The hold was already released.",
    "emails.send_now": "The outage email was already queued.",
}


def commit_once(
    action: str, operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> Outcome[T]:
    """``commit_or_show_errors``, once per form shown: the POST's ``submission_id`` is
    stored with the change; a repeat (or the loser of two concurrent first uses) changes
    nothing and gets ``repeat``, what the first use produced. No id: as before."""
    submission_id = submissions.parse_submission_id(request.form.get("submission_id"))
    used = submissions.find_used(submission_id)
    if used is not None:
        db.session.rollback()
        return Outcome(ok=False, repeat=used)
    try:
        result = operation(*args, **kwargs)
        submissions.remember(submission_id, action, result, actor=kwargs.get("actor"),
                             now=kwargs.get("now") or utcnow())
        db.session.commit()
    except ValidationError as exc:
        db.session.rollback()
        return Outcome(ok=False, errors=exc.errors)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except IntegrityError:
        # Another request stored the same id between our look and our write.
        db.session.rollback()
        used = submissions.find_used(submission_id)
        if used is None:
            raise
        return Outcome(ok=False, repeat=used)
    return Outcome(ok=True, result=result)


def show_repeat(used: UsedSubmission, fallback_incident_id: Optional[int] = None):
    """Tell a repeated submission what the first one did, on the page that shows it."""
    flash(ALREADY_DONE.get(used.action, "This form was already submitted."), "info")
    incident_id = used.incident_id or fallback_incident_id
    if incident_id is None:
        return redirect(url_for("staff.dashboard"))
    anchor = f"update-{used.update_id}" if used.update_id else None
    return redirect(url_for("staff.incident", incident_id=incident_id, _anchor=anchor))


def incident_page(incident_id: int):
    """Back to the staff incident page."""
    return redirect(url_for("staff.incident", incident_id=incident_id))


def incident_button(incident_id: int, action: str, operation: Callable[..., object],
                    success: str):
    """An admin button on the incident page (reopen, hold, release, send now).

    Commits ``operation(incident, actor=, now=)`` once per form shown and flashes
    ``success`` (``{result}`` is what the operation returned), or flashes why the domain
    refused; then back to the incident page.
    """
    ActionForm()  # CSRFProtect has already checked the token
    incident = get_or_404(Incident, incident_id)
    done = commit_once(action, operation, incident, actor=actor(), now=utcnow())
    if done.repeat is not None:
        return show_repeat(done.repeat, incident_id)
    done.flash(success.format(result=done.result))
    return incident_page(incident_id)


def confirmed() -> bool:
    """Whether the POST carries the confirmation of an action that cannot be undone
    (the required checkbox ``confirm``; the dialog sets it too)."""
    return request.form.get("confirm") == "yes"
