"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remote", sa.String(length=100), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("problems", sa.Text(), nullable=True),
        sa.Column("transaction_key", sa.String(length=120), nullable=True),
        sa.Column("push_id", sa.String(length=64), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_content_hash"), ["content_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deliveries_outcome"), ["outcome"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deliveries_transaction_key"), ["transaction_key"], unique=False
        )

    op.create_table(
        "pushes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("store_id", sa.String(length=40), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("folio_number", sa.String(length=250), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("traceability", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transaction_key", sa.String(length=120), nullable=True),
        sa.Column(
            "result_delivery_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("result_status", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushes")),
    )
    with op.batch_alter_table("pushes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pushes_folio_number"), ["folio_number"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_pushes_terminal_id_state"), ["terminal_id", "state"], unique=False
        )

    op.create_table(
        "transactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("terminal_id", sa.String(length=40), nullable=True),
        sa.Column("store_id", sa.String(length=40), nullable=True),
        sa.Column("folio_number", sa.String(length=250), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("response_code", sa.String(length=10), nullable=True),
        sa.Column("message", sa.String(length=250), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("tip_cents", sa.BigInteger(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("reprint_count", sa.Integer(), nullable=False),
        sa.Column("delivery_count", sa.Integer(), nullable=False),
        sa.Column("conflict_count", sa.Integer(), nullable=False),
        sa.Column("reprint_module", sa.String(length=5), nullable=True),
        sa.Column("card_brand", sa.String(length=60), nullable=True),
        sa.Column("card_type", sa.String(length=20), nullable=True),
        sa.Column("card_last4", sa.String(length=8), nullable=True),
        sa.Column("bank_name", sa.String(length=250), nullable=True),
        sa.Column("auth_code", sa.String(length=20), nullable=True),
        sa.Column("msi", sa.String(length=20), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("transaction_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("business_date", sa.String(length=10), nullable=True),
        sa.Column("business_hour", sa.Integer(), nullable=True),
        sa.Column("traceability", sa.Text(), nullable=True),
        sa.Column("push_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "first_delivery_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_transactions_first_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint("key", name=op.f("uq_transactions_key")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transactions_business_date_status"),
            ["business_date", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_transactions_folio_number"), ["folio_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transactions_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_transactions_store_id_business_date"),
            ["store_id", "business_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_transactions_terminal_id_business_date"),
            ["terminal_id", "business_date"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transactions_terminal_id_business_date"))
        batch_op.drop_index(batch_op.f("ix_transactions_store_id_business_date"))
        batch_op.drop_index(batch_op.f("ix_transactions_order_id"))
        batch_op.drop_index(batch_op.f("ix_transactions_folio_number"))
        batch_op.drop_index(batch_op.f("ix_transactions_business_date_status"))

    op.drop_table("transactions")
    with op.batch_alter_table("pushes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pushes_terminal_id_state"))
        batch_op.drop_index(batch_op.f("ix_pushes_folio_number"))

    op.drop_table("pushes")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_transaction_key"))
        batch_op.drop_index(batch_op.f("ix_deliveries_outcome"))
        batch_op.drop_index(batch_op.f("ix_deliveries_content_hash"))

    op.drop_table("deliveries")
