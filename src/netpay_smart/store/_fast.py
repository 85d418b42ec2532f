"""Prebuilt statements run on the driver's own cursor.

Processing runs three or four statements per delivery. Through ``Connection.execute`` each costs
some 35 µs of SQLAlchemy on this kind of machine, through the driver about 2 µs: most of the
processing time. So the statements processing runs for every delivery are written by
SQLAlchemy once per dialect (SQL text, parameter order, literal values) and then handed to the
driver directly, inside the same transaction. On PostgreSQL a chunk's statements go out
together, not one round trip each (:meth:`Prebuilt.many`, :func:`pipeline`).

Only values both drivers take as they are may be bound: ``str``, ``int``, ``bool``, ``None``
and aware ``datetime`` (turned into the naive UTC text :class:`~.schema.UTCDateTime` stores on
SQLite; PostgreSQL takes it as it is).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = [
    "Prebuilt",
    "driver_cursor",
    "first_rows",
    "insert_row",
    "pipeline",
    "savepoint",
    "synced",
    "update_row",
]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # parameter names in SQL order (qmark), else named
    fixed: dict[str, Any]  # literal values the statement itself carries
    required: frozenset[str]  # names each call must give


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: netpay-smart stores aware datetimes only")
        # The text SQLAlchemy's DATETIME writes on SQLite: "2026-11-22 19:00:00.000000".
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


class Prebuilt:
    """A statement compiled once per dialect, executed on the DBAPI cursor.

    >>> claim = Prebuilt(update(deliveries).where(deliveries.c.id == bindparam("d")))
    >>> claim(connection, {"d": 7}).rowcount  # doctest: +SKIP
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, connection: Connection) -> _Compiled:
        dialect = connection.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            plain = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            required = frozenset(name for name, bind in plain.binds.items() if bind.required)
            # IN lists of literals are rendered now (placeholders for the values each call
            # gives), not at every execution.
            state = plain.construct_expanded_state({name: None for name in required})
            order = tuple(state.positiontup) if state.positiontup else None
            fixed = {k: v for k, v in state.parameters.items() if k not in required}
            found = _Compiled(state.statement, order, fixed, required)
            self._compiled[dialect.name] = found
        return found

    def __call__(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """Run with ``params``; returns the driver's cursor (``rowcount``, ``fetchone()``),
        to be read before the next statement (see :func:`driver_cursor`)."""
        compiled = self._compile(connection)
        values = _bound(compiled, params)
        if compiled.order is not None:  # qmark (SQLite): values in the order the SQL names them
            return _execute(connection, compiled.sql, [values[n] for n in compiled.order])
        return _execute(connection, compiled.sql, values)

    def many(self, connection: Connection, params: list[Mapping[str, Any]]) -> list[Any]:
        """PostgreSQL: run once for each set of values, all sent before any answer is read
        (one round trip); returns the first row of each answer, in order."""
        if connection.dialect.name != "postgresql":
            raise NotImplementedError("sending statements together is PostgreSQL's")
        if not params:
            return []
        compiled = self._compile(connection)
        bound = [_bound(compiled, values) for values in params]
        return first_rows(driver_cursor(connection, ":many"), compiled.sql, bound)


def first_rows(cursor: Any, sql: str, params: Sequence[Any]) -> list[Any]:
    """PostgreSQL: ``sql`` run once for each set of ``params`` (non-empty), all sent before
    any answer is read (psycopg's ``executemany``); the first row of each answer, in order
    (``None`` for an answer without rows)."""
    cursor.executemany(sql, params, returning=True)
    rows = [cursor.fetchone()]
    while cursor.nextset():
        rows.append(cursor.fetchone())
    return rows


def _bound(compiled: _Compiled, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with the statement's own literal values, once each required one is given."""
    if not compiled.required <= params.keys():
        raise KeyError(f"missing values for {sorted(compiled.required - params.keys())}")
    return {**compiled.fixed, **params}


def driver_cursor(connection: Connection, purpose: str = "") -> Any:
    """A cursor of the driver's, in the connection's transaction.

    On PostgreSQL it is the connection's own, reused: psycopg gives every new cursor its own
    copy of the adapters, about 25 µs a statement here (a processed chunk of one runs ten).
    So whoever runs a statement on it reads the answer before the next statement runs (in a
    :func:`pipeline`, the answers of the statements before it are skipped). An
    ``executemany`` that returns rows has a cursor of its own (``purpose``): on the shared
    one, answers still awaited from statements sent before it would be taken for its own.
    SQLite cursors cost nothing: a new one each time.
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    if connection.dialect.name != "postgresql":
        return driver.cursor()
    # info lives as long as the DBAPI connection: SQLAlchemy empties it when the pool
    # replaces an invalidated one.
    name = _CURSOR + purpose
    cursor = connection.info.get(name)
    if cursor is None or cursor.closed:
        cursor = connection.info[name] = driver.cursor()
    return cursor


_CURSOR = "netpay_cursor"


_INSERTS: dict[tuple[str, str, tuple[str, ...], str], str] = {}


def _insert_sql(connection: Connection, table: Table, names: tuple[str, ...], suffix: str) -> str:
    """The INSERT text for these columns, written once per dialect, table and column list."""
    key = (connection.dialect.name, table.name, names, suffix)
    sql = _INSERTS.get(key)
    if sql is None:
        quote = connection.dialect.identifier_preparer.quote
        columns = ", ".join(quote(name) for name in names)
        marks = ", ".join(_marks(connection, table, names))
        sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks}) {suffix}"  # noqa: S608
        _INSERTS[key] = sql
    return sql


def _marks(connection: Connection, table: Table, names: tuple[str, ...]) -> list[str]:
    """A placeholder per column (``?``, or ``%(name)s`` on PostgreSQL), once every name is
    known to be a column of ``table``: only those reach the SQL text; every value is bound."""
    unknown = set(names) - set(table.c.keys())
    if unknown:
        raise KeyError(f"not columns of {table.name}: {sorted(unknown)}")
    qmark = connection.dialect.paramstyle == "qmark"
    return ["?" if qmark else f"%({name})s" for name in names]


def insert_row(connection: Connection, table: Table, row: Mapping[str, Any], suffix: str) -> Any:
    """``INSERT INTO table (row's columns) VALUES (...) suffix`` on the driver's cursor; only
    the columns given (SQLAlchemy would add every column that has a default)."""
    sql = _insert_sql(connection, table, tuple(row), suffix)
    qmark = connection.dialect.paramstyle == "qmark"
    return _execute(connection, sql, list(row.values()) if qmark else row)


def update_row(
    connection: Connection, table: Table, values: Mapping[str, Any], *, key: str
) -> None:
    """``UPDATE table SET (values' columns) WHERE key = key`` on the driver's cursor."""
    sql = _update_sql(connection, table, tuple(values))
    if connection.dialect.paramstyle == "qmark":
        _execute(connection, sql, [*values.values(), key])
    else:
        _execute(connection, sql, {**values, "netpay_key": key})


def _execute(connection: Connection, sql: str, values: list[Any] | Mapping[str, Any]) -> Any:
    """Run ``sql`` on :func:`driver_cursor`; SQLite's values (a list) made storable first."""
    if isinstance(values, list):
        values = [_sqlite_value(value) for value in values]
    return driver_cursor(connection).execute(sql, values)


_UPDATES: dict[tuple[str, str, tuple[str, ...]], str] = {}


def _update_sql(connection: Connection, table: Table, names: tuple[str, ...]) -> str:
    """The UPDATE text for these columns by ``key``, written once per dialect, table and
    column list."""
    key = (connection.dialect.name, table.name, names)
    sql = _UPDATES.get(key)
    if sql is None:
        quote = connection.dialect.identifier_preparer.quote
        marks = _marks(connection, table, names)
        sets = ", ".join(f"{quote(name)} = {mark}" for name, mark in zip(names, marks, strict=True))
        if "key" not in table.c:
            raise KeyError(f"not columns of {table.name}: ['key']")
        # Its own name: "key" may be among the columns set, too.
        where = "?" if connection.dialect.paramstyle == "qmark" else "%(netpay_key)s"
        sql = f"UPDATE {quote(table.name)} SET {sets} WHERE {quote('key')} = {where}"  # noqa: S608
        _UPDATES[key] = sql
    return sql


@contextlib.contextmanager
def savepoint(connection: Connection, name: str) -> Iterator[None]:
    """A savepoint on the driver: released on success, rolled back to on an exception.

    ``Connection.begin_nested()`` costs about 230 µs on SQLite here (two statements through
    SQLAlchemy plus its bookkeeping), the driver about 5; processing takes one per batch.
    """
    cursor = driver_cursor(connection)
    cursor.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        cursor = driver_cursor(connection)
        cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
        cursor.execute(f"RELEASE SAVEPOINT {name}")
        raise
    driver_cursor(connection).execute(f"RELEASE SAVEPOINT {name}")


@contextlib.contextmanager
def pipeline(connection: Connection, enabled: bool = True) -> Iterator[Callable[[], None]]:
    """PostgreSQL: statements are sent without waiting for each answer, until one is read.

    A statement whose answer nobody reads (an update, an insert) then costs about 18 µs of
    CPU and no round trip, against 45 µs and a round trip on its own. Reading a result
    (``fetchone()``) sends what is queued and waits for it; so does the ``sync`` this yields,
    which raises the first error of anything queued (the statements queued after it did not
    run). ``rowcount`` is not known until then: what the block runs must not depend on it.
    Without ``enabled``, and on SQLite, statements run one by one and ``sync`` does nothing.
    """
    if not enabled or connection.dialect.name != "postgresql":
        yield _nothing
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.pipeline() as pipe:
        yield pipe.sync


def _nothing() -> None:
    """``sync`` where statements already run one by one."""


@contextlib.contextmanager
def synced(sync: Callable[[], None]) -> Iterator[None]:
    """Wait for every answer of the block's statements (``sync`` from :func:`pipeline`) as it
    ends, so an error in any of them is raised here.

    When the block itself raises, that error is the one to act on, not the sync's: a write's
    refusal can come back with a later statement, and the sync after it then only says the
    pipeline was aborted (``PipelineAborted``, an ``OperationalError``). Raised instead, it
    read as the database failing, and processing left a delivery it refused pending, to fail
    again at every retry.
    """
    try:
        yield
    except Exception:
        with contextlib.suppress(Exception):
            sync()  # the pipeline is usable again after it
        raise
    sync()
