"""Digest schedules on channels, and the stories each channel was served.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('served_stories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('memory', sa.Text(), nullable=False),
    sa.Column('served_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_served_stories_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_served_stories_delivery_id_deliveries'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_served_stories'))
    )
    with op.batch_alter_table('served_stories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_served_stories_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_served_stories_served_at'), ['served_at'], unique=False)

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schedule_kind', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('schedule_time', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('schedule_set_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_digest_at', sa.DateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('last_digest_at')
        batch_op.drop_column('schedule_set_at')
        batch_op.drop_column('schedule_time')
        batch_op.drop_column('schedule_kind')

    with op.batch_alter_table('served_stories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_served_stories_served_at'))
        batch_op.drop_index(batch_op.f('ix_served_stories_channel_id'))

    op.drop_table('served_stories')
