"""Incident roles and acknowledgement, display names, cadence reminders

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 16:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('declared', 'update', 'resolved')"
NEW_KINDS = "kind IN ('declared', 'update', 'resolved', 'reminder')"


def upgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.String(length=100), nullable=True))

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('commander_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('comms_lead_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_incidents_commander_id_staff_users'),
                                    'staff_users', ['commander_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_incidents_comms_lead_id_staff_users'),
                                    'staff_users', ['comms_lead_id'], ['id'])
    # Incidents declared before roles existed: their declarer commands them.
    op.execute("UPDATE incidents SET commander_id = created_by_id")

    with op.batch_alter_table('slack_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_slack_messages_kind'), type_='check')
        batch_op.create_check_constraint('kind', NEW_KINDS)

    op.create_table('sent_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('cadence')", name=op.f('ck_sent_reminders_kind')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_sent_reminders_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recipient_id'], ['staff_users.id'], name=op.f('fk_sent_reminders_recipient_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_reminders')),
    sa.UniqueConstraint('incident_id', 'due_at', 'kind', name=op.f('uq_sent_reminders_incident_id_due_at_kind'))
    )


def downgrade():
    op.drop_table('sent_reminders')
    op.execute("DELETE FROM slack_messages WHERE kind = 'reminder'")
    with op.batch_alter_table('slack_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_slack_messages_kind'), type_='check')
        batch_op.create_check_constraint('kind', OLD_KINDS)
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_incidents_comms_lead_id_staff_users'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_incidents_commander_id_staff_users'),
                                 type_='foreignkey')
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('comms_lead_id')
        batch_op.drop_column('commander_id')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('display_name')
