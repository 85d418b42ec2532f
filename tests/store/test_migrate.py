"""Alembic migrations go up, down to nothing and up again on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from netpay_smart.store import Store
from netpay_smart.store.migrate import current_revision, downgrade, head_revision, upgrade
from netpay_smart.store.schema import exists_on, metadata

from .helpers import deliver, real_sale

TABLES = {"deliveries", "transactions", "pushes", "sessions"}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(store: Store) -> None:
    """upgrade, downgrade to base, then upgrade again: the schema and revision come back."""
    url = store.engines.url
    head = head_revision(url)
    assert head is not None
    assert current_revision(store.engines.write) == head
    assert _tables(url) == TABLES == set(metadata.tables)

    downgrade(url, "base")
    assert _tables(url) == set()
    assert current_revision(store.engines.write) is None

    upgrade(url)
    assert _tables(url) == TABLES
    assert current_revision(store.engines.write) == head
    assert deliver(store, real_sale()).outcome == "new"


def test_upgrade_twice_is_a_no_op(store: Store) -> None:
    """Upgrading an up-to-date database changes nothing and keeps its rows."""
    deliver(store, real_sale())
    store.upgrade()
    assert current_revision(store.engines.write) == head_revision(store.engines.url)
    assert deliver(store, real_sale()).outcome == "duplicate"


def test_migrated_schema_matches_the_metadata(store: Store) -> None:
    """Autogenerate finds no difference between the migrated database and schema.py."""
    with store.engines.write.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda _o, name, kind, _r, _c: exists_on(
                    store.dialect, name, kind
                ),
            },
        )
        assert compare_metadata(context, metadata) == []


def _index_definitions(store: Store) -> dict[str, str]:
    """The deliveries table's index definitions, as the database itself prints them."""
    if store.dialect == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'deliveries' AND sql != ''"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'deliveries'"
    with store.engines.write.connect() as conn:
        return {name: sql or "" for name, sql in conn.exec_driver_sql(query)}


def test_columns_null_until_processing_are_indexed_once_set(store: Store) -> None:
    """content_hash and transaction_key are indexed only where not NULL (an acknowledgement
    leaves them NULL), and the duplicate check still finds an earlier copy."""
    found = _index_definitions(store)
    for column in ("content_hash", "transaction_key"):
        definition = " ".join(found[f"ix_deliveries_{column}"].split())
        assert f"WHERE {column} IS NOT NULL" in definition.replace("(", "").replace(")", "")
    deliver(store, real_sale())
    assert deliver(store, real_sale()).outcome == "duplicate"
