"""The staff blueprint and what every staff view shares: the gate, the template context,
the actor, the guarded lookup and the commit-or-show-errors step.

The blueprint lives here, not in ``staff/__init__.py``, so that the view modules import
it without importing the package that imports them (the layout test forbids the cycle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generic, Optional, ParamSpec, TypeVar

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user

from .gate import require_staff
from ..clock import utcnow
from ..errors import NotAllowed, ValidationError
from ..extensions import db
from ..forms import COMPONENT_STATUS_PREFIX, ActionForm, parse_id
from ..models import COMPONENT_STATUS_LABELS, Incident, StaffUser
from ..severity import SEVERITIES as SEVERITY_INFO
from ..web.filters import site_tz

bp = Blueprint("staff", __name__, url_prefix="/staff")

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
        "component_status_labels": COMPONENT_STATUS_LABELS,
        "component_status_prefix": COMPONENT_STATUS_PREFIX,
    }


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


def incident_page(incident_id: int):
    """Back to the staff incident page."""
    return redirect(url_for("staff.incident", incident_id=incident_id))


def incident_button(incident_id: int, operation: Callable[..., object], success: str):
    """An admin button on the incident page (reopen, hold, release, send now).

    Commits ``operation(incident, actor=, now=)`` and flashes ``success`` (``{result}``
    is what the operation returned), or flashes why the domain refused; then back to the
    incident page.
    """
    ActionForm()  # CSRFProtect has already checked the token
    incident = get_or_404(Incident, incident_id)
    done = commit_or_show_errors(operation, incident, actor=actor(), now=utcnow())
    done.flash(success.format(result=done.result))
    return incident_page(incident_id)
