"""Processing deliveries: re-deliveries, conflicts, reprints, cancellations, declines, probes.

Every test runs on SQLite and on PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import itertools
import json
import tempfile
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql

from netpay_smart._personal import hide
from netpay_smart.store import PushRequest, Store, TransactionFilter
from netpay_smart.store.ingest import Incoming, insert_deliveries, process_many
from netpay_smart.store.schema import deliveries, transactions
from tests.wire import vectors as v

from .helpers import (
    NOW,
    cancellation_of,
    deliver,
    deliver_together,
    encode,
    fail_like_a_busy_database,
    real_sale,
    reprint_of,
    sale,
    stop_failing,
    tx_rows,
)

ORDER = "240305131447-1494113052"  # the real 2024 sale's orderId


def _sales(store: Store) -> list[Any]:
    return [row for row in tx_rows(store) if row.kind == "sale"]


# -- storing ----------------------------------------------------------------------------------


def test_each_body_is_stored_under_the_id_returned_for_it(store: Store) -> None:
    """``insert_deliveries`` returns the ids in the order of the bodies, alone and in a batch,
    and each row holds what came with its body: bytes, time, sender, size, flags."""
    later = NOW.replace(microsecond=123456)
    batches = [
        [Incoming(body=b"alone", received_at=NOW, remote="10.0.0.1")],
        [
            Incoming(
                body=f"body-{n}".encode() * (n + 1),
                received_at=later,
                remote=None if n % 2 else f"10.0.0.{n}",
                truncated=n == 3,
                error="too_large" if n == 3 else None,
            )
            for n in range(5)
        ],
    ]
    stored = []
    for batch in batches:
        with store.engines.write.begin() as conn:
            ids = insert_deliveries(conn, batch)
        assert len(ids) == len(batch) and ids == sorted(ids)
        stored.extend(zip(ids, batch, strict=True))

    with store.engines.read.connect() as conn:
        rows = {row.id: row for row in conn.execute(select(deliveries))}
    assert len(rows) == 6
    for delivery_id, item in stored:
        row = rows[delivery_id]
        assert bytes(row.body) == item.body and row.size == len(item.body)
        assert row.received_at == item.received_at
        assert (row.remote, bool(row.truncated), row.error) == (
            item.remote,
            item.truncated,
            item.error,
        )
        assert row.outcome == "pending"


# -- re-delivery ------------------------------------------------------------------------------


def test_same_body_twice_is_one_transaction_delivered_twice(store: Store) -> None:
    """The same body twice is one transaction with delivery_count 2; the second is a duplicate."""
    first = deliver(store, v.FACTS_REAL_SALE_2024.encode())
    second = deliver(store, v.FACTS_REAL_SALE_2024.encode())

    assert (first.outcome, second.outcome) == ("new", "duplicate")
    assert first.transaction_key == second.transaction_key == f"sale:{ORDER}"
    [row] = tx_rows(store)
    assert (row.delivery_count, row.conflict_count, row.reprint_count) == (2, 0, 0)
    assert row.first_delivery_id == first.delivery_id
    found = store.get_transaction(ORDER)
    assert found is not None
    assert [d["outcome"] for d in found["deliveries"]] == ["new", "duplicate"]


def test_reordered_and_reformatted_body_is_still_a_duplicate(store: Store) -> None:
    """Key order, whitespace and \\u escapes do not matter: the canonical JSON hash is equal."""
    body = real_sale()
    reordered = dict(reversed(list(body.items())))
    reordered["traceability"] = dict(reversed(list(body["traceability"].items())))
    pretty = json.dumps(reordered, indent=4, ensure_ascii=True).encode()
    assert pretty != v.FACTS_REAL_SALE_2024.encode()

    first = deliver(store, v.FACTS_REAL_SALE_2024.encode())
    again = deliver(store, pretty)

    assert (first.outcome, again.outcome) == ("new", "duplicate")
    [row] = tx_rows(store)
    assert row.delivery_count == 2
    assert row.conflict_count == 0


# -- conflicts --------------------------------------------------------------------------------


def test_same_order_other_body_is_a_conflict_and_keeps_the_first(store: Store) -> None:
    """Same orderId and kind with another body is a conflict; the first body's values are kept."""
    first = deliver(store, real_sale())
    other = deliver(store, real_sale(amount="999.0", authCode="777777"))

    assert (first.outcome, other.outcome) == ("new", "conflict")
    assert other.transaction_key == first.transaction_key
    [row] = tx_rows(store)
    assert (row.amount_cents, row.conflict_count, row.delivery_count) == (20000, 1, 2)
    found = store.get_transaction(ORDER)
    assert found is not None
    assert found["amount"] == "200.00"
    assert found["auth_code"] == "222222"
    assert found["raw"] == real_sale()
    assert found["conflict_count"] == 1


# -- reprints ---------------------------------------------------------------------------------


def test_reprint_of_known_sale_counts_and_adds_no_row(store: Store) -> None:
    """A reprint of a known sale raises reprint_count and never creates a second sale row."""
    deliver(store, real_sale())
    applied = deliver(store, reprint_of(real_sale()))

    assert applied.outcome == "reprint"
    assert applied.transaction_key == f"sale:{ORDER}"
    [row] = tx_rows(store)
    assert (row.reprint_count, row.status, row.source) == (1, "approved", "result")
    assert row.amount_cents == 20000


def test_same_reprint_redelivered_counts_once(store: Store) -> None:
    """The same reprint body delivered twice raises reprint_count once."""
    deliver(store, real_sale())
    first = deliver(store, reprint_of(real_sale()))
    again = deliver(store, reprint_of(real_sale()))

    assert (first.outcome, again.outcome) == ("reprint", "duplicate")
    [row] = tx_rows(store)
    assert row.reprint_count == 1
    assert row.delivery_count == 3


def test_two_different_reprints_count_twice(store: Store) -> None:
    """Two distinct reprints of one sale (another ticket date) count as two reprints."""
    deliver(store, real_sale())
    deliver(store, reprint_of(real_sale(), ticketDate="MAR. 05, 24 12:20:00 "))
    deliver(store, reprint_of(real_sale(), ticketDate="MAR. 05, 24 12:30:00 "))

    [row] = tx_rows(store)
    assert row.reprint_count == 2


def test_documented_reprint_counts_on_documented_sale(store: Store) -> None:
    """The docs' reprint (``.0`` transDate, amount "1") counts on the docs' sale it reprints."""
    deliver(store, v.SEED002_APPROVED_NO_PIN.encode())
    applied = deliver(store, v.SEED002_REPRINT.encode())

    assert applied.outcome == "reprint"
    [row] = tx_rows(store)
    assert (row.order_id, row.reprint_count, row.amount_cents) == (
        "210304142730-1490293930",
        1,
        100,
    )


def test_reprint_of_unseen_sale_creates_it_and_original_fills_it_in(store: Store) -> None:
    """A reprint of an unseen sale creates it (source reprint); the original then fills it in."""
    reprint = deliver(store, reprint_of(real_sale(), amount="200", tipLessAmount="0"))
    [row] = tx_rows(store)
    assert (reprint.outcome, row.source, row.reprint_count, row.status) == (
        "reprint",
        "reprint",
        1,
        "approved",
    )
    assert row.key == f"sale:{ORDER}"

    original = deliver(store, real_sale())

    assert original.outcome == "new"
    assert original.transaction_key == f"sale:{ORDER}"
    [row] = tx_rows(store)
    assert (row.source, row.reprint_count, row.status, row.approved) == (
        "result",
        1,
        "approved",
        True,
    )
    assert row.first_delivery_id == original.delivery_id
    found = store.get_transaction(ORDER)
    assert found is not None
    assert found["raw"] == real_sale()
    assert found["message"] == "Transacción exitosa"


def test_reprint_redelivered_after_original_stays_a_duplicate(store: Store) -> None:
    """reprint, original, then the same reprint again: still one row, one reprint."""
    deliver(store, reprint_of(real_sale()))
    deliver(store, real_sale())
    again = deliver(store, reprint_of(real_sale()))

    assert again.outcome == "duplicate"
    [row] = tx_rows(store)
    assert (row.reprint_count, row.delivery_count, row.source) == (1, 3, "result")


def test_reprint_by_folio_finds_the_sale(store: Store) -> None:
    """A reprint carrying only the folio (orderId empty) counts on the sale with that folio."""
    deliver(store, real_sale(folioNumber="F-77"))
    applied = deliver(store, reprint_of(real_sale(folioNumber="F-77"), orderId=""))

    assert applied.outcome == "reprint"
    assert applied.transaction_key == f"sale:{ORDER}"
    [row] = tx_rows(store)
    assert row.reprint_count == 1


# -- reprintModule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "status", "cancelled"),
    [
        ("C", "approved", False),
        ("V", "cancelled", True),
        ("RV", "reversed", False),
        ("PRV", "pending_reversal", False),
    ],
)
def test_reprint_module_sets_the_sale_state(
    store: Store, module: str, status: str, cancelled: bool
) -> None:
    """A reprint's reprintModule sets the sale's state: C approved, V cancelled, RV/PRV reversal."""
    deliver(store, real_sale())
    deliver(store, reprint_of(real_sale(), module))

    [row] = tx_rows(store)
    assert (row.status, row.cancelled, row.reprint_module) == (status, cancelled, module)
    found = store.get_transaction(ORDER)
    assert found is not None
    assert (found["status"], found["cancelled"]) == (status, cancelled)


@pytest.mark.parametrize(
    ("module", "status"),
    [("V", "cancelled"), ("RV", "reversed"), ("PRV", "pending_reversal")],
)
def test_reprint_state_survives_the_late_original(store: Store, module: str, status: str) -> None:
    """A reversal or void reported by a reprint is kept when the original sale arrives after it."""
    deliver(store, reprint_of(real_sale(), module))
    original = deliver(store, real_sale())

    assert original.outcome == "new"
    [row] = tx_rows(store)
    assert (row.status, row.source, row.reprint_count) == (status, "result", 1)
    assert bool(row.cancelled) is (status == "cancelled")


@pytest.mark.parametrize(
    ("modules", "status", "approved"),
    [
        (("RV", "C"), "reversed", False),
        (("C", "RV"), "reversed", False),
        (("RV", "PRV"), "reversed", False),
        (("PRV", "RV"), "reversed", False),
        (("PRV", "C"), "pending_reversal", False),
        (("V", "C"), "cancelled", True),
        (("C", "V"), "cancelled", True),
        (("RV", "V"), "reversed", False),
        (("C", "D"), "declined", False),
        (("D", "C"), "approved", True),
    ],
)
def test_reprints_in_any_order_leave_the_state_furthest_back(
    store: Store, modules: tuple[str, str], status: str, approved: bool
) -> None:
    """Reprints reporting states in either order leave the sale in the one its money went
    furthest back to (reversed and cancelled stay, pending reversal only gives way to them);
    ``approved`` always agrees with that state."""
    deliver(store, real_sale())
    for n, module in enumerate(modules):
        # Two reprints of one sale differ in more than the module (rePrintDate, the app).
        deliver(store, reprint_of(real_sale(), module, rePrintDate=f"1.3.{n}"))

    [row] = tx_rows(store)
    assert (row.status, bool(row.approved), row.reprint_count) == (status, approved, 2)
    kept = modules[1] if modules_status(modules[1]) == status else modules[0]
    assert row.reprint_module == kept
    found = store.get_transaction(ORDER)
    assert found is not None
    assert (found["status"], found["approved"]) == (status, approved)


def modules_status(module: str) -> str:
    """The status a reprintModule reports on its own."""
    return {"C": "approved", "V": "cancelled", "RV": "reversed", "PRV": "pending_reversal",
            "D": "declined"}[module]  # fmt: skip


@pytest.mark.parametrize("module", ["RV", "PRV"])
def test_a_reversal_reported_before_the_original_leaves_it_not_approved(
    store: Store, module: str
) -> None:
    """The original approved sale arriving after a reprint that reported its reversal keeps
    the reversal, and ``approved`` false with it (the money did not stay)."""
    deliver(store, reprint_of(real_sale(), module))
    deliver(store, real_sale())

    [row] = tx_rows(store)
    assert (row.status, bool(row.approved)) == (modules_status(module), False)


# -- cancellations ----------------------------------------------------------------------------


def test_cancellation_after_sale_cancels_it(store: Store) -> None:
    """An approved cancellation (transType V, code 00, same orderId) marks the sale cancelled."""
    deliver(store, real_sale())
    applied = deliver(store, cancellation_of(real_sale()))

    assert (applied.outcome, applied.kind, applied.transaction_key) == (
        "new",
        "cancellation",
        f"cancellation:{ORDER}",
    )
    [sale_row] = _sales(store)
    assert (sale_row.status, sale_row.cancelled, sale_row.approved) == ("cancelled", True, True)
    found = store.get_transaction(ORDER)
    assert found is not None
    assert (found["kind"], found["status"], found["cancelled"]) == ("sale", "cancelled", True)
    assert found["cancellation"]["kind"] == "cancellation"
    assert found["cancellation"]["status"] == "approved"


def test_cancellation_before_sale_cancels_it(store: Store) -> None:
    """A cancellation that arrives before its sale still leaves the sale cancelled."""
    deliver(store, cancellation_of(real_sale()))
    applied = deliver(store, real_sale())

    assert applied.outcome == "new"
    assert applied.transaction_key == f"sale:{ORDER}"
    [sale_row] = _sales(store)
    assert (sale_row.status, sale_row.cancelled) == ("cancelled", True)
    assert len(tx_rows(store)) == 2


def test_documented_cancellation_cancels_documented_sale(store: Store) -> None:
    """The docs' cancellation (tipAmount "null") cancels the docs' sale with the same orderId."""
    deliver(store, v.SEED002_APPROVED_NO_PIN.encode())
    deliver(store, v.SEED002_CANCEL.encode())

    found = store.get_transaction("210304142730-1490293930")
    assert found is not None
    assert (found["status"], found["cancelled"], found["amount"]) == ("cancelled", True, "1.00")
    assert found["cancellation"]["tip_amount"] is None


@pytest.mark.parametrize("cancel_first", [False, True])
def test_declined_cancellation_leaves_the_sale_standing(store: Store, cancel_first: bool) -> None:
    """A cancellation that was not approved (code 05) does not cancel its sale, in either order."""
    declined = cancellation_of(real_sale(), responseCode="05", message="Error de conexión")
    for body in [declined, real_sale()] if cancel_first else [real_sale(), declined]:
        deliver(store, body)

    [sale_row] = _sales(store)
    assert (sale_row.status, sale_row.cancelled) == ("approved", False)


def test_approved_cancellation_after_declined_attempt_cancels_the_sale(store: Store) -> None:
    """An approved cancellation arriving after a declined attempt on the same sale cancels it."""
    deliver(store, real_sale())
    deliver(store, cancellation_of(real_sale(), responseCode="05", message="Error de conexión"))
    deliver(store, cancellation_of(real_sale(), transDate="2024-03-05 14:05:00.CST"))

    [sale_row] = _sales(store)
    assert (sale_row.status, sale_row.cancelled) == ("cancelled", True)


def test_cancellation_then_reprint_of_unseen_sale_is_cancelled(store: Store) -> None:
    """Cancellation first, then a reprint that creates the sale: the sale is cancelled."""
    deliver(store, cancellation_of(real_sale()))
    deliver(store, reprint_of(real_sale()))

    [sale_row] = _sales(store)
    assert (sale_row.status, sale_row.cancelled) == ("cancelled", True)


# -- declines without orderId ------------------------------------------------------------------

DECLINES = {
    "02": v.SEED001_TIMEOUT_02,
    "48": v.SEED001_DECLINED_48,
    "13": v.SEED001_DECLINED_13,
    "56": v.SEED001_DECLINED_56,
    "14": v.SEED001_DECLINED_14,
    "34": v.SEED002_DECLINED_34,
    "05": v.SEED002_CONNECTION_ERROR_05,
}


@pytest.mark.parametrize("code", list(DECLINES))
def test_decline_without_order_id_is_found_by_folio(store: Store, code: str) -> None:
    """A decline with no orderId is kept as a sale transaction that its folio finds."""
    body = json.loads(DECLINES[code])
    body["folioNumber"] = f"F-{code}"
    applied = deliver(store, body)

    assert applied.outcome == "new"
    assert applied.transaction_key is not None
    assert applied.transaction_key.startswith("sale:h:")
    page = store.list_transactions(TransactionFilter(folio=f"F-{code}"))
    [item] = page["items"]
    expected_status = "user_cancelled" if code == "02" else "declined"
    assert (item["kind"], item["response_code"], item["status"]) == ("sale", code, expected_status)
    assert (item["order_id"], item["amount"], item["approved"]) == (None, None, False)
    assert item["message"] == body["message"]
    assert item["raw"] == body


def test_documented_new_app_declines_share_folio_as_three_rows(store: Store) -> None:
    """The three new-app bodies (34, 05, 02 on folio "prueba") are three rows under that folio."""
    for text in (
        v.SEED002_DECLINED_34_NEW_APP,
        v.SEED002_CONNECTION_ERROR_05,
        v.SEED002_TIMEOUT_02_NEW_APP,
    ):
        assert deliver(store, text.encode()).outcome == "new"

    items = store.list_transactions(TransactionFilter(folio="prueba"))["items"]
    assert [item["response_code"] for item in items] == ["02", "05", "34"]


def test_two_different_declines_are_two_rows(store: Store) -> None:
    """Two different declines (56 and 14, same message) are two transactions."""
    first = deliver(store, v.SEED001_DECLINED_56.encode())
    second = deliver(store, v.SEED001_DECLINED_14.encode())

    assert (first.outcome, second.outcome) == ("new", "new")
    assert first.transaction_key != second.transaction_key
    assert sorted(row.response_code for row in tx_rows(store)) == ["14", "56"]


def test_same_decline_twice_is_one_row(store: Store) -> None:
    """The same decline delivered twice is one transaction delivered twice."""
    first = deliver(store, v.SEED001_DECLINED_48.encode())
    again = deliver(store, v.SEED001_DECLINED_48.encode())

    assert (first.outcome, again.outcome) == ("new", "duplicate")
    [row] = tx_rows(store)
    assert (row.response_code, row.delivery_count) == ("48", 2)


# -- probes, bad bodies, edge errors ---------------------------------------------------------------


@pytest.mark.parametrize("text", [v.SEED001_PROBE, v.PROBE_LIST_OF_PAYS])
def test_probe_is_recorded_without_a_transaction(store: Store, text: str) -> None:
    """Both configuration-probe shapes are outcome "probe" and create no transaction."""
    first = deliver(store, text.encode())
    again = deliver(store, text.encode())

    assert (first.outcome, first.kind, first.transaction_key) == ("probe", "probe", None)
    assert again.outcome == "probe"
    assert tx_rows(store) == []
    assert [d["outcome"] for d in store.list_deliveries()["items"]] == ["probe", "probe"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "a JSON object was expected"),
        (v.SEED000_RESULT_AS_PRINTED.encode(), "not valid JSON"),
    ],
)
def test_body_that_is_not_a_json_object_is_invalid(store: Store, body: bytes, error: str) -> None:
    """A body that is not a JSON object is outcome "invalid" with an error text, kept raw."""
    applied = deliver(store, body)

    assert (applied.outcome, applied.transaction_key) == ("invalid", None)
    assert tx_rows(store) == []
    [delivery] = store.list_deliveries()["items"]
    assert delivery["outcome"] == "invalid"
    assert error in delivery["error"]
    assert delivery["body"] == hide(body).decode()  # lists hide the cardholder's name
    assert delivery["size"] == len(body)


def test_object_that_is_no_result_is_unrecognised(store: Store) -> None:
    """A JSON object that is neither a result nor a probe is "unrecognised", no transaction."""
    applied = deliver(store, {"hello": "world"})

    assert applied.outcome == "unrecognised"
    assert tx_rows(store) == []
    [delivery] = store.list_deliveries()["items"]
    assert delivery["problems"][0]["code"] == "not_a_result"


def test_too_large_body_is_not_processed(store: Store) -> None:
    """A body the edge flagged too_large is outcome "too_large", even if it reads as a sale."""
    applied = deliver(store, real_sale(), edge_error="too_large")

    assert (applied.outcome, applied.transaction_key) == ("too_large", None)
    assert tx_rows(store) == []
    [delivery] = store.list_deliveries(outcome="too_large")["items"]
    assert delivery["error"] == "too_large"


# -- amounts and times ------------------------------------------------------------------------


def test_money_is_cents_in_the_table_and_strings_in_the_api(store: Store) -> None:
    """Amounts are stored in integer cents and shown as two-decimal strings."""
    deliver(store, v.FACTS_REAL_SALE_2024.encode())
    deliver(store, sale("O-TIP", amount="150.5", tipAmount="20.25"))

    with store.engines.read.connect() as conn:
        cents = dict(
            conn.execute(select(transactions.c.order_id, transactions.c.amount_cents)).all()
        )
        tips = dict(conn.execute(select(transactions.c.order_id, transactions.c.tip_cents)).all())
    assert cents == {ORDER: 20000, "O-TIP": 15050}
    assert tips == {ORDER: 0, "O-TIP": 2025}
    real = store.get_transaction(ORDER)
    tipped = store.get_transaction("O-TIP")
    assert real is not None
    assert tipped is not None
    assert (real["amount"], real["tip_amount"]) == ("200.00", "0.00")
    assert (tipped["amount"], tipped["tip_amount"]) == ("150.50", "20.25")


def test_cst_trans_date_is_shown_with_minus_six_offset(store: Store) -> None:
    """A ``.CST`` transDate is shown as ISO 8601 with -06:00 and gives the CDMX business date."""
    deliver(store, v.FACTS_REAL_SALE_2024.encode())

    found = store.get_transaction(ORDER)
    assert found is not None
    assert found["transaction_at"] == "2024-03-05T13:14:48-06:00"
    assert found["business_date"] == "2024-03-05"
    assert found["received_at"] == "2024-03-05T13:20:00-06:00"
    assert found["card"] == {"brand": "VISA", "type": "D", "last4": "9493", "bank": "BANAMEX"}


def test_business_date_is_the_mexico_city_day(store: Store) -> None:
    """business_date is the America/Mexico_City day of transDate, not the UTC one."""
    deliver(store, sale("O-LATE", transDate="2024-03-06 05:30:00.GMT"))
    deliver(store, sale("O-NEXT", transDate="2024-03-06 06:30:00.GMT"))

    late = store.get_transaction("O-LATE")
    nxt = store.get_transaction("O-NEXT")
    assert late is not None
    assert nxt is not None
    assert (late["business_date"], late["transaction_at"]) == (
        "2024-03-05",
        "2024-03-05T23:30:00-06:00",
    )
    assert (nxt["business_date"], nxt["transaction_at"]) == (
        "2024-03-06",
        "2024-03-06T00:30:00-06:00",
    )


def test_overlong_text_fields_do_not_break_processing(
    store: Store, request: pytest.FixtureRequest
) -> None:
    """Over-long orderId / terminalId / responseCode never make processing raise."""
    long_order = "9" * 70
    outcomes = [
        deliver(store, sale(long_order)).outcome,
        deliver(store, sale("O-T", terminalId="7" * 45)).outcome,
        deliver(store, sale("O-R", responseCode="0" * 12)).outcome,
    ]

    assert outcomes == ["new", "new", "new"]
    assert len(tx_rows(store)) == 3


def test_now_is_recorded_as_received_at(store: Store) -> None:
    """The transaction's received_at and updated_at are the processing time given."""
    deliver(store, real_sale())
    [row] = tx_rows(store)
    assert row.received_at == NOW
    assert row.updated_at == NOW


def _refuse_order(store: Store, order_id: str) -> None:
    """A database trigger that refuses the transaction row of ``order_id``: a real failure in
    the middle of a batch, as a bug or a broken constraint would cause."""
    with store.engines.write.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON transactions "
                f"WHEN NEW.order_id = '{order_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.order_id = '{order_id}' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON transactions "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


def test_a_delivery_that_fails_in_a_batch_is_marked_error_and_the_others_go_on(
    store: Store,
) -> None:
    """The batch is rolled back to its savepoint and run one by one: the failing delivery ends
    ``error`` with the reason, the others are processed, nothing is left pending."""
    _refuse_order(store, "b-2")
    bodies = [encode(sale(order_id)) for order_id in ("b-1", "b-2", "b-3")]
    with store.engines.write.begin() as conn:
        ids = insert_deliveries(conn, [Incoming(body=body, received_at=NOW) for body in bodies])
    with store.engines.write.begin() as conn:
        applied = process_many(
            conn, [(i, b, None, None) for i, b in zip(ids, bodies, strict=True)], now=NOW
        )

    assert [a.outcome for a in applied] == ["new", "error", "new"]
    outcomes = {d["id"]: (d["outcome"], d["error"]) for d in store.list_deliveries()["items"]}
    assert outcomes[ids[0]] == ("new", None) and outcomes[ids[2]] == ("new", None)
    assert outcomes[ids[1]][0] == "error" and "refused" in outcomes[ids[1]][1]
    assert sorted(row.order_id for row in tx_rows(store)) == ["b-1", "b-3"]


def test_a_batch_the_database_fails_for_a_moment_stays_pending(store: Store) -> None:
    """A failure that says nothing about the results (a deadlock PostgreSQL broke, SQLite
    busy: PEP 249's ``OperationalError``) is raised, not recorded: the transaction rolls back
    and every delivery of the batch stays pending, to be processed once the database lets it.
    No result is marked ``error`` for the database's sake."""
    bodies = [encode(sale(order_id)) for order_id in ("t-1", "t-2", "t-3")]
    with store.engines.write.begin() as conn:
        ids = insert_deliveries(conn, [Incoming(body=body, received_at=NOW) for body in bodies])
    work = [(i, b, None, None) for i, b in zip(ids, bodies, strict=True)]
    fail_like_a_busy_database(store, order_id="t-2")  # PostgreSQL: t-2 only

    failing = store.engines.write.begin()
    with pytest.raises(Exception, match=r"busy|deadlock") as raised, failing as conn:
        process_many(conn, work, now=NOW)
    assert "OperationalError" in {cls.__name__ for cls in type(raised.value).__mro__}
    pending = {d["id"]: d["outcome"] for d in store.list_deliveries()["items"]}
    assert [pending[i] for i in ids] == ["pending"] * 3
    assert tx_rows(store) == []
    stop_failing(store)
    with store.engines.write.begin() as conn:
        applied = process_many(conn, work, now=NOW)

    assert [a.outcome for a in applied] == ["new", "new", "new"]
    assert sorted(row.order_id for row in tx_rows(store)) == ["t-1", "t-2", "t-3"]


def test_a_refused_write_with_a_push_open_is_the_deliverys_error(
    store: Store,
) -> None:
    """With a push open, matching reads the pushes after a refused write (on PostgreSQL the
    refusal then comes back with that read): the delivery still ends ``error`` with the
    reason, and the others of its chunk are processed."""
    store.register_push(
        PushRequest(kind="sale", terminal_id="0000000001", amount=Decimal("5.00")), now=NOW
    )
    _refuse_order(store, "p-2")
    applied = [deliver(store, sale(order_id)) for order_id in ("p-1", "p-2", "p-3")]

    assert [a.outcome for a in applied] == ["new", "error", "new"]
    outcomes = {d["id"]: (d["outcome"], d["error"]) for d in store.list_deliveries()["items"]}
    assert outcomes[applied[1].delivery_id][0] == "error"
    assert "refused" in outcomes[applied[1].delivery_id][1]
    assert sorted(row.order_id for row in tx_rows(store)) == ["p-1", "p-3"]


def test_failed_deliveries_are_processed_again_once_each(store: Store) -> None:
    """``reprocess_failed`` takes every delivery processing failed on back to pending and
    processes it, once per call: after the cause is gone it is ``new``; while the cause
    stays it ends ``error`` again, and the call still returns. The others are untouched."""
    _refuse_order(store, "r-2")
    first = [deliver(store, sale(order_id)) for order_id in ("r-1", "r-2", "r-3")]
    assert [a.outcome for a in first] == ["new", "error", "new"]

    assert store.reprocess_failed(now=NOW) == {"error": 1}  # the cause is still there
    stop_failing(store, "refuse")
    assert store.reprocess_failed(now=NOW) == {"new": 1}
    assert store.reprocess_failed(now=NOW) == {}

    outcomes = {d["id"]: (d["outcome"], d["error"]) for d in store.list_deliveries()["items"]}
    assert [outcomes[a.delivery_id] for a in first] == [("new", None)] * 3
    rows = {row.order_id: row for row in tx_rows(store)}
    assert sorted(rows) == ["r-1", "r-2", "r-3"]
    assert rows["r-2"].delivery_count == 1
    assert rows["r-2"].first_delivery_id == first[1].delivery_id


def _process_at_once(store: Store, body: bytes | list[bytes], ids: list[int]) -> list[str]:
    """Process the deliveries ``ids`` (their ``body``, or one each) on as many threads,
    released together."""
    bodies = body if isinstance(body, list) else [body] * len(ids)
    return _process_chunks_at_once(store, [[pair] for pair in zip(ids, bodies, strict=True)])


def _process_chunks_at_once(store: Store, chunks: list[list[tuple[int, bytes]]]) -> list[str]:
    """Process each chunk of (delivery id, body) in one transaction on a thread of its own,
    the threads released together; returns the outcomes, sorted."""
    barrier = threading.Barrier(len(chunks))
    outcomes: list[str] = []

    def process_chunk(chunk: list[tuple[int, bytes]]) -> None:
        barrier.wait(5)
        with store.engines.write.begin() as conn:
            done = process_many(conn, [(i, b, None, None) for i, b in chunk], now=NOW)
        outcomes.extend(applied.outcome for applied in done)

    threads = [threading.Thread(target=process_chunk, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return sorted(outcomes)


def test_the_same_reprint_processed_twice_at_once_counts_once(store: Store) -> None:
    """Two replicas processing the same reprint body at the same moment: one reprint, one
    duplicate, ``reprint_count`` 1 (on PostgreSQL a lock on the body's hash orders them; the
    stateful test found the double count before it). Five sales, five races."""
    for n in range(5):
        order_id = f"{ORDER}-{n}"
        deliver(store, sale(order_id))
        body = encode(reprint_of(sale(order_id)))
        with store.engines.write.begin() as conn:
            ids = insert_deliveries(conn, [Incoming(body=body, received_at=NOW)] * 2)
        assert _process_at_once(store, body, ids) == ["duplicate", "reprint"]
    assert [row.reprint_count for row in _sales(store)] == [1] * 5


def test_a_sale_and_its_cancellation_processed_at_once_end_cancelled(store: Store) -> None:
    """Two replicas processing a sale and its cancellation at the same moment: the sale ends
    ``cancelled`` (on PostgreSQL a lock on the order id orders them; without it each saw no
    trace of the other and the sale stayed approved). Ten races."""
    for n in range(10):
        order_id = f"{ORDER}-c{n}"
        bodies = [encode(sale(order_id)), encode(cancellation_of(sale(order_id)))]
        with store.engines.write.begin() as conn:
            ids = insert_deliveries(conn, [Incoming(body=b, received_at=NOW) for b in bodies])
        assert _process_at_once(store, bodies, ids) == ["new", "new"]
    sales = _sales(store)
    assert len(sales) == 10
    assert [(row.status, row.cancelled) for row in sales] == [("cancelled", True)] * 10


def test_a_chunk_leaves_out_what_another_process_already_processed(store: Store) -> None:
    """A chunk read back after another process (a replica, a restart) processed one of its
    deliveries: that one is left out and untouched, the others are processed once."""
    bodies = [encode(sale(f"k-{n}")) for n in range(3)]
    with store.engines.write.begin() as conn:
        ids = insert_deliveries(conn, [Incoming(body=b, received_at=NOW) for b in bodies])
    with store.engines.write.begin() as conn:
        [first] = process_many(conn, [(ids[1], bodies[1], None, None)], now=NOW)
    with store.engines.write.begin() as conn:
        applied = process_many(
            conn, [(i, b, None, None) for i, b in zip(ids, bodies, strict=True)], now=NOW
        )

    assert first.outcome == "new"
    assert [(a.delivery_id, a.outcome) for a in applied] == [(ids[0], "new"), (ids[2], "new")]
    assert sorted((row.order_id, row.delivery_count) for row in tx_rows(store)) == [
        ("k-0", 1),
        ("k-1", 1),
        ("k-2", 1),
    ]


def test_two_chunks_crossing_the_same_orders_do_not_deadlock(store: Store) -> None:
    """Two replicas each processing a chunk that names the same orders in the opposite order
    (sales on one, their cancellations reversed on the other): both finish, nothing fails,
    every sale ends cancelled. On PostgreSQL each chunk takes its locks at once, in one
    order; locks taken one delivery at a time deadlocked here. Five races."""
    for n in range(5):
        orders = [f"x{n}-{m}" for m in range(4)]
        sales = [encode(sale(order_id)) for order_id in orders]
        cancels = [encode(cancellation_of(sale(order_id))) for order_id in reversed(orders)]
        with store.engines.write.begin() as conn:
            ids = insert_deliveries(
                conn, [Incoming(body=b, received_at=NOW) for b in sales + cancels]
            )
        chunks = [list(zip(ids[:4], sales, strict=True)), list(zip(ids[4:], cancels, strict=True))]
        assert _process_chunks_at_once(store, chunks) == ["new"] * 8
    assert [(row.status, row.cancelled) for row in _sales(store)] == [("cancelled", True)] * 20


# -- chunks: what a chunk reads at once, what it writes without waiting ------------------------


def _reading_what_came_before(prefix: str) -> list[bytes]:
    """Bodies each of which reads what an earlier one wrote, were they processed together."""
    a, b = sale(f"{prefix}-a"), sale(f"{prefix}-b")
    return [
        encode(body)
        for body in (
            a,
            a,  # a re-delivery right behind its original
            reprint_of(a),  # a reprint of the sale just stored
            cancellation_of(a),  # its cancellation, on the sale just reprinted
            sale(f"{prefix}-a", "250.0"),  # another body under the same orderId
            cancellation_of(b),  # a cancellation ahead of its sale
            b,
            reprint_of(b),
            reprint_of(b),  # the same reprint twice
        )
    ]


def _rows_by_order(store: Store, prefix: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        (row.kind, row.order_id.removeprefix(prefix)): (
            row.status,
            bool(row.cancelled),
            row.reprint_count,
            row.delivery_count,
            row.conflict_count,
            row.amount_cents,
            row.source,
        )
        for row in tx_rows(store)
        if row.order_id.startswith(prefix)
    }


def test_a_chunk_ends_as_its_deliveries_processed_one_at_a_time(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A chunk reads what its deliveries need all at once, before it writes: one whose look
    an earlier one in the same chunk changed (its re-delivery, the sale its cancellation
    marks) reads again. Outcomes and transactions equal those of the same bodies processed
    one transaction each, and the chunk needs no second, one-by-one pass."""
    caplog.set_level("WARNING", logger="netpay_smart.store")
    _, together = deliver_together(store, _reading_what_came_before("one"))
    alone = [deliver(store, body) for body in _reading_what_came_before("each")]

    a_outcomes = ["new", "duplicate", "reprint", "new", "conflict"]
    expected = [*a_outcomes, "new", "new", "reprint", "duplicate"]
    assert [a.outcome for a in together] == expected
    assert [a.outcome for a in alone] == expected
    assert _rows_by_order(store, "one") == _rows_by_order(store, "each")
    assert _rows_by_order(store, "one")[("sale", "-a")][:5] == ("cancelled", True, 1, 4, 1)
    assert _rows_by_order(store, "one")[("sale", "-b")][:4] == ("cancelled", True, 1, 3)
    assert "one by one" not in caplog.text


def _round_trips(trace: bytes) -> int:
    """Times the client waited for PostgreSQL in a libpq trace: a message from the server
    (``B``) right after one from the client (``F``)."""
    directions = [line[:1] for line in trace.splitlines() if line[:1] in (b"F", b"B")]
    return sum(1 for a, b in itertools.pairwise(directions) if (a, b) == (b"F", b"B"))


def test_a_chunk_of_new_sales_waits_for_postgresql_a_few_times_not_per_sale(
    store: Store,
) -> None:
    """PostgreSQL: sixteen new sales in one chunk, and the client waits for the server a
    handful of times (the claim, the locks, the look of the whole chunk, the writes at the
    end), not two or three times per sale: the writes go out without waiting for each
    answer. Counted in libpq's own trace of the connection."""
    if store.dialect != "postgresql":
        pytest.skip("round trips are PostgreSQL's; SQLite is in the process")
    from psycopg import pq

    bodies = [encode(sale(f"rt-{n}")) for n in range(16)]
    with store.engines.write.begin() as conn:
        ids = insert_deliveries(conn, [Incoming(body=b, received_at=NOW) for b in bodies])
    with tempfile.TemporaryFile() as trace, store.engines.write.connect() as conn:
        pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        with conn.begin():
            applied = process_many(
                conn, [(i, b, None, None) for i, b in zip(ids, bodies, strict=True)], now=NOW
            )
        pgconn.untrace()
        trace.seek(0)
        waits = _round_trips(trace.read())

    assert [a.outcome for a in applied] == ["new"] * 16
    assert len(tx_rows(store)) == 16
    assert 3 <= waits <= 8, waits  # one look and one write per sale would be 32 and more


def test_two_replicas_recovering_one_sale_from_reprints_by_folio_count_both(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL: two replicas each process a reprint by folio of a sale neither has seen,
    the second while the first has not committed. The folio's lock (there is no orderId)
    makes the second wait for the first's commit, then count its reprint on the first's row:
    one sale recovered from the reprints, counted twice, and no chunk failed on the way."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    bodies = [
        encode(reprint_of(real_sale(folioNumber="F-race"), orderId="", message=message))
        for message in ("Transaccion Valida", "Transacción Válida")
    ]
    with store.engines.write.begin() as conn:
        ids = insert_deliveries(conn, [Incoming(body=b, received_at=NOW) for b in bodies])
    caplog.set_level("WARNING", logger="netpay_smart.store")
    second: list[Any] = []

    def replica_b() -> None:
        with store.engines.write.begin() as conn:
            second.extend(process_many(conn, [(ids[1], bodies[1], None, None)], now=NOW))

    with store.engines.write.connect() as conn_a:
        with conn_a.begin():
            [first] = process_many(conn_a, [(ids[0], bodies[0], None, None)], now=NOW)
            thread = threading.Thread(target=replica_b)
            thread.start()
            _wait_for_a_lock_wait(store)
        thread.join(15)

    assert first.outcome == "reprint"
    assert [a.outcome for a in second] == ["reprint"]
    assert "processing one by one" not in caplog.text  # no insert met the other's row
    [row] = tx_rows(store)
    assert (row.folio_number, row.source, row.reprint_count, row.delivery_count) == (
        "F-race", "reprint", 2, 2,
    )  # fmt: skip


def _wait_for_a_lock_wait(store: Store, timeout: float = 10) -> None:
    """Until a backend of this database waits for a lock another transaction holds."""
    deadline = time.monotonic() + timeout
    query = sql(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with store.engines.read.connect() as conn:
        while conn.execute(query).scalar_one() == 0:
            assert time.monotonic() < deadline, "nobody waited for the lock"
            time.sleep(0.01)
            conn.rollback()


def test_a_delivery_another_replica_processes_meanwhile_is_left_to_it(store: Store) -> None:
    """PostgreSQL: replica B claims a delivery replica A is processing; B waits for A's
    lock, then finds it processed (the claim reads the row again as A committed it) and
    leaves it alone: the sale is counted once."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    body = encode(sale("claimed-twice"))
    with store.engines.write.begin() as conn:
        [delivery_id] = insert_deliveries(conn, [Incoming(body=body, received_at=NOW)])
    second: list[Any] = []

    def replica_b() -> None:
        with store.engines.write.begin() as conn:
            second.extend(process_many(conn, [(delivery_id, body, None, None)], now=NOW))

    with store.engines.write.connect() as conn_a:
        with conn_a.begin():
            [first] = process_many(conn_a, [(delivery_id, body, None, None)], now=NOW)
            thread = threading.Thread(target=replica_b)
            thread.start()
            _wait_for_a_lock_wait(store)
        thread.join(15)

    assert first.outcome == "new"
    assert second == []  # nothing left to do: A processed it
    [row] = tx_rows(store)
    assert (row.order_id, row.delivery_count) == ("claimed-twice", 1)


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _plan_nodes(child))]


def test_a_claim_reads_its_own_deliveries_however_many_are_pending(store: Store) -> None:
    """PostgreSQL: with 3,000 deliveries pending (a burst, an outage's spool moved back), a
    chunk's claim of 16 reads those 16 rows and no others, so a backlog costs each chunk the
    same. Claimed by outcome too, the planner walked every pending one, every chunk."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite looks each id up in its outcome index (the rowid is in it)")
    from netpay_smart.store.ingest import _claim_sql

    body = encode(sale("pending"))  # 2.2 KB, as real bodies are
    with store.engines.write.begin() as conn:
        ids = insert_deliveries(conn, [Incoming(body=body, received_at=NOW)] * 3000)
    chunk = ids[1500:1516]
    with store.engines.write.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        explain = "EXPLAIN (ANALYZE, FORMAT JSON) " + _claim_sql("postgresql", len(chunk))
        [[[report]]] = cursor.execute(explain, chunk).fetchall()
        conn.rollback()

    on_deliveries = [
        node
        for node in _plan_nodes(report["Plan"])
        if node.get("Relation Name") == "deliveries"
        or str(node.get("Index Name", "")).endswith(("_deliveries", "_outcome"))
    ]
    assert on_deliveries
    for node in on_deliveries:
        read = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        assert read <= len(chunk), (node["Node Type"], node.get("Index Name"), read)


def test_the_next_pending_deliveries_are_read_without_sorting_the_backlog(store: Store) -> None:
    """PostgreSQL: the database's statistics say nothing is pending (as after a quiet day),
    then 3,000 deliveries wait (a burst, an outage's spool moved back). Reading the next 64
    reads 64 rows, in order: through the outcome index alone it read and sorted all 3,000,
    every time."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite's outcome index holds the rowid: the pending come in order")
    from sqlalchemy.dialects import postgresql

    from netpay_smart.store.ingest import _pending, pending_deliveries

    body = encode(sale("backlog"))  # 2.2 KB, as real bodies are
    with store.engines.write.begin() as conn:
        done = insert_deliveries(conn, [Incoming(body=body, received_at=NOW)] * 3000)
        conn.execute(deliveries.update().values(outcome="new"))
    with store.engines.write.begin() as conn:
        conn.exec_driver_sql("ANALYZE deliveries")  # statistics: nothing pending
    with store.engines.write.begin() as conn:
        waiting = insert_deliveries(conn, [Incoming(body=body, received_at=NOW)] * 3000)
    query = _pending(64).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    with store.engines.write.connect() as conn:
        [[report]] = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}").all()
        rows = pending_deliveries(conn, limit=64)

    assert [row[0] for row in rows] == waiting[:64]
    assert max(done) < min(waiting)
    for node in _plan_nodes(report[0]["Plan"]):
        read = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        assert read <= 64, (node["Node Type"], node.get("Index Name"), read)


def connection_error(folio: str) -> dict[str, Any]:
    """The documented 05 "Error de conexión" (no orderId, no terminal) for ``folio``."""
    return {**json.loads(v.SEED002_CONNECTION_ERROR_05), "folioNumber": folio}


def test_a_05_and_the_reversal_its_reprint_reports_are_one_sale(store: Store) -> None:
    """A 05, then the reprint by folio reporting the bank's approval reversed (RV), then the
    05 again: one sale under the bank's orderId, reversed, with the terminal's 05 kept."""
    first = deliver(store, connection_error("R-1"))
    reprint = reprint_of(sale("O-RV", "0.70", folioNumber="R-1"), module="RV")
    applied = deliver(store, reprint)
    again = deliver(store, connection_error("R-1"))

    assert (applied.outcome, applied.transaction_key) == ("reprint", "sale:O-RV")
    assert (again.outcome, again.transaction_key) == ("duplicate", "sale:O-RV")
    [item] = store.list_transactions(TransactionFilter(folio="R-1"))["items"]
    assert (item["order_id"], item["status"], item["approved"], item["amount"]) == (
        "O-RV",
        "reversed",
        False,
        "0.70",
    )
    assert (item["response_code"], item["message"]) == ("05", "Error de conexión")
    assert (item["delivery_count"], item["reprint_count"], item["source"]) == (3, 1, "result")
    with store.engines.read.connect() as conn:
        keys = conn.execute(
            select(deliveries.c.transaction_key).where(
                deliveries.c.id.in_([first.delivery_id, applied.delivery_id, again.delivery_id])
            )
        ).scalars()
        assert set(keys) == {"sale:O-RV"}


def test_a_pending_reversal_then_its_reversal_stay_one_sale(store: Store) -> None:
    """05, a reprint saying PRV, then one saying RV: one sale, reversed at the end."""
    deliver(store, connection_error("R-2"))
    deliver(store, reprint_of(sale("O-PRV", "0.71", folioNumber="R-2"), module="PRV"))
    pending = store.list_transactions(TransactionFilter(folio="R-2"))["items"]
    assert [(item["order_id"], item["status"]) for item in pending] == [
        ("O-PRV", "pending_reversal")
    ]
    deliver(store, reprint_of(sale("O-PRV", "0.71", folioNumber="R-2"), module="RV"))
    items = store.list_transactions(TransactionFilter(folio="R-2"))["items"]
    assert [(item["status"], item["reprint_count"]) for item in items] == [("reversed", 2)]


def test_only_a_05_is_the_decline_a_reversal_explains(store: Store) -> None:
    """A reversal reported for a folio whose stored decline is a 51, or for another
    terminal's folio, is a row of its own: only the terminal's 05 on that folio is one with it."""
    deliver(store, {**connection_error("R-3"), "responseCode": "51", "message": "FONDOS"})
    deliver(store, reprint_of(sale("O-51", "0.70", folioNumber="R-3"), module="RV"))
    deliver(store, {**connection_error("R-4"), "terminalId": "1111111111"})
    deliver(store, reprint_of(sale("O-T", "0.70", folioNumber="R-4"), module="RV"))

    for folio in ("R-3", "R-4"):
        items = store.list_transactions(TransactionFilter(folio=folio))["items"]
        assert sorted(item["status"] for item in items) == ["declined", "reversed"]


@pytest.mark.parametrize("first", ["decline", "reprint"])
def test_two_replicas_processing_a_05_and_its_reversal_at_once_keep_one_sale(
    store: Store, first: str
) -> None:
    """PostgreSQL: replica A processes the 05 (or the reprint reporting its reversal) and has
    not committed when replica B processes the other. The folio's lock makes B wait for A's
    commit, then find A's row: one sale, reversed, whichever came first."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    decline = encode(connection_error("R-race"))
    reversal = encode(reprint_of(sale("O-race", "0.70", folioNumber="R-race"), module="RV"))
    bodies = [decline, reversal] if first == "decline" else [reversal, decline]
    with store.engines.write.begin() as conn:
        ids = insert_deliveries(conn, [Incoming(body=b, received_at=NOW) for b in bodies])

    def replica_b() -> None:
        with store.engines.write.begin() as conn:
            process_many(conn, [(ids[1], bodies[1], None, None)], now=NOW)

    with store.engines.write.connect() as conn_a:
        with conn_a.begin():
            process_many(conn_a, [(ids[0], bodies[0], None, None)], now=NOW)
            thread = threading.Thread(target=replica_b)
            thread.start()
            _wait_for_a_lock_wait(store)
        thread.join(15)

    items = store.list_transactions(TransactionFilter(folio="R-race"))["items"]
    assert [(item["order_id"], item["status"], item["delivery_count"]) for item in items] == [
        ("O-race", "reversed", 2)
    ]


def test_a_05_after_the_reprint_that_reported_its_reversal_keeps_the_bank_side(
    store: Store,
) -> None:
    """The reprint reporting the reversal first, then the 05: one sale that keeps the bank's
    orderId, amount and card from the reprint, and the terminal's 05 and message."""
    deliver(store, reprint_of(sale("O-late", "0.70", folioNumber="R-5"), module="RV"))
    deliver(store, connection_error("R-5"))

    [item] = store.list_transactions(TransactionFilter(folio="R-5"))["items"]
    assert (item["order_id"], item["amount"], item["status"], item["approved"]) == (
        "O-late",
        "0.70",
        "reversed",
        False,
    )
    assert (item["response_code"], item["message"]) == ("05", "Error de conexión")
    assert item["card"]["last4"] == "9493"
    assert (item["delivery_count"], item["reprint_count"]) == (2, 1)
