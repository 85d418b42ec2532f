"""deliveries: PostgreSQL indexes the ones still pending by id

Reading the next deliveries to process (``WHERE outcome = 'pending' ORDER BY id LIMIT n``)
went through the outcome index, which holds them in table order, and sorted every pending
one each time: after a burst or an outage, the longer the backlog, the longer each read.
SQLite's outcome index already holds the rowid, so it gets nothing new.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_deliveries_pending",
            "deliveries",
            ["id"],
            postgresql_where=sa.text("outcome = 'pending'"),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_deliveries_pending", table_name="deliveries")
