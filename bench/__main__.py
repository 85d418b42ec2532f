"""``python -m bench`` (``make bench``): run the benchmarks of issue #6, print one table per part
with its goals (PASS/FAIL), save JSON (and a Markdown report) in bench/results/.

    python -m bench                   # every part
    python -m bench ack e2e           # some parts: ack openloop memory e2e dashboard

Environment:

- ``NETPAY_BENCH_QUICK=1``: every part short (a smoke run of about three minutes).
- ``NETPAY_BENCH_ROWS``: transactions for the dashboard part (100,000; quick 20,000; the goal
  is stated at 1,000,000).
- ``NETPAY_BENCH_LOAD``: ``auto`` (wrk when installed), ``wrk`` or ``builtin``.
- ``NETPAY_BENCH_DATABASE_URL`` (or ``NETPAY_TEST_DATABASE_URL``): the PostgreSQL database to
  use (each part works in a fresh schema, dropped after); by default
  ``postgresql://postgres@127.0.0.1:5432/netpay_bench``, created if missing. PostgreSQL rows
  are skipped when it cannot be reached (or with ``NETPAY_BENCH_NO_PG=1``).

Servers are pinned to CPU 0 and load (and this process) to CPU 1 when ``taskset`` exists and
there are two CPUs. The exit status is non-zero only if a part crashed: a missed goal is
reported, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import ack, dashboard, e2e, memory, openloop
from bench.report import Config, Goal, Part, machine, markdown_part, print_part
from bench.servers import LOAD_CPU, can_pin, postgres_schema

RESULTS = Path(__file__).resolve().parent / "results"
DASHBOARD_QUERIES = ("first_page", "first_page_of_day", "first_page_declined", "daily_report")
DASHBOARD_GOAL_MS = 300.0


def dashboard_part(cfg: Config) -> Part:
    """bench/dashboard.py on SQLite and (in a fresh schema) PostgreSQL."""
    part = Part(
        "dashboard",
        f"Dashboard with {cfg.rows:,} transactions",
        ["database", "query", "p50 ms", "p95 ms", "max ms"],
    )
    results = [dashboard.run(cfg.rows, None)]
    if cfg.pg_url:
        with postgres_schema(cfg.pg_url, migrated=False) as url:
            results.append(dashboard.run(cfg.rows, url))
    for result in results:
        for name in DASHBOARD_QUERIES:
            t = result[name]
            part.rows.append([result["database"], name, t["p50_ms"], t["p95_ms"], t["max_ms"]])
    part.data = {"rows": cfg.rows, "results": results}
    part.notes.append(
        "20 requests per query after one warm-up, through the real HTTP API; rows bulk-inserted "
        "(seeding: "
        + ", ".join(f"{r['database']} {r['seed_seconds']:.0f} s" for r in results)
        + ")"
    )
    if cfg.rows < 1_000_000:
        part.notes.append(
            f"the goal is stated at 1,000,000 transactions; this run has {cfg.rows:,} "
            "(NETPAY_BENCH_ROWS=1000000 for the goal itself)"
        )
    for result in results:
        worst = max(result[n]["p95_ms"] for n in ("first_page", "daily_report"))
        part.goals.append(
            Goal(
                f"{result['database']}: first page and daily report < 300 ms "
                f"(p95, {cfg.rows:,} rows)",
                f"first page p95 {result['first_page']['p95_ms']:.1f} ms, daily report p95 "
                f"{result['daily_report']['p95_ms']:.1f} ms",
                worst < DASHBOARD_GOAL_MS,
            )
        )
    if not cfg.pg_url:
        part.goals.append(Goal("postgresql: dashboard < 300 ms", "PostgreSQL not reachable", None))
    return part


def _cpu_times() -> list[float]:
    """[busy seconds of the machine, stolen seconds, CPU seconds of this run's processes]."""
    import resource

    try:
        with open("/proc/stat") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return []
    hz = os.sysconf("SC_CLK_TCK")
    busy = (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / hz
    ours = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        ours += usage.ru_utime + usage.ru_stime
    return [busy, ticks[7] / hz if len(ticks) > 7 else 0.0, ours, time.monotonic()]


def _host_noise(load_before: float, before: list[float]) -> dict[str, float]:
    """How busy the machine was besides this run: CPU time not spent in this run's processes
    (other programs, PostgreSQL's backends, interrupt and softirq work such as loopback
    networking), time stolen by the hypervisor, load average."""
    after = _cpu_times()
    if not before or not after:
        return {"loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
                "other_cpu_pct": 0.0, "steal_pct": 0.0}  # fmt: skip
    capacity = (after[3] - before[3]) * (os.cpu_count() or 1) or 1
    other = (after[0] - before[0]) - (after[2] - before[2])
    return {
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        "other_cpu_pct": max(100 * other / capacity, 0.0),
        "steal_pct": 100 * (after[1] - before[1]) / capacity,
    }


PARTS: dict[str, Callable[[Config], Part]] = {
    "ack": ack.run,
    "openloop": openloop.run,
    "memory": memory.run,
    "e2e": e2e.run,
    "dashboard": dashboard_part,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmarks of issue #6 (see bench/__main__.py)."
    )
    parser.add_argument(
        "parts", nargs="*", metavar="PART", help=f"parts to run (default: all): {' '.join(PARTS)}"
    )
    parser.add_argument("--quick", action="store_true", help="same as NETPAY_BENCH_QUICK=1")
    args = parser.parse_args(argv)
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {' '.join(PARTS)}")
    if args.quick:
        os.environ["NETPAY_BENCH_QUICK"] = "1"
    if can_pin():
        os.sched_setaffinity(0, {LOAD_CPU})  # the SDK, the sandbox and the dashboard client
    cfg = Config.from_env()
    started = time.monotonic()
    about = machine(cfg.pg_url)
    print(
        f"netpay-smart benchmarks ({'quick' if cfg.quick else 'full'}) on {about['nproc']} × "
        f"{about['cpu_model']}, {about['ram_gib']} GiB, Python {about['python']}, SQLite "
        f"{about['sqlite']}, PostgreSQL {about['postgresql'] or 'not reachable'}; "
        f"fdatasync p50 {about['fsync_ms']['p50']} ms; pinned: {about['pinned']}"
    )
    RESULTS.mkdir(exist_ok=True)
    parts: list[Part] = []
    for name in args.parts or list(PARTS):
        began = time.monotonic()
        load_before, cpu_before = os.getloadavg()[0], _cpu_times()
        try:
            part = PARTS[name](cfg)
        except Exception as exc:
            traceback.print_exc()
            part = Part(name, name, [], error=f"{type(exc).__name__}: {exc}"[:2000])
        part.seconds = time.monotonic() - began
        part.data["host"] = _host_noise(load_before, cpu_before)
        host = part.data["host"]
        part.notes.append(
            f"machine during the part: {host['other_cpu_pct']:.0f} % of the CPUs busy outside "
            "this run's processes (other programs, PostgreSQL's backends, interrupts), "
            f"{host['steal_pct']:.1f} % stolen; load average {load_before:.2f} before, "
            f"{host['loadavg_after']:.2f} after"
        )
        print_part(part)
        (RESULTS / f"{name}.json").write_text(json.dumps(part.to_json(), indent=2, default=str))
        parts.append(part)
    total = time.monotonic() - started
    goals = [g for p in parts for g in p.goals]
    print(f"\n== Summary ({total / 60:.1f} min)")
    for part in parts:
        for goal in part.goals:
            print(f"  [{goal.verdict}] {part.name}: {goal.goal}: {goal.measured}")
        if part.error:
            print(f"  [CRASH] {part.name}: {part.error}")
    passed = sum(g.ok is True for g in goals)
    print(f"  {passed} of {len(goals)} goals pass")
    summary = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": cfg.quick,
        "seconds": total,
        "machine": about,
        "parts": {p.name: p.to_json() for p in parts},
    }
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    report = [
        f"Run of {summary['finished']} ({'quick' if cfg.quick else 'full'}, {total / 60:.1f} min)",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in about.items()),
        "",
        *(markdown_part(p) for p in parts),
    ]
    (RESULTS / "report.md").write_text("\n".join(report))
    print(f"  results: {RESULTS}/*.json, report.md")
    return 1 if any(p.error for p in parts) else 0


if __name__ == "__main__":
    sys.exit(main())
