"""one-time submission ids of the staff forms (a repeated POST changes nothing)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'used_submissions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('update_id', sa.Integer(), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'],
                                name=op.f('fk_used_submissions_actor_id_staff_users')),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='CASCADE',
                                name=op.f('fk_used_submissions_incident_id_incidents')),
        sa.ForeignKeyConstraint(['update_id'], ['incident_updates.id'], ondelete='CASCADE',
                                name=op.f('fk_used_submissions_update_id_incident_updates')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_used_submissions')),
        sa.UniqueConstraint('submission_id', name=op.f('uq_used_submissions_submission_id')),
    )


def downgrade():
    op.drop_table('used_submissions')
