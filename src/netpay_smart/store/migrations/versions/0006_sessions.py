"""sessions: the dashboard's sign-ins, so that signing out ends them on every replica

A session cookie was an expiry signed with the API token: nothing could end it before its
12 hours (signing out only deleted the browser's copy), and a stolen cookie let its holder
test guesses of the token offline. Now the cookie is a random value whose SHA-256 is a row
here, deleted at sign-out.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_sessions_expires_at", table_name="sessions")
    op.drop_table("sessions")
