"""Key contacts, the escalation matrix, notices to contacts; incident type, health data

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 17:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

ROLES = ("'oncall', 'secondary_oncall', 'tech_lead', 'clinical_lead', 'security_lead', "
         "'executive_sponsor', 'cto', 'ceo', 'legal', 'coach_lead', 'support'")
TYPES = "'app_down', 'data_loss', 'security', 'phi_exposure', 'performance', 'user_impact'"


def upgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incident_type', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('health_data_affected', sa.Boolean(), nullable=False,
                                      server_default=sa.text('false')))

    op.create_table('contacts',
    sa.Column('role', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(f"role IN ({ROLES})", name=op.f('ck_contacts_role')),
    sa.PrimaryKeyConstraint('role', name=op.f('pk_contacts'))
    )
    op.create_table('escalation_cells',
    sa.Column('incident_type', sa.String(length=16), nullable=False),
    sa.Column('matrix_column', sa.String(length=16), nullable=False),
    sa.Column('roles', sa.String(length=400), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(f"incident_type IN ({TYPES})",
                       name=op.f('ck_escalation_cells_incident_type')),
    sa.CheckConstraint("matrix_column IN ('primary', 'escalate', 'executive')",
                       name=op.f('ck_escalation_cells_matrix_column')),
    sa.PrimaryKeyConstraint('incident_type', 'matrix_column', name=op.f('pk_escalation_cells'))
    )
    op.create_table('staff_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('roles', sa.String(length=400), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.CheckConstraint("kind IN ('primary', 'executive', 'clinical', 'escalation')",
                       name=op.f('ck_staff_notices_kind')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                            name=op.f('fk_staff_notices_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_notices')),
    sa.UniqueConstraint('incident_id', 'kind', 'email',
                        name=op.f('uq_staff_notices_incident_id_kind_email'))
    )
    with op.batch_alter_table('staff_notices', schema=None) as batch_op:
        batch_op.create_index('ix_staff_notices_sent_at', ['sent_at'], unique=False)


def downgrade():
    with op.batch_alter_table('staff_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_notices_sent_at')
    op.drop_table('staff_notices')
    op.drop_table('escalation_cells')
    op.drop_table('contacts')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('health_data_affected')
        batch_op.drop_column('incident_type')
