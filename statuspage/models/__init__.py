"""Tables and their invariants. No mail, no url_for, no commits.

One module per concern; this package's names are the ones the rest of the code imports
(``from statuspage.models import Incident``):

- ``vocab``: every status, role, kind and limit the tables check;
- ``incidents``: components, staff accounts, incidents, their updates and component changes;
- ``records``: append-only records (audit events, used form submissions, heartbeats);
- ``outbox``: subscribers (and the components they chose), notifications and deliveries;
- ``maintenance``: planned windows, the components they take, their updates;
- ``webhooks``: webhook subscribers, the public changes they are told of, each delivery;
- ``slack``: messages for Slack's #incidents channel;
- ``site``: the site version the render cache and the publisher follow;
- ``staff_2fa``: the recovery codes of two-factor sign-in;
- ``record``: the internal incident record's revisions, action items and reminders;
- ``reminders``: the cadence reminders sent to incident commanders;
- ``contacts``: the key contacts, the escalation matrix and the notices sent to them.
- ``uptime``: components' status history, the page's running coverage, daily rollups.
- ``monitors``: checks of the tracked app, their daily rollups and proposed incidents.
- ``api_keys``: the keys of the write API (``/api/v1``).
- ``staff_emails``: the staff's email (notices, reminders, a monitor's proposal), one row
  per message.
- ``paging``: on-call rotations and overrides, the chains of pages, each page and its ways.
"""

from __future__ import annotations

from .vocab import (  # noqa: F401
    DATA_STATUSES,
    MAINTENANCE_NOTICES,
    MAINTENANCE_STATUSES,
    SUBSCRIPTION_SCOPES,
    USER_ACTIONS,
    WEBHOOK_EVENT_KINDS,
    AUDIENCES,
    COMPONENT_STATUSES,
    COMPONENT_STATUS_LABELS,
    DELIVERY_STATUSES,
    DESCRIPTION_MAX,
    EMAIL_MAX,
    INCIDENT_STATUSES,
    INCIDENT_STATUS_LABELS,
    ISSUE_MAX,
    NAME_MAX,
    NOTIFICATION_KINDS,
    ROLES,
    SEVERITIES,
    SUBSCRIBER_STATUSES,
    TEXT_MAX,
)
from .incidents import (  # noqa: F401
    Component,
    ComponentChange,
    Incident,
    IncidentUpdate,
    StaffUser,
    incident_components,
)
from .records import (  # noqa: F401
    AuditEvent,
    NotifierHeartbeat,
    UsedSubmission,
)
from .outbox import (  # noqa: F401
    subscriber_components,
    Delivery,
    Notification,
    Subscriber,
)
from .site import (  # noqa: F401
    SiteChange,
    SiteState,
)
from .maintenance import (  # noqa: F401
    Maintenance,
    MaintenanceComponent,
    MaintenanceUpdate,
)
from .webhooks import (  # noqa: F401
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    webhook_components,
)
from .slack import (  # noqa: F401
    SLACK_MESSAGE_KINDS,
    SlackMessage,
)
from .staff_2fa import (  # noqa: F401
    RecoveryCode,
)
from .record import (  # noqa: F401
    ActionItem,
    ActionItemReminder,
    RecordRevision,
)
from .reminders import (  # noqa: F401
    REMINDER_KINDS,
    SentReminder,
)
from .contacts import (  # noqa: F401
    CONTACT_ROLES,
    INCIDENT_TYPES,
    MATRIX_COLUMNS,
    NOTICE_KINDS,
    Contact,
    EscalationCell,
    StaffNotice,
)
from .uptime import (  # noqa: F401
    STATUS_SOURCES,
    CoverageInterval,
    StatusChange,
    UptimeDay,
)
from .monitors import (  # noqa: F401
    MONITOR_STATES,
    PROPOSAL_STATUSES,
    Monitor,
    MonitorCheck,
    MonitorDay,
    MonitorHeartbeat,
    MonitorProposal,
)
from .staff_emails import (  # noqa: F401
    STAFF_EMAIL_KINDS,
    StaffEmail,
)
from .api_keys import (  # noqa: F401
    API_KEY_NAME_MAX,
    ApiKey,
)
from .paging import (  # noqa: F401
    CHAIN_SUBJECTS,
    HANDOVER_EVERY,
    PAGE_KINDS,
    ROTATION_ROLES,
    Page,
    PageChain,
    PageSend,
    Rotation,
    RotationOverride,
)
