"""The delivery ledger as a queue: due slots are found by status, so index it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_status_claimed_at', ['status', 'claimed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_status_claimed_at')
