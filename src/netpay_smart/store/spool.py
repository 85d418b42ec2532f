"""The local spool: where acknowledged bodies wait while PostgreSQL cannot be reached.

A SQLite file (WAL, ``synchronous=FULL``) on the receiver's own disk. When a commit to
PostgreSQL fails, the writer appends the batch here instead and acknowledges it: the body is
on disk either way. From then on every batch goes to the spool, so nothing overtakes what is
already waiting, until the writer has moved the whole spool back into PostgreSQL, oldest
first. Each spooled body carries a key into the database, which refuses a key twice, so a
crash between the database commit and the delete here moves nothing twice. The key is the
one the writer gave the body before it first tried the database (:attr:`Incoming.key`): when
that commit was in doubt (the database went away before it answered) but did happen, moving
the body inserts nothing. A body spooled without one (a file from before keys were kept)
gets a key unique to this file and row (``AUTOINCREMENT``: a row id is never reused).

The spool has a size cap (``max_bytes``); a full or unwritable spool raises
:class:`SpoolError`, and the receiver answers 503 rather than acknowledge what it cannot keep.

Only the writer thread appends, reads and deletes; :meth:`Spool.probe` opens a connection of
its own, so ``/readyz`` can check the file from any thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from .ingest import Incoming

__all__ = ["DEFAULT_SPOOL_PATH", "Spool", "SpoolError"]

DEFAULT_SPOOL_PATH = "netpay-smart-spool.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spooled (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    remote TEXT,
    body BLOB NOT NULL,
    truncated INTEGER NOT NULL,
    error TEXT,
    key TEXT
);
"""


class SpoolError(Exception):
    """The spool could not keep a body (unwritable, full, or not opened)."""


class Spool:
    """A durable FIFO of :class:`Incoming` bodies in one SQLite file.

    >>> spool = Spool("/var/lib/netpay/spool.sqlite3")  # doctest: +SKIP
    >>> spool.open(); spool.append([incoming])  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, max_bytes: int = 1024 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._db: sqlite3.Connection | None = None
        self._file_id = ""
        #: Bodies waiting, as of the last operation on the writer thread.
        self.depth = 0
        #: The last reason the spool refused a write, until a write succeeds again.
        self.error: str | None = None

    def open(self) -> None:
        """Create or reopen the file; raises :class:`SpoolError` if it cannot be written."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                self._configure(db)
                db.executescript(_SCHEMA)
                columns = {row[1] for row in db.execute("PRAGMA table_info(spooled)")}
                if "key" not in columns:  # a spool written before keys were kept
                    db.execute("ALTER TABLE spooled ADD COLUMN key TEXT")
                db.execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES ('file_id', ?)",
                    (uuid.uuid4().hex[:16],),
                )
                self._file_id = db.execute(
                    "SELECT value FROM meta WHERE name = 'file_id'"
                ).fetchone()[0]
                self.depth = db.execute("SELECT count(*) FROM spooled").fetchone()[0]
            except BaseException:
                db.close()
                raise
        except (OSError, sqlite3.Error) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            raise SpoolError(f"cannot open the spool at {self.path}: {exc}") from exc
        self._db = db
        self.error = None

    def _configure(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={max(16, self.max_bytes // page_size)}")

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def key(self, spool_id: int) -> str:
        """The key of a row spooled without one of its own: this file, this row."""
        return f"{self._file_id}:{spool_id}"

    def append(self, items: Sequence[Incoming]) -> list[int]:
        """Store ``items`` durably (one fsync); returns their spool ids, in order."""
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                ids = [
                    db.execute(
                        "INSERT INTO spooled (received_at, remote, body, truncated, error, key) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            item.received_at.isoformat(),
                            item.remote,
                            item.body,
                            int(item.truncated),
                            item.error,
                            item.key,
                        ),
                    ).lastrowid
                    or 0
                    for item in items
                ]
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            raise SpoolError(f"the spool refused {len(items)} bodies: {exc}") from exc
        self.error = None
        self.depth += len(items)
        return ids

    def oldest(self, limit: int) -> list[tuple[int, Incoming]]:
        """Up to ``limit`` spooled bodies, oldest first."""
        rows = self._connection().execute(
            "SELECT id, received_at, remote, body, truncated, error, key FROM spooled "
            "ORDER BY id LIMIT ?",
            (limit,),
        )
        taken = [
            (
                spool_id,
                Incoming(
                    body=bytes(body),
                    received_at=datetime.fromisoformat(received_at),
                    remote=remote,
                    truncated=bool(truncated),
                    error=error,
                    key=key,
                ),
            )
            for spool_id, received_at, remote, body, truncated, error, key in rows
        ]
        if not taken:
            self.depth = 0
        return taken

    def remove(self, up_to: int) -> None:
        """Forget every body up to spool id ``up_to`` (they are in the database now)."""
        db = self._connection()
        db.execute("DELETE FROM spooled WHERE id <= ?", (up_to,))
        self.depth = db.execute("SELECT count(*) FROM spooled").fetchone()[0]
        self.error = None  # room again (a full spool's pages are reused)

    def probe(self) -> str | None:
        """Check, on a connection of its own, that the file takes a durable write.

        Returns ``None`` when it does, else the reason.
        """
        if self._db is None:
            return self.error or "not opened"
        try:
            # mode=rw: a probe never creates a file the writer does not know about.
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None, timeout=1
            )
            try:
                self._configure(db)
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES ('probed_at', ?)",
                    (datetime.now(UTC).isoformat(),),
                )
                db.execute("COMMIT")
            finally:
                db.close()
        except (OSError, sqlite3.Error) as exc:
            return f"{type(exc).__name__}: {exc}"
        return self.error

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.open()
        assert self._db is not None
        return self._db
