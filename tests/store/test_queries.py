"""Reads: paging and filters of transactions, and the daily report."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from netpay_smart._personal import without_personal
from netpay_smart.store import Store, TransactionFilter
from tests.wire import vectors as v

from .helpers import NOW, cancellation_of, deliver, reprint_of, sale

DAY = date(2024, 3, 5)


def _order_ids(page: dict[str, Any]) -> list[str | None]:
    return [item["order_id"] for item in page["items"]]


# -- paging -----------------------------------------------------------------------------------


def test_paging_walks_every_row_once_newest_first(store: Store) -> None:
    """limit + next_cursor visit all rows exactly once, newest first, then stop."""
    orders = [f"O-{n:02d}" for n in range(7)]
    for order in orders:
        deliver(store, sale(order))

    pages: list[list[str | None]] = []
    cursor = None
    while True:
        page = store.list_transactions(TransactionFilter(), limit=3, before_id=cursor)
        pages.append(_order_ids(page))
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == [orders[6:3:-1], orders[3:0:-1], orders[:1]]


def test_exact_multiple_of_limit_ends_without_empty_page(store: Store) -> None:
    """When the rows fill the last page exactly, next_cursor is None on it."""
    for order in ("A", "B", "C", "D"):
        deliver(store, sale(order))

    first = store.list_transactions(TransactionFilter(), limit=2)
    second = store.list_transactions(TransactionFilter(), limit=2, before_id=first["next_cursor"])

    assert (_order_ids(first), _order_ids(second)) == (["D", "C"], ["B", "A"])
    assert second["next_cursor"] is None


def test_empty_store_lists_nothing(store: Store) -> None:
    """No transactions: an empty page and no cursor."""
    assert store.list_transactions(TransactionFilter()) == {"items": [], "next_cursor": None}


def test_paging_applies_the_filter_on_every_page(store: Store) -> None:
    """Paging a filtered list never returns rows outside the filter."""
    for n in range(6):
        deliver(store, sale(f"O-{n}", terminalId="T-EVEN" if n % 2 == 0 else "T-ODD"))

    seen: list[str | None] = []
    cursor = None
    while True:
        page = store.list_transactions(
            TransactionFilter(terminal_id="T-EVEN"), limit=2, before_id=cursor
        )
        seen += _order_ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ["O-4", "O-2", "O-0"]


# -- filters ----------------------------------------------------------------------------------


@pytest.fixture
def mixed(store: Store) -> Store:
    """Sales on two stores, three terminals and two days; one cancelled, one declined."""
    deliver(store, sale("S1-T1", storeId="S1", terminalId="T1", folioNumber="F-1"))
    deliver(store, sale("S1-T2", storeId="S1", terminalId="T2", folioNumber="F-2"))
    deliver(store, sale("S2-T3", storeId="S2", terminalId="T3", folioNumber="F-1"))
    deliver(
        store,
        sale(
            "S2-T3-NEXT",
            storeId="S2",
            terminalId="T3",
            transDate="2024-03-06 00:30:00.CST",
        ),
    )
    deliver(
        store, sale("S1-T1-51", storeId="S1", terminalId="T1", responseCode="51", message="FONDOS")
    )
    deliver(store, cancellation_of(sale("S1-T2"), storeId="S1", terminalId="T2"))
    # storeId only in traceability (how a POS may tag its sales)
    deliver(store, sale("TRACE", terminalId="T1", traceability={"storeId": "S9"}))
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (TransactionFilter(store_id="S1"), ["S1-T2", "S1-T1-51", "S1-T2", "S1-T1"]),
        (TransactionFilter(store_id="S9"), ["TRACE"]),
        (TransactionFilter(terminal_id="T3"), ["S2-T3-NEXT", "S2-T3"]),
        (TransactionFilter(date=date(2024, 3, 6)), ["S2-T3-NEXT"]),
        (TransactionFilter(status="cancelled"), ["S1-T2"]),
        (TransactionFilter(status="declined"), ["S1-T1-51"]),
        (TransactionFilter(folio="F-1"), ["S2-T3", "S1-T1"]),
        (TransactionFilter(kind="cancellation"), ["S1-T2"]),
        (TransactionFilter(order_id="S1-T2", kind="sale"), ["S1-T2"]),
        (TransactionFilter(store_id="S1", terminal_id="T1", status="approved"), ["S1-T1"]),
        (TransactionFilter(store_id="S2", date=DAY), ["S2-T3"]),
        (TransactionFilter(store_id="nope"), []),
    ],
)
def test_filters_select_matching_rows(
    mixed: Store, filters: TransactionFilter, expected: list[str]
) -> None:
    """store_id / terminal_id / date / status / folio / kind filters return exactly their rows."""
    page = mixed.list_transactions(filters)
    assert _order_ids(page) == expected
    assert page["next_cursor"] is None


def test_listed_item_has_the_api_shape(store: Store) -> None:
    """A listed transaction carries the contract's snake_case fields and the raw body."""
    deliver(store, v.FACTS_REAL_SALE_2024.encode())

    [item] = store.list_transactions(TransactionFilter())["items"]

    assert item["raw"] == without_personal(json.loads(v.FACTS_REAL_SALE_2024))
    assert "customerName" not in item["raw"]  # lists leave the cardholder's data out
    assert item["traceability"]["folio_venta"] == "23MAT99"
    assert {
        key: item[key]
        for key in (
            "order_id",
            "terminal_id",
            "folio_number",
            "kind",
            "status",
            "approved",
            "response_code",
            "amount",
            "tip_amount",
            "cancelled",
            "reprint_count",
            "delivery_count",
            "transaction_at",
        )
    } == {
        "order_id": "240305131447-1494113052",
        "terminal_id": "1494113052",
        "folio_number": "16",
        "kind": "sale",
        "status": "approved",
        "approved": True,
        "response_code": "00",
        "amount": "200.00",
        "tip_amount": "0.00",
        "cancelled": False,
        "reprint_count": 0,
        "delivery_count": 1,
        "transaction_at": "2024-03-05T13:14:48-06:00",
    }


def test_decline_without_trans_date_belongs_to_the_day_it_was_received(store: Store) -> None:
    """A decline with no transDate is listed under the CDMX day it was received."""
    deliver(store, v.SEED001_DECLINED_13.encode())  # received 2024-03-05 13:20 CDMX

    page = store.list_transactions(TransactionFilter(date=DAY))

    assert [item["response_code"] for item in page["items"]] == ["13"]


# -- daily report -----------------------------------------------------------------------------


def _bucket(
    approved: tuple[int, str] = (0, "0.00"),
    cancelled: tuple[int, str] = (0, "0.00"),
    declined: tuple[int, str] = (0, "0.00"),
    reversed_: tuple[int, str] = (0, "0.00"),
    tips: str = "0.00",
    **ident: str,
) -> dict[str, Any]:
    """One report bucket as the API shows it; ``net`` is what stays charged (approved)."""

    def pair(value: tuple[int, str]) -> dict[str, Any]:
        return {"count": value[0], "amount": value[1]}

    return {
        **ident,
        "approved": pair(approved),
        "cancelled": pair(cancelled),
        "declined": pair(declined),
        "reversed": pair(reversed_),
        "other": pair((0, "0.00")),
        "tips": tips,
        "net": approved[1],
    }


def test_daily_report_of_empty_day_is_all_zero(store: Store) -> None:
    """A day with no sales reports zero everywhere and no groups."""
    deliver(store, sale("OTHER-DAY", transDate="2024-03-07 12:00:00.CST"))

    report = store.daily_report(DAY)

    assert report == {
        "date": "2024-03-05",
        "totals": _bucket(),
        "by_store": [],
        "by_terminal": [],
        "by_hour": [{"hour": h, "count": 0, "amount": "0.00"} for h in range(24)],
        "decline_reasons": [],
    }


def _deliver_fixture_day(store: Store) -> None:
    """Store S1 (terminals T1, T2) and S2 (T3) on 2024-03-05 CDMX, plus rows that must not count."""

    def at(order: str, amount: str, store_id: str, terminal: str, **changes: Any) -> dict[str, Any]:
        return sale(order, amount, storeId=store_id, terminalId=terminal, **changes)

    a1 = at("A1", "200.0", "S1", "T1", tipAmount="20.0")
    a2 = at("A2", "150.50", "S1", "T1")
    a3 = at("A3", "99.99", "S1", "T2", tipAmount="10.0")
    late = at("L1", "25.0", "S1", "T2", transDate="2024-03-06 05:30:00.GMT")  # 23:30 CDMX
    a4 = at("A4", "300.0", "S2", "T3", tipAmount="30.0")
    a5 = at("A5", "50.0", "S2", "T3", tipAmount="5.0")
    a6 = at("A6", "70.0", "S2", "T3")
    for body in (a1, a2, a3, late, a4, a5, a6):
        assert deliver(store, body).outcome == "new"
    assert deliver(store, a2).outcome == "duplicate"  # re-delivery: no second count
    assert deliver(store, reprint_of(a3)).outcome == "reprint"  # reprint: no second count
    assert deliver(store, reprint_of(a6, "RV")).outcome == "reprint"  # A6 reversed
    assert deliver(store, cancellation_of(a4)).outcome == "new"  # A4 cancelled
    declines = [
        at("D1", "80.0", "S1", "T2", responseCode="51", message="FONDOS INSUFICIENTES"),
        at("U1", "40.0", "S1", "T1", responseCode="02", message="Cancelado por el Usuario"),
        at("D2", "10.0", "S2", "T3", responseCode="05", message="Error de conexión"),
    ]
    for body in declines:
        assert deliver(store, body).outcome == "new"
    # Another business day (00:30 CDMX on the 6th): not in the report of the 5th.
    deliver(store, at("N1", "500.0", "S1", "T1", transDate="2024-03-06 06:30:00.GMT"))


def test_daily_report_totals_per_store_and_terminal(store: Store) -> None:
    """Approved, cancelled, declined, reversed, tips and net equal hand-computed sums."""
    _deliver_fixture_day(store)

    report = store.daily_report(DAY)

    # S1: A1 200.00 (tip 20), A2 150.50, A3 99.99 (tip 10), L1 25.00; D1 80.00 + U1 40.00.
    # S2: A5 50.00 (tip 5); A4 300.00 cancelled (its tip not counted); A6 70.00 reversed;
    # D2 10.00.
    s1 = _bucket(approved=(4, "475.49"), declined=(2, "120.00"), tips="30.00")
    s2 = _bucket(
        approved=(1, "50.00"),
        cancelled=(1, "300.00"),
        declined=(1, "10.00"),
        reversed_=(1, "70.00"),
        tips="5.00",
    )
    assert report["date"] == "2024-03-05"
    assert report["by_store"] == [{"id": "S1", **s1}, {"id": "S2", **s2}]
    assert report["by_terminal"] == [
        _bucket(approved=(2, "350.50"), declined=(1, "40.00"), tips="20.00", id="T1"),
        _bucket(approved=(2, "124.99"), declined=(1, "80.00"), tips="10.00", id="T2"),
        {"id": "T3", **s2},
    ]
    assert report["totals"] == _bucket(
        approved=(5, "525.49"),
        cancelled=(1, "300.00"),
        declined=(3, "130.00"),
        reversed_=(1, "70.00"),
        tips="35.00",
    )


def test_daily_report_volume_by_hour_and_decline_reasons(store: Store) -> None:
    """Approved sales per CDMX hour, and declines grouped by code, over the fixture day."""
    _deliver_fixture_day(store)

    report = store.daily_report(DAY)

    hours = {h["hour"]: (h["count"], h["amount"]) for h in report["by_hour"] if h["count"]}
    # A1, A2, A3, A5 at 13:14 CDMX (A4 cancelled and A6 reversed are not volume); L1 at 23:30.
    assert hours == {13: (4, "500.49"), 23: (1, "25.00")}
    reasons = sorted((r["code"], r["count"]) for r in report["decline_reasons"])
    assert reasons == [("02", 1), ("05", 1), ("51", 1)]


def test_daily_report_fixture_rows_are_as_expected(store: Store) -> None:
    """The report's fixture day holds one row per sale, with the states the report relies on."""
    _deliver_fixture_day(store)

    items = store.list_transactions(TransactionFilter(date=DAY, kind="sale"), limit=100)["items"]
    states = {item["order_id"]: (item["status"], item["amount"]) for item in items}

    assert states == {
        "A1": ("approved", "200.00"),
        "A2": ("approved", "150.50"),
        "A3": ("approved", "99.99"),
        "L1": ("approved", "25.00"),
        "A4": ("cancelled", "300.00"),
        "A5": ("approved", "50.00"),
        "A6": ("reversed", "70.00"),
        "D1": ("declined", "80.00"),
        "U1": ("user_cancelled", "40.00"),
        "D2": ("declined", "10.00"),
    }
    counts = {item["order_id"]: (item["delivery_count"], item["reprint_count"]) for item in items}
    assert counts["A2"] == (2, 0)
    assert counts["A3"] == (2, 1)


def test_a_sale_reversed_by_a_reprint_is_no_decline_reason(store: Store) -> None:
    """A sale a reprint reports reversed counts under ``reversed``, and its ``00`` is not
    listed among the decline reasons (it was never declined)."""
    approved = sale("R-1")
    deliver(store, approved)
    deliver(store, reprint_of(approved, "RV"))

    report = store.daily_report(DAY)

    assert report["totals"]["reversed"] == {"count": 1, "amount": "200.00"}
    assert report["totals"]["approved"]["count"] == 0
    assert report["decline_reasons"] == []


def test_a_transaction_says_what_its_code_or_its_state_means_in_both_languages(
    store: Store,
) -> None:
    """``response_text`` gives the code's meaning in Spanish and English (the terminal's own
    message is Spanish only); for a sale reversed since, the state's, not the code's "00"."""
    deliver(store, sale("T-1"))
    declined = deliver(
        store, sale("T-2", responseCode="51", message="FONDOS INSUFICIENTES", reprintModule="D")
    )
    reversed_sale = sale("T-3")
    deliver(store, reversed_sale)
    deliver(store, reprint_of(reversed_sale, "RV"))

    texts = {
        item["order_id"]: item["response_text"]
        for item in store.list_transactions(TransactionFilter(date=DAY))["items"]
    }
    assert texts["T-1"] == {"es": "Transacción exitosa", "en": "Approved"}
    assert texts["T-3"] == {"es": "Transacción revertida", "en": "Transaction reversed"}
    assert declined.order_id == "T-2"
    assert texts["T-2"] == {"es": "Fondos insuficientes", "en": "Insufficient funds"}
    report = store.daily_report(DAY)
    assert [(r["code"], r["text"]) for r in report["decline_reasons"]] == [
        ("51", {"es": "Fondos insuficientes", "en": "Insufficient funds"})
    ]


def test_a_refused_cancellation_of_a_sale_cancelled_anyway_needs_no_refund(store: Store) -> None:
    """Needs refund lists a refused cancellation only while its sale stands: a second try
    answered 13 for a sale the first one cancelled is no reason to refund it."""
    voided, standing = sale("X-1"), sale("X-2")
    for body in (voided, standing):
        deliver(store, body)
    deliver(store, cancellation_of(voided))
    refused = {"responseCode": "13", "message": "TRANSACCION NO PERMITIDA",
               "transDate": "2024-03-05 20:05:00.CST"}  # fmt: skip
    deliver(store, cancellation_of(voided, **refused))
    deliver(store, cancellation_of(standing, **refused))

    found = store.exceptions(DAY, now=NOW)["needs_refund"]["declined_cancellations"]

    assert [(item["order_id"], item["kind"], item["status"]) for item in found] == [
        ("X-2", "cancellation", "declined")
    ]


def test_a_sale_a_reprint_reported_declined_gives_the_decline_as_its_reason(
    store: Store,
) -> None:
    """A sale approved, then reported declined by a reprint (module D), is a decline reason
    that reads "declined", not its code's "approved", as its own ``response_text`` does."""
    approved = sale("D-1")
    deliver(store, approved)
    deliver(store, reprint_of(approved, "D"))

    [reason] = store.daily_report(DAY)["decline_reasons"]
    [item] = store.list_transactions(TransactionFilter(date=DAY))["items"]
    assert (reason["code"], reason["count"]) == ("00", 1)
    assert reason["text"] == item["response_text"]
    assert reason["text"] == {"es": "Transacción rechazada", "en": "Transaction declined"}


def test_a_cancellation_unlike_its_sale_and_a_sale_without_amount_are_conflicts(
    store: Store,
) -> None:
    """The exceptions list as conflicts an approved cancellation from another terminal or for
    another amount than its sale, and an approved sale whose amount could not be read; a
    cancellation that matches its sale is not listed."""
    matched, other_terminal, other_amount = sale("C-1"), sale("C-2"), sale("C-3")
    for body in (matched, other_terminal, other_amount):
        deliver(store, body)
    deliver(store, cancellation_of(matched))
    deliver(store, cancellation_of(other_terminal, terminalId="9999999999"))
    deliver(store, cancellation_of(other_amount, amount="1.0"))
    deliver(store, sale("C-4", amount="<img src=x>"))

    found = store.exceptions(DAY, now=NOW)["conflicts"]

    assert sorted((item["order_id"], item["kind"]) for item in found) == [
        ("C-2", "cancellation"),
        ("C-3", "cancellation"),
        ("C-4", "sale"),
    ]


def test_an_approved_sale_of_zero_or_less_is_a_conflict(store: Store) -> None:
    """An approved sale for a negative or a zero amount is listed under conflicts (it lowers
    or adds nothing to the totals, and no terminal approves one); a declined one is not."""
    deliver(store, sale("N-1", amount="-150.0"))
    deliver(store, sale("N-2", amount="0.0"))
    deliver(store, sale("N-3", amount="-1.0", responseCode="05", message="Error"))
    deliver(store, sale("N-4", amount="0.01"))

    found = store.exceptions(DAY, now=NOW)["conflicts"]

    assert sorted(item["order_id"] for item in found) == ["N-1", "N-2"]
