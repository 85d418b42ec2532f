"""The tables, as SQLAlchemy Core metadata. Alembic's migrations create exactly these.

- ``deliveries``: append-only, every body a terminal posted, byte for byte (card numbers
  scrubbed), with what processing made of it.
- ``transactions``: one row per sale or cancellation, whatever how many times it was delivered
  or reprinted. ``key`` is the idempotency key.
- ``pushes``: what the SDK registered before pushing, and the result that completed it.
- ``sessions``: the dashboard's sign-ins, by the SHA-256 of the cookie (deleted at sign-out).

Money is stored in integer cents; timestamps in UTC and returned aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)

__all__ = [
    "UTCDateTime",
    "deliveries",
    "exists_on",
    "metadata",
    "pushes",
    "sessions",
    "transactions",
]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC (SQLite has no time zones, PostgreSQL gets timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: netpay-smart stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Names of the indexes created on PostgreSQL only (:func:`_postgresql_only`).
_POSTGRESQL_ONLY: set[str] = set()


def _postgresql_only(index: Index) -> Index:
    """``index``, created on PostgreSQL only (``ddl_if``), and known as such to
    :func:`exists_on`."""
    assert index.name is not None
    _POSTGRESQL_ONLY.add(str(index.name))
    return index.ddl_if(dialect="postgresql")


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("remote", String(100)),
    Column("body", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("truncated", Boolean, nullable=False, default=False),
    # sha256 of the body's canonical JSON (sorted keys): equal bodies are re-deliveries.
    Column("content_hash", String(64)),
    # pending until processed; then: new, duplicate, conflict, reprint, probe, invalid,
    # unrecognised, too_large, error
    Column("outcome", String(20), nullable=False, default="pending"),
    Column("kind", String(20)),
    Column("error", Text),
    Column("problems", Text),  # JSON list of normaliser problems
    Column("transaction_key", String(120)),
    Column("push_id", String(64)),
    Column("processed_at", UTCDateTime),
    # Set for a body acknowledged from the local spool while PostgreSQL was down: moving it
    # twice (a crash between the database commit and the spool delete) inserts nothing.
    Column("spool_key", String(64)),
    # Both are NULL until processing sets them: left out of the indexes until then, so an
    # acknowledgement's insert updates two indexes fewer (6.4 → 4.1 WAL pages on SQLite).
    Index(
        None,
        "content_hash",
        sqlite_where=text("content_hash IS NOT NULL"),
        postgresql_where=text("content_hash IS NOT NULL"),
    ),
    Index(None, "outcome"),
    Index(
        None,
        "transaction_key",
        sqlite_where=text("transaction_key IS NOT NULL"),
        postgresql_where=text("transaction_key IS NOT NULL"),
    ),
    # PostgreSQL: the deliveries still to process, oldest first, read without sorting them
    # all (its outcome index holds them in the order of their place in the table, so after a
    # burst every read of the next few sorted thousands: 3 ms at 20,000 pending, 0.04 this
    # way). SQLite's outcome index holds the rowid: it needs no other.
    _postgresql_only(
        Index("ix_deliveries_pending", "id", postgresql_where=text("outcome = 'pending'"))
    ),
    Index(
        "ix_deliveries_spool_key",
        "spool_key",
        unique=True,
        sqlite_where=text("spool_key IS NOT NULL"),
        postgresql_where=text("spool_key IS NOT NULL"),
    ),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("key", String(120), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),  # sale | cancellation
    Column("order_id", String(64)),
    Column("terminal_id", String(40)),
    Column("store_id", String(40)),
    Column("folio_number", String(250)),
    Column("status", String(20), nullable=False),
    Column("approved", Boolean, nullable=False),
    Column("response_code", String(10)),
    Column("message", String(250)),
    Column("amount_cents", BigInteger),
    Column("tip_cents", BigInteger),
    Column("cancelled", Boolean, nullable=False, default=False),
    Column("reprint_count", Integer, nullable=False, default=0),
    Column("delivery_count", Integer, nullable=False, default=1),
    Column("conflict_count", Integer, nullable=False, default=0),
    Column("reprint_module", String(5)),
    Column("card_brand", String(60)),
    Column("card_type", String(20)),
    Column("card_last4", String(8)),
    Column("bank_name", String(250)),
    Column("auth_code", String(20)),
    Column("msi", String(20)),
    Column("transaction_id", String(64)),
    Column("transaction_at", UTCDateTime),
    Column("business_date", String(10)),  # YYYY-MM-DD in America/Mexico_City
    Column("business_hour", Integer),  # 0-23 in America/Mexico_City, for hourly volume
    Column("traceability", Text),  # JSON
    Column("push_id", String(64)),
    Column("source", String(20), nullable=False),  # result | reprint (row built from a reprint)
    Column("content_hash", String(64), nullable=False),
    Column(
        "first_delivery_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("deliveries.id"),
        nullable=False,
    ),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "order_id"),
    Index(None, "folio_number"),
    Index(None, "terminal_id", "business_date"),
    Index(None, "store_id", "business_date"),
    Index(None, "business_date", "status"),
    # The dashboard's "today, newest first": the index is walked backwards, no sort.
    Index(None, "business_date", "id"),
)

pushes = Table(
    "pushes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),  # sale | reprint | cancel
    Column("terminal_id", String(40), nullable=False),
    Column("store_id", String(40)),
    Column("amount_cents", BigInteger),
    Column("folio_number", String(250)),
    Column("order_id", String(64)),
    Column("traceability", Text),
    # registered -> sent -> completed; or failed (push refused) / expired (no result in time)
    Column("state", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Column("transaction_key", String(120)),
    Column("result_delivery_id", BigInteger().with_variant(Integer, "sqlite")),
    Column("result_status", String(20)),
    Index(None, "terminal_id", "state"),
    Index(None, "folio_number"),
)


sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # hex SHA-256 of the cookie's random value
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)


def exists_on(dialect: str, name: str | None, kind: str) -> bool:
    """Whether the schema object ``name`` of ``kind`` ("table", "index", ...) is created on
    ``dialect``: Alembic's comparison of a database with this metadata asks
    (``include_object``), as it does not read ``ddl_if``."""
    return not (kind == "index" and name in _POSTGRESQL_ONLY and dialect != "postgresql")
