"""Drive a :class:`Store` without a server: store a body, then process it, as the writer does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from netpay_smart.store import Applied, Store
from netpay_smart.store.ingest import Incoming, insert_deliveries, process, process_many
from netpay_smart.store.schema import transactions
from tests.wire.vectors import FACTS_REAL_SALE_2024

#: A fixed "now" inside the business day of the real 2024 sale (2024-03-05 CDMX).
NOW = datetime(2024, 3, 5, 19, 20, tzinfo=UTC)

TERMINAL = "1494113052"


def encode(body: bytes | dict[str, Any]) -> bytes:
    """A body as a terminal posts it: bytes unchanged, a dict as compact UTF-8 JSON."""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def deliver(
    store: Store,
    body: bytes | dict[str, Any],
    *,
    now: datetime = NOW,
    edge_error: str | None = None,
) -> Applied:
    """Commit ``body`` as a delivery, then process it in a second transaction."""
    raw = encode(body)
    with store.engines.write.begin() as conn:
        [delivery_id] = insert_deliveries(
            conn, [Incoming(body=raw, received_at=now, error=edge_error)]
        )
    with store.engines.write.begin() as conn:
        return process(conn, delivery_id, raw, now=now, edge_error=edge_error)


def deliver_together(store: Store, bodies: list[bytes]) -> tuple[list[int], list[Applied]]:
    """Commit ``bodies`` as deliveries, then process them all as one chunk, in one
    transaction; returns their ids and what processing did."""
    with store.engines.write.begin() as conn:
        ids = insert_deliveries(conn, [Incoming(body=body, received_at=NOW) for body in bodies])
    with store.engines.write.begin() as conn:
        work = [(i, body, None, None) for i, body in zip(ids, bodies, strict=True)]
        return ids, process_many(conn, work, now=NOW)


def real_sale(**changes: Any) -> dict[str, Any]:
    """The real 2024 sandbox sale (200.00, terminal 1494113052) with some keys replaced."""
    body: dict[str, Any] = json.loads(FACTS_REAL_SALE_2024)
    body.update(changes)
    return body


def sale(order_id: str, amount: str = "200.0", **changes: Any) -> dict[str, Any]:
    """An approved sale with its own order id and amount, otherwise the real 2024 sale."""
    return real_sale(orderId=order_id, amount=amount, tipLessAmount=amount, **changes)


def reprint_of(body: dict[str, Any], module: str = "C", **changes: Any) -> dict[str, Any]:
    """The reprint of ``body``: ``isRePrint`` true, "Transaccion Valida", ``reprintModule``."""
    reprint = dict(body, isRePrint=True, message="Transaccion Valida", reprintModule=module)
    reprint.update(changes)
    return reprint


def cancellation_of(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The approved cancellation of ``body``: same order id, ``transType`` "V"."""
    cancel = dict(body, transType="V", responseCode="00", transDate="2024-03-05 14:02:00.CST")
    cancel.pop("transactionId", None)
    cancel.update(changes)
    return cancel


def tx_rows(store: Store) -> list[Any]:
    """Every ``transactions`` row, oldest first."""
    with store.engines.read.connect() as conn:
        return list(conn.execute(select(transactions).order_by(transactions.c.id)))


def fail_like_a_busy_database(store: Store, *, order_id: str | None = None) -> None:
    """From now on, inserting a transaction fails the way a deadlocked or busy database does
    (PEP 249 ``OperationalError``), for every order or only ``order_id``. PostgreSQL: a trigger
    raising ``deadlock_detected``. SQLite: a trigger calling a function no connection has,
    which fails every insert whatever ``order_id``."""
    with store.engines.write.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER busy BEFORE INSERT ON transactions BEGIN SELECT busy(); END"
            )
            return
        only = "" if order_id is None else f"IF NEW.order_id = '{order_id}' THEN "
        conn.exec_driver_sql(
            "CREATE FUNCTION busy() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{only}RAISE EXCEPTION 'deadlock' USING ERRCODE = 'deadlock_detected'; "
            f"{'END IF; ' if only else ''}RETURN NEW; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER busy BEFORE INSERT ON transactions FOR EACH ROW EXECUTE FUNCTION busy()"
        )


def stop_failing(store: Store, name: str = "busy") -> None:
    """Undo :func:`fail_like_a_busy_database` (or another trigger ``name`` with, on
    PostgreSQL, its function of the same name)."""
    with store.engines.write.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            conn.exec_driver_sql(f"DROP TRIGGER {name} ON transactions")
            conn.exec_driver_sql(f"DROP FUNCTION {name}()")
