"""The delivery ledger as a queue: each row knows its channel's platform, and rows are found by status.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_deliveries_status_id', ['status', 'id'], unique=False)
    op.execute("UPDATE deliveries SET platform = "
               "(SELECT channels.platform FROM channels WHERE channels.id = deliveries.channel_id)")


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_status_id')
        batch_op.drop_column('platform')
