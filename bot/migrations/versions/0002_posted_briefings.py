"""Posted briefings: which message holds which stories, for thread follow-ups.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('posted_briefings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=255), nullable=False),
    sa.Column('message_ref', sa.String(length=255), nullable=False),
    sa.Column('article_ids', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posted_briefings')),
    sa.UniqueConstraint('platform', 'channel', 'message_ref', name='uq_posted_briefings_platform_channel_message_ref')
    )
    with op.batch_alter_table('posted_briefings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_posted_briefings_created_at'), ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('posted_briefings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_posted_briefings_created_at'))

    op.drop_table('posted_briefings')
