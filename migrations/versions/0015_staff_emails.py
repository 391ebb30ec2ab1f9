"""The staff's email on the delivery engine: one queue (staff_emails) for the key contacts'
notices, the commanders' cadence reminders, the action items' reminders and a monitor's
proposal; the claim columns each of those tables kept go

Rows keep their meaning:
- a contact's notice becomes a staff email in the state it was in (sent, failed for good,
  closed because the incident resolved, or still to send);
- a cadence or action-item reminder not yet sent is forgotten, so that the notifier's next
  tick queues it afresh, as it queued it the first time, if it is still due (one that went
  stays, and keeps it from going twice);
- a webhook disabled automatically whose admins were not yet told (its last audit event is
  "webhook.auto_disable") gets their emails queued;
- a monitor's proposal whose on-call email or Slack message had not gone (and that is less
  than a day old: older ones were never sent) gets them queued: the email to the On-call
  Engineer contact (or, without one, every active admin), the Slack message when
  SLACK_WEBHOOK_URL is set.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 20:40:00

"""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

KINDS = "kind IN ('notice', 'cadence', 'action_item', 'monitor', 'webhook')"
STATUSES = "status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')"
SLACK_OLD = "kind IN ('declared', 'update', 'resolved', 'reminder')"
SLACK_NEW = "kind IN ('declared', 'update', 'resolved', 'reminder', 'monitor')"


def _utc(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _bind_time(value):
    """As the app stores it: naive UTC on SQLite."""
    if op.get_bind().dialect.name == "sqlite":
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _settings():
    try:
        from flask import current_app
        return (current_app.config.get("SLACK_WEBHOOK_URL") or "").strip(), \
            current_app.config.get("SITE_TIMEZONE") or "UTC", \
            (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    except RuntimeError:  # run without the app
        return "", "UTC", ""


def _now():
    """The app's clock when it has one (tests move it), else the system's."""
    try:
        from flask import current_app
        clock = current_app.config.get("CLOCK")
    except RuntimeError:
        clock = None
    return clock() if clock is not None else datetime.now(timezone.utc)


def _proposals_untold(conn, now):
    """The monitors' notices owed: (email owed?, slack owed?, the text) per proposal."""
    slack_url, zone, base = _settings()
    tz = ZoneInfo(zone)
    rows = conn.execute(sa.text(
        "SELECT p.id, p.severity, p.first_failed_at, p.last_errors, p.auto_published, "
        "p.created_at, p.notice_sent_at, p.slack_sent_at, m.name, c.name "
        "FROM monitor_proposals p JOIN monitors m ON m.id = p.monitor_id "
        "JOIN components c ON c.id = p.component_id "
        "WHERE p.notice_sent_at IS NULL OR p.slack_sent_at IS NULL")).all()
    owed = []
    for (pid, severity, first, errors, auto, created, notice_at, slack_at, monitor,
         component) in rows:
        if _utc(created) < now - timedelta(days=1):
            continue
        if isinstance(errors, str):
            import json
            errors = json.loads(errors or "[]")
        last = (errors or [{}])[-1].get("error", "")
        since = _utc(first).astimezone(tz)
        what = ("The incident was opened automatically (Investigating)." if auto
                else f"Publish it in one click on the staff dashboard:\n{base}/staff/")
        text = (f"The monitor \"{monitor}\" finds {component} down since "
                f"{since:%Y-%m-%d %H:%M} {since.tzname()}.\n"
                f"Proposed severity: {severity}.\nLast error: {last}\n\n{what}\n")
        owed.append((pid, notice_at is None, slack_at is None and bool(slack_url), text))
    return owed


def _on_call(conn):
    email = conn.execute(sa.text(
        "SELECT email FROM contacts WHERE role = 'oncall'")).scalar()
    if email:
        return [email]
    return [e for (e,) in conn.execute(sa.text(
        "SELECT email FROM staff_users WHERE role = 'admin' AND active = :yes "
        "ORDER BY email"), {"yes": True})]


def upgrade():
    op.create_table('staff_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(KINDS, name=op.f('ck_staff_emails_kind')),
    sa.CheckConstraint(STATUSES, name=op.f('ck_staff_emails_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_emails')),
    sa.UniqueConstraint('kind', 'subject_id', 'recipient',
                        name=op.f('uq_staff_emails_kind_subject_id_recipient'))
    )
    with op.batch_alter_table('staff_emails', schema=None) as batch_op:
        batch_op.create_index('ix_staff_emails_status_next_attempt_at',
                              ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('slack_messages', schema=None) as batch_op:
        batch_op.alter_column('incident_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(op.f('ck_slack_messages_kind'), type_='check')
        batch_op.create_check_constraint('kind', SLACK_NEW)

    conn = op.get_bind()
    now = _now()
    # The contacts' notices, in the state they were in.
    op.execute(
        "INSERT INTO staff_emails (kind, subject_id, recipient, status, attempts, "
        "next_attempt_at, sent_at, created_at) "
        "SELECT 'notice', id, email, "
        "CASE WHEN sent_at IS NULL THEN 'pending' WHEN outcome = 'sent' THEN 'sent' "
        "WHEN outcome = 'resolved' THEN 'cancelled' ELSE 'failed' END, 0, created_at, "
        "CASE WHEN outcome = 'sent' THEN sent_at END, created_at FROM staff_notices")
    # Reminders not yet sent: the next tick queues them again, if still due.
    op.execute("DELETE FROM sent_reminders WHERE sent_at IS NULL")
    op.execute("DELETE FROM action_item_reminders WHERE sent_at IS NULL")
    # The admins of each webhook disabled automatically and not yet told of it.
    last = {}
    for event_id, target_id, action in conn.execute(sa.text(
            "SELECT e.id, e.target_id, e.action FROM audit_events e "
            "JOIN webhooks w ON CAST(w.id AS VARCHAR(64)) = e.target_id "
            "WHERE e.target_type = 'webhooks' AND w.active = :no AND e.action IN "
            "('webhook.auto_disable', 'webhook.admins_emailed') ORDER BY e.id"),
            {"no": False}):
        last[target_id] = (event_id, action)
    untold = [event_id for event_id, action in last.values()
              if action == "webhook.auto_disable"]
    admins = [e for (e,) in conn.execute(sa.text(
        "SELECT email FROM staff_users WHERE role = 'admin' AND active = :yes "
        "ORDER BY email"), {"yes": True})] if untold else []
    for event_id in untold:
        for address in admins:
            conn.execute(sa.text(
                "INSERT INTO staff_emails (kind, subject_id, recipient, status, attempts, "
                "next_attempt_at, created_at) VALUES ('webhook', :event, :to, 'pending', 0, "
                ":now, :now)"), {"event": event_id, "to": address, "now": _bind_time(now)})
    # The monitors' notices owed.
    owed = _proposals_untold(conn, now)
    recipients = _on_call(conn) if any(email for _, email, _, _ in owed) else []
    for pid, email, slack, text in owed:
        if email:
            for address in recipients:
                conn.execute(sa.text(
                    "INSERT INTO staff_emails (kind, subject_id, recipient, status, attempts, "
                    "next_attempt_at, created_at) VALUES ('monitor', :pid, :to, 'pending', 0, "
                    ":now, :now)"), {"pid": pid, "to": address, "now": _bind_time(now)})
        if slack:
            conn.execute(sa.text(
                "INSERT INTO slack_messages (incident_id, kind, text, status, attempts, "
                "next_attempt_at, created_at) VALUES (NULL, 'monitor', :text, 'pending', 0, "
                ":now, :now)"), {"text": f":rotating_light: MONITOR: {text}",
                                 "now": _bind_time(now)})

    with op.batch_alter_table('staff_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_notices_sent_at')
        batch_op.drop_column('outcome')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('lease_until')
    with op.batch_alter_table('sent_reminders', schema=None) as batch_op:
        batch_op.drop_column('sent_at')
        batch_op.drop_column('claimed_until')
    with op.batch_alter_table('action_item_reminders', schema=None) as batch_op:
        batch_op.drop_column('outcome')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('lease_until')
    with op.batch_alter_table('monitor_proposals', schema=None) as batch_op:
        batch_op.drop_column('slack_sent_at')
        batch_op.drop_column('notice_sent_at')
        batch_op.drop_column('notice_claimed_until')


def downgrade():
    """Back to the claim columns; what went is marked sent (the time of its email), what
    did not is left to the old ticks."""
    with op.batch_alter_table('monitor_proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_claimed_until', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('notice_sent_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('slack_sent_at', sa.DateTime(timezone=True),
                                      nullable=True))
    op.execute("UPDATE monitor_proposals SET notice_sent_at = created_at, "
               "slack_sent_at = created_at")
    with op.batch_alter_table('action_item_reminders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=True))
    op.execute("UPDATE action_item_reminders SET sent_at = created_at, outcome = 'sent'")
    with op.batch_alter_table('sent_reminders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE sent_reminders SET claimed_until = created_at, sent_at = created_at")
    with op.batch_alter_table('sent_reminders', schema=None) as batch_op:
        batch_op.alter_column('claimed_until', existing_type=sa.DateTime(timezone=True),
                              nullable=False)
    with op.batch_alter_table('staff_notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_staff_notices_sent_at', ['sent_at'], unique=False)
    op.execute(
        "UPDATE staff_notices SET sent_at = (SELECT COALESCE(e.sent_at, e.created_at) "
        "FROM staff_emails e WHERE e.kind = 'notice' AND e.subject_id = staff_notices.id "
        "AND e.status IN ('sent', 'failed', 'cancelled')), outcome = (SELECT CASE e.status "
        "WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'permanent' ELSE 'resolved' END "
        "FROM staff_emails e WHERE e.kind = 'notice' AND e.subject_id = staff_notices.id "
        "AND e.status IN ('sent', 'failed', 'cancelled'))")
    op.execute("DELETE FROM slack_messages WHERE kind = 'monitor'")
    with op.batch_alter_table('slack_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_slack_messages_kind'), type_='check')
        batch_op.create_check_constraint('kind', SLACK_OLD)
        batch_op.alter_column('incident_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('staff_emails', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_emails_status_next_attempt_at')
    op.drop_table('staff_emails')
