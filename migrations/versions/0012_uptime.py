"""Uptime bars: component status history, running coverage, daily rollups

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-27 17:45:00

Each existing component's history begins at this migration, at the status it has now
(source "migration"): the days before say "No data", since nobody kept what they were.
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SOURCES = "('incident', 'maintenance', 'staff', 'monitor', 'api', 'migration')"
STATUSES = ("('operational', 'degraded_performance', 'partial_outage', 'major_outage', "
            "'under_maintenance')")


def upgrade():
    op.create_table('component_status_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('old_status', sa.String(length=32), nullable=True),
    sa.Column('new_status', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('maintenance_id', sa.Integer(), nullable=True),
    sa.CheckConstraint(f"source IN {SOURCES}", name=op.f('ck_component_status_history_source')),
    sa.CheckConstraint(f"new_status IN {STATUSES}",
                       name=op.f('ck_component_status_history_new_status')),
    sa.ForeignKeyConstraint(['component_id'], ['components.id'], name=op.f('fk_component_status_history_component_id_components'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_component_status_history_incident_id_incidents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['maintenance_id'], ['maintenances.id'], name=op.f('fk_component_status_history_maintenance_id_maintenances'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_component_status_history'))
    )
    with op.batch_alter_table('component_status_history', schema=None) as batch_op:
        batch_op.create_index('ix_component_status_history_component_at',
                              ['component_id', 'at'], unique=False)

    op.create_table('coverage_intervals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coverage_intervals'))
    )
    with op.batch_alter_table('coverage_intervals', schema=None) as batch_op:
        batch_op.create_index('ix_coverage_intervals_ended_at', ['ended_at'], unique=False)

    op.create_table('uptime_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('operational_minutes', sa.Float(), nullable=False),
    sa.Column('under_maintenance_minutes', sa.Float(), nullable=False),
    sa.Column('degraded_performance_minutes', sa.Float(), nullable=False),
    sa.Column('partial_outage_minutes', sa.Float(), nullable=False),
    sa.Column('major_outage_minutes', sa.Float(), nullable=False),
    sa.Column('no_data_minutes', sa.Float(), nullable=False),
    sa.Column('worst_status', sa.String(length=32), nullable=True),
    sa.Column('incident_ids', sa.JSON(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['component_id'], ['components.id'], name=op.f('fk_uptime_days_component_id_components'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uptime_days')),
    sa.UniqueConstraint('component_id', 'day', name=op.f('uq_uptime_days_component_id_day'))
    )
    with op.batch_alter_table('uptime_days', schema=None) as batch_op:
        batch_op.create_index('ix_uptime_days_day', ['day'], unique=False)

    # Each existing component's history begins now, at the status it has.
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    components = sa.table('components', sa.column('id'), sa.column('status'))
    history = sa.table('component_status_history', sa.column('component_id'),
                       sa.column('at'), sa.column('old_status'), sa.column('new_status'),
                       sa.column('source'))
    conn = op.get_bind()
    rows = [{"component_id": cid, "at": now, "old_status": None, "new_status": status,
             "source": "migration"}
            for cid, status in conn.execute(sa.select(components.c.id, components.c.status))]
    if rows:
        conn.execute(history.insert(), rows)


def downgrade():
    with op.batch_alter_table('uptime_days', schema=None) as batch_op:
        batch_op.drop_index('ix_uptime_days_day')
    op.drop_table('uptime_days')
    with op.batch_alter_table('coverage_intervals', schema=None) as batch_op:
        batch_op.drop_index('ix_coverage_intervals_ended_at')
    op.drop_table('coverage_intervals')
    with op.batch_alter_table('component_status_history', schema=None) as batch_op:
        batch_op.drop_index('ix_component_status_history_component_at')
    op.drop_table('component_status_history')
