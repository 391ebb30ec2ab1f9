"""indexes so that public pages cost the same at any history length

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 00:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_unresolved', ['started_at'], unique=False,
                              sqlite_where=sa.text("status != 'resolved'"),
                              postgresql_where=sa.text("status != 'resolved'"))
        batch_op.create_index('ix_incidents_updated_at', ['updated_at'], unique=False)


def downgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_updated_at')
        batch_op.drop_index('ix_incidents_unresolved')
