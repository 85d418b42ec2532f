"""Reprints (by order and by folio) and cancellations with the 20:00 Mexico City cut-off."""

from __future__ import annotations

import json
from typing import Any

import pytest

from netpay_smart.wire import parse_result

from .harness import SERIAL, Live

CANCELLED = "Cancelación Su transacción ha sido aprobada"


def test_reprint_by_order_id(shared: Live) -> None:
    """A reprint by orderId posts the sale again, flagged and written like the app's reprints."""
    sale = shared.sold("150.50", folioNumber="R-1", traceability={"venta": 1})
    reprint = shared.expect(
        lambda: shared.reprint(sale["orderId"], traceability={"reimpresion": 2})
    )
    assert reprint["isRePrint"] is True
    assert reprint["message"] == "Transaccion Valida"
    assert reprint["reprintModule"] == "C"
    assert (reprint["orderId"], reprint["folioNumber"]) == (sale["orderId"], "R-1")
    assert (reprint["amount"], reprint["tipAmount"], reprint["tipLessAmount"]) == (
        "150.5",
        "0",
        "150.5",
    )
    assert reprint["transDate"] == "2024-03-05 12:00:00.0"
    assert reprint["traceability"] == {"reimpresion": 2}
    for same in ("authCode", "cardNumber", "transactionId", "ticketDate", "hexSign"):
        assert reprint[same] == sale[same]


def test_reprint_by_folio(shared: Live) -> None:
    """A reprint by folio (orderId "" + folioId) finds the sale by its folioNumber."""
    shared.sold("1.00", folioNumber="OTHER")
    sale = shared.sold("2.00", folioNumber="24LNA_TNP_33")
    shared.sold("3.00", folioNumber="LATER")
    reprint = shared.expect(lambda: shared.reprint_by_folio("24LNA_TNP_33"))
    assert (reprint["isRePrint"], reprint["orderId"]) == (True, sale["orderId"])
    assert reprint["amount"] == "2"


def test_reprint_by_folio_of_a_decline(shared: Live) -> None:
    """A declined sale is found by folio too: its decline again, reprintModule D."""
    shared.sold("0.51", folioNumber="DECLINED")
    reprint = shared.expect(lambda: shared.reprint_by_folio("DECLINED"))
    assert (reprint["isRePrint"], reprint["reprintModule"]) == (True, "D")
    assert (reprint["responseCode"], reprint["message"]) == ("51", "FONDOS INSUFICIENTES")


@pytest.mark.parametrize(
    "reprint",
    [
        lambda live: live.reprint("240305115959-0821000119"),
        lambda live: live.reprint_by_folio("nope"),
        lambda live: live.reprint_by_folio("known-folio"),  # folios are case-sensitive
    ],
    ids=["unknown-order", "unknown-folio", "folio-in-other-case"],
)
def test_reprint_of_nothing_posts_nothing(shared: Live, reprint: Any) -> None:
    """A reprint of an unknown order or folio shows "Transacción no encontrada", posts nothing."""
    shared.sold("1.00", folioNumber="KNOWN-FOLIO")

    def push() -> None:
        reprint(shared)
        shared.wait_terminal(lambda t: "no encontrada" in t["screen"] and t["state"] == "idle")

    shared.posts_nothing(push)


def test_cancel_same_day_before_eight_pm(live: Live) -> None:
    """A cancellation at 19:59 Mexico City of a noon sale is approved: transType V, shaped as
    seeds/002's example (its transDate the cancellation's, its ticketDate the sale's, the arqc
    kept, no signature, no transaction certificate)."""
    sale = live.sold("200", folioNumber="C-1")
    live.set_clock("2024-03-05T19:59:59-06:00")
    cancel = live.expect(lambda: live.cancel(sale["orderId"], traceability={"motivo": "x"}))
    assert (cancel["responseCode"], cancel["transType"]) == ("00", "V")
    assert cancel["tipAmount"] == "null"
    assert (cancel["orderId"], cancel["amount"], cancel["folioNumber"]) == (
        sale["orderId"],
        "200.0",
        "C-1",
    )
    assert cancel["transDate"] == "2024-03-05 19:59:59.CST"
    assert cancel["ticketDate"] == sale["ticketDate"] == "MAR. 05, 24 12:00:00 "
    assert (cancel["arqc"], cancel["hexSign"]) == (sale["arqc"], "")
    assert "transactionCertificate" not in cancel and "transactionId" not in cancel
    assert cancel["traceability"] == {"motivo": "x"}
    assert cancel["isRePrint"] is False
    assert live.terminal()["screen"] == CANCELLED


@pytest.mark.parametrize(
    "when",
    ["2024-03-05T20:01:00-06:00", "2024-03-05T20:00:00-06:00", "2024-03-06T10:00:00-06:00"],
    ids=["20:01", "20:00", "next-day"],
)
def test_cancel_outside_the_window_is_13(live: Live, when: str) -> None:
    """At or after 20:00 Mexico City, or another day: 13 TRANSACCION NO PERMITIDA."""
    sale = live.sold("200")
    live.set_clock(when)
    refused = live.expect(lambda: live.cancel(sale["orderId"]))
    assert (refused["responseCode"], refused["message"]) == ("13", "TRANSACCION NO PERMITIDA")
    assert (refused["transType"], refused["orderId"]) == ("V", sale["orderId"])
    # The sale still stands: a reprint says C.
    reprint = live.expect(lambda: live.reprint(sale["orderId"]))
    assert reprint["reprintModule"] == "C"


def test_cancel_of_yesterdays_sale_is_13(live: Live) -> None:
    """A sale made at 19:00 yesterday cannot be cancelled at 09:00 today."""
    live.set_clock("2024-03-04T19:00:00-06:00")
    sale = live.sold("10")
    live.set_clock("2024-03-05T09:00:00-06:00")
    assert live.expect(lambda: live.cancel(sale["orderId"]))["responseCode"] == "13"


def test_cutoff_is_mexico_city_time_not_utc(live: Live) -> None:
    """At 01:30 UTC (19:30 the evening before in Mexico City) a sale of 18:00 CDMX cancels."""
    live.set_clock("2024-03-06T00:00:00+00:00")  # 18:00 on the 5th in Mexico City
    sale = live.sold("10")
    live.set_clock("2024-03-06T01:30:00+00:00")
    cancel = live.expect(lambda: live.cancel(sale["orderId"]))
    assert (cancel["responseCode"], cancel["transType"]) == ("00", "V")


def test_cancelling_twice(live: Live) -> None:
    """The second cancellation of the same sale is refused with 13."""
    sale = live.sold("50")
    first = live.expect(lambda: live.cancel(sale["orderId"]))
    second = live.expect(lambda: live.cancel(sale["orderId"]))
    assert (first["responseCode"], second["responseCode"]) == ("00", "13")
    assert second["transType"] == "V"


def test_cancel_of_an_unknown_order(shared: Live) -> None:
    """A cancellation of an order the terminal never made is refused with 13."""
    refused = shared.expect(lambda: shared.cancel("240305115959-0821000119"))
    assert (refused["responseCode"], refused["orderId"]) == ("13", "240305115959-0821000119")
    assert refused["terminalId"] == SERIAL


def test_reprint_of_a_cancelled_sale(live: Live) -> None:
    """After a cancellation, the sale's reprint says V and transType V."""
    sale = live.sold("50", folioNumber="VOID")
    live.expect(lambda: live.cancel(sale["orderId"]))
    by_order = live.expect(lambda: live.reprint(sale["orderId"]))
    by_folio = live.expect(lambda: live.reprint_by_folio("VOID"))
    for reprint in (by_order, by_folio):
        assert (reprint["isRePrint"], reprint["reprintModule"]) == (True, "V")
        assert reprint["transType"] == "V"


def test_trans_date_in_summer_2022_names_cdt(live: Live) -> None:
    """A sale in July 2022 (daylight time in Mexico City) reads back at the moment it was made."""
    live.set_clock("2022-07-01T12:00:00-05:00")
    result = live.sold("1.00")
    assert result["ticketDate"] == "JUL. 01, 22 12:00:00 "
    parsed = parse_result(json.dumps(result)).result
    assert parsed.trans_date == parsed.ticket_date == live.clock.now()
    assert result["transDate"] == "2022-07-01 12:00:00.CDT"
