"""kill -9 under load: nothing the receiver acknowledged is lost (DESIGN: "no result is lost")."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from .helpers import ACK, SECRET, TOKEN, Served, migrate_if_postgres, sale_body, serve_env
from .helpers import serve_process as serve

THREADS = 4
KILLS = 3


def _post_until_killed(served: Served, prefix: str, delay: float) -> tuple[set[str], list[str]]:
    """Post distinct results from ``THREADS`` threads, SIGKILL the server after ``delay``
    seconds; returns (order ids that got the ack, how each thread ended)."""
    acked: set[str] = set()
    endings: list[str] = []
    lock = threading.Lock()

    def post(worker: int) -> None:
        with httpx.Client(base_url=served.base, timeout=5) as client:
            n = 0
            while True:
                order_id = f"{prefix}-w{worker}-{n}"
                n += 1
                try:
                    answer = client.post(f"/webhook/{SECRET}", content=sale_body(order_id))
                except httpx.TransportError as exc:
                    with lock:
                        endings.append(type(exc).__name__)
                    return
                if answer.status_code == 200 and answer.content == ACK:
                    with lock:
                        acked.add(order_id)

    workers = [threading.Thread(target=post, args=(i,)) for i in range(THREADS)]
    for worker in workers:
        worker.start()
    time.sleep(delay)  # the random moment of the crash
    served.process.kill()
    served.process.wait(10)
    for worker in workers:
        worker.join(15)
    return acked, endings


def _stored_order_ids(base: str) -> set[str]:
    """Every transaction's order id, read through the API (all pages)."""
    found: set[str] = set()
    cursor: int | None = None
    headers = {"authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while True:
            params: dict[str, int] = {"limit": 500}
            if cursor is not None:
                params["cursor"] = cursor
            page = client.get("/api/transactions", params=params)
            assert page.status_code == 200, page.text
            found.update(tx["order_id"] for tx in page.json()["items"])
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return found


@pytest.mark.slow
def test_every_acknowledged_result_survives_kill_9(database_url: str, tmp_path: Path) -> None:
    """Three SIGKILLs under load at random moments: after each restart every acked result is in."""
    migrate_if_postgres(database_url)
    env = serve_env(NETPAY_WEBHOOK_SECRET=SECRET, NETPAY_API_TOKEN=TOKEN)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    acked: set[str] = set()
    for round_ in range(KILLS + 1):
        with serve(tmp_path, "--database-url", database_url, env=env) as served:
            served.wait_ready()
            served.wait_caught_up()  # what the kill left pending is processed meanwhile
            stored = _stored_order_ids(served.base)
            missing = acked - stored
            assert not missing, f"seed {seed}: {len(missing)} acked results lost: {missing}"
            assert len(stored) >= len(acked)
            if round_ == KILLS:
                served.stop()
                break
            delay = rng.uniform(0.3, 1.5)
            new, endings = _post_until_killed(served, f"k{round_}", delay)
            assert len(endings) == THREADS, f"seed {seed}: a thread did not see the crash"
            assert new, f"seed {seed}: nothing was acknowledged in {delay:.2f}s"
            acked |= new
    assert len(acked) > 3 * THREADS
