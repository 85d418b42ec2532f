"""Each row of the outcome table (scenarios.py) over real HTTP, the clock moved by hand."""

from __future__ import annotations

import pytest

from .harness import OTHER_SERIAL, PUSHED, SERIAL, STORE, Live


@pytest.mark.parametrize(
    ("amount", "card"),
    [
        ("1.00", ("C", "VISA", "VISA CREDITO", False)),
        ("0.01", ("C", "VISA", "VISA CREDITO", False)),
        ("2500.75", ("C", "VISA", "VISA CREDITO", False)),
        ("0.21", ("D", "VISA", "VISA DEBITO", True)),
        ("0.22", ("C", "MASTERCARD", "MASTERCARD", True)),
        ("0.23", ("D", "MASTERCARD", "DEBIT MASTERCARD", False)),
    ],
)
def test_approved_sales_and_their_cards(
    shared: Live, amount: str, card: tuple[str, str, str, bool]
) -> None:
    """Ordinary amounts and 0.21-0.23 are approved with the table's card and verification."""
    result = shared.sold(amount, folioNumber="F-1", traceability={"caja": "3"})
    card_type, brand, label, pin = card
    assert result["responseCode"] == "00"
    assert result["message"] == "Transacción exitosa"
    assert (result["cardType"], result["cardTypeName"], result["applicationLabel"]) == (
        card_type,
        brand,
        label,
    )
    assert result["hasPin"] is pin
    assert (result["hexSign"] == "") is pin
    assert result["authCode"] == "222222"
    assert result["folioNumber"] == "F-1"
    assert result["traceability"] == {"caja": "3"}
    assert (result["terminalId"], result["storeId"]) == (SERIAL, STORE)


def test_a_sale_pushed_without_a_folio_posts_no_folio_number(shared: Live) -> None:
    """An approved result of a sale pushed without ``folioNumber`` has no such key, as the
    documentation's own example (seeds/000: the request and its answer) shows."""
    result = shared.sold("1.00")

    assert result["responseCode"] == "00"
    assert "folioNumber" not in result


def test_no_card_times_out_after_sixty_seconds(live: Live) -> None:
    """0.02: nothing until the clock passes 60 s, then 02 "Cancelado por el Usuario"."""
    live.sale("0.02", folioNumber="F-2")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    live.advance(59)
    live.settle()
    assert live.terminal()["state"] == "waiting_card"
    assert live.recorder.results() == []
    result = live.expect(lambda: live.advance(2))
    assert (result["responseCode"], result["message"]) == ("02", "Cancelado por el Usuario")
    assert result["folioNumber"] == "F-2"
    assert "orderId" not in result


def test_cashier_cancels_at_once(shared: Live) -> None:
    """0.03: the cashier cancels on the terminal, 02 with no clock movement at all."""
    result = shared.sold("0.03")
    assert (result["responseCode"], result["message"]) == ("02", "Cancelado por el Usuario")
    assert shared.clock.now().isoformat() == "2024-03-05T18:00:00+00:00"


@pytest.mark.parametrize(
    ("amount", "code", "message"),
    [
        ("0.05", "05", "Error de conexión"),
        ("0.13", "13", "TRANSACCION NO PERMITIDA"),
        ("0.14", "14", "TARJETA INVALIDA"),
        ("0.34", "34", "TARJETA RECHAZADA"),
        ("0.48", "48", "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA"),
        ("0.51", "51", "FONDOS INSUFICIENTES"),
        ("0.56", "56", "TARJETA INVALIDA"),
    ],
)
def test_declines(shared: Live, amount: str, code: str, message: str) -> None:
    """The decline amounts post their code and message, with no orderId."""
    result = shared.sold(amount, folioNumber=f"D-{code}")
    assert (result["responseCode"], result["message"]) == (code, message)
    assert result["amount"] == amount
    assert result["folioNumber"] == f"D-{code}"
    assert result["transType"] == "A"
    assert "orderId" not in result
    assert shared.terminal()["screen"] == message


def test_msi_on_a_debit_card_is_48(shared: Live) -> None:
    """msi 3 with a debit card (0.21) is declined 48."""
    result = shared.sold("0.21", msi=3)
    assert result["responseCode"] == "48"
    assert result["message"] == "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA"


def test_msi_on_a_credit_card_is_approved(shared: Live) -> None:
    """msi 3 with a credit card (1.00) is approved with promotion "03"."""
    result = shared.sold("1.00", msi=3)
    assert (result["responseCode"], result["promotion"]) == ("00", "03")


def test_reversal_posts_05_and_a_reprint_by_folio_says_rv(shared: Live) -> None:
    """0.70: the terminal posts 05; a reprint by folio then says RV with the order id."""
    declined = shared.sold("0.70", folioNumber="REV-1")
    assert (declined["responseCode"], declined["message"]) == ("05", "Error de conexión")
    assert "orderId" not in declined
    reprint = shared.expect(lambda: shared.reprint_by_folio("REV-1"))
    assert reprint["isRePrint"] is True
    assert reprint["reprintModule"] == "RV"
    assert reprint["folioNumber"] == "REV-1"
    assert reprint["orderId"].endswith(f"-{SERIAL}")


def test_pending_reversal_becomes_rv_after_the_next_approval(shared: Live) -> None:
    """0.71: reprints say PRV until another sale is approved, then RV."""
    assert shared.sold("0.71", folioNumber="PRV-1")["responseCode"] == "05"
    first = shared.expect(lambda: shared.reprint_by_folio("PRV-1"))
    assert (first["isRePrint"], first["reprintModule"]) == (True, "PRV")
    declined = shared.sold("0.51", folioNumber="PRV-2")
    assert declined["responseCode"] == "51"
    still = shared.expect(lambda: shared.reprint_by_folio("PRV-1"))
    assert still["reprintModule"] == "PRV"  # a decline does not complete it
    assert shared.sold("1.00", folioNumber="PRV-3")["responseCode"] == "00"
    after = shared.expect(lambda: shared.reprint_by_folio("PRV-1"))
    assert (after["isRePrint"], after["reprintModule"]) == (True, "RV")
    assert after["orderId"] == first["orderId"]


def test_offline_terminal_posts_nothing(live: Live) -> None:
    """0.80: the push is answered 00 and the terminal never posts anything for it."""
    live.posts_nothing(lambda: live.sale("0.80", folioNumber="OFF-1"))
    live.advance(3600)
    live.settle()
    assert [r["folioNumber"] for r in live.recorder.results()] == ["marker"]


def test_push_to_a_busy_terminal_is_answered_00_and_ignored(live: Live) -> None:
    """A second push while the terminal waits for a card: 00, and only the first is posted."""
    live.sale("0.02", folioNumber="FIRST")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    answer = live.push(
        "sale", {"traceability": {}, "amount": 5, "serialNumber": SERIAL, "storeId": STORE}
    )
    assert (answer.status_code, answer.json()) == (200, PUSHED)
    snapshot = live.terminal()
    assert (snapshot["busy"], snapshot["operation"]["amount"]) == (True, "0.02")
    result = live.expect(lambda: live.advance(61))
    assert result["folioNumber"] == "FIRST"
    live.settle()
    assert [r["folioNumber"] for r in live.recorder.results()] == ["FIRST"]


def test_terminals_are_independent(live: Live) -> None:
    """While one terminal waits for a card, another one sells."""
    live.sale("0.02")
    other = live.sold("1.00", OTHER_SERIAL)
    assert (other["terminalId"], other["responseCode"]) == (OTHER_SERIAL, "00")
    assert live.terminal()["state"] == "waiting_card"
