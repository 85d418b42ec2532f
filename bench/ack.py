"""The main table: acknowledgements per second at 16 connections, against the no-op.

For each target, in one run: start it (pinned to CPU 0), warm up 2 s, then 10 s at 16
keep-alive connections (wrk when installed, else the built-in generator, pinned to CPU 1).
Reported: acks/s (answers ``200`` with the exact ack body), p50/p99, everything else, and the
ratio to the raw ASGI no-op of the same run, and the server process's CPU and bytes written
per acknowledgement (steadier than acks/s on a noisy host). After each receiver run,
``/metrics`` must show every acknowledged delivery stored and processed
(``netpay_deliveries_total`` equal to the ``200`` count), and the database is counted once
the receiver has stopped.

Goals (issue #6): SQLite ≥ 0.50 × the no-op, p99 ≤ 10 ms, zero non-200; PostgreSQL ≥ 0.30 ×.

    python -m bench ack
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, text

from bench import load, servers
from bench.report import Config, Goal, Part

#: The no-op runs first and last: the better of the two is the ceiling the others are compared
#: with (anything else running on the machine can only lower a measurement).
TARGETS = ("noop", "starlette-noop", "receiver-sqlite", "receiver-postgres", "naive", "noop-again")
DESCRIPTIONS = {
    "noop": "raw ASGI no-op on uvicorn (the limit of the stack)",
    "starlette-noop": "Starlette no-op",
    "receiver-sqlite": "netpay-smart serve, SQLite (WAL, synchronous=FULL)",
    "receiver-postgres": "netpay-smart serve, PostgreSQL (synchronous commit)",
    "naive": "FastAPI + pydantic + SQLAlchemy ORM, commit per request",
    "noop-again": "the raw no-op once more, after the others",
}
CONNECTIONS = 16


@contextlib.contextmanager
def target(name: str, pg_url: str | None) -> Iterator[servers.Server | None]:
    """Start ``name``; yields None when it cannot run here (PostgreSQL unreachable)."""
    if name in ("noop", "noop-again"):
        with servers.noop("raw") as server:
            yield server
    elif name == "starlette-noop":
        with servers.noop("starlette") as server:
            yield server
    elif name == "naive":
        with servers.naive() as server:
            yield server
    elif name == "receiver-sqlite":
        with servers.sqlite_url() as url:
            with servers.receiver(url) as server:
                yield server
            # After a clean stop, before the database goes away.
            server.extra["rows"] = count_deliveries(url)
    elif name == "receiver-postgres":
        if pg_url is None:
            yield None
            return
        with servers.postgres_schema(pg_url) as url:
            with servers.receiver(url) as server:
                yield server
            server.extra["rows"] = count_deliveries(url)
    else:
        raise ValueError(name)


def count_deliveries(url: str) -> int:
    """Rows in the ``deliveries`` table (the durable log every ack stands for)."""
    from netpay_smart.store.engine import normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM deliveries")).scalar_one())
    finally:
        engine.dispose()


def wait_processed(
    server: servers.Server, *, timeout: float = 60, cap: float = 1200
) -> dict[str, Any]:
    """Poll ``/metrics`` until every ``200`` the receiver sent is a processed delivery (the
    receiver acknowledges first and processes right after: this waits for the backlog).
    Gives up after ``timeout`` seconds without progress, or ``cap`` seconds in all."""
    started = time.monotonic()
    deadline = started + timeout
    last: tuple[float, float] = (-1, -1)
    while True:
        metrics = server.metrics()
        outcomes = metrics.get("netpay_deliveries_total", {})
        statuses = metrics.get("netpay_webhook_requests_total", {})
        processed = sum(outcomes.values())
        answered = statuses.get("200", 0.0)
        now = time.monotonic()
        if processed >= answered or now > deadline:
            break
        if (processed, answered) != last:  # still moving: keep waiting
            deadline = max(deadline, now + timeout)
        deadline = min(deadline, started + cap)
        last = (processed, answered)
        time.sleep(0.1)
    return {
        "catch_up_s": time.monotonic() - started,
        "server_200": int(answered),
        "server_statuses": {k: int(v) for k, v in statuses.items()},
        "processed": int(processed),
        "outcomes": {k: int(v) for k, v in outcomes.items()},
        "caught_up": processed >= answered,
    }


def measure(server: servers.Server, cfg: Config) -> dict[str, Any]:
    warm_s, main_s = (1.0, 3.0) if cfg.quick else (2.0, 10.0)
    warm = load.closed_loop(
        server.webhook_url, connections=CONNECTIONS, duration=warm_s, tool=cfg.tool
    )
    before = server.usage()
    run = load.closed_loop(
        server.webhook_url, connections=CONNECTIONS, duration=main_s, tool=cfg.tool
    )
    after = server.usage()
    result: dict[str, Any] = {"warmup": warm, "run": run, "alive_after": server.alive()}
    # Per acknowledgement, during the run only (the backlog processed after it is not
    # counted): what the server process itself spends, not PostgreSQL's own processes.
    per_ack = server.usage_per(before, after, run["ok"])
    if per_ack is not None:
        result["per_ack"] = per_ack
    if server.has_metrics and server.alive():
        stored = wait_processed(server)
        acked = warm["ok"] + run["ok"]
        stored["client_acked"] = acked
        stored["all_stored"] = (
            stored["caught_up"]
            and stored["processed"] >= acked
            and stored["processed"] == stored["server_200"]
            and set(stored["outcomes"]) <= {"new"}
        )
        result["stored"] = stored
    return result


def run(cfg: Config) -> Part:
    part = Part(
        "ack",
        f"Acks/s at {CONNECTIONS} connections, 2.2 KB approved sale, unique results",
        ["target", "acks/s", "p50 ms", "p99 ms", "max ms", "non-200", "errors", "× no-op",
         "all stored", "processed +s", "CPU µs/ack", "KB written/ack"],
    )  # fmt: skip
    results: dict[str, Any] = {}
    for name in TARGETS:
        started = time.monotonic()
        try:
            results[name] = _one(name, cfg)
        except Exception as exc:  # reported in the table; the part counts as crashed
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            part.error = f"{name}: {type(exc).__name__}: {str(exc)[:300]}"
        results[name]["seconds"] = time.monotonic() - started
    ceilings = [results[n]["run"] for n in ("noop", "noop-again") if "run" in results[n]]
    noop = max(ceilings, key=lambda r: r["acks_per_s"]) if ceilings else None
    noop_rate = noop["acks_per_s"] if noop else None
    for name in TARGETS:
        found = results[name]
        if "run" not in found:
            why = found.get("skipped") or "crashed"
            part.rows.append(
                [name, None, None, None, None, None, None, None, why, None, None, None]
            )
            continue
        r = found["run"]
        found["ratio"] = r["acks_per_s"] / noop_rate if noop_rate else None
        stored = found.get("stored")
        per_ack = found.get("per_ack")
        part.rows.append(
            [
                name,
                round(r["acks_per_s"]),
                r["latency_ms"]["p50"],
                r["latency_ms"]["p99"],
                r["latency_ms"]["max"],
                r["non_200"] + found["warmup"]["non_200"],
                r["socket_errors"] + found["warmup"]["socket_errors"],
                None if found["ratio"] is None else f"{found['ratio']:.2f}",
                None if stored is None else stored["all_stored"],
                None if stored is None else stored["catch_up_s"],
                None if per_ack is None else f"{per_ack['user_us']:.0f}+{per_ack['system_us']:.0f}",
                None if per_ack is None else per_ack["written_kb"],
            ]
        )
    tool = noop["tool"] if noop else cfg.tool
    part.data = {"connections": CONNECTIONS, "tool": tool, "targets": results,
                 "descriptions": DESCRIPTIONS, "noop_acks_per_s": noop_rate}  # fmt: skip
    part.notes.append(
        f"load: {tool}, {CONNECTIONS} connections, "
        f"{'1 s warm-up + 3 s (quick)' if cfg.quick else '2 s warm-up + 10 s'} per target"
    )
    for name in TARGETS:
        part.notes.append(f"{name}: {DESCRIPTIONS[name]}")
    part.notes.append("× no-op: against the better of the two no-op runs")
    part.notes.append(
        "all stored: /metrics shows every 200 processed and the deliveries table holds at least "
        "every ack the client got; processed +s: how long after the load stopped the receiver "
        "took to process its backlog (it acknowledges first, processes after)"
    )
    part.notes.append(
        "CPU µs/ack: user+system CPU of the server process during the run, per acknowledgement "
        "(PostgreSQL's own backends not included); KB written/ack: what the process wrote per "
        "acknowledgement (/proc/PID/io wchar: files, and sockets written with write(): the "
        "answers; libpq's send() to PostgreSQL is not counted)"
    )
    _goals(part, results, noop)
    return part


def _one(name: str, cfg: Config) -> dict[str, Any]:
    with target(name, cfg.pg_url) as server:
        if server is None:
            return {"skipped": "PostgreSQL not reachable"}
        result = measure(server, cfg)
    if "stored" in result:  # the rows were counted once the receiver had stopped
        stored = result["stored"]
        stored["rows"] = server.extra.get("rows")
        stored["all_stored"] = (
            stored["all_stored"] and (stored["rows"] or 0) >= (stored["client_acked"])
        )
    return result


def _goals(part: Part, results: dict[str, Any], noop: dict[str, Any] | None) -> None:
    sqlite = results["receiver-sqlite"]
    if noop is None or "run" not in sqlite:
        why = "no measurement: " + (sqlite.get("error") or results["noop"].get("error") or "?")
        part.goals.append(Goal("SQLite receiver ≥ 0.50 × raw ASGI no-op", why, False))
    else:
        r = sqlite["run"]
        ratio = sqlite["ratio"]
        part.goals.append(
            Goal(
                "SQLite receiver ≥ 0.50 × raw ASGI no-op",
                f"{ratio:.2f} × ({r['acks_per_s']:,.0f} vs {noop['acks_per_s']:,.0f} acks/s)",
                ratio >= 0.50,
            )
        )
    if "run" in sqlite:
        r = sqlite["run"]
        p99 = r["latency_ms"]["p99"]
        part.goals.append(Goal("SQLite p99 ≤ 10 ms at 16 connections", f"{p99:.1f} ms", p99 <= 10))
        bad = r["non_200"] + r["socket_errors"] + sqlite["warmup"]["non_200"]
        part.goals.append(Goal("SQLite zero non-200", f"{bad} non-200 or errors", bad == 0))
        stored = sqlite.get("stored", {})
        part.goals.append(
            Goal(
                "SQLite every ack stored (/metrics deliveries == 200s, rows counted)",
                f"{stored.get('client_acked', 0):,} acked by client, "
                f"{stored.get('server_200', 0):,} 200s sent, {stored.get('processed', 0):,} "
                f"processed {stored.get('outcomes', {})}, {stored.get('rows') or 0:,} rows",
                bool(stored.get("all_stored")),
            )
        )
    pg = results["receiver-postgres"]
    if "skipped" in pg:
        part.goals.append(Goal("PostgreSQL receiver ≥ 0.30 × raw ASGI no-op", pg["skipped"], None))
        return
    if "run" not in pg or noop is None:
        why = "no measurement: " + (pg.get("error") or "?")
        part.goals.append(Goal("PostgreSQL receiver ≥ 0.30 × raw ASGI no-op", why, False))
        return
    ratio = pg["ratio"]
    part.goals.append(
        Goal(
            "PostgreSQL receiver ≥ 0.30 × raw ASGI no-op",
            f"{ratio:.2f} × ({pg['run']['acks_per_s']:,.0f} acks/s)",
            ratio >= 0.30,
        )
    )
    stored = pg.get("stored", {})
    bad = pg["run"]["non_200"] + pg["run"]["socket_errors"] + pg["warmup"]["non_200"]
    part.goals.append(
        Goal(
            "PostgreSQL zero non-200, every ack stored",
            f"{bad} non-200 or errors; {stored.get('processed', 0):,} processed of "
            f"{stored.get('server_200', 0):,} 200s, {stored.get('rows') or 0:,} rows",
            bad == 0 and bool(stored.get("all_stored")),
        )
    )
