"""The vocabularies: every status, role, kind and limit the tables check."""

from __future__ import annotations

from ..severity import CODES

COMPONENT_STATUSES = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)
COMPONENT_STATUS_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded Performance",
    "partial_outage": "Partial Outage",
    "major_outage": "Major Outage",
    "under_maintenance": "Under Maintenance",
}

#: Incident statuses in the playbook's order (an update may also go back; Resolved is final
#: until an admin reopens the incident).
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
INCIDENT_STATUS_LABELS = {s: s.capitalize() for s in INCIDENT_STATUSES}

#: The table checks what ``severity`` (a leaf: it imports nothing of ours) lists.
SEVERITIES = CODES

ROLES = ("admin", "responder")

# Text limits, shared by the forms and the database.
ISSUE_MAX = 200
TEXT_MAX = 5000
NAME_MAX = 100
DESCRIPTION_MAX = 500
EMAIL_MAX = 254


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


AUDIENCES = ("participant", "coach")
SUBSCRIBER_STATUSES = ("pending", "confirmed", "unsubscribed", "bouncing")
NOTIFICATION_KINDS = ("outage", "resolution", "confirm", "manage", "maintenance")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")

#: A maintenance window's statuses (``cancelled`` is ours: the API leaves those out).
MAINTENANCE_STATUSES = ("scheduled", "in_progress", "verifying", "completed", "cancelled")
#: The notices a window sends (Notification.notice, with kind "maintenance").
MAINTENANCE_NOTICES = ("scheduled", "reminder", "started", "completed", "rescheduled",
                       "cancelled")
#: What a subscriber hears about: everything, or the components they chose.
SUBSCRIPTION_SCOPES = ("all", "some")
#: The impact block staff set on an incident: a clinical statement, never set automatically.
DATA_STATUSES = ("not_yet_known", "being_checked", "some_entries_missing", "safe")
USER_ACTIONS = ("nothing", "use_workaround", "reenter_entries")
#: The public changes a webhook is told of.
WEBHOOK_EVENT_KINDS = ("incident", "component", "maintenance")
