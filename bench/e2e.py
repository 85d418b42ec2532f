"""End to end on loopback: ``client.sale(wait=True)`` against the sandbox (card time zero) until
the outcome is back from the receiver.

- SQLite: one receiver (subprocess, CPU 0); the sandbox runs in this process (a uvicorn thread)
  and posts its results to the receiver; the SDK waits on the same receiver. 200 sequential
  sales (quick: 50), p50/p99 of the SDK call.
- PostgreSQL: two receiver replicas on one database; the sandbox posts to replica B while the
  SDK waits on replica A (the wake-up crosses replicas through LISTEN/NOTIFY).

Also checked, with a counting transport on the SDK's two HTTP clients: N sales cost N + 1
requests to the gateway (one token), and each client opens one connection for all of them.

Goals (issue #6): SQLite p50 ≤ 20 ms and p99 ≤ 50 ms; PostgreSQL across two replicas p99 ≤
100 ms; N pushes = N + 1 gateway requests, connection reuse on.

    python -m bench e2e
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx

from bench import servers
from bench.load import percentiles
from bench.report import Config, Goal, Part

SERIAL = "0821000119"
STORE = "455311"
WARMUP = 3
BUDGET = 180.0  # seconds per setup: sales that time out (10 s + recovery) must not run for hours


class CountingTransport(httpx.BaseTransport):
    """Counts the requests that go through it and the TCP connections it opens."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.requests: Counter[str] = Counter()
        self.connections = 0

    def _trace(self, event: str, _info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self.connections += 1

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests[f"{request.method} {request.url.path}"] += 1
        request.extensions = {**request.extensions, "trace": self._trace}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()

    @property
    def total(self) -> int:
        return sum(self.requests.values())


@contextlib.contextmanager
def sandbox(webhook_url: str) -> Iterator[tuple[str, Any]]:
    """The sandbox gateway and one zero-delay terminal, in a thread of this process."""
    from netpay_smart.sandbox import SandboxConfig, TerminalConfig, create_sandbox_app
    from tests.conftest import serve_in_thread

    terminal = TerminalConfig(SERIAL, STORE, card_delay=0, pin_delay=0, auth_delay=0, print_delay=0)
    app = create_sandbox_app(SandboxConfig(terminals=(terminal,)), webhook_url=webhook_url)
    with serve_in_thread(app) as url:
        state = app.state.sandbox
        wait_idle(state)  # the probe the terminal sends when its response URL is set
        yield url, state


def wait_idle(state: Any, timeout: float = 10) -> None:
    """Until the sandbox terminal is idle again (its result posted)."""
    deadline = time.monotonic() + timeout
    while state.terminals[SERIAL].busy:
        if time.monotonic() > deadline:
            raise RuntimeError("the sandbox terminal stayed busy")
        time.sleep(0.001)


def sales(sandbox_url: str, state: Any, receiver_url: str, count: int) -> dict[str, Any]:
    """``count`` sequential ``sale(wait=True)``; the first ``WARMUP`` are not timed."""
    from netpay_smart.client import Client

    gateway, receiver = CountingTransport(), CountingTransport()
    tokens_before = state.token_requests
    timings: list[float] = []
    outcomes: Counter[str] = Counter()
    with Client(
        base_url=sandbox_url, username="Nacional", password="netpay",
        receiver_url=receiver_url, api_token=servers.TOKEN, transport=gateway,
        receiver_transport=receiver,
    ) as client:  # fmt: skip
        began = time.monotonic()
        for i in range(count + WARMUP):
            if time.monotonic() - began > BUDGET:
                break
            wait_idle(state)  # the terminal reports its delivery just after the receiver acks
            started = time.perf_counter()
            outcome = client.sale(
                serial_number=SERIAL, store_id=STORE, amount=Decimal("1.00"), wait=True,
                timeout=10,
            )  # fmt: skip
            took = time.perf_counter() - started
            outcomes[str(getattr(outcome, "status", "?"))] += 1
            if i >= WARMUP:
                timings.append(took)
        client_tokens = client.auth.token_requests
    pushes = sum(outcomes.values())
    return {
        "sales": pushes,
        "planned": count + WARMUP,
        "timed": len(timings),
        "latency_ms": percentiles(timings),
        "outcomes": dict(outcomes),
        "gateway_requests": gateway.total,
        "gateway_by_path": dict(gateway.requests),
        "gateway_connections": gateway.connections,
        "receiver_requests": receiver.total,
        "receiver_connections": receiver.connections,
        "token_requests_client": client_tokens,
        "token_requests_sandbox": state.token_requests - tokens_before,
        "pushes": pushes,
    }


def run(cfg: Config) -> Part:
    count = 50 if cfg.quick else 200
    part = Part(
        "e2e",
        f"End to end: {count} sequential sale(wait=True), sandbox card time zero",
        ["setup", "timed", "p50 ms", "p99 ms", "max ms", "approved (all)", "gateway req",
         "tokens", "gateway conns", "receiver conns"],
    )  # fmt: skip
    results: dict[str, Any] = {}
    with (
        servers.sqlite_url() as url,
        servers.receiver(url) as server,
        sandbox(server.webhook_url) as (sandbox_url, state),
    ):
        results["sqlite"] = sales(sandbox_url, state, server.base, count)
    if cfg.pg_url:
        with (
            servers.postgres_schema(cfg.pg_url) as url,
            servers.receiver(url, name="replica-a") as replica_a,
            servers.receiver(url, name="replica-b") as replica_b,
            sandbox(replica_b.webhook_url) as (sandbox_url, state),
        ):
            results["postgres"] = sales(sandbox_url, state, replica_a.base, count)
    else:
        results["postgres"] = {"skipped": "PostgreSQL not reachable"}
    labels = {"sqlite": "SQLite, one receiver",
              "postgres": "PostgreSQL, result to B, SDK waits on A"}  # fmt: skip
    for key, r in results.items():
        if "skipped" in r:
            part.rows.append([labels[key], *[None] * 8, r["skipped"]])
            continue
        lat = r["latency_ms"]
        part.rows.append(
            [labels[key], r["timed"], lat["p50"], lat["p99"], lat["max"],
             r["outcomes"].get("approved", 0), r["gateway_requests"],
             r["token_requests_sandbox"], r["gateway_connections"], r["receiver_connections"]]
        )  # fmt: skip
    part.data = results
    part.notes.append(
        f"{WARMUP} untimed warm-up sales first (the first one fetches the token); "
        "request and connection counts include them"
    )
    _goals(part, results)
    return part


def _goals(part: Part, results: dict[str, Any]) -> None:
    lite = results["sqlite"]
    lat = lite["latency_ms"]
    part.goals.append(
        Goal(
            "SQLite sale(wait=True) p50 ≤ 20 ms, p99 ≤ 50 ms",
            f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms",
            lat["p50"] <= 20 and lat["p99"] <= 50,
        )
    )
    pg = results["postgres"]
    if "skipped" in pg:
        part.goals.append(Goal("PostgreSQL two replicas p99 ≤ 100 ms", pg["skipped"], None))
    else:
        p99 = pg["latency_ms"]["p99"]
        part.goals.append(
            Goal(
                "PostgreSQL, two replicas, p99 ≤ 100 ms",
                f"p50 {pg['latency_ms']['p50']:.1f} ms, p99 {p99:.1f} ms",
                p99 <= 100,
            )
        )
    for key, r in results.items():
        if "skipped" in r:
            continue
        n = r["pushes"]
        part.goals.append(
            Goal(
                f"{key}: N pushes cost N + 1 gateway requests (one token)",
                f"{n} pushes, {r['gateway_requests']} gateway requests "
                f"({r['token_requests_sandbox']} token, seen by the sandbox)",
                r["gateway_requests"] == n + 1 and r["token_requests_sandbox"] == 1,
            )
        )
        part.goals.append(
            Goal(
                f"{key}: connection reuse on",
                f"{r['gateway_connections']} connection to the gateway, "
                f"{r['receiver_connections']} to the receiver, for {n} sales",
                r["gateway_connections"] == 1 and r["receiver_connections"] == 1,
            )
        )
        approved = r["outcomes"].get("approved", 0)
        part.goals.append(
            Goal(
                f"{key}: every sale approved",
                f"{approved} of {r['planned']} planned ({r['outcomes']})",
                approved == r["planned"],
            )
        )
