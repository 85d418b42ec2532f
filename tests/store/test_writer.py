"""The group-commit writer: store, acknowledge, process, notify; recovery at start."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from netpay_smart._personal import hide
from netpay_smart.store import Applied, Incoming, Store, StoreUnavailableError
from netpay_smart.store.engine import CHECKPOINT_PAGES
from netpay_smart.store.ingest import (
    count_pending,
    insert_deliveries,
    pending_deliveries,
    process_many,
)
from netpay_smart.store.queries import PushRequest
from netpay_smart.store.writer import _STOP, Writer
from netpay_smart.wire import TRACE_KEY
from tests.wire import vectors as v

from .helpers import (
    NOW,
    encode,
    fail_like_a_busy_database,
    real_sale,
    sale,
    stop_failing,
    tx_rows,
)

ORDER = "240305131447-1494113052"


class Collector:
    """An ``on_applied`` callback that records what it got and says when enough arrived."""

    def __init__(self, expected: int) -> None:
        self.applied: list[Applied] = []
        self.calls = 0
        self.sizes: list[int] = []  # how many each call got
        self._expected = expected
        self._lock = threading.Lock()
        self.done = threading.Event()

    def __call__(self, applied: list[Applied]) -> None:
        with self._lock:
            self.calls += 1
            self.sizes.append(len(applied))
            self.applied.extend(applied)
            if len(self.applied) >= self._expected:
                self.done.set()


def test_write_before_start_is_refused(store: Store) -> None:
    """Writing to a store that is not started raises StoreUnavailableError."""
    item = Incoming(body=b"{}", received_at=NOW)
    with pytest.raises(StoreUnavailableError, match="not started"):
        asyncio.run(store.write(item))


def test_write_returns_delivery_id_and_callback_gets_applied(store: Store) -> None:
    """store.write returns the committed delivery id; on_applied then receives the Applied list."""
    collector = Collector(expected=1)
    store.start(on_applied=collector, clock=lambda: NOW)
    try:
        item = Incoming(body=v.FACTS_REAL_SALE_2024.encode(), received_at=NOW, remote="10.0.0.7")
        delivery_id = asyncio.run(store.write(item))
        assert collector.done.wait(10)
    finally:
        store.stop()

    assert store.writer is None
    [applied] = collector.applied
    assert (applied.delivery_id, applied.outcome, applied.kind) == (delivery_id, "new", "sale")
    assert (applied.transaction_key, applied.order_id, applied.status) == (
        f"sale:{ORDER}",
        ORDER,
        "approved",
    )
    [delivery] = store.list_deliveries()["items"]
    assert (delivery["id"], delivery["outcome"], delivery["remote"]) == (
        delivery_id,
        "new",
        "10.0.0.7",
    )
    assert delivery["body"] == hide(v.FACTS_REAL_SALE_2024.encode()).decode()
    found = store.get_transaction(ORDER)
    assert found is not None
    assert found["amount"] == "200.00"


def test_concurrent_writes_get_distinct_ids_and_are_all_processed(store: Store) -> None:
    """Many concurrent writes each get their own id and are all processed, duplicate included."""
    bodies = [encode(sale(f"O-{n}")) for n in range(10)] + [encode(sale("O-0"))]
    collector = Collector(expected=len(bodies))
    store.start(on_applied=collector, clock=lambda: NOW)

    async def write_all() -> list[int]:
        return list(
            await asyncio.gather(
                *(store.write(Incoming(body=body, received_at=NOW)) for body in bodies)
            )
        )

    try:
        ids = asyncio.run(write_all())
        assert collector.done.wait(10)
    finally:
        store.stop()

    assert len(set(ids)) == len(bodies)
    outcomes = {a.delivery_id: a.outcome for a in collector.applied}
    assert sorted(outcomes) == sorted(ids)
    assert sorted(outcomes.values()) == ["duplicate"] + ["new"] * 10
    assert len(tx_rows(store)) == 10


def test_unprocessed_delivery_is_recovered_at_start(store: Store) -> None:
    """A delivery committed but never processed is pending; once started, the writer
    processes it."""
    with store.engines.write.begin() as conn:
        [stored] = insert_deliveries(conn, [Incoming(body=encode(real_sale()), received_at=NOW)])
        [big] = insert_deliveries(
            conn, [Incoming(body=b"{...", received_at=NOW, truncated=True, error="too_large")]
        )
    with store.engines.read.connect() as conn:
        pending = pending_deliveries(conn)
    assert pending == [(stored, encode(real_sale()), None, None), (big, b"{...", None, "too_large")]
    assert tx_rows(store) == []

    collector = Collector(expected=2)
    store.start(on_applied=collector, clock=lambda: NOW)
    try:
        assert collector.done.wait(10)
    finally:
        store.stop()

    assert {a.delivery_id: a.outcome for a in collector.applied} == {
        stored: "new",
        big: "too_large",
    }
    with store.engines.read.connect() as conn:
        assert pending_deliveries(conn) == []
    [row] = tx_rows(store)
    assert (row.order_id, row.first_delivery_id) == (ORDER, stored)


def _leave_pending(store: Store, count: int) -> list[int]:
    """``count`` sales committed and never processed, as a crash leaves them."""
    ids: list[int] = []
    with store.engines.write.begin() as conn:
        for first in range(0, count, 500):
            bodies = [encode(sale(f"LEFT-{n}")) for n in range(first, min(first + 500, count))]
            ids += insert_deliveries(conn, [Incoming(body=b, received_at=NOW) for b in bodies])
    return ids


def _result(body: dict[str, Any]) -> Incoming:
    """A result as the webhook hands it over: the body and what it decoded to."""
    return Incoming(body=encode(body), received_at=NOW, decoded=body)


def test_a_restart_takes_new_results_at_once_and_an_awaited_one_first(store: Store) -> None:
    """With 2,000 deliveries left pending, start() returns while they still wait; of two
    results written then, the one a POS waits for (a push id in ``traceability``) is processed
    before most of them, the other in its turn, after them."""
    left = _leave_pending(store, 2000)
    collector = Collector(expected=len(left) + 2)
    store.start(on_applied=collector, clock=lambda: NOW)
    try:
        with store.engines.read.connect() as conn:
            assert count_pending(conn) > 1000
        plain = asyncio.run(store.write(_result(sale("PLAIN"))))
        awaited = asyncio.run(
            store.write(_result(sale("AWAITED", traceability={TRACE_KEY: "push-1"})))
        )
        assert collector.done.wait(60)
    finally:
        store.stop()
    order = [applied.delivery_id for applied in collector.applied]
    assert sorted(order) == sorted([*left, plain, awaited])  # each once
    assert order.index(awaited) < 1000
    assert order.index(plain) > 1900  # in its turn (PostgreSQL's four threads race a little)
    assert {applied.outcome for applied in collector.applied} == {"new"}


def test_awaited_results_past_what_memory_holds_are_processed_all_the_same(store: Store) -> None:
    """More results a POS waits for than the writer holds in memory (``backlog_max``): the
    rest wait in the database, and every one is processed, once."""
    bodies = [sale(f"W-{n}", traceability={TRACE_KEY: f"push-{n}"}) for n in range(40)]
    collector = Collector(expected=len(bodies))
    store.writer = Writer(store.engines, on_applied=collector, backlog_max=3, read_ahead=2)
    store.writer.start()

    async def write_all() -> list[int]:
        return list(await asyncio.gather(*(store.write(_result(body)) for body in bodies)))

    try:
        ids = asyncio.run(write_all())
        assert collector.done.wait(30)
        time.sleep(0.2)  # anything processed twice would be reported by now
    finally:
        store.stop()
    assert sorted(applied.delivery_id for applied in collector.applied) == sorted(ids)
    assert {applied.outcome for applied in collector.applied} == {"new"}
    assert sorted(row.order_id for row in tx_rows(store)) == sorted(f"W-{n}" for n in range(40))


class _ReadsCounted(Writer):
    """A writer that counts how many of its threads work through the database at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading = self.most_reading = 0
        self._counting = threading.Lock()

    def _read_and_process(self, *args: Any, **kwargs: Any) -> None:
        with self._counting:
            self.reading += 1
            self.most_reading = max(self.most_reading, self.reading)
        try:
            super()._read_and_process(*args, **kwargs)
        finally:
            with self._counting:
                self.reading -= 1


def test_postgresql_catches_up_from_the_database_one_thread_at_a_time(store: Store) -> None:
    """PostgreSQL, 2,000 deliveries left pending: one processor thread at a time reads them,
    64 to a chunk (four threads reading 16 each took twice the time, see ``Writer._work``);
    each is processed once."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one thread; it reads 64 and processes them 4 or 16 at a time")
    left = _leave_pending(store, 2000)
    collector = Collector(expected=len(left))
    writer = store.writer = _ReadsCounted(store.engines, on_applied=collector)
    writer.start()
    try:
        assert collector.done.wait(60)
    finally:
        store.stop()
    assert writer.most_reading == 1
    assert sorted(applied.delivery_id for applied in collector.applied) == left
    assert max(collector.sizes) == 64
    assert sum(size == 64 for size in collector.sizes) >= 2000 // 64 - 2


def _largest_gap(store: Store, bodies: list[dict[str, Any]]) -> int:
    """Write ``bodies`` at once through a writer committing 8 at a time; the most results
    ever acknowledged and not yet processed, seen each time a chunk was processed."""
    gaps: list[int] = []

    def on_applied(_applied: list[Applied]) -> None:
        assert store.writer is not None
        gaps.append(store.writer.committed - store.writer.processed)

    store.writer = Writer(store.engines, on_applied=on_applied, batch_max=8)
    store.writer.start()

    async def write_all() -> None:
        await asyncio.gather(*(store.write(_result(body)) for body in bodies))

    try:
        asyncio.run(write_all())
    finally:
        store.stop()
    assert len(gaps) >= 2
    return max(gaps)


def test_awaited_results_keep_pace_with_their_acknowledgements(store: Store) -> None:
    """SQLite, 300 results written at once: when each answers a push, every batch is processed
    before the next is committed (none waits behind the others); plain ones are left for
    later, acknowledging first (more than a hundred behind at some point)."""
    if store.dialect != "sqlite":
        pytest.skip("on PostgreSQL processing has threads of its own, paced by the database")
    awaited = [sale(f"K-{n}", traceability={TRACE_KEY: f"push-{n}"}) for n in range(300)]
    assert _largest_gap(store, awaited) <= 8
    assert _largest_gap(store, [sale(f"P-{n}") for n in range(300)]) > 100


def _fail(message: str) -> None:
    raise ValueError(message)


def test_a_write_of_the_api_runs_between_the_writer_s_transactions(store: Store) -> None:
    """SQLite: a write handed to ``Writer.call`` (a push registered) runs on the writer's
    thread, between its transactions, so it never waits on SQLite's lock; its value comes
    back and its error is raised. On PostgreSQL it runs on the caller's thread."""
    store.start(clock=lambda: NOW)
    assert store.writer is not None
    try:
        where = store.writer.call(lambda: threading.current_thread().name)
        with pytest.raises(ValueError, match="refused"):
            store.writer.call(lambda: _fail("refused"))
    finally:
        store.stop()
    assert where == ("netpay-writer" if store.dialect == "sqlite" else "MainThread")


def test_a_push_registered_while_the_writer_catches_up_is_stored(store: Store) -> None:
    """A push registered and marked sent while 2,000 deliveries left pending are processed:
    both writes land (on SQLite through the writer's thread, between two chunks)."""
    _leave_pending(store, 2000)
    store.start(clock=lambda: NOW)
    try:
        request = PushRequest(kind="sale", terminal_id="0821000119", id="push-during")
        assert store.register_push(request, now=NOW)["state"] == "registered"
        assert store.update_push_state("push-during", "sent", now=NOW)
        found = store.get_push("push-during", now=NOW)
        with store.engines.read.connect() as conn:
            still = count_pending(conn)
    finally:
        store.stop()
    assert found is not None and found["state"] == "sent"
    assert still > 0  # it did not wait for the catch-up


def test_a_result_queued_after_the_stop_is_refused_not_left_waiting(store: Store) -> None:
    """A body handed over after the writer was told to stop gets StoreUnavailableError (the
    terminal is told 503 and sends it again) instead of an answer that never comes."""
    if store.dialect != "sqlite":
        pytest.skip("the same code on both; SQLite is enough to hold the writer's thread")
    store.start(clock=lambda: NOW)
    writer = store.writer
    assert writer is not None
    gate = threading.Event()
    holding = threading.Thread(target=writer.call, args=(gate.wait,))
    holding.start()  # the writer's thread now waits in that call
    writer._queue.put(_STOP)  # the stop, as stop() sends it, ahead of the body below

    async def late() -> int:
        pending = asyncio.ensure_future(store.write(_result(sale("LATE"))))
        await asyncio.sleep(0.05)  # queued behind the stop
        gate.set()
        return await asyncio.wait_for(pending, 10)

    try:
        with pytest.raises(StoreUnavailableError, match="stopping"):
            asyncio.run(late())
    finally:
        holding.join(10)
        store.stop()
    assert tx_rows(store) == []


def test_nothing_pending_means_no_callback_at_start(store: Store) -> None:
    """With nothing left pending, start() calls on_applied for nothing."""
    collector = Collector(expected=1)
    store.start(on_applied=collector, clock=lambda: NOW)
    store.stop()
    assert (collector.calls, collector.applied) == (0, [])


def _wal_frames(store: Store) -> int:
    """Frames in the database's write-ahead log file (its size, in SQLite's WAL format)."""
    path = Path(str(store.engines.write.url.database) + "-wal")
    return max(0, (path.stat().st_size - 32) // (4096 + 24)) if path.exists() else 0


def _write_many(store: Store, count: int, first: int = 0) -> list[int]:
    async def write_all() -> list[int]:
        return list(
            await asyncio.gather(
                *(
                    store.write(Incoming(body=encode(sale(f"CKPT-{n}")), received_at=NOW))
                    for n in range(first, first + count)
                )
            )
        )

    return asyncio.run(write_all())


def _through_writer(store: Store, count: int, **settings: Any) -> Collector:
    """``count`` results written at once through a writer made with ``settings``, then
    processed; returns what ``on_applied`` got."""
    collector = Collector(expected=count)
    store.writer = Writer(store.engines, on_applied=collector, **settings)
    store.writer.start()
    try:
        _write_many(store, count)
        assert collector.done.wait(60)
    finally:
        store.stop()
    return collector


def test_sqlite_copies_its_wal_back_little_and_often(store: Store) -> None:
    """SQLite: the commit that takes the WAL past CHECKPOINT_PAGES copies it back, so while
    1,500 results are acknowledged and processed the WAL file never grows much beyond that
    (SQLite's default would let it reach 1,000 pages, each copy keeping a batch waiting)."""
    if store.dialect != "sqlite":
        pytest.skip("the write-ahead log is SQLite's")
    with store.engines.write.connect() as conn:
        setting = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
    assert setting == CHECKPOINT_PAGES < 1000
    collector = Collector(expected=1500)
    store.start(on_applied=collector, clock=lambda: NOW)
    try:
        for round_ in range(75):  # twenty at a time: no transaction of more than twenty
            _write_many(store, 20, first=20 * round_)
        assert collector.done.wait(60)
        # The file keeps its largest size: the pages before a copy plus one transaction's
        # (twenty results, about 130 pages).
        assert 0 < _wal_frames(store) <= CHECKPOINT_PAGES + 300
    finally:
        store.stop()
    assert len(tx_rows(store)) == 1500


def _temporary_files() -> set[str]:
    """SQLite's temporary files this process holds open (its names start with etilqs_)."""
    found = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed since it was listed
            continue
        if "etilqs_" in target:
            found.add(target)
    return found


def test_sqlite_processing_writes_no_temporary_file(store: Store) -> None:
    """SQLite: a processing transaction keeps its savepoint's journal in memory on the
    writer's connections. Forty results processed at once rewrite forty stored rows, each
    holding its body: well past the 64 KiB after which SQLite would create, write and delete
    a temporary file (this test fails without the setting). Readers keep SQLite's default
    (an export's sort can be large)."""
    if store.dialect != "sqlite":
        pytest.skip("the temporary files are SQLite's")
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to see open files")
    bodies = [encode(sale(f"TEMP-{n}")) for n in range(40)]
    with store.engines.write.begin() as conn:
        ids = insert_deliveries(conn, [Incoming(body=body, received_at=NOW) for body in bodies])
    with store.engines.write.begin() as conn:
        work = [
            (delivery_id, body, None, None) for delivery_id, body in zip(ids, bodies, strict=True)
        ]
        applied = process_many(conn, work, now=NOW)
        opened = _temporary_files()  # SQLite closes the journal with the transaction
    assert [a.outcome for a in applied] == ["new"] * 40
    assert opened == set()
    assert len(tx_rows(store)) == 40
    with store.engines.read.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA temp_store").scalar_one() == 0  # the default


def test_processing_keeps_pace_with_a_steady_stream(store: Store) -> None:
    """SQLite: deliveries arriving back to back (the writer never idle) are processed as they
    come, not left for a quiet moment: when the last one is acknowledged, the others are done."""
    if store.dialect != "sqlite":
        pytest.skip("on PostgreSQL processing has threads of its own, paced by the database")
    collector = Collector(expected=400)
    store.start(on_applied=collector, clock=lambda: NOW)

    async def one_after_another() -> int:
        for n in range(400):
            await store.write(Incoming(body=encode(sale(f"PACE-{n}")), received_at=NOW))
        assert store.writer is not None
        return store.writer.committed - store.writer.processed

    try:
        behind = asyncio.run(one_after_another())
        assert collector.done.wait(30)
    finally:
        store.stop()
    assert behind <= 8
    assert len(tx_rows(store)) == 400


@pytest.mark.parametrize("idle_max", [16, 4])
def test_a_backlog_is_caught_up_in_larger_chunks_once_nothing_arrives(
    store: Store, idle_max: int
) -> None:
    """SQLite: after a burst, with no body waiting, the writer processes ``idle_max``
    deliveries a transaction (cheaper per delivery), never more."""
    if store.dialect != "sqlite":
        pytest.skip("on PostgreSQL processing has threads of its own, in chunks of 16")
    collector = _through_writer(store, 200, idle_max=idle_max)
    assert max(collector.sizes) == idle_max
    assert sum(collector.sizes) == 200


def test_a_result_that_comes_alone_is_processed_at_once(store: Store) -> None:
    """SQLite: a body with none just before it (a shop's pace) is processed right after its
    acknowledgement, not after the quiet moment the writer otherwise waits for company; two
    of them, far apart, both are."""
    if store.dialect != "sqlite":
        pytest.skip("on PostgreSQL processing has threads of its own, woken by each commit")
    collector = Collector(expected=2)
    store.writer = Writer(store.engines, on_applied=collector, idle=60.0)  # never quiet enough
    store.writer.start()
    try:
        asyncio.run(store.write(Incoming(body=encode(sale("LONE-1")), received_at=NOW)))
        deadline = time.monotonic() + 10
        while not collector.applied and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [a.order_id for a in collector.applied] == ["LONE-1"]
        time.sleep(0.05)  # far apart: well over the writer's lone_after
        asyncio.run(store.write(Incoming(body=encode(sale("LONE-2")), received_at=NOW)))
        assert collector.done.wait(10)
    finally:
        store.stop()
    assert [a.order_id for a in collector.applied] == ["LONE-1", "LONE-2"]


def test_a_backlog_read_back_from_the_database_is_processed_once(store: Store) -> None:
    """More results than the writer holds in memory: the rest is read back from the database
    (on PostgreSQL by four processor threads at once), and each is processed exactly once."""
    collector = _through_writer(store, 300, backlog_max=10)
    outcomes = sorted(applied.delivery_id for applied in collector.applied)
    assert outcomes == sorted(set(outcomes)) and len(outcomes) == 300
    assert {applied.outcome for applied in collector.applied} == {"new"}
    with store.engines.read.connect() as conn:
        assert pending_deliveries(conn) == []
    assert len(tx_rows(store)) == 300


def test_a_backlog_in_the_database_is_read_back_many_at_a_time(store: Store) -> None:
    """Past the backlog's limit, one read of the database brings back the next chunks too:
    400 results processed four at a time take reads of forty (on PostgreSQL, four threads
    reading at once, some more), not one per chunk (90 at the least; 100-170 measured), and
    each result is still processed once."""
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "deliveries.body, deliveries.error" in statement and "LIMIT" in statement:
            reads.append(statement)

    event.listen(store.engines.write, "before_cursor_execute", count)
    try:
        collector = _through_writer(store, 400, backlog_max=40, read_ahead=40, process_max=4)
    finally:
        event.remove(store.engines.write, "before_cursor_execute", count)
    processed = [applied.delivery_id for applied in collector.applied]
    assert len(processed) == len(set(processed)) == 400
    assert {applied.outcome for applied in collector.applied} == {"new"}
    assert 1 <= len(reads) < 60
    assert len(tx_rows(store)) == 400


def test_sqlite_acknowledgements_commit_durably_between_processing(store: Store) -> None:
    """SQLite: the writer acknowledges and processes on one connection (one page cache),
    processing with ``synchronous=NORMAL``; every acknowledgement's transaction still runs
    and commits with ``synchronous=FULL``, the fsync that makes a 200 safe."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL commits acknowledgements on a connection of their own")
    traced: dict[int, list[str]] = {}

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(traced.setdefault(id(dbapi_connection), []).append)

    event.listen(store.engines.write, "connect", trace)
    collector = Collector(expected=200)
    store.start(on_applied=collector, clock=lambda: NOW)
    try:
        _write_many(store, 100)
        _write_many(store, 100, first=100)
        assert collector.done.wait(30)
    finally:
        store.stop()
        event.remove(store.engines.write, "connect", trace)

    [writer] = [s for s in traced.values() if any("INTO deliveries" in x for x in s)]
    synchronous, acking, checked = "FULL", False, 0
    for statement in writer:
        if statement.startswith("PRAGMA synchronous="):
            assert not acking, "synchronous changed inside an acknowledgement"
            synchronous = statement.split("=", 1)[1]
        elif statement.startswith("INSERT INTO deliveries"):
            assert synchronous == "FULL"
            acking = True
        elif statement == "COMMIT" and acking:
            assert synchronous == "FULL"
            acking, checked = False, checked + 1
    assert checked >= 2  # at least one batch per round
    assert "PRAGMA synchronous=NORMAL" in writer  # processing ran on the same connection
    assert len(tx_rows(store)) == 200


def test_postgresql_acknowledges_durably_and_processes_without_waiting(store: Store) -> None:
    """PostgreSQL: every delivery is inserted in a transaction with ``synchronous_commit``
    on (the commit that makes a 200 safe); processing writes transactions with it off, for
    its own transactions only: twice started, the second time on connections the pool has
    already used for processing. Triggers record the setting each insert ran under."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite switches synchronous on the writer's one connection")
    with store.engines.write.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE seen (name text, setting text)")
        conn.exec_driver_sql(
            "CREATE FUNCTION record_setting() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO seen VALUES (TG_TABLE_NAME, current_setting('synchronous_commit')); "
            "RETURN NEW; END $$"
        )
        for table in ("deliveries", "transactions"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER record_{table} BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION record_setting()"
            )
    for first in (0, 100):
        collector = Collector(expected=100)
        store.start(on_applied=collector, clock=lambda: NOW)
        try:
            _write_many(store, 50, first=first)
            _write_many(store, 50, first=first + 50)
            assert collector.done.wait(30)
        finally:
            store.stop()

    with store.engines.read.connect() as conn:
        seen = conn.exec_driver_sql(
            "SELECT name, setting, count(*) FROM seen GROUP BY name, setting ORDER BY name"
        ).all()
    assert [tuple(row) for row in seen] == [("deliveries", "on", 200), ("transactions", "off", 200)]


def _refuse_body(store: Store, body: bytes) -> None:
    """From now on the database refuses to store ``body`` (a trigger on ``deliveries``)."""
    marker = body.decode()
    with store.engines.write.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_body BEFORE INSERT ON deliveries "
                f"WHEN NEW.body = CAST('{marker}' AS BLOB) BEGIN SELECT RAISE(ABORT, 'no'); END"
            )
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_body() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.body = convert_to('{marker}', 'UTF8') THEN RAISE EXCEPTION 'no'; END IF; "
            "RETURN NEW; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_body BEFORE INSERT ON deliveries "
            "FOR EACH ROW EXECUTE FUNCTION refuse_body()"
        )


@pytest.mark.parametrize("pipeline", [True, False], ids=["libpq-14+", "older-libpq"])
def test_a_body_is_acknowledged_if_and_only_if_it_was_stored(
    store: Store, pipeline: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch in which the database refuses one body stores none of that batch: each of its
    requests gets StoreUnavailableError (the terminal is told 503 and sends it again), never
    an id for a body that is not there; the batches after it are stored and acknowledged,
    each id holding its own body. Ten rounds: twenty bodies and the refused one written at
    once, then twenty more. On PostgreSQL also with a libpq without pipeline mode, where an
    ``executemany`` in autocommit would commit row by row."""
    if not pipeline:
        if store.dialect != "postgresql":
            pytest.skip("libpq is PostgreSQL's")
        import psycopg

        monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    refused = b"refuse-me"
    _refuse_body(store, refused)
    store.start(clock=lambda: NOW)

    async def write_all(bodies: list[bytes]) -> list[int | BaseException]:
        writes = (store.write(Incoming(body=body, received_at=NOW)) for body in bodies)
        return list(await asyncio.gather(*writes, return_exceptions=True))

    outcomes: list[tuple[bytes, int | BaseException]] = []
    try:
        for round_ in range(10):
            for part, with_refused in (("a", True), ("b", False)):
                bodies = [f"body-{round_}-{part}{n}".encode() for n in range(20)]
                if with_refused:
                    bodies.insert(round_ * 2, refused)
                outcomes.extend(zip(bodies, asyncio.run(write_all(bodies)), strict=True))
    finally:
        store.stop()

    with store.engines.read.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, body FROM deliveries").all()
    stored = {row[0]: bytes(row[1]) for row in rows}
    acked = {value: body for body, value in outcomes if isinstance(value, int)}
    refusals = [(body, value) for body, value in outcomes if isinstance(value, BaseException)]
    assert acked == stored  # every id holds its body, and nothing else was stored
    assert all(isinstance(value, StoreUnavailableError) for _, value in refusals)
    assert sum(body == refused for body, _ in refusals) == 10
    # Bodies shared the refused one's batch (in practice all twenty, every round) and were
    # refused with it; every "b" round was stored whole.
    assert len(refusals) > 10
    assert len(acked) >= 200


def test_a_restart_that_cannot_process_for_now_still_starts(store: Store) -> None:
    """Recovery at start meets a failure of the database's own (a deadlock, SQLite busy): the
    receiver starts anyway, and the deliveries left pending are processed once the database
    lets them, not marked ``error``."""
    bodies = [encode(sale(f"R-{n}")) for n in range(3)]
    with store.engines.write.begin() as conn:
        insert_deliveries(conn, [Incoming(body=b, received_at=NOW) for b in bodies])
    fail_like_a_busy_database(store)
    collector = Collector(expected=3)
    store.start(on_applied=collector, clock=lambda: NOW)
    try:
        time.sleep(0.3)
        assert collector.applied == []
        with store.engines.read.connect() as conn:
            assert len(pending_deliveries(conn)) == 3
        stop_failing(store)
        assert collector.done.wait(15)
    finally:
        store.stop()
    assert {applied.outcome for applied in collector.applied} == {"new"}
    assert sorted(row.order_id for row in tx_rows(store)) == ["R-0", "R-1", "R-2"]


def test_a_connection_that_failed_to_store_is_not_used_again(store: Store) -> None:
    """A write that failed because of its connection (SQLite opened read-only while the file
    was) gets 503, and the next write, on a new connection, is stored."""
    if store.dialect != "sqlite":
        pytest.skip("SQLite: a connection that can only read is how this happens there")
    store.start(clock=lambda: NOW)
    try:
        assert asyncio.run(store.write(Incoming(body=encode(sale("RO-1")), received_at=NOW))) > 0
        deadline = time.monotonic() + 10
        while store.count_pending() and time.monotonic() < deadline:
            time.sleep(0.01)  # processed: the connection is the writer's alone again
        writer = store.writer
        assert writer is not None
        stuck = writer._connections[writer._role("ack")]
        stuck.exec_driver_sql("PRAGMA query_only=ON")  # as if the file could not be written
        with pytest.raises(StoreUnavailableError):
            asyncio.run(store.write(Incoming(body=encode(sale("RO-2")), received_at=NOW)))
        assert asyncio.run(store.write(Incoming(body=encode(sale("RO-3")), received_at=NOW))) > 0
    finally:
        store.stop()
