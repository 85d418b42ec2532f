"""Two receiver replicas on one PostgreSQL: a result stored by one wakes a waiter on the other."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from netpay_smart._personal import without_personal
from netpay_smart.errors import ConfigurationError
from netpay_smart.receiver import create_app
from netpay_smart.store.migrate import upgrade
from tests.conftest import PG_URL, postgres_schema

from .helpers import ACK, live_receiver, sale_body, settings


@pytest.mark.postgres
def test_result_on_replica_b_wakes_the_long_poll_on_replica_a() -> None:
    """A push registered and long-polled on A completes promptly when B receives its result."""
    if not PG_URL:
        pytest.skip("PostgreSQL only: set NETPAY_TEST_DATABASE_URL=postgresql://...")
    with (
        postgres_schema() as url,
        live_receiver(url) as replica_a,
        live_receiver(url) as replica_b,
    ):
        assert replica_a.base != replica_b.base
        answer = replica_a.api.post(
            "/api/pushes", json={"kind": "sale", "terminal_id": "1494113052", "amount": "200.00"}
        )
        assert answer.status_code == 201, answer.text
        push_id = answer.json()["id"]
        result = sale_body("rep-1", terminalId="1494113052", traceability={"npsPushId": push_id})
        with ThreadPoolExecutor(1) as pool:

            def long_poll() -> tuple[float, httpx.Response]:
                started = time.monotonic()
                with httpx.Client(
                    base_url=replica_a.base, headers=replica_a.api.headers, timeout=10
                ) as poller:
                    found = poller.get(f"/api/pushes/{push_id}", params={"wait": 5})
                return time.monotonic() - started, found

            waiting = pool.submit(long_poll)
            # Not a wait for processing: it lets the long-poll on A start waiting first, so
            # only a cross-replica wake-up (LISTEN/NOTIFY) can end it early.
            time.sleep(0.3)
            assert replica_b.post(result).content == ACK
            took, found = waiting.result(timeout=10)
        assert found.status_code == 200
        assert took < 4, f"A's long-poll took {took:.2f}s: B's result did not wake it"
        push = found.json()
        assert (push["state"], push["result_status"]) == ("completed", "approved")
        assert push["result"]["body"] == without_personal(json.loads(result))
        assert push["result"]["transaction"]["order_id"] == "rep-1"
        # B stored it, A reads it: one database.
        assert replica_a.transaction("rep-1")["push_id"] == push_id
        assert replica_a.deliveries() == replica_b.deliveries()


@pytest.mark.postgres
@pytest.mark.parametrize(("revision", "missing"), [("0004", "0005"), ("0002", "0003, 0004, 0005")])
def test_a_database_missing_migrations_is_refused_at_start(
    tmp_path: Path, revision: str, missing: str
) -> None:
    """A receiver on a PostgreSQL database behind this version's migrations does not start
    (its results would all go to the local spool): it names them and the command to run."""
    if not PG_URL:
        pytest.skip("PostgreSQL only: set NETPAY_TEST_DATABASE_URL=postgresql://...")
    with postgres_schema() as url:
        upgrade(url, revision)
        spool = tmp_path / "spool.sqlite3"
        with pytest.raises(ConfigurationError) as refused:
            create_app(settings(url, spool_path=str(spool)))
        assert f"lacks migrations {missing}" in str(refused.value)
        assert "netpay-smart db upgrade --database-url postgresql" in str(refused.value)
        assert not spool.exists()
        upgrade(url)
        with live_receiver(url, migrate=False) as running:
            assert running.post(sale_body("migrated-1")).content == ACK
