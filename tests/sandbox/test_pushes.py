"""What the gateway answers to sale, reprint and cancel pushes before a terminal sees them."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import MakeSandbox
from .harness import PUSHED, SERIAL, STORE, Live

SALE = {"traceability": {}, "amount": 1.01, "serialNumber": SERIAL, "storeId": STORE}
REPRINT = {"traceability": {}, "orderId": "240305120000-0821000119", "storeId": STORE}
NOT_FOUND = {"code": "19", "message": "No se encontró la terminal"}


@pytest.fixture
def live(shared: Live) -> Live:
    """Every test here leaves no state behind, so they share the module's sandbox."""
    return shared


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("sale", SALE),
        ("reprint", REPRINT),
        ("cancel", REPRINT),
    ],
)
def test_unknown_serial_is_code_19(live: Live, kind: str, body: dict[str, Any]) -> None:
    """A serial the gateway does not know: HTTP 200 with code 19, as documented."""
    answer = live.push(kind, {**body, "serialNumber": "9999999999"})
    assert answer.status_code == 200
    assert answer.json() == NOT_FOUND


def assert_bad_request(live: Live, kind: str, body: Any, message: str) -> None:
    answer = live.push(kind, body)
    path = f"/integration-service/transactions/{kind}"
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert set(error) == {"timestamp", "status", "error", "message", "path"}
    assert (error["status"], error["error"], error["path"]) == (400, "Bad Request", path)
    assert message in error["message"]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (0, "amount must be greater than 0"),
        (-1, "amount must be greater than 0"),
        (1.001, "amount must have at most two decimals"),
        ("1.001", "amount must have at most two decimals"),
        ("abc", "amount must be a number"),
        (None, "missing field(s): amount"),
        (True, "amount must be a number"),
        ("NaN", "amount must be greater than 0"),
    ],
)
def test_bad_amount_is_400(live: Live, amount: Any, message: str) -> None:
    """A sale whose amount is not a positive number with two decimals is refused with 400."""
    assert_bad_request(live, "sale", {**SALE, "amount": amount}, message)
    assert live.terminal()["state"] == "idle"


def test_huge_amount_is_400(make_sandbox: MakeSandbox) -> None:
    """An amount too large to have cents (1e30) is refused with 400, not a server error."""
    with make_sandbox() as live:  # a 500 closes the connection: keep it off the shared one
        assert_bad_request(live, "sale", {**SALE, "amount": 1e30}, "amount")


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("sale", "serialNumber"),
        ("sale", "storeId"),
        ("reprint", "storeId"),
        ("cancel", "orderId"),
        ("cancel", "serialNumber"),
    ],
)
def test_missing_field_is_400(live: Live, kind: str, field: str) -> None:
    """A push without a required field is refused with 400 naming the field."""
    base = SALE if kind == "sale" else {**REPRINT, "serialNumber": SERIAL}
    body = {k: v for k, v in base.items() if k != field}
    assert_bad_request(live, kind, body, f"missing field(s): {field}")


@pytest.mark.parametrize("msi", [5, "5", 24, "abc"])
def test_msi_outside_the_promotions_is_400(live: Live, msi: Any) -> None:
    """msi other than 3, 6, 9, 12 or 18 is refused with 400."""
    assert_bad_request(live, "sale", {**SALE, "msi": msi}, "msi must be 3, 6, 9, 12 or 18")


@pytest.mark.parametrize("msi", [3, "6", 18, "", 0])
def test_msi_promotions_and_none_are_accepted(live: Live, msi: Any) -> None:
    """msi 3, "6", 18 and the "no promotion" values "" and 0 are accepted."""

    def push() -> None:
        answer = live.push("sale", {**SALE, "msi": msi})
        assert (answer.status_code, answer.json()) == (200, PUSHED)

    result = live.expect(push)
    assert result["responseCode"] == "00"


def test_folio_longer_than_250_is_400(live: Live) -> None:
    """folioNumber over 250 characters (NetPay's limit) is refused with 400."""
    assert_bad_request(live, "sale", {**SALE, "folioNumber": "F" * 251}, "folioNumber")


def test_body_that_is_not_json_is_400(live: Live) -> None:
    """A body that is not JSON: 400 "JSON parse error"."""
    answer = live.http.post(
        f"{live.url}/integration-service/transactions/sale",
        content=b"amount=1",
        headers={"Authorization": f"Bearer {live.token()}"},
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == "JSON parse error"


def test_body_that_is_a_json_array_is_400(live: Live) -> None:
    """A JSON array instead of an object: 400."""
    assert_bad_request(live, "sale", [SALE], "a JSON object is required")


def test_traceability_must_be_an_object(live: Live) -> None:
    """traceability as a string: 400."""
    assert_bad_request(live, "sale", {**SALE, "traceability": "x"}, "traceability")


def test_reprint_needs_order_id_or_folio(live: Live) -> None:
    """A reprint with orderId "" and no folioId: 400."""
    body = {**REPRINT, "serialNumber": SERIAL, "orderId": ""}
    assert_bad_request(live, "reprint", body, "orderId or folioId is required")


def test_reprint_by_folio_needs_an_empty_order_id(live: Live) -> None:
    """A reprint by folio without the empty orderId NetPay requires: 400 saying so."""
    body = {"serialNumber": SERIAL, "storeId": STORE, "folioId": "F1"}
    assert_bad_request(live, "reprint", body, 'needs "orderId": ""')


def test_unknown_sandbox_fault_is_400(live: Live) -> None:
    """traceability.npsSandbox with a fault the sandbox does not know: 400 naming it."""
    body = {**SALE, "traceability": {"npsSandbox": {"explode": True}}}
    assert_bad_request(live, "sale", body, "unknown fault(s): explode")


def test_negative_sandbox_delay_is_400(live: Live) -> None:
    """traceability.npsSandbox with a negative delay: 400."""
    body = {**SALE, "traceability": {"npsSandbox": {"delay": -1}}}
    assert_bad_request(live, "sale", body, "not negative")


def test_refused_push_reaches_no_terminal(live: Live) -> None:
    """After a 400 the terminal posts nothing: the next sale's result is the first."""
    live.posts_nothing(lambda: live.push("sale", {**SALE, "amount": 0}))
