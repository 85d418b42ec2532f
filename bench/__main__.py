"""``python -m bench`` (``make bench``): run the benchmarks, print a table, save JSON.

PostgreSQL runs too when ``NETPAY_BENCH_DATABASE_URL`` (or ``NETPAY_TEST_DATABASE_URL``) points
at a database it may fill (tables are created in it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bench import dashboard

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    rows = int(os.environ.get("NETPAY_BENCH_ROWS", "100000"))
    urls: list[str | None] = [None]
    pg = os.environ.get("NETPAY_BENCH_DATABASE_URL") or os.environ.get("NETPAY_TEST_DATABASE_URL")
    if pg:
        urls.append(pg)
    results = [dashboard.run(rows, url) for url in urls]
    print(f"\nDashboard with {rows:,} transactions (goal: < 300 ms)")
    print(f"{'database':<12}{'query':<22}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for result in results:
        for name in ("first_page", "first_page_of_day", "first_page_declined", "daily_report"):
            t = result[name]
            print(
                f"{result['database']:<12}{name:<22}"
                f"{t['p50_ms']:>10.1f}{t['p95_ms']:>10.1f}{t['max_ms']:>10.1f}"
            )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(results, indent=2))
    worst = max(r[n]["p95_ms"] for r in results for n in ("first_page", "daily_report"))
    return 0 if worst < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
