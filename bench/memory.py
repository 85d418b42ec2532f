"""Receiver memory: 1,000,000 deliveries to the receiver on SQLite at full speed (16
connections), its RSS (``VmRSS`` of the server process) sampled after every 100,000.

Goals (issue #6): ≤ 150 MB RSS after 1,000,000 deliveries, and flat between the second and the
tenth 100,000 (here: growth from the 2nd sample to the last ≤ 10 %, the bar of the reliability
note's G9). ``NETPAY_BENCH_QUICK=1``: 200,000 deliveries sampled every 20,000. The part has a
time budget (25 min, quick 30 s): a receiver too slow to take them all in it is reported with
what it took. Quick mode waits at most 20 s for the receiver to process its backlog.

    python -m bench memory
"""

from __future__ import annotations

import time
from typing import Any

from bench import load, servers
from bench.ack import count_deliveries, wait_processed
from bench.report import Config, Goal, Part

LIMIT_MB = 150.0
FLAT = 0.10
CONNECTIONS = 16


def run(cfg: Config) -> Part:
    total, step, budget = (200_000, 20_000, 30.0) if cfg.quick else (1_000_000, 100_000, 1500.0)
    part = Part(
        "memory",
        f"Receiver RSS over {total:,} deliveries (SQLite, {CONNECTIONS} connections, full speed)",
        ["deliveries", "RSS MB", "acks/s in step"],
    )
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    with servers.sqlite_url() as url:
        with servers.receiver(url) as server:
            baseline = server.rss_mb()
            delivered = non_200 = errors = 0
            while delivered < total:
                left = budget - (time.monotonic() - started)
                if left < 2:
                    break
                result = load.closed_loop(
                    server.webhook_url,
                    connections=CONNECTIONS,
                    duration=left,
                    count=step,
                    tool=cfg.tool,
                )
                delivered += result["ok"]
                non_200 += result["non_200"]
                errors += result["socket_errors"]
                samples.append(
                    {"deliveries": delivered, "rss_mb": server.rss_mb(),
                     "acks_per_s": result["acks_per_s"]}
                )  # fmt: skip
                part.rows.append([delivered, samples[-1]["rss_mb"], round(result["acks_per_s"])])
                if result["ok"] < step * 0.9:
                    break  # out of time (or the receiver stopped answering)
            acked_in = time.monotonic() - started
            # Quick: no waiting for the whole backlog (the rows are counted all the same).
            drained = wait_processed(server, cap=20 if cfg.quick else 1200)
            processed_in = time.monotonic() - started
            after_drain = server.rss_mb()
        rows = count_deliveries(url)
    part.rows.append(
        ["processed, idle" if drained["caught_up"] else "stopped waiting", after_drain, None]
    )
    part.data = {"target": total, "step": step, "baseline_rss_mb": baseline, "samples": samples,
                 "after_processing_rss_mb": after_drain, "processed": drained, "rows": rows,
                 "non_200": non_200, "socket_errors": errors, "acked_in_s": acked_in,
                 "processed_in_s": processed_in,
                 "seconds": time.monotonic() - started}  # fmt: skip
    part.notes.append(f"RSS at start (idle, migrated): {baseline:.1f} MB")
    if drained["caught_up"]:
        part.notes.append(
            f"all acknowledged {acked_in:.0f} s after the start, all processed (/metrics) "
            f"{processed_in:.0f} s after the start; rows in the database: {rows:,}"
        )
    else:
        part.notes.append(
            f"all acknowledged {acked_in:.0f} s after the start; {drained['processed']:,} of "
            f"{drained['server_200']:,} processed when the part stopped waiting, "
            f"{processed_in:.0f} s after the start; rows in the database: {rows:,}"
        )
    _goals(part, samples, total, after_drain, non_200 + errors, rows)
    return part


def _goals(
    part: Part,
    samples: list[dict[str, Any]],
    total: int,
    after_drain: float,
    bad: int,
    rows: int,
) -> None:
    delivered = samples[-1]["deliveries"] if samples else 0
    complete = delivered >= total
    peak = max([s["rss_mb"] for s in samples] + [after_drain])
    part.goals.append(
        Goal(
            f"RSS ≤ {LIMIT_MB:.0f} MB after {total:,} deliveries",
            f"max {peak:.1f} MB over {delivered:,} deliveries"
            + ("" if complete else f" (only {delivered:,} in the time budget)"),
            peak <= LIMIT_MB and complete,
        )
    )
    if len(samples) >= 3:
        second, last = samples[1]["rss_mb"], samples[-1]["rss_mb"]
        growth = (last - second) / second
        part.goals.append(
            Goal(
                f"RSS flat from the 2nd sample to the last (growth ≤ {FLAT:.0%})",
                f"{second:.1f} → {last:.1f} MB ({growth:+.1%}, "
                f"{samples[1]['deliveries']:,} → {samples[-1]['deliveries']:,})",
                growth <= FLAT and complete,
            )
        )
    else:
        part.goals.append(
            Goal("RSS flat from the 2nd sample to the last", "too few samples", False)
        )
    part.goals.append(
        Goal(
            "zero non-200, every ack stored",
            f"{bad} non-200 or errors, {rows:,} rows for {delivered:,} acks",
            bad == 0 and rows >= delivered,
        )
    )
