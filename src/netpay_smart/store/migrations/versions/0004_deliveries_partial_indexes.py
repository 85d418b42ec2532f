"""deliveries: content_hash and transaction_key indexed only once processing sets them

Both columns are NULL when a body is acknowledged; indexing the NULLs cost every
acknowledgement two index updates for nothing (queries look up values, never NULL).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = ("content_hash", "transaction_key")


def upgrade() -> None:
    for column in _COLUMNS:
        op.drop_index(f"ix_deliveries_{column}", table_name="deliveries")
        op.create_index(
            f"ix_deliveries_{column}",
            "deliveries",
            [column],
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for column in _COLUMNS:
        op.drop_index(f"ix_deliveries_{column}", table_name="deliveries")
        op.create_index(f"ix_deliveries_{column}", "deliveries", [column])
