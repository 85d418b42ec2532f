"""Database engines for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk before we acknowledge,
even across a power cut. Writers open with ``BEGIN IMMEDIATE`` so a transaction never has to
upgrade a read lock (which fails at once with SQLITE_BUSY, ignoring ``busy_timeout``); readers
use a separate engine with ordinary deferred transactions, so the dashboard never blocks ingest.

SQLite copies the WAL back into the database file inside the commit that takes it past
``CHECKPOINT_PAGES`` (SQLite's default is 1,000). A small copy often beats a large one seldom:
the commit that does it keeps a batch of terminals waiting, and the copy and its fsync take
time in proportion to the pages. Measured at saturation (16 connections, the receiver on one
CPU), the p99 of an acknowledgement: 1,000 pages 9.2-9.6 ms, 500 pages 7.4-7.9 ms, 250 pages
6.8-6.9 ms, 100 pages 6.5 ms but 7 % fewer acknowledgements per second (more fsyncs); a
checkpoint thread copying most of it beside a 4,000-page limit, 10.4-11.0 ms.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ..errors import ConfigurationError

__all__ = ["CHECKPOINT_PAGES", "DEFAULT_DATABASE_URL", "Engines", "normalise_url", "open_engines"]

DEFAULT_DATABASE_URL = "sqlite:///netpay-smart.sqlite3"

#: The WAL's size, in pages, at which a commit copies it back into the database file.
CHECKPOINT_PAGES = 250


def normalise_url(url: str) -> str:
    """Accept the URLs people write (``postgresql://``, ``postgres://``, a bare file path)."""
    url = url.strip()
    if not url:
        raise ConfigurationError("empty database URL", hint="e.g. sqlite:///netpay.sqlite3")
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    elif "://" not in url:
        url = f"sqlite:///{Path(url)}"
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"unsupported database {parsed.get_backend_name()!r}",
            hint="use sqlite:///FILE or postgresql://USER@HOST/DB",
        )
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


@dataclass(frozen=True)
class Engines:
    """One engine for the single writer, one for everything that only reads."""

    url: str
    write: Engine
    read: Engine

    @property
    def dialect(self) -> str:
        return self.write.dialect.name

    def dispose(self) -> None:
        self.write.dispose()
        self.read.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module (3.11 has no autocommit flag).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    cursor.close()


def _sqlite_writer_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    # A savepoint keeps the pages it changes in a statement journal, which SQLite moves to a
    # temporary file once it passes 64 KiB. Processing a chunk of results does, so every chunk
    # created, wrote and deleted a file. Kept in memory instead (saturation, 16 connections,
    # three alternating runs each): 49-55 -> 36-38 µs of system time per acknowledgement and
    # 4,680-5,140 -> 5,400-5,480 acknowledgements a second. Every write transaction is bounded
    # (processing at most 500 deliveries, purging 500 bodies), so is this memory. Readers keep
    # the default: a large export's sort belongs in a file.
    dbapi_connection.execute("PRAGMA temp_store=MEMORY")


def _begin(sql: str, connection: Connection) -> None:
    # On the driver: through exec_driver_sql the statement cost about 40 µs of SQLAlchemy,
    # and every acknowledgement's transaction begins here.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(sql)


def open_engines(url: str) -> Engines:
    """Create the engines for ``url``; nothing is connected until first use."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: an error message must never carry a body (names, signatures).
        write = create_engine(
            url, poolclass=NullPool if database == ":memory:" else None, hide_parameters=True
        )
        read = create_engine(url, hide_parameters=True)
        for engine, begin, pragmas in (
            (write, "BEGIN IMMEDIATE", _sqlite_writer_pragmas),
            (read, "BEGIN", _sqlite_pragmas),
        ):
            event.listen(engine, "connect", pragmas)
            event.listen(engine, "begin", functools.partial(_begin, begin))
        return Engines(url, write, read)
    # The writer's connection, one per processor thread (writer.PROCESSORS) and the API's
    # writes (pushes).
    write = create_engine(
        url, pool_size=6, max_overflow=4, pool_pre_ping=True, hide_parameters=True
    )
    read = create_engine(
        url, pool_size=5, max_overflow=10, pool_pre_ping=True, hide_parameters=True
    )
    return Engines(url, write, read)
