"""Statements on the driver (``store/_fast.py``): the cursor they run on, rows they update."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from netpay_smart.store import Store
from netpay_smart.store._fast import driver_cursor, pipeline, synced, update_row
from netpay_smart.store.schema import transactions

from .helpers import NOW, deliver, sale


def test_the_driver_cursor_follows_a_connection_the_pool_replaced(store: Store) -> None:
    """PostgreSQL reuses one cursor per connection; once the connection is invalidated and
    replaced (a database that went away), the next statement gets a cursor of the new
    connection, not the closed one. SQLite hands out a new cursor each time."""
    with store.engines.write.connect() as conn:
        first = driver_cursor(conn)
        again = driver_cursor(conn)
        assert (again is first) == (store.dialect == "postgresql")
        conn.invalidate()
        conn.rollback()
        conn.exec_driver_sql("SELECT 1")  # reconnects
        replaced = driver_cursor(conn)
        assert replaced is not first
        assert replaced.execute("SELECT 2").fetchone()[0] == 2


def test_update_row_sets_the_columns_given_on_the_row_with_that_key(store: Store) -> None:
    """Only the named columns of the row with that key change; a name that is not a column
    is refused before anything is sent."""
    applied = [deliver(store, sale(order_id)) for order_id in ("u-1", "u-2")]
    keys = [a.transaction_key for a in applied]
    assert None not in keys
    with store.engines.write.begin() as conn:
        update_row(conn, transactions, {"status": "reversed", "updated_at": NOW}, key=str(keys[0]))
        with pytest.raises(KeyError, match="not columns of transactions"):
            update_row(conn, transactions, {"no_such_column": 1}, key=str(keys[0]))

    with store.engines.read.connect() as conn:
        rows = conn.execute(
            select(transactions.c.key, transactions.c.status, transactions.c.updated_at)
        ).all()
    found = {row.key: (row.status, row.updated_at) for row in rows}
    assert found[keys[0]] == ("reversed", NOW)
    assert found[keys[1]][0] == "approved"


def test_an_error_in_a_pipeline_is_raised_not_the_abort_after_it(store: Store) -> None:
    """An error that comes back with a later statement of a pipeline is the one ``synced``
    raises, not the ``PipelineAborted`` the sync then reports (an OperationalError, which
    processing takes for the database failing and retries forever)."""
    if store.dialect != "postgresql":
        pytest.skip("pipelines are PostgreSQL's")
    import psycopg

    with (
        store.engines.write.connect() as connection,
        connection.begin(),
        pytest.raises(psycopg.Error) as raised,
        pipeline(connection) as sync,
        synced(sync),
    ):
        cursor = driver_cursor(connection)
        cursor.execute("SELECT 1 / 0")  # sent, its answer not read
        cursor.execute("SELECT 2")  # queued behind it: aborted
        time.sleep(0.3)  # the error's answer arrives meanwhile
        cursor.execute("SELECT 3")  # sending this reads what arrived: raises
    assert isinstance(raised.value, psycopg.errors.DivisionByZero), repr(raised.value)
