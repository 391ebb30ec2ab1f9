"""site version: site_state (one row) and site_changes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 00:40:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    site_state = op.create_table('site_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_site_state_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_state'))
    )
    op.create_table('site_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_changes'))
    )
    with op.batch_alter_table('site_changes', schema=None) as batch_op:
        batch_op.create_index('ix_site_changes_version', ['version'], unique=False)

    # The one row. Naive UTC on SQLite (as UTCDateTime stores it), aware elsewhere.
    now = datetime.now(timezone.utc)
    if op.get_bind().dialect.name == 'sqlite':
        now = now.replace(tzinfo=None)
    op.bulk_insert(site_state, [{'id': 1, 'version': 1, 'changed_at': now}])


def downgrade():
    with op.batch_alter_table('site_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_site_changes_version')

    op.drop_table('site_changes')
    op.drop_table('site_state')
