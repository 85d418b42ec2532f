"""The dashboard's first page and the daily report with many transactions in the store.

Goal (issue 5 and 6): with 100,000 transactions (1,000,000 for the performance issue), the
first page of ``GET /api/transactions`` and ``GET /api/reports/daily`` answer in < 300 ms.

Rows are bulk-inserted (the ingest path is measured by the ack benchmark); they are spread over
30 business days, three stores and ten terminals, with the usual mix of statuses, so that the
report's day holds about a thirtieth of them.

    python -m bench.dashboard --rows 100000 [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert

from netpay_smart.receiver import create_app
from netpay_smart.settings import ReceiverSettings
from netpay_smart.store import Store
from netpay_smart.store.schema import deliveries, transactions
from netpay_smart.wire import MEXICO_CITY
from tests.conftest import serve_in_thread

TOKEN = "b" * 24
DAYS = 30
LAST_DAY = date(2026, 3, 31)


def seed(store: Store, rows: int, *, batch: int = 5000) -> None:
    """Bulk-insert ``rows`` transactions (each with its delivery) spread over ``DAYS`` days."""
    rng = random.Random(7)
    statuses = ["approved"] * 85 + ["declined"] * 8 + ["cancelled"] * 4 + ["user_cancelled"] * 3
    body = b'{"responseCode":"00","amount":"100.0"}'
    now = datetime.now(UTC)
    with store.engines.write.begin() as connection:
        for start in range(0, rows, batch):
            count = min(batch, rows - start)
            ids = list(range(start + 1, start + count + 1))
            connection.execute(
                insert(deliveries),
                [
                    {"id": i, "received_at": now, "body": body, "size": len(body),
                     "truncated": False, "outcome": "new", "kind": "sale"}
                    for i in ids
                ],
            )  # fmt: skip
            tx = []
            for i in ids:
                day = LAST_DAY - timedelta(days=i % DAYS)
                moment = datetime.combine(day, datetime.min.time(), MEXICO_CITY) + timedelta(
                    seconds=rng.randrange(8 * 3600, 22 * 3600)
                )
                status = rng.choice(statuses)
                order = f"{moment:%y%m%d%H%M%S}-{i:010d}"
                tx.append(
                    {
                        "id": i, "key": f"sale:{order}", "kind": "sale", "order_id": order,
                        "terminal_id": f"08210001{i % 10:02d}", "store_id": f"45531{i % 3}",
                        "folio_number": f"F{i}", "status": status,
                        "approved": status in ("approved", "cancelled"),
                        "response_code": "00" if status in ("approved", "cancelled") else "51",
                        "message": "Transacción exitosa",
                        "amount_cents": rng.randrange(100, 500000),
                        "tip_cents": 0, "cancelled": status == "cancelled", "reprint_count": 0,
                        "delivery_count": 1, "conflict_count": 0, "card_brand": "VISA",
                        "card_type": "C", "card_last4": "8425", "transaction_at": moment,
                        "business_date": day.isoformat(),
                        "business_hour": moment.astimezone(MEXICO_CITY).hour,
                        "traceability": "{}", "source": "result", "content_hash": f"{i:064d}",
                        "first_delivery_id": i, "received_at": moment, "updated_at": moment,
                    }
                )  # fmt: skip
            connection.execute(insert(transactions), tx)
    if store.dialect == "postgresql":
        with store.engines.write.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    else:
        with store.engines.write.connect() as connection:
            connection.exec_driver_sql("ANALYZE")


def measure(base: str, path: str, repeats: int) -> dict[str, float]:
    timings = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        client.get(path).raise_for_status()  # warm up
        for _ in range(repeats):
            started = time.perf_counter()
            client.get(path).raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[max(int(len(timings) * 0.95) - 1, 0)],
        "max_ms": timings[-1],
    }


def run(rows: int, database_url: str | None, repeats: int = 20) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bench.sqlite3"
        store = Store.open(url, migrate=True)
        started = time.perf_counter()
        seed(store, rows)
        seeded = time.perf_counter() - started
        settings = ReceiverSettings(database_url=url, webhook_secrets=("w" * 20,), api_token=TOKEN)
        day = LAST_DAY.isoformat()
        with serve_in_thread(create_app(settings, store=store)) as base:
            results = {
                "first_page": measure(base, "/api/transactions?limit=50", repeats),
                "first_page_of_day": measure(
                    base, f"/api/transactions?date={day}&limit=50", repeats
                ),
                "first_page_declined": measure(
                    base, f"/api/transactions?date={day}&status=declined&limit=50", repeats
                ),
                "daily_report": measure(base, f"/api/reports/daily?date={day}", repeats),
            }
        store.close()
    return {"database": url.split(":")[0], "rows": rows, "seed_seconds": seeded, **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    result = run(args.rows, args.database_url, args.repeats)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
