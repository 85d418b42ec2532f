"""SQL persistence: append-only deliveries, normalised transactions, registered pushes.

:class:`Store` is the one object the receiver holds: engines, the group-commit writer and the
queries, on SQLite (embedded default) or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from .._personal import Sealer
from .engine import DEFAULT_DATABASE_URL, Engines, open_engines
from .ingest import Applied, Incoming, count_pending, process_many, requeue_failed
from .migrate import upgrade
from .notify import announce, new_origin
from .queries import (
    PushRequest,
    TransactionFilter,
    daily_report,
    end_session,
    exceptions,
    get_push,
    get_transaction,
    get_transaction_by_key,
    iter_transactions,
    list_deliveries,
    list_transactions,
    purge_personal,
    register_push,
    session_expiry,
    start_session,
    update_push_state,
)
from .spool import DEFAULT_SPOOL_PATH, Spool, SpoolError
from .writer import StoreUnavailableError, Writer

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEFAULT_SPOOL_PATH",
    "Applied",
    "Incoming",
    "PushRequest",
    "Spool",
    "SpoolError",
    "Store",
    "StoreUnavailableError",
    "TransactionFilter",
]


class Store:
    """The database behind a receiver.

    >>> store = Store.open("sqlite:///:memory:")  # doctest: +SKIP
    """

    def __init__(
        self, engines: Engines, *, batch_max: int = 256, spool: Spool | None = None
    ) -> None:
        self.engines = engines
        self.batch_max = batch_max
        #: Where acknowledged bodies wait while PostgreSQL is unreachable (see ``spool.py``).
        self.spool = spool
        self.writer: Writer | None = None
        #: Opens sealed personal fields on one transaction's page (NETPAY_ENCRYPTION_KEY).
        self.sealer: Sealer | None = None
        #: Names this store's NOTIFYs on PostgreSQL, so its own listener skips them.
        self.origin = new_origin()

    @classmethod
    def open(cls, url: str = DEFAULT_DATABASE_URL, *, migrate: bool = False, **kw: Any) -> Store:
        """Open ``url``; with ``migrate`` bring its schema up to date first."""
        engines = open_engines(url)
        if migrate:
            upgrade(engines.url)
        return cls(engines, **kw)

    @property
    def dialect(self) -> str:
        return self.engines.dialect

    def upgrade(self) -> None:
        upgrade(self.engines.url)

    def start(
        self,
        *,
        on_applied: Callable[[list[Applied]], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.writer = Writer(
            self.engines,
            on_applied=on_applied,
            batch_max=self.batch_max,
            clock=clock,
            spool=self.spool,
            origin=self.origin,
        )
        self.writer.start()

    def stop(self) -> None:
        if self.writer is not None:
            self.writer.stop()
            self.writer = None

    def close(self) -> None:
        self.stop()
        self.engines.dispose()

    async def write(self, item: Incoming) -> int:
        if self.writer is None:
            raise StoreUnavailableError("the store is not started")
        return await self.writer.write(item)

    def ping(self) -> None:
        """Raise if the database cannot be reached; while the writer is refusing results
        (the last batch failed: a full disk, a file that cannot be written), raise unless a
        write goes through now."""
        from sqlalchemy import text

        with self.engines.read.connect() as connection:
            connection.execute(text("SELECT 1"))
        writer = self.writer
        if writer is not None and writer.refusing:
            with self.engines.write.begin() as connection:
                if self.dialect == "sqlite":
                    # Rewrites the header page with its own value: a write, changing nothing.
                    version = connection.exec_driver_sql("PRAGMA user_version").scalar()
                    connection.exec_driver_sql(f"PRAGMA user_version = {int(version or 0)}")
                else:
                    connection.execute(text("CREATE TEMPORARY TABLE netpay_ping (x int)"))
                    connection.execute(text("DROP TABLE netpay_ping"))
            writer.refusing = False

    def count_pending(self) -> int:
        """Deliveries stored and not processed yet, whichever replica stored them."""
        with self.engines.read.connect() as connection:
            return count_pending(connection)

    # Queries (synchronous; run them off the event loop).
    def list_transactions(self, filters: TransactionFilter, **kw: Any) -> dict[str, Any]:
        return list_transactions(self.engines, filters, **kw)

    def get_transaction(self, order_id: str) -> dict[str, Any] | None:
        return get_transaction(self.engines, order_id, sealer=self.sealer)

    def get_transaction_by_key(self, key: str) -> dict[str, Any] | None:
        return get_transaction_by_key(self.engines, key)

    def list_deliveries(self, **kw: Any) -> dict[str, Any]:
        return list_deliveries(self.engines, **kw)

    def daily_report(self, day: date) -> dict[str, Any]:
        return daily_report(self.engines, day)

    def exceptions(self, day: date, *, now: datetime) -> dict[str, Any]:
        return exceptions(self.engines, day, now=now)

    def iter_transactions(self, filters: TransactionFilter) -> Iterator[dict[str, Any]]:
        return iter_transactions(self.engines, filters)

    def purge_personal(self, before: datetime) -> int:
        return purge_personal(self.engines, before)

    def reprocess_failed(self, *, now: datetime) -> dict[str, int]:
        """Process again, once each, every delivery processing failed on (outcome ``error``):
        after a fix, or for a failure of the database's own that an older version recorded
        as ``error``. Returns how many ended in each outcome; safe while receivers run."""
        outcomes: dict[str, int] = {}
        last = 0
        while True:
            with self.engines.write.begin() as connection:
                work = requeue_failed(connection, after=last)
                if not work:
                    return outcomes
                applied = process_many(connection, work, now=now)
                announce(connection, applied, origin=self.origin)  # replicas wake waiters
            last = work[-1][0]
            for item in applied:
                outcomes[item.outcome] = outcomes.get(item.outcome, 0) + 1

    def register_push(self, request: PushRequest, *, now: datetime) -> dict[str, Any]:
        registered: dict[str, Any] = self._write(
            lambda: register_push(self.engines, request, now=now)
        )
        return registered

    def update_push_state(self, push_id: str, state: str, *, now: datetime) -> bool:
        return bool(self._write(lambda: update_push_state(self.engines, push_id, state, now=now)))

    def start_session(self, digest: str, *, now: datetime, expires_at: datetime) -> None:
        self._write(lambda: start_session(self.engines, digest, now=now, expires_at=expires_at))

    def session_expiry(self, digest: str) -> datetime | None:
        return session_expiry(self.engines, digest)

    def end_session(self, digest: str) -> None:
        self._write(lambda: end_session(self.engines, digest))

    def _write(self, fn: Callable[[], Any]) -> Any:
        """A write of the API's: on SQLite through the writer's thread (see ``Writer.call``)."""
        writer = self.writer
        return fn() if writer is None else writer.call(fn)

    def get_push(self, push_id: str, *, now: datetime) -> dict[str, Any] | None:
        return get_push(self.engines, push_id, now=now)
