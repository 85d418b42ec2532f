"""deliveries.spool_key: bodies moved from the local spool are moved once

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spool_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_deliveries_spool_key",
            ["spool_key"],
            unique=True,
            sqlite_where=sa.text("spool_key IS NOT NULL"),
            postgresql_where=sa.text("spool_key IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_spool_key")
        batch_op.drop_column("spool_key")
