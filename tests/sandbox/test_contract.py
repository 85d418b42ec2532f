"""Every body the sandbox posts reads cleanly with the project's parser and looks like NetPay's.

One sandbox runs a sale of every scenario amount, reprints (by order and by folio),
cancellations (allowed and refused) and both configuration probes; each test below checks one
property over everything the recorder received.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from netpay_smart.wire import Kind, Status, parse_result

from .harness import SERIAL, Live, RecorderHub, running_sandbox, wait_for

SALES = {
    # folio: (amount sent, what the terminal posts)
    "S-100": ("1.00", "1.0"),
    "S-001": (0.01, "0.01"),
    "S-021": (0.21, "0.21"),
    "S-022": (0.22, "0.22"),
    "S-023": (0.23, "0.23"),
    "S-003": (0.03, "0.03"),
    "S-005": (0.05, "0.05"),
    "S-013": (0.13, "0.13"),
    "S-014": (0.14, "0.14"),
    "S-034": (0.34, "0.34"),
    "S-048": (0.48, "0.48"),
    "S-051": (0.51, "0.51"),
    "S-056": (0.56, "0.56"),
    "S-070": (0.70, "0.7"),
    "S-071": (0.71, "0.71"),
    "S-200": (200, "200.0"),
    "S-101": (1.01, "1.01"),
    "S-150": ("150.50", "150.5"),
}
SIGNATURE = {"S-100", "S-001", "S-023", "S-200", "S-101", "S-150", "S-MSI"}
PIN = {"S-021", "S-022"}

ORDER_ID = re.compile(r"^\d{12}-0821000119$")
TICKET_DATE = re.compile(r"^[A-Z]{3}\. \d{2}, \d{2} \d{2}:\d{2}:\d{2} $")
AMOUNT = re.compile(r"^\d+\.\d{1,2}$")
TRANSACTION_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


@pytest.fixture(scope="module")
def posted(hub: RecorderHub) -> Iterator[list[bytes]]:
    """Everything one terminal posted through a day of every kind of operation."""
    with running_sandbox(hub) as live:
        for folio, (amount, _) in SALES.items():
            live.sold(amount, folioNumber=folio)
        live.sold("1.00", folioNumber="S-MSI", msi=3)
        live.sold(0.21, folioNumber="S-MSI-DEBIT", msi="3")
        live.sale(0.02, folioNumber="S-002")
        live.expect(lambda: live.advance(61))
        order = {r["folioNumber"]: r.get("orderId") for r in live.recorder.results()}
        live.expect(lambda: live.reprint(order["S-100"]))
        live.expect(lambda: live.reprint_by_folio("S-070"))
        live.expect(lambda: live.reprint_by_folio("S-051"))
        live.expect(lambda: live.cancel(order["S-200"]))
        live.expect(lambda: live.cancel(order["S-200"]))
        live.expect(lambda: live.reprint(order["S-200"]))
        answer = live.control(
            "PUT",
            f"/terminals/{SERIAL}/response-url",
            {"url": live.recorder.url, "probe": "list_of_pays"},
        )
        assert answer.status_code == 200
        wait_for_probe(live)
        yield live.recorder.raw()


def wait_for_probe(live: Live) -> None:
    wait_for(lambda: any("listOfPays" in b for b in live.recorder.bodies()), what="the probe")


def results(posted: list[bytes]) -> list[dict[str, Any]]:
    return [b for b in map(json.loads, posted) if "responseCode" in b]


def sales(posted: list[bytes]) -> dict[str, dict[str, Any]]:
    return {
        r["folioNumber"]: r
        for r in results(posted)
        if r["isRePrint"] is False and r.get("transType") == "A"
    }


def test_every_body_parses_without_problems(posted: list[bytes]) -> None:
    """parse_result reads every posted body (results and probes) with no problem at all."""
    assert len(posted) >= 30
    for raw in posted:
        assert parse_result(raw).problems == (), raw.decode()


def test_bodies_are_compact_utf8_json(posted: list[bytes]) -> None:
    """Bodies are compact JSON with accents as UTF-8, as the Android app's Gson writes them."""
    for raw in posted:
        assert (
            raw == json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode()
        )
    assert any("Transacción exitosa".encode() in raw for raw in posted)


def test_kinds_and_statuses(posted: list[bytes]) -> None:
    """The parser classifies what was posted as the operations that were run."""
    parsed = [parse_result(raw) for raw in posted]
    kinds = [n.kind for n in parsed]
    assert kinds.count(Kind.SALE) == len(SALES) + 3
    assert kinds.count(Kind.REPRINT) == 4
    assert kinds.count(Kind.CANCELLATION) == 2
    assert {n.probe_shape for n in parsed if n.kind is Kind.PROBE} == {"documented", "list_of_pays"}
    by_folio = {n.result.folio_number: n for n in parsed if n.kind is Kind.SALE}
    assert by_folio["S-100"].status is Status.APPROVED
    assert by_folio["S-002"].status is Status.USER_CANCELLED
    assert by_folio["S-051"].status is Status.DECLINED
    assert by_folio["S-MSI-DEBIT"].result.response_code == "48"


def test_order_ids(posted: list[bytes]) -> None:
    """Every orderId is yyMMddHHmmss-serial, and distinct across sales."""
    ids = [r["orderId"] for r in results(posted) if r.get("orderId")]
    assert len(ids) >= 12
    for order_id in ids:
        assert ORDER_ID.match(order_id), order_id
    approved = [r["orderId"] for r in sales(posted).values() if r["responseCode"] == "00"]
    assert len(set(approved)) == len(approved)
    assert approved[0].startswith("240305120")  # 2024-03-05 12:00 in Mexico City


def test_trans_date_of_sales(posted: list[bytes]) -> None:
    """Approved sales carry transDate "yyyy-MM-dd HH:mm:ss.CST" in Mexico City time."""
    approved = [r for r in sales(posted).values() if r["responseCode"] == "00"]
    assert len(approved) >= 9
    for result in approved:
        assert result["transDate"] == "2024-03-05 12:00:00.CST"


def test_ticket_dates(posted: list[bytes]) -> None:
    """Every ticketDate reads like "MAR. 05, 24 12:00:00 ", trailing space included."""
    dated = [r for r in results(posted) if "ticketDate" in r]
    assert len(dated) >= len(SALES)
    for result in dated:
        assert TICKET_DATE.match(result["ticketDate"]), result["ticketDate"]
    assert sales(posted)["S-100"]["ticketDate"] == "MAR. 05, 24 12:00:00 "


def test_amounts_are_strings_like_the_app_writes(posted: list[bytes]) -> None:
    """Sale results carry the amount as a Java double string: "1.0", "200.0", "1.01"."""
    by_folio = sales(posted)
    for folio, (_, expected) in SALES.items():
        assert by_folio[folio]["amount"] == expected
        assert AMOUNT.match(by_folio[folio]["amount"])
    assert by_folio["S-150"]["tipLessAmount"] == "150.5"
    assert by_folio["S-150"]["tipAmount"] == "0.0"


def test_signature_and_pin_sales(posted: list[bytes]) -> None:
    """Signature sales carry a hex signature; PIN sales an empty hexSign and hasPin true."""
    by_folio = sales(posted)
    for folio in SIGNATURE:
        result = by_folio[folio]
        assert result["hasPin"] is False
        assert re.fullmatch(r"[0-9A-F]{64,}", result["hexSign"]), folio
    for folio in PIN:
        result = by_folio[folio]
        assert (result["hasPin"], result["hexSign"]) == (True, "")


def test_reprints_are_flagged(posted: list[bytes]) -> None:
    """Reprints say isRePrint true, "Transaccion Valida" and the state in reprintModule."""
    reprints = [r for r in results(posted) if r["isRePrint"] is True]
    assert [r["reprintModule"] for r in reprints] == ["C", "RV", "D", "V"]
    order_reprint = reprints[0]
    assert order_reprint["message"] == "Transaccion Valida"
    assert order_reprint["amount"] == "1"
    assert order_reprint["transDate"] == "2024-03-05 12:00:00.0"
    for result in results(posted):
        if result not in reprints:
            assert result["isRePrint"] is False


def test_cancellations_are_type_v(posted: list[bytes]) -> None:
    """Cancellations carry transType "V": the approved one with tipAmount "null", then a 13."""
    cancels = [r for r in results(posted) if r["transType"] == "V" and not r["isRePrint"]]
    assert [r["responseCode"] for r in cancels] == ["00", "13"]
    approved, refused = cancels
    assert approved["tipAmount"] == "null"
    assert approved["reprintModule"] == "C"  # as in seeds/002's cancellation example
    assert approved["orderId"] == refused["orderId"] == sales(posted)["S-200"]["orderId"]
    assert refused["message"] == "TRANSACCION NO PERMITIDA"


def test_reprint_module_and_transaction_id_on_approved_sales(posted: list[bytes]) -> None:
    """Approved sales carry reprintModule "C" and an uppercase GUID transactionId."""
    approved = [r for r in sales(posted).values() if r["responseCode"] == "00"]
    for result in approved:
        assert result["reprintModule"] == "C"
        assert TRANSACTION_ID.match(result["transactionId"]), result["transactionId"]
    assert len({r["transactionId"] for r in approved}) == len(approved)


def test_msi_promotion(posted: list[bytes]) -> None:
    """msi 3 on credit is approved with promotion "03"; on debit it is a 48; none is "00"."""
    by_folio = sales(posted)
    assert (by_folio["S-MSI"]["responseCode"], by_folio["S-MSI"]["promotion"]) == ("00", "03")
    assert by_folio["S-100"]["promotion"] == "00"
    debit = by_folio["S-MSI-DEBIT"]
    assert debit["responseCode"] == "48"
    assert debit["message"] == "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA"


def test_probes_are_the_documented_bodies(posted: list[bytes]) -> None:
    """Both probe shapes are byte for byte what NETPAY-FACTS.md §4.5 shows."""
    probes = [raw for raw in posted if b"responseCode" not in raw]
    assert (
        b'{"folioNumber":"","hasPin":false,"internalNumber":"","isQps":0.0,"preStatus":0.0,'
        b'"tableId":""}'
    ) in probes
    assert (
        b'{"folioNumber":"","internalNumber":"","tableId":"","listOfPays":[],'
        b'"tipTotalAmount":"","totalAmount":""}'
    ) in probes
