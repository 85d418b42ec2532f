"""A fixed 1,000 results/s for 60 s to the receiver on SQLite, latency from the intended send
time (open loop: a stall is charged for every request it delays; no coordinated omission).

Goal (issue #6): p99 ≤ 5 ms. Also reported: p50, p99.9, max, the rate achieved, and the load
generator's own lateness: how late its timers fired (about 1 ms of granularity; counted in the
latency, in the server's disfavour) and how many requests found all 64 connections busy.

The raw ASGI no-op runs first under the same load, pinned like the receiver: its row is the
floor this host and generator set (timer lateness, stolen CPU, loopback), so a run on a noisy
host shows how much of the receiver's p99 is the host's. The goal is on the receiver's row.

    python -m bench openloop        (NETPAY_BENCH_QUICK=1: 15 s)
"""

from __future__ import annotations

from typing import Any

from bench import load, servers
from bench.report import Config, Goal, Part

RATE = 1000.0
CONNECTIONS = 64


def run(cfg: Config) -> Part:
    duration = 15.0 if cfg.quick else 60.0
    part = Part(
        "openloop",
        f"Open loop: {RATE:,.0f} results/s for {duration:.0f} s, receiver on SQLite",
        ["target", "sent", "acks", "non-200", "errors", "rate/s", "p50 ms", "p99 ms",
         "p99.9 ms", "max ms", "timer lag p99", "overdue", "CPU µs/result"],
    )  # fmt: skip
    runs: dict[str, dict[str, Any]] = {}
    with servers.noop() as server:
        runs["noop"] = _measure(server, duration)
    with servers.sqlite_url() as url, servers.receiver(url) as server:
        runs["receiver-sqlite"] = _measure(server, duration)
    for target, run_ in runs.items():
        result = run_["run"]
        lat = result["latency_ms"]
        lag = result["timer_lag_ms"] or {}
        cpu = run_.get("per_result")
        part.rows.append(
            [target, int(RATE * duration), result["ok"], result["non_200"],
             result["socket_errors"], result["requests"] / duration, lat["p50"], lat["p99"],
             lat["p99.9"], lat["max"], lag.get("p99"), result["overdue"],
             f"{cpu['user_us']:.0f}+{cpu['system_us']:.0f}" if cpu else "-"],
        )  # fmt: skip
    result = runs["receiver-sqlite"]["run"]
    part.data = {"rate": RATE, "duration_s": duration, "connections": CONNECTIONS,
                 "warmup": runs["receiver-sqlite"]["warmup"], "run": result,
                 "per_result": runs["receiver-sqlite"].get("per_result"),
                 "noop": runs["noop"]}  # fmt: skip
    part.notes.append(
        f"built-in generator, {CONNECTIONS} connections, 2 s warm-up at the same rate; latency "
        "counted from each request's intended send time"
    )
    part.notes.append(
        "timer lag: how late the generator's timer fired (included in the latency, against the "
        "server); overdue: requests that found every connection busy and waited in the generator "
        "(also included)"
    )
    part.notes.append(
        "noop: the raw ASGI no-op under the same load, the floor of this host and generator "
        "(the goal is on the receiver's row)"
    )
    part.notes.append(
        "CPU µs/result: user+system CPU of the server process during the run, per request "
        "answered (at a fixed rate the threads sleep between requests: each wake-up costs CPU)"
    )
    _goals(part, result, duration)
    return part


def _measure(server: servers.Server, duration: float) -> dict[str, Any]:
    """A 2 s warm-up at the rate, then the measured run, and the server's CPU during it."""
    url = server.webhook_url
    warmup = load.open_loop(url, rate=RATE, duration=2, connections=CONNECTIONS)
    before = server.usage()
    run = load.open_loop(url, rate=RATE, duration=duration, connections=CONNECTIONS)
    after = server.usage()
    measured: dict[str, Any] = {"warmup": warmup, "run": run}
    per_result = server.usage_per(before, after, run["ok"])
    if per_result is not None:
        measured["per_result"] = per_result
    return measured


def _goals(part: Part, result: dict[str, Any], duration: float) -> None:
    p99 = result["latency_ms"]["p99"]
    part.goals.append(
        Goal(
            f"p99 ≤ 5 ms at a fixed {RATE:,.0f}/s (from intended send time)",
            f"p99 {p99:.2f} ms, p50 {result['latency_ms']['p50']:.2f} ms",
            p99 is not None and p99 <= 5,
        )
    )
    expected = int(RATE * duration)
    bad = result["non_200"] + result["socket_errors"]
    part.goals.append(
        Goal(
            "every request acknowledged, on time",
            f"{result['ok']:,} of {expected:,} acked, {bad} non-200 or errors",
            result["ok"] == expected and bad == 0 and not result["timed_out"],
        )
    )
