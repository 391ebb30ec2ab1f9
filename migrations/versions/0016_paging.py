"""Paging (issue 24): on-call rotations and overrides, the chains of pages, each page and
each way it goes; a staff member's phone, page URLs and calendar secret; two more kinds of
staff email (a page's email way, a SEV-3/4's email to the primary on call). Nothing that
exists changes meaning: no rotation means the contacts' On-call Engineer and Secondary
On-call stay who is paged.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:57:19

"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

KINDS_OLD = "kind IN ('notice', 'cadence', 'action_item', 'monitor', 'webhook')"
KINDS_NEW = ("kind IN ('notice', 'cadence', 'action_item', 'monitor', 'webhook', 'page', "
             "'oncall')")


def upgrade():
    op.create_table('page_chains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('security', sa.Boolean(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("subject IN ('incident', 'proposal')", name=op.f('ck_page_chains_subject')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_page_chains')),
    sa.UniqueConstraint('subject', 'subject_id', name=op.f('uq_page_chains_subject_subject_id'))
    )
    with op.batch_alter_table('page_chains', schema=None) as batch_op:
        batch_op.create_index('ix_page_chains_acknowledged_at', ['acknowledged_at'], unique=False)

    op.create_table('rotations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('members', sa.Text(), nullable=False),
    sa.Column('handover_every', sa.String(length=8), nullable=False),
    sa.Column('handover_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("handover_every IN ('day', 'week')", name=op.f('ck_rotations_handover_every')),
    sa.CheckConstraint("role IN ('primary', 'secondary')", name=op.f('ck_rotations_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rotations')),
    sa.UniqueConstraint('name', name=op.f('uq_rotations_name'))
    )
    op.create_table('pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('chain_id', sa.Integer(), nullable=True),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('roles', sa.String(length=400), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ack_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('chain', 'test', 'handover')", name=op.f('ck_pages_kind')),
    sa.ForeignKeyConstraint(['chain_id'], ['page_chains.id'], name=op.f('fk_pages_chain_id_page_chains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pages')),
    sa.UniqueConstraint('key', name=op.f('uq_pages_key'))
    )
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.create_index('ix_pages_chain_id', ['chain_id'], unique=False)

    op.create_table('rotation_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rotation_id', sa.Integer(), nullable=False),
    sa.Column('member', sa.String(length=254), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=True),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_rotation_overrides_span')),
    sa.ForeignKeyConstraint(['rotation_id'], ['rotations.id'], name=op.f('fk_rotation_overrides_rotation_id_rotations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rotation_overrides'))
    )
    with op.batch_alter_table('rotation_overrides', schema=None) as batch_op:
        batch_op.create_index('ix_rotation_overrides_rotation_id_ends_at', ['rotation_id', 'ends_at'], unique=False)

    op.create_table('page_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('way', sa.String(length=16), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name=op.f('ck_page_sends_status')),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_page_sends_page_id_pages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_page_sends')),
    sa.UniqueConstraint('page_id', 'way', name=op.f('uq_page_sends_page_id_way'))
    )
    with op.batch_alter_table('page_sends', schema=None) as batch_op:
        batch_op.create_index('ix_page_sends_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)

    # Plain ADD COLUMN and an index: on SQLite a batch would recreate staff_users, which
    # every incident's commander and API key refers to.
    op.add_column('staff_users', sa.Column('phone', sa.String(length=20), nullable=True))
    op.add_column('staff_users', sa.Column('page_urls', sa.Text(), nullable=True))
    op.add_column('staff_users', sa.Column('calendar_token', sa.String(length=64),
                                           nullable=True))
    op.create_index('ix_staff_users_calendar_token', 'staff_users', ['calendar_token'],
                    unique=True)

    with op.batch_alter_table('staff_emails', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_staff_emails_kind'), type_='check')
        batch_op.create_check_constraint('kind', KINDS_NEW)


def downgrade():
    op.execute("DELETE FROM staff_emails WHERE kind IN ('page', 'oncall')")
    with op.batch_alter_table('staff_emails', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_staff_emails_kind'), type_='check')
        batch_op.create_check_constraint('kind', KINDS_OLD)

    op.drop_index('ix_staff_users_calendar_token', table_name='staff_users')
    op.drop_column('staff_users', 'calendar_token')
    op.drop_column('staff_users', 'page_urls')
    op.drop_column('staff_users', 'phone')

    with op.batch_alter_table('page_sends', schema=None) as batch_op:
        batch_op.drop_index('ix_page_sends_status_next_attempt_at')

    op.drop_table('page_sends')
    with op.batch_alter_table('rotation_overrides', schema=None) as batch_op:
        batch_op.drop_index('ix_rotation_overrides_rotation_id_ends_at')

    op.drop_table('rotation_overrides')
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_index('ix_pages_chain_id')

    op.drop_table('pages')
    op.drop_table('rotations')
    with op.batch_alter_table('page_chains', schema=None) as batch_op:
        batch_op.drop_index('ix_page_chains_acknowledged_at')

    op.drop_table('page_chains')
