"""PostgreSQL down: the receiver acknowledges from its local spool, then moves it back once.

The database is cut off by a TCP proxy (refused connections, open ones reset), so the real
server keeps running for the rest of the suite. The soak with the database really stopped is
``bench/soak_outage.py``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from netpay_smart.store import Applied, Incoming, Spool, SpoolError, Store
from netpay_smart.store.ingest import insert_deliveries, insert_spooled
from netpay_smart.wire import TRACE_KEY
from tests.conftest import PG_URL, postgres_schema
from tests.receiver.helpers import ACK, Live, live_receiver, sale_body, wait_until

from .proxy import proxied


def _new(ids: list[int | None]) -> int:
    """How many rows a move inserted (``None``: a key already there, skipped)."""
    return sum(delivery_id is not None for delivery_id in ids)


def _incoming(body: bytes) -> Incoming:
    return Incoming(body=body, received_at=datetime.now(UTC), remote="127.0.0.1:5000")


# -- the spool file -----------------------------------------------------------------------------


def test_the_spool_gives_back_what_it_took_oldest_first_and_never_reuses_a_key(
    tmp_path: Path,
) -> None:
    """Bodies come back whole and in order; after a removal a new body gets a new key."""
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.open()
    items = [_incoming(sale_body(f"o-{i}")) for i in range(3)]
    items[1].truncated, items[1].error = True, "too_large"
    ids = spool.append(items)
    assert spool.depth == 3
    taken = spool.oldest(10)
    assert [i for i, _ in taken] == ids
    assert [(t.body, t.received_at, t.remote, t.truncated, t.error) for _, t in taken] == [
        (i.body, i.received_at, i.remote, i.truncated, i.error) for i in items
    ]
    keys = {spool.key(i) for i in ids}
    spool.remove(ids[-1])
    assert (spool.depth, spool.oldest(10)) == (0, [])
    [again] = spool.append([_incoming(b"{}")])
    assert spool.key(again) not in keys
    spool.close()
    reopened = Spool(tmp_path / "spool.sqlite3")
    reopened.open()
    assert (reopened.depth, reopened.key(again)) == (1, spool.key(again))
    reopened.close()


def test_a_full_spool_refuses_and_says_so_until_it_has_room(tmp_path: Path) -> None:
    """At its size cap the spool raises, keeps what it took, and the probe names the problem."""
    spool = Spool(tmp_path / "spool.sqlite3", max_bytes=64 * 1024)
    spool.open()
    kept = 0
    with pytest.raises(SpoolError, match="full"):
        for i in range(100):
            spool.append([_incoming(sale_body(f"o-{i}", customerName="x" * 8000))])
            kept += 1
    assert 0 < kept < 100
    assert spool.depth == kept == len(spool.oldest(1000))
    assert "full" in (spool.probe() or "")
    spool.remove(spool.oldest(1000)[-1][0])
    spool.append([_incoming(b"{}")])
    assert spool.probe() is None
    spool.close()


def test_a_spool_where_nothing_can_be_written_refuses_at_once() -> None:
    """A location nobody can write (here /proc) raises SpoolError at open, with the path."""
    spool = Spool("/proc/netpay-smart/spool.sqlite3")
    with pytest.raises(SpoolError, match="/proc/netpay-smart"):
        spool.open()
    assert spool.probe() is not None
    with pytest.raises(SpoolError):
        spool.append([_incoming(b"{}")])


def test_the_spool_keeps_the_key_a_body_was_first_sent_with(tmp_path: Path) -> None:
    """A body keyed by the writer comes back with its key; one without, without. A spool file
    written before keys were kept opens, and its bodies come back without one."""
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as db:
        db.executescript(
            "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE spooled (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT "
            "NOT NULL, remote TEXT, body BLOB NOT NULL, truncated INTEGER NOT NULL, error TEXT);"
        )
        db.execute(
            "INSERT INTO spooled (received_at, remote, body, truncated) VALUES (?, ?, ?, 0)",
            (datetime.now(UTC).isoformat(), "127.0.0.1:5000", b"{}"),
        )
    db.close()
    spool = Spool(old)
    spool.open()
    keyed = _incoming(sale_body("o-keyed"))
    keyed.key = "0123456789ab:000000000007"
    spool.append([keyed, _incoming(sale_body("o-plain"))])
    assert [(t.body, t.key) for _, t in spool.oldest(10)] == [
        (b"{}", None),
        (keyed.body, "0123456789ab:000000000007"),
        (sale_body("o-plain"), None),
    ]
    spool.close()


def test_moving_the_same_spooled_bodies_twice_inserts_them_once(store: Store) -> None:
    """A crash between the database commit and the spool delete makes the next move a no-op."""
    spooled = [(f"file:{i}", _incoming(sale_body(f"o-{i}"))) for i in range(1, 6)]
    with store.engines.write.begin() as connection:
        assert _new(insert_spooled(connection, spooled)) == 5
    with store.engines.write.begin() as connection:
        assert _new(insert_spooled(connection, [*spooled[2:], ("file:6", _incoming(b"{}"))])) == 1
    with store.engines.read.connect() as connection:
        rows = connection.execute(text("SELECT spool_key, body FROM deliveries ORDER BY id"))
        assert [(key, bytes(body)) for key, body in rows] == [
            (key, item.body) for key, item in spooled
        ] + [("file:6", b"{}")]


# -- a receiver on PostgreSQL whose database goes away ----------------------------------------

pg = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL schema of its own."""
    if not PG_URL:
        pytest.skip("PostgreSQL variant: set NETPAY_TEST_DATABASE_URL=postgresql://... to run it")
    with postgres_schema() as url:
        Store.open(url, migrate=True).close()
        yield url


@pg
def test_a_batch_whose_commit_was_in_doubt_is_moved_in_once(pg_url: str) -> None:
    """PostgreSQL committed a batch and went away before it answered: the writer spooled the
    batch too, with the keys it first sent it with. Moving it back inserts none of it again;
    what did not commit is inserted."""
    store = Store.open(pg_url)
    try:
        items = [_incoming(sale_body(f"d-{i}")) for i in range(4)]
        for n, item in enumerate(items):
            item.key = f"0123456789ab:{n:012d}"
        with store.engines.write.begin() as connection:
            insert_deliveries(connection, items[:2])  # committed, the answer lost
        with store.engines.write.begin() as connection:
            moved = insert_spooled(connection, [(item.key or "", item) for item in items])
            assert _new(moved) == 2
        with store.engines.read.connect() as connection:
            rows = connection.execute(text("SELECT spool_key, body FROM deliveries ORDER BY id"))
            assert [(key, bytes(body)) for key, body in rows] == [
                (item.key, item.body) for item in items
            ]
    finally:
        store.close()


@pg
def test_a_store_started_again_never_gives_a_key_twice(pg_url: str, tmp_path: Path) -> None:
    """Each row the writer inserts is keyed before it is first sent; a store stopped and
    started again (a new writer, the same store) gives new keys. A key given twice would make
    the database refuse the row and the spool's move skip it as already there: a body lost."""
    store = Store.open(pg_url, spool=Spool(tmp_path / "spool.sqlite3"))

    async def write(order_ids: list[str]) -> list[int]:
        items = [_incoming(sale_body(order_id)) for order_id in order_ids]
        return list(await asyncio.gather(*(store.write(item) for item in items)))

    try:
        written = []
        for round_ in range(2):
            store.start()
            try:
                written += asyncio.run(write([f"k{round_}-{n}" for n in range(3)]))
            finally:
                store.stop()
    finally:
        store.close()
    stored = _stored(pg_url)
    assert all(delivery_id > 0 for delivery_id in written)  # the database took each, no spool
    assert [order_id for order_id, _, _ in stored] == [
        f"k{round_}-{n}" for round_ in range(2) for n in range(3)
    ]
    assert len({key for _, key, _ in stored if key}) == 6


@pg
def test_a_result_a_pos_waits_for_is_processed_first_once_the_spool_is_moved(
    pg_url: str, tmp_path: Path
) -> None:
    """1,200 results wait in the spool, the 801st answering a push made through the SDK:
    once they are moved into the database, that one is processed before most of the others
    (in its turn it would come 801st)."""
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.open()
    bodies = [sale_body(f"kept-{i}") for i in range(1200)]
    bodies[800] = sale_body("awaited", traceability={TRACE_KEY: "push-1"})
    for first in range(0, len(bodies), 400):
        spool.append([_incoming(body) for body in bodies[first : first + 400]])
    spool.close()
    order: list[int] = []
    done = threading.Event()

    def on_applied(applied: list[Applied]) -> None:
        order.extend(item.delivery_id for item in applied)
        if len(order) >= len(bodies):
            done.set()

    store = Store.open(pg_url, spool=Spool(tmp_path / "spool.sqlite3"))
    try:
        store.start(on_applied=on_applied)
        assert done.wait(60)
    finally:
        store.close()
    stored = _stored(pg_url)
    assert [order_id for order_id, _, _ in stored][800] == "awaited"
    ids = _ids(pg_url)
    assert sorted(order) == ids  # each once
    assert order.index(ids[800]) < 200


def _ids(url: str) -> list[int]:
    """The id of every delivery in the database, in order."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT id FROM deliveries ORDER BY id")).scalars())
    finally:
        engine.dispose()


def _receiver(url: str, spool_path: Path | str, **overrides: Any) -> Any:
    """The receiver through the proxy (which may be cut: no migration on the way in)."""
    return live_receiver(url, migrate=False, spool_path=str(spool_path), **overrides)


def _stored(url: str) -> list[tuple[str, str | None, str]]:
    """(orderId, spool_key, outcome) of every delivery in the database, by id."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT body, spool_key, outcome FROM deliveries ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [(json.loads(body)["orderId"], key, outcome) for body, key, outcome in rows]


def _ready(live: Live) -> dict[str, Any]:
    answer = live.bare.get("/readyz")
    return {"http": answer.status_code, **answer.json()}


@pg
def test_with_the_database_gone_results_are_acked_from_the_spool_and_moved_back_in_order(
    pg_url: str, tmp_path: Path
) -> None:
    """Every result gets its 200 during the outage; afterwards each is in PostgreSQL exactly
    once, in the order it was acknowledged, and processed."""
    with proxied(pg_url) as (proxy, url), _receiver(url, tmp_path / "spool.sqlite3") as live:
        before = [f"before-{i}" for i in range(20)]
        during = [f"during-{i}" for i in range(150)]
        for order_id in before:
            assert live.post(sale_body(order_id)).content == ACK
        proxy.cut()
        answers = [live.post(sale_body(order_id)) for order_id in during]
        assert [(a.status_code, a.content) for a in answers] == [(200, ACK)] * len(during)

        ready = _ready(live)
        assert (ready["http"], ready["status"], ready["database_reachable"]) == (
            200,
            "spooling",
            False,
        )
        assert (ready["spool"]["writable"], ready["spool"]["depth"]) == (True, len(during))
        # Open to anyone: the kind of failure, never the driver's text with the address.
        assert ready["detail"] in ("OperationalError", "timeout"), ready["detail"]
        down = live.api.get("/api/transactions")
        assert (down.status_code, down.json()["error"]) == (503, "database_unavailable")
        assert "netpay_spooling 1" in live.bare.get("/metrics").text

        proxy.restore()
        wait_until(
            lambda: _ready(live),
            lambda r: r["status"] == "ready" and r["spool"]["depth"] == 0,
            timeout=20,
            what="the spool moved back",
        )
        stored = wait_until(
            lambda: _stored(pg_url),
            lambda rows: all(outcome != "pending" for _, _, outcome in rows),
            timeout=20,
            what="every moved delivery processed",
        )
        assert [order_id for order_id, _, _ in stored] == before + during
        # Every row carries the key the writer gave it, moved or not, each its own.
        assert len({key for _, key, _ in stored if key}) == 170
        assert {outcome for _, _, outcome in stored} == {"new"}
        assert len(live.transactions()) == 170
        metrics = live.bare.get("/metrics").text
        assert "netpay_spooled_total 150" in metrics
        assert "netpay_spool_moved_total 150" in metrics


@pg
def test_with_the_database_and_the_spool_gone_the_answer_is_503_within_a_second(
    pg_url: str,
) -> None:
    """Nothing can keep the result: 503 fast, never 200; /readyz says unavailable; once the
    database is back, results are acknowledged again."""
    nowhere = "/proc/netpay-smart/spool.sqlite3"
    with proxied(pg_url) as (proxy, url), _receiver(url, nowhere) as live:
        ready = _ready(live)
        assert (ready["status"], ready["spool"]["writable"]) == ("ready", False)
        proxy.cut()
        for i in range(5):
            started = time.monotonic()
            answer = live.post(sale_body(f"lost-{i}"))
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "1"
            assert time.monotonic() - started < 1.0
        ready = _ready(live)
        assert (ready["http"], ready["status"], ready["database_reachable"]) == (
            503,
            "unavailable",
            False,
        )
        proxy.restore()
        answer = wait_until(
            lambda: live.post(sale_body("after")),
            lambda a: a.status_code == 200,
            timeout=10,
            what="a 200 once the database is back",
        )
        assert answer.content == ACK
    assert [order_id for order_id, _, _ in _stored(pg_url)] == ["after"]


@pg
def test_a_spool_left_by_a_stopped_receiver_is_moved_when_the_next_one_starts(
    pg_url: str, tmp_path: Path
) -> None:
    """Stopped mid-outage, the receiver keeps its spool; the next start moves it, once."""
    spool = tmp_path / "spool.sqlite3"
    with proxied(pg_url) as (proxy, url):
        with _receiver(url, spool) as live:
            proxy.cut()
            for i in range(40):
                assert live.post(sale_body(f"kept-{i}")).content == ACK
        proxy.restore()
        assert _stored(pg_url) == []
        with _receiver(url, spool) as live:
            ready = _ready(live)
            assert (ready["status"], ready["spool"]["depth"]) == ("ready", 0)
            assert live.post(sale_body("next")).content == ACK
            stored = wait_until(
                lambda: _stored(pg_url),
                lambda rows: len(rows) == 41 and all(o != "pending" for _, _, o in rows),
                what="the kept results processed",
            )
    assert [order_id for order_id, _, _ in stored] == [f"kept-{i}" for i in range(40)] + ["next"]


@pg
def test_a_receiver_started_while_the_database_is_down_acknowledges_from_the_spool(
    pg_url: str, tmp_path: Path
) -> None:
    """Starting without a database is not an outage of the webhook: it spools, then moves."""
    with proxied(pg_url) as (proxy, url):
        proxy.cut()
        with _receiver(url, tmp_path / "spool.sqlite3") as live:
            assert _ready(live)["status"] == "spooling"
            for i in range(10):
                assert live.post(sale_body(f"early-{i}")).content == ACK
            proxy.restore()
            wait_until(
                lambda: _stored(pg_url),
                lambda rows: len(rows) == 10 and all(o == "new" for _, _, o in rows),
                timeout=20,
                what="the early results moved and processed",
            )
            assert _ready(live)["status"] == "ready"


@pg
def test_a_full_spool_answers_503_and_what_it_took_still_reaches_the_database(
    pg_url: str, tmp_path: Path
) -> None:
    """With the database gone and the spool at its cap (NETPAY_SPOOL_MAX_MB=1), results get
    200 until the spool is full, then 503 and never 200; once the database is back, every
    acknowledged result is in it, and none that got a 503."""
    spool = tmp_path / "spool.sqlite3"
    with (
        proxied(pg_url) as (proxy, url),
        _receiver(url, spool, spool_max_bytes=1024 * 1024) as live,
    ):
        proxy.cut()
        acked: list[str] = []
        refused: list[str] = []
        for i in range(2000):
            order_id = f"full-{i}"
            answer = live.post(sale_body(order_id))
            if answer.status_code == 200:
                assert not refused, "a 200 after the spool was full"
                acked.append(order_id)
            else:
                assert answer.status_code == 503
                refused.append(order_id)
                if len(refused) == 20:
                    break
        assert len(acked) > 100 and len(refused) == 20
        ready = _ready(live)
        assert (ready["http"], ready["status"]) == (503, "unavailable")
        assert "full" in ready["spool"]["problem"]
        proxy.restore()
        ready = wait_until(
            lambda: _ready(live),
            lambda r: r["status"] == "ready" and r["spool"]["depth"] == 0,
            timeout=20,
            what="the full spool moved back",
        )
        assert ready["spool"]["writable"] is True
    assert [order_id for order_id, _, _ in _stored(pg_url)] == acked
