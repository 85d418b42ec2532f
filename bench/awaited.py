"""A cashier waiting: ``sale(wait=True)`` while the receiver has a backlog to work through.

    python -m bench.awaited                      # SQLite, and PostgreSQL when reachable
    python -m bench.awaited --pending 60000 --no-pg

Two situations, each on a receiver of its own (``netpay-smart serve``, pinned to CPU 0):

- **restart**: the database holds ``--pending`` results committed and never processed (what a
  crash under load leaves, or the spool moved back after an outage). Measured: seconds from
  starting the receiver until ``/readyz`` answers (and, for comparison, with nothing
  pending), then sales one after another while it catches up.
- **burst**: ``wrk`` posts results nobody waits for at 16 connections for ``--seconds`` (more
  than the receiver processes as they come: a backlog grows), and sales go through meanwhile.

Each sale is pushed to the sandbox (a zero-delay terminal, in this process) and waited for on
the receiver; the figure is the SDK call, push to outcome. Not a goal of issue #6; results
also go to bench/results/awaited.json (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bench import e2e, load, servers
from bench.catchup import sale_bodies
from bench.load import percentiles
from bench.report import save_results
from netpay_smart.client import Client
from netpay_smart.store import Store
from netpay_smart.store.ingest import Incoming, insert_deliveries


@contextlib.contextmanager
def _database(name: str, base: str | None) -> Iterator[str]:
    if name == "sqlite":
        with servers.sqlite_url() as url:
            yield url
    else:
        assert base is not None
        with servers.postgres_schema(base) as url:
            yield url


def _leave_pending(url: str, count: int) -> None:
    """``count`` 2.2 KB sales committed and not processed, as a crash leaves them."""
    store = Store.open(url, migrate=True)
    try:
        now = datetime.now(UTC)
        bodies = sale_bodies(count)
        for first in range(0, count, 500):
            with store.engines.write.begin() as conn:
                chunk = bodies[first : first + 500]
                insert_deliveries(conn, [Incoming(body=body, received_at=now) for body in chunk])
    finally:
        store.close()


def _sales(client: Client, state: Any, *, until: float, gap: float) -> list[dict[str, Any]]:
    """Sales one after another until the monotonic time ``until``; each one's figures."""
    done: list[dict[str, Any]] = []
    while time.monotonic() < until:
        e2e.wait_idle(state, 60)
        started = time.perf_counter()
        try:
            outcome = client.sale(
                serial_number=e2e.SERIAL, store_id=e2e.STORE, amount=Decimal("1.00"), wait=True,
                timeout=60,
            )  # fmt: skip
            status = str(outcome.status)
        except Exception as exc:  # a timeout is a figure too
            status = type(exc).__name__
        done.append({"ms": round((time.perf_counter() - started) * 1000, 1), "status": status})
        time.sleep(gap)
    return done


def _client(sandbox_url: str, receiver: servers.Server) -> Client:
    return Client(
        base_url=sandbox_url, username="Nacional", password="netpay", receiver_url=receiver.base,
        api_token=servers.TOKEN,
    )  # fmt: skip


def restart(name: str, base: str | None, pending: int) -> dict[str, Any]:
    """Start a receiver on a database with ``pending`` results left unprocessed."""
    found: dict[str, Any] = {"database": name, "pending": pending}
    for left in (0, pending):
        with _database(name, base) as url:
            _leave_pending(url, left)
            began = time.monotonic()
            with servers.receiver(url) as server:
                ready = time.monotonic() - began
                found["ready_s" if left else "ready_s_nothing_pending"] = round(ready, 2)
                if not left:
                    continue
                with (
                    e2e.sandbox(server.webhook_url) as (sandbox_url, state),
                    _client(sandbox_url, server) as client,
                ):
                    sales = _sales(client, state, until=time.monotonic() + 5, gap=0.25)
                found["sales"] = sales
                found["sale_ms"] = percentiles([s["ms"] / 1000 for s in sales])
    return found


def _awaited_template() -> tuple[bytes, bytes]:
    """The load's body with a push id in ``traceability``, as the SDK's pushes come back."""
    prefix, suffix = load.body_template()
    marked = suffix.replace(b'"traceability": {', b'"traceability": {"npsPushId": "load",', 1)
    assert marked != suffix
    return prefix, marked


def burst(name: str, base: str | None, seconds: float, *, awaited: bool) -> dict[str, Any]:
    """Sales while wrk saturates the receiver with results nobody waits for (``awaited``:
    results of pushes made through netpay-smart, each one some POS may be waiting for)."""
    with (
        _database(name, base) as url,
        servers.receiver(url) as server,
        e2e.sandbox(server.webhook_url) as (sandbox_url, state),
        _client(sandbox_url, server) as client,
    ):
        # A first sale before the load: the token, the connections.
        client.sale(serial_number=e2e.SERIAL, store_id=e2e.STORE, amount=Decimal("1.00"))
        e2e.wait_idle(state, 60)
        wrk: dict[str, Any] = {}
        template = _awaited_template() if awaited else None

        def post() -> None:
            wrk.update(
                load.run_wrk(
                    server.webhook_url, connections=16, duration=seconds, template=template
                )
            )

        thread = threading.Thread(target=post)
        thread.start()
        sales = _sales(client, state, until=time.monotonic() + seconds - 0.5, gap=0.25)
        thread.join()
    return {
        "database": name,
        "awaited": awaited,
        "seconds": seconds,
        "acks_per_s": round(wrk.get("acks_per_s", 0)),
        "sales": sales,
        "sale_ms": percentiles([s["ms"] / 1000 for s in sales]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    if not load.wrk_available():
        print("bench.awaited needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    base = None if args.no_pg else servers.postgres_available()
    results: list[dict[str, Any]] = []
    for name in ("sqlite", "postgresql") if base else ("sqlite",):
        r = restart(name, base, args.pending)
        results.append({"situation": "restart", **r})
        print(
            f"{name:<11} restart, {r['pending']:,} pending: ready after {r['ready_s']:.2f} s "
            f"({r['ready_s_nothing_pending']:.2f} s with none); {len(r['sales'])} sales, "
            f"p50 {r['sale_ms']['p50']:.0f} ms, max {r['sale_ms']['max']:.0f} ms",
            flush=True,
        )
        for awaited in (False, True):
            b = burst(name, base, args.seconds, awaited=awaited)
            results.append({"situation": "burst", **b})
            print(
                f"{name:<11} burst, {b['acks_per_s']:,} results/s "
                f"{'with push ids' if awaited else 'nobody waits for'}: "
                f"{len(b['sales'])} sales, p50 {b['sale_ms']['p50']:.0f} ms, "
                f"max {b['sale_ms']['max']:.0f} ms",
                flush=True,
            )
    save_results("awaited", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
