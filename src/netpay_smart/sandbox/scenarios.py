"""The sandbox's deterministic outcomes: the amount of a sale picks what happens.

Ordinary amounts (1.00 and up) are approved, so a real-looking checkout never trips a trigger.
The triggers are the amounts under one peso listed here; any other amount is approved:

| amount | what the virtual terminal does |
|---|---|
| any other amount | approved, VISA credit, signature (``hexSign``) |
| 0.21 | approved, VISA debit, PIN |
| 0.22 | approved, MasterCard credit, PIN |
| 0.23 | approved, MasterCard debit, signature |
| 0.02 | no card: after the terminal's timeout (60 s) posts ``02`` "Cancelado por el Usuario" |
| 0.03 | the cashier cancels on the terminal: ``02`` at once |
| 0.05 | ``05`` "Error de conexión"; a reprint by folio says ``D`` |
| 0.13 | ``13`` "TRANSACCION NO PERMITIDA" |
| 0.14 | ``14`` "TARJETA INVALIDA" |
| 0.34 | ``34`` "TARJETA RECHAZADA" |
| 0.48 | ``48`` "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA" (also any ``msi`` on a debit card) |
| 0.51 | ``51`` "FONDOS INSUFICIENTES" |
| 0.56 | ``56`` "TARJETA INVALIDA" |
| 0.70 | approved by the bank, then reversed: posts ``05``; a reprint by folio says ``RV`` |
| 0.71 | pending reversal: posts ``05``; reprints say ``PRV``, ``RV`` after the next approval |
| 0.80 | terminal offline: the push is accepted, nothing ever happens |
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

__all__ = ["CARDS", "DECLINE_MESSAGES", "SCENARIOS", "Card", "Scenario", "scenario_for"]


@dataclass(frozen=True, slots=True)
class Card:
    label: str
    aid: str
    bank: str
    bin: str
    type: Literal["C", "D"]
    brand: str
    last4: str
    exp: str
    holder: str
    pin: bool


CARDS: Final = {
    "visa_credit_signature": Card(
        "VISA CREDITO", "A0000000031010", "BANORTE", "493173", "C", "VISA", "8425", "01/29",
        "CLIENTE SANDBOX/VISA", pin=False,
    ),
    "visa_debit_pin": Card(
        "VISA DEBITO", "A0000000031010", "BANAMEX", "476684", "D", "VISA", "9493", "11/28",
        "CLIENTE SANDBOX/DEBITO", pin=True,
    ),
    "mastercard_credit_pin": Card(
        "MASTERCARD", "A0000000041010", "INBURSA", "520416", "C", "MASTERCARD", "0001", "01/30",
        "CLIENTE SANDBOX/MASTER", pin=True,
    ),
    "mastercard_debit_signature": Card(
        "DEBIT MASTERCARD", "A0000000041010", "BBVA", "557910", "D", "MASTERCARD", "3344",
        "07/28", "CLIENTE SANDBOX/MC DEBITO", pin=False,
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Scenario:
    """What happens to a sale. ``code`` is the bank's answer once a card is read."""

    name: str
    code: str = "00"
    message: str = "Transacción exitosa"
    card: str = "visa_credit_signature"
    no_card: bool = False  # the terminal times out waiting
    user_cancels: bool = False  # the cashier presses cancel
    reversal: Literal["RV", "PRV"] | None = None
    offline: bool = False


DECLINE_MESSAGES: Final = {
    "05": "Error de conexión",
    "13": "TRANSACCION NO PERMITIDA",
    "14": "TARJETA INVALIDA",
    "34": "TARJETA RECHAZADA",
    "48": "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA",
    "51": "FONDOS INSUFICIENTES",
    "56": "TARJETA INVALIDA",
}

SCENARIOS: Final[dict[Decimal, Scenario]] = {
    Decimal("0.21"): Scenario("approved_debit_pin", card="visa_debit_pin"),
    Decimal("0.22"): Scenario("approved_credit_pin", card="mastercard_credit_pin"),
    Decimal("0.23"): Scenario("approved_debit_signature", card="mastercard_debit_signature"),
    Decimal("0.02"): Scenario(
        "no_card_timeout", code="02", message="Cancelado por el Usuario", no_card=True
    ),
    Decimal("0.03"): Scenario(
        "cancelled_on_terminal", code="02", message="Cancelado por el Usuario", user_cancels=True
    ),
    **{
        Decimal(f"0.{code}"): Scenario(f"declined_{code}", code=code, message=message)
        for code, message in DECLINE_MESSAGES.items()
    },
    Decimal("0.70"): Scenario("reversed", code="05", message="Error de conexión", reversal="RV"),
    Decimal("0.71"): Scenario(
        "pending_reversal", code="05", message="Error de conexión", reversal="PRV"
    ),
    Decimal("0.80"): Scenario("offline", offline=True),
}

APPROVED: Final = Scenario("approved")


def scenario_for(amount: Decimal) -> Scenario:
    """The outcome for a sale of ``amount`` (see the table in this module's docstring)."""
    return SCENARIOS.get(amount.quantize(Decimal("0.01")), APPROVED)
