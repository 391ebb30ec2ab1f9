"""The staff pages' no-health-data footer (issue 23, point 6): it says where the words
typed on that page go, the public page or the staff area only, so that it never tells
someone on a staff-only page that "everything here is public", nor the reverse.

Every staff page (and the sign-in pages, which share the staff layout) is named below by
its endpoint, the POSTs that show a page again with errors too; ``tests/test_i23_words.py``
checks that none is missing. A page not named gets the general warning, which claims
nothing about where its words go.
"""

from __future__ import annotations

from flask import has_request_context, request

from .common import bp

#: Everything typed on the page is public: the status page, emails, feeds, the API.
PUBLIC = "public"
#: The update's words are public; the fields marked "staff only" are not.
BOTH = "both"
#: Nothing typed on the page is shown publicly.
STAFF_ONLY = "staff"
#: Nothing is typed on the page (lists, and buttons only).
NO_TEXT = "none"

WHERE: dict[str, str] = {
    # Incidents: the update's words are public, the escalation and resolving fields not.
    **dict.fromkeys(("staff.new_incident", "staff.incident", "staff.edit_incident",
                     "staff.acknowledge_incident", "staff.incident_roles",
                     "staff.reopen_incident", "staff.redact_update", "staff.hold",
                     "staff.release", "staff.send_now"), BOTH),
    # Components and maintenance windows: their names and words are on the public page.
    **dict.fromkeys(("staff.components", "staff.component", "staff.delete_component",
                     "staff.new_maintenance", "staff.maintenance_window",
                     "staff.cancel_maintenance", "staff.complete_maintenance",
                     "staff.edit_maintenance", "staff.reschedule_maintenance",
                     "staff.start_maintenance", "staff.maintenance_update",
                     "staff.verify_maintenance"), PUBLIC),
    # The record, the monitors, the people, the keys, the hooks: the staff area only.
    **dict.fromkeys(("staff.incident_record", "staff.save_record", "staff.add_action_item",
                     "staff.edit_action_item", "staff.redact_record_revision",
                     "staff.monitors", "staff.new_monitor", "staff.edit_monitor",
                     "staff.delete_monitor", "staff.mute_monitor", "staff.dismiss_proposal",
                     "staff.accounts", "staff.account", "staff.reset_two_factor",
                     "staff.reset_password", "staff.password", "staff.display_name",
                     "staff.two_factor", "staff.two_factor_confirm", "staff.two_factor_off",
                     "staff.api_keys", "staff.revoke_api_key", "staff.contacts",
                     "staff.subscribers", "staff.subscriber_export", "staff.webhooks",
                     "staff.delete_webhook", "staff.disable_webhook",
                     "staff.enable_webhook", "staff.profile", "staff.profile_test_page",
                     "staff.oncall", "staff.edit_rotation", "staff.delete_rotation",
                     "staff.oncall_overrides", "staff.delete_override",
                     "staff.calendar_link", "auth.login", "auth.login_code"), STAFF_ONLY),
    **dict.fromkeys(("staff.dashboard", "staff.maintenance_list",
                     "staff.component_status"), NO_TEXT),
}

_NEVER = ("Never paste a participant's name, readings or any personal health information "
          "(PHI)")
WORDS = {
    PUBLIC: (f"Everything typed on this page is public: it is shown on the status page, in "
             f"emails and in feeds. {_NEVER} here; describe the problem with the app, never "
             f"a person."),
    BOTH: (f"The update's words on this page are public: they are shown on the status page, "
           f"in emails and in feeds. Only the fields marked “staff only” stay in the staff "
           f"area. {_NEVER} into either; describe the problem with the app, never a person."),
    STAFF_ONLY: (f"What is typed on this page stays in the staff area: it is never shown on "
                 f"the public page, in subscribers' emails or in feeds. Still, {_NEVER[0].lower()}"
                 f"{_NEVER[1:]} here."),
    NO_TEXT: f"{_NEVER} anywhere in the staff area: much of it is public.",
}


def where(endpoint: str | None) -> str:
    return WHERE.get(endpoint or "", NO_TEXT)


@bp.app_template_global("phi_footer")
def phi_footer() -> str:
    """The footer's words for the page being shown."""
    return WORDS[where(request.endpoint if has_request_context() else None)]
