"""Order independence of ingest: a Hypothesis state machine over one SQLite store.

The universe is small and fixed: three order ids, and for each its sale, the cancellation of
that sale, a reprint of it (``reprintModule`` "C") and a conflicting sale (same orderId, another
amount). The machine delivers them in any order, re-delivers them (byte for byte or re-spaced),
delivers the same body from two threads at once, commits deliveries without processing them (a
crash between the acknowledgement and processing) and restarts (the writer processes what is
pending). After every step the store must agree with a plain model; at the end, a second store
fed the distinct bodies in the reverse order must end in the same state.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from netpay_smart.store import Applied, Store
from netpay_smart.store.ingest import Incoming, count_pending, insert_deliveries
from netpay_smart.store.schema import deliveries, transactions
from tests.conftest import PG_URL, postgres_schema
from tests.store.helpers import NOW, cancellation_of, deliver, encode, reprint_of, sale

ORDERS = [f"240305131447-149411305{n}" for n in range(3)]
AMOUNT, CONFLICT_AMOUNT = "200.0", "250.0"

# One entry per distinct body: (order id, role, body). Roles: sale, cancel, reprint, conflict.
UNIVERSE: list[tuple[str, str, dict[str, Any]]] = []
for _order in ORDERS:
    _sale = sale(_order, AMOUNT)
    UNIVERSE += [
        (_order, "sale", _sale),
        (_order, "cancel", cancellation_of(_sale)),
        (_order, "reprint", reprint_of(_sale, "C")),
        (_order, "conflict", sale(_order, CONFLICT_AMOUNT)),
    ]
BODY = st.integers(min_value=0, max_value=len(UNIVERSE) - 1)

_TEMPLATE: dict[str, Path] = {}


def _fresh_store(directory: Path, name: str) -> Store:
    """A migrated SQLite store: a copy of one database migrated once per session."""
    if "path" not in _TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="netpay-ordering-")) / "template.sqlite3"
        Store.open(f"sqlite:///{template}", migrate=True).close()
        atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
        _TEMPLATE["path"] = template
    target = directory / f"{name}.sqlite3"
    shutil.copyfile(_TEMPLATE["path"], target)
    return Store.open(f"sqlite:///{target}")


def _respaced(body: dict[str, Any]) -> bytes:
    """The same JSON object with other bytes: keys sorted, indented, ASCII escapes."""
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=True).encode()


def _restart(store: Store) -> None:
    """A restart: the writer processes the deliveries left pending (meanwhile, it would take
    new ones), then stops."""
    store.start(clock=lambda: NOW)
    deadline = time.monotonic() + 30
    while True:
        with store.engines.read.connect() as conn:
            if not count_pending(conn):
                break
        assert time.monotonic() < deadline, "deliveries left pending were not processed"
        time.sleep(0.01)
    store.stop()


def _final_state(store: Store) -> dict[str, tuple[Any, ...]]:
    """Per order id: the sale's (status, cancelled, reprint_count, amount_cents)."""
    with store.engines.read.connect() as conn:
        rows = conn.execute(select(transactions).where(transactions.c.kind == "sale"))
        return {
            row.order_id: (row.status, bool(row.cancelled), row.reprint_count, row.amount_cents)
            for row in rows
        }


class IngestOrdering(RuleBasedStateMachine):
    """Deliveries in any order, duplicated, interrupted and recovered: the model always holds."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="netpay-ordering-"))
        self.store = self.open_store("main")
        #: delivery id -> index in UNIVERSE, for every committed delivery.
        self.body_of: dict[int, int] = {}
        #: ids committed but not processed yet (a crash after the acknowledgement).
        self.pending: list[int] = []
        #: distinct bodies in the order they were first *processed*.
        self.processed_order: list[int] = []

    # -- helpers --------------------------------------------------------------------------------

    def open_store(self, name: str) -> Store:
        """An empty, migrated store for this example."""
        return _fresh_store(self.directory, name)

    def _processed(self, applied: Applied, index: int) -> None:
        self.body_of[applied.delivery_id] = index
        if index not in self.processed_order:
            self.processed_order.append(index)

    def _recover_all(self) -> None:
        _restart(self.store)
        for delivery_id in sorted(self.pending):  # the writer takes them in id order
            index = self.body_of[delivery_id]
            if index not in self.processed_order:
                self.processed_order.append(index)
        self.pending.clear()

    # -- rules ----------------------------------------------------------------------------------

    @rule(index=BODY)
    def deliver_body(self, index: int) -> None:
        """A terminal posts one of the bodies; it is stored, then processed."""
        self._processed(deliver(self.store, UNIVERSE[index][2]), index)

    @precondition(lambda self: bool(self.body_of))
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        """A body already delivered comes again, byte for byte (the terminal retried)."""
        index = data.draw(st.sampled_from(sorted(set(self.body_of.values()))))
        self._processed(deliver(self.store, UNIVERSE[index][2]), index)

    @rule(index=BODY)
    def deliver_respaced(self, index: int) -> None:
        """The same object with other spacing and key order: the same body, a duplicate."""
        self._processed(deliver(self.store, _respaced(UNIVERSE[index][2])), index)

    @rule(index=BODY)
    def concurrent_duplicate(self, index: int) -> None:
        """The same body from two connections at once: both stored, the result counted once."""
        barrier = threading.Barrier(2)
        results: list[Applied] = []
        errors: list[BaseException] = []

        def post() -> None:
            try:
                barrier.wait(5)
                results.append(deliver(self.store, UNIVERSE[index][2]))
            except BaseException as exc:  # reported on the main thread
                errors.append(exc)

        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        assert len(results) == 2
        for applied in sorted(results, key=lambda a: a.delivery_id):
            self._processed(applied, index)

    @rule(index=BODY)
    def commit_without_processing(self, index: int) -> None:
        """The body is committed and acknowledged, then the process dies before processing."""
        with self.store.engines.write.begin() as conn:
            [delivery_id] = insert_deliveries(
                conn, [Incoming(body=encode(UNIVERSE[index][2]), received_at=NOW)]
            )
        self.body_of[delivery_id] = index
        self.pending.append(delivery_id)

    @rule()
    def restart(self) -> None:
        """The receiver starts again: every pending delivery is processed, in id order."""
        self._recover_all()

    # -- what must always hold ------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        """One sale per order; counters, cancellation, amount and outcomes follow the model."""
        with self.store.engines.read.connect() as conn:
            rows = list(conn.execute(select(transactions)))
            rows_by_key = {row.key: row for row in rows}
            done = list(
                conn.execute(
                    select(deliveries.c.id, deliveries.c.outcome, deliveries.c.transaction_key)
                )
            )
        assert len(rows_by_key) == len(rows)
        outcome = {d.id: d.outcome for d in done}
        routed = {d.id: d.transaction_key for d in done}
        assert {i for i, o in outcome.items() if o == "pending"} == set(self.pending)
        processed = [i for i in self.body_of if i not in self.pending]
        for index in set(self.body_of[i] for i in processed):
            # Each distinct body counts once: one delivery applied it, the others duplicates.
            mine = sorted(i for i in processed if self.body_of[i] == index)
            applying = [i for i in mine if outcome[i] != "duplicate"]
            assert len(applying) == 1, (UNIVERSE[index][:2], [outcome[i] for i in mine])
            assert outcome[applying[0]] in ("new", "reprint", "conflict")
        for order in ORDERS:
            seen = {
                UNIVERSE[self.body_of[i]][1]: None
                for i in processed
                if UNIVERSE[self.body_of[i]][0] == order
            }
            counts = {
                role: sum(1 for i in processed if UNIVERSE[self.body_of[i]][:2] == (order, role))
                for role in ("sale", "cancel", "reprint", "conflict")
            }
            sales = [r for r in rows if r.kind == "sale" and r.order_id == order]
            assert len(sales) <= 1, f"{len(sales)} sale rows for {order}"
            if not {"sale", "reprint", "conflict"} & set(seen):
                assert not sales
            else:
                [row] = sales
                key = f"sale:{order}"
                assert row.key == key
                assert row.delivery_count == sum(1 for k in routed.values() if k == key)
                assert row.delivery_count == (
                    counts["sale"] + counts["reprint"] + counts["conflict"]
                )
                assert row.reprint_count == (1 if "reprint" in seen else 0)
                assert bool(row.cancelled) is ("cancel" in seen)
                assert row.status == ("cancelled" if "cancel" in seen else "approved")
                assert row.conflict_count == (1 if {"sale", "conflict"} <= set(seen) else 0)
                first = next(
                    (
                        UNIVERSE[i][1]
                        for i in self.processed_order
                        if UNIVERSE[i][0] == order and UNIVERSE[i][1] in ("sale", "conflict")
                    ),
                    "sale",  # only the reprint: the sale as the reprint tells it
                )
                amount = CONFLICT_AMOUNT if first == "conflict" else AMOUNT
                assert row.amount_cents == round(float(amount) * 100)
            cancel = rows_by_key.get(f"cancellation:{order}")
            if "cancel" in seen:
                assert cancel is not None
                assert cancel.delivery_count == counts["cancel"]
            else:
                assert cancel is None

    def teardown(self) -> None:
        """Recover what is pending, then replay the distinct bodies reversed on a second store."""
        try:
            self._recover_all()
            self.store_matches_model()
            other = self.open_store("reversed")
            try:
                for index in reversed(self.processed_order):
                    deliver(other, UNIVERSE[index][2])
                mine, theirs = _final_state(self.store), _final_state(other)
            finally:
                other.close()
            assert set(mine) == set(theirs)
            for order, state in mine.items():
                conflicted = {"sale", "conflict"} <= {
                    UNIVERSE[i][1] for i in self.processed_order if UNIVERSE[i][0] == order
                }
                if conflicted:  # "the first is kept": the amount depends on the order
                    assert state[:3] == theirs[order][:3], order
                else:
                    assert state == theirs[order], order
        finally:
            self.store.close()
            shutil.rmtree(self.directory, ignore_errors=True)


IngestOrdering.TestCase.settings = settings(max_examples=60, stateful_step_count=15, deadline=None)
TestIngestOrdering = IngestOrdering.TestCase
TestIngestOrdering.__doc__ = "Any order of deliveries, crashes and restarts: same final state."


_SCHEMAS: dict[str, str] = {}


def _empty_postgres_store(name: str) -> Store:
    """A store on one of two PostgreSQL schemas migrated once per session, emptied."""
    if name not in _SCHEMAS:
        schemas = postgres_schema()
        _SCHEMAS[name] = schemas.__enter__()
        atexit.register(schemas.__exit__, None, None, None)
        Store.open(_SCHEMAS[name], migrate=True).close()
    store = Store.open(_SCHEMAS[name])
    with store.engines.write.begin() as conn:
        conn.exec_driver_sql("TRUNCATE pushes, transactions, deliveries RESTART IDENTITY CASCADE")
    return store


class IngestOrderingPostgres(IngestOrdering):
    """The same machine on PostgreSQL (claims, ON CONFLICT and the driver's statements there)."""

    def open_store(self, name: str) -> Store:
        return _empty_postgres_store(name)


IngestOrderingPostgres.TestCase.settings = settings(
    max_examples=25, stateful_step_count=15, deadline=None
)
TestIngestOrderingPostgres = pytest.mark.postgres(
    pytest.mark.skipif(not PG_URL, reason="set NETPAY_TEST_DATABASE_URL to run it")(
        IngestOrderingPostgres.TestCase
    )
)
TestIngestOrderingPostgres.__doc__ = "The same on PostgreSQL: same final state in any order."
