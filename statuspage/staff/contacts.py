"""The key contacts and the escalation matrix (admins): one page, one form, audited."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from .. import contacts
from ..clock import utcnow
from ..forms import ActionForm
from ..severity import KEY_CONTACTS_WHEN
from .common import INVALID, actor, bp, commit_or_show_errors
from .gate import admin_required


def _sent_values():
    people = {role: contacts.ContactValue(request.form.get(f"{role}_name") or "",
                                          request.form.get(f"{role}_email") or "")
              for role in contacts.ROLE_NAMES}
    cells = {t: {c: request.form.getlist(f"{t}.{c}") for c in contacts.COLUMN_NAMES}
             for t in contacts.TYPE_NAMES}
    return people, cells


@bp.route("/contacts", methods=["GET", "POST"], endpoint="contacts")
@admin_required
def contacts_page():
    """Who each of the playbook's roles is, and whom the matrix tells."""
    if request.method == "GET":
        return _render(contacts.contacts(), contacts.matrix(), {})
    ActionForm()  # CSRFProtect has already checked the token
    people, cells = _sent_values()
    done = commit_or_show_errors(contacts.save, people, cells, actor=actor(), now=utcnow())
    if done.ok:
        flash("Contacts and matrix saved." if done.result else "Nothing changed.",
              "success")
        return redirect(url_for("staff.contacts"))
    return _render(people, {t: {c: tuple(v) for c, v in row.items()}
                            for t, row in cells.items()}, done.errors, INVALID)


def _render(people, table, errors, status=200):
    return render_template(
        "staff/contacts.html", people=people, table=table, errors=errors,
        roles=contacts.ROLE_NAMES, types=contacts.TYPE_NAMES,
        columns=contacts.COLUMN_NAMES, untyped=contacts.UNTYPED,
        when_to_contact=WHEN_TO_CONTACT, action_form=ActionForm(),
        names=lambda keys, sep: sep.join(contacts.ROLE_NAMES.get(k, k) for k in keys),
    ), status


#: The playbook's "When to Contact", shown as each role's hint (the words that name a
#: severity are the severity module's).
WHEN_TO_CONTACT = {
    **KEY_CONTACTS_WHEN,
    "clinical_lead": "Health data issues", "security_lead": "Security incidents",
    "secondary_oncall": "Backup if primary unavailable",
}
