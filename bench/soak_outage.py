"""Outage soak: stop PostgreSQL (``-m immediate``) again and again under load; the receiver must
keep answering 200 from its local spool, and afterwards every acknowledged result must be in
the database exactly once, each sender's results in the order they were acknowledged.

    python -m bench.soak_outage --outages 10 --database-url postgresql://postgres@127.0.0.1/soak

It needs the local cluster and the rights to stop and start it (``pg_ctlcluster``), and a
database migrated or migratable at ``--database-url``. Nothing else may need PostgreSQL while
it runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.soak_crash import _postgres
from tests.receiver.helpers import (
    ACK,
    SECRET,
    TOKEN,
    migrate_if_postgres,
    sale_body,
    serve_env,
    serve_process,
)

SENDERS = 8


def soak(outages: int, database_url: str, *, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    run = f"o{seed}"
    migrate_if_postgres(database_url)
    acked: dict[int, list[str]] = {sender: [] for sender in range(SENDERS)}
    refused: dict[int, int] = {}  # status -> count
    stop = threading.Event()
    lock = threading.Lock()

    def send(sender: int, base: str) -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            n = 0
            while not stop.is_set():
                order_id = f"{run}-s{sender}-{n}"
                n += 1
                answer = client.post(f"/webhook/{SECRET}", content=sale_body(order_id))
                if answer.status_code == 200 and answer.content == ACK:
                    acked[sender].append(order_id)
                else:
                    with lock:
                        refused[answer.status_code] = refused.get(answer.status_code, 0) + 1

    started = time.monotonic()
    windows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = serve_env(NETPAY_WEBHOOK_SECRET=SECRET, NETPAY_API_TOKEN=TOKEN)
        args = ("--database-url", database_url, "--no-access-log")
        with serve_process(Path(tmp), *args, env=env) as served:
            served.wait_ready()
            senders = [threading.Thread(target=send, args=(i, served.base)) for i in range(SENDERS)]
            for sender in senders:
                sender.start()
            for _ in range(outages):
                time.sleep(rng.uniform(1.0, 3.0))
                before = sum(len(v) for v in acked.values())
                _postgres("stop")
                down_for = rng.uniform(2.0, 5.0)
                time.sleep(down_for)
                during = sum(len(v) for v in acked.values()) - before
                _postgres("start")
                windows.append({"down_seconds": round(down_for, 2), "acked_while_down": during})
            time.sleep(2.0)
            stop.set()
            for sender in senders:
                sender.join(30)
            with httpx.Client(base_url=served.base, timeout=10) as client:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    ready = client.get("/readyz").json()
                    if ready["status"] == "ready" and ready["spool"]["depth"] == 0:
                        break
                    time.sleep(0.5)
                metrics = client.get("/metrics").text
            served.process.terminate()
            served.process.wait(15)
    spooled = next(
        int(line.split()[1]) for line in metrics.splitlines() if line.startswith("netpay_spooled_")
    )
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT body FROM deliveries ORDER BY id")).scalars().all()
    engine.dispose()
    stored = [json.loads(body).get("orderId", "") for body in rows]
    stored = [order_id for order_id in stored if order_id.startswith(f"{run}-")]
    counts: dict[str, int] = {}
    for order_id in stored:
        counts[order_id] = counts.get(order_id, 0) + 1
    every_ack = [order_id for sent in acked.values() for order_id in sent]
    missing = [order_id for order_id in every_ack if order_id not in counts]
    position = {order_id: index for index, order_id in enumerate(stored)}
    out_of_order = sum(
        1
        for sent in acked.values()
        for earlier, later in itertools.pairwise(sent)
        if earlier in position and later in position and position[earlier] > position[later]
    )
    return {
        "outages": outages,
        "seed": seed,
        "seconds": round(time.monotonic() - started, 1),
        "acked": len(every_ack),
        "acked_while_down": sum(w["acked_while_down"] for w in windows),
        "spooled": spooled,
        "not_200": refused,
        "missing": len(missing),
        "missing_examples": missing[:10],
        "stored_twice": sum(1 for c in counts.values() if c > 1),
        "out_of_order": out_of_order,
        "windows": windows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outages", type=int, default=10)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    result = soak(args.outages, args.database_url, seed=seed)
    print(json.dumps({k: v for k, v in result.items() if k != "windows"}, indent=2))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "soak-outage.json").write_text(json.dumps(result, indent=2))
    return 1 if result["missing"] or result["stored_twice"] or result["out_of_order"] else 0


if __name__ == "__main__":
    sys.exit(main())
