"""Catching up: how long the receiver's store takes to process a backlog of deliveries that
are committed but not processed, as after a PostgreSQL outage (the spool moved back in) or a
burst longer than processing keeps pace with.

    python -m bench.catchup                        # SQLite, and PostgreSQL when reachable
    python -m bench.catchup --pending 60000 --history 200000

Results also go to bench/results/catchup.json.

The database first holds ``--history`` processed deliveries, its statistics taken (as on a
database that has been in use: nothing pending), then ``--pending`` new 2.2 KB sales arrive
committed and unprocessed. The store's writer is told, as the spool's move tells it, that
deliveries wait in the database, and the clock runs until all are processed. Not a goal of
issue #6: a figure to compare changes with (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from bench.load import body_template
from bench.report import save_results
from bench.servers import postgres_available, postgres_schema, sqlite_url
from netpay_smart.store import Store
from netpay_smart.store.ingest import Incoming, insert_deliveries

_HISTORY = {
    "sqlite": (
        "INSERT INTO deliveries (received_at, body, size, truncated, outcome) "
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count) "
        "SELECT '2026-01-01 00:00:00.000000', randomblob(1100), 1100, 0, 'new' FROM g"
    ),
    "postgresql": (
        "INSERT INTO deliveries (received_at, body, size, truncated, outcome) "
        "SELECT now(), convert_to(repeat(md5(n::text), 35), 'UTF8'), 1120, false, 'new' "
        "FROM generate_series(1, :count) n"
    ),
}


@contextlib.contextmanager
def _databases(pg: bool) -> Iterator[list[tuple[str, str]]]:
    """(name, URL) of each database to measure, migrated, dropped afterwards."""
    with contextlib.ExitStack() as stack:
        found = [("sqlite", stack.enter_context(sqlite_url()))]
        base = postgres_available() if pg else None
        if base:
            found.append(("postgresql", stack.enter_context(postgres_schema(base))))
        yield found


def sale_bodies(count: int) -> list[bytes]:
    """``count`` 2.2 KB approved sales, each with its own orderId."""
    prefix, suffix = body_template()
    return [prefix + f"catchup-{n}".encode() + suffix for n in range(count)]


def run(name: str, url: str, *, pending: int, history: int) -> dict[str, Any]:
    store = Store.open(url, migrate=True)
    try:
        with store.engines.write.begin() as conn:
            if history:
                conn.execute(text(_HISTORY[name]), {"count": history})
        with store.engines.write.begin() as conn:
            # deliveries only: statistics saying ``transactions`` is empty (it is, here) make
            # PostgreSQL plan each result's look as a scan of it (BENCHMARKS.md).
            conn.execute(text("ANALYZE deliveries"))
        store.start()
        writer = store.writer
        assert writer is not None
        now = datetime.now(UTC)
        bodies = sale_bodies(pending)
        for start in range(0, pending, 500):
            with store.engines.write.begin() as conn:
                insert_deliveries(
                    conn, [Incoming(body=b, received_at=now) for b in bodies[start : start + 500]]
                )
        started, cpu = time.perf_counter(), time.process_time()
        # What the spool's move does once its bodies are in the database. The writer's own
        # thread does that; from here, one more result arriving wakes the thread to see it.
        writer._spill()
        asyncio.run(store.write(Incoming(body=sale_bodies(pending + 1)[-1], received_at=now)))
        while writer.processed < pending + 1:
            time.sleep(0.02)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        store.close()
    return {
        "database": name,
        "pending": pending,
        "history": history,
        "seconds": round(elapsed, 2),
        "us_per_delivery": round(elapsed / (pending + 1) * 1e6),
        "cpu_us_per_delivery": round(cpu / (pending + 1) * 1e6),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    results = []
    with _databases(not args.no_pg) as databases:
        for name, url in databases:
            results.append(run(name, url, pending=args.pending, history=args.history))
            r = results[-1]
            print(
                f"{name:<11} {r['pending']:>7,} pending after {r['history']:,} processed: "
                f"{r['seconds']:.1f} s, {r['us_per_delivery']} µs a delivery "
                f"({r['cpu_us_per_delivery']} µs of this process's CPU)",
                flush=True,
            )
    save_results("catchup", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
