"""NetPay's codes, each with a Spanish and an English text and a short line for the cashier.

Three catalogues:

- terminal ``responseCode`` values in the result a Smart terminal posts (``describe``);
- push codes the integration service answers with (``describe_push``);
- ``reprintModule`` states carried by reprints, which tell a transaction's *current* state
  (``REPRINT_MODULES``, described by ``describe_state``).

The terminal catalogue is open-ended: NetPay's own docs say any code other than ``00`` is a
problem whose reason is in ``message``. An unknown code is therefore a decline carrying the
terminal's message, never an error.

>>> describe("51").en
'Insufficient funds'
>>> describe("99", "RARO").cashier_es
'Rechazada: RARO'
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PUSH_CODES",
    "REPRINT_MODULES",
    "STATE_TEXTS",
    "TERMINAL_CODES",
    "CodeInfo",
    "ReprintState",
    "describe",
    "describe_push",
    "describe_result",
    "describe_state",
]


class ReprintState(StrEnum):
    """Current state of a transaction as a reprint's ``reprintModule`` reports it."""

    APPROVED = "approved"
    CANCELLED = "cancelled"
    REVERSED = "reversed"
    PENDING_REVERSAL = "pending_reversal"
    DECLINED = "declined"


REPRINT_MODULES: dict[str, ReprintState] = {
    "C": ReprintState.APPROVED,
    "V": ReprintState.CANCELLED,
    "RV": ReprintState.REVERSED,
    "PRV": ReprintState.PENDING_REVERSAL,
    "D": ReprintState.DECLINED,
}


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What a code means, for a developer (``es``/``en``) and for a cashier (``cashier_*``)."""

    code: str
    es: str
    en: str
    cashier_es: str
    cashier_en: str
    approved: bool = False
    known: bool = True
    source: str = "smart"

    def text(self, lang: str = "es") -> str:
        """The cashier's line in ``lang`` (``es`` or ``en``)."""
        return self.cashier_en if lang.startswith("en") else self.cashier_es


def _c(code: str, es: str, en: str, cashier_es: str, cashier_en: str, source: str) -> CodeInfo:
    return CodeInfo(code, es, en, cashier_es, cashier_en, approved=code == "00", source=source)


# Codes seen on Smart terminals (NETPAY-FACTS.md §5, seeds 001 and 002) come first; the
# ISO-8583-style codes NetPay documents for its Checkout product fill the rest, because the
# same acquiring host answers both and they do reach terminals (51 most of all).
TERMINAL_CODES: dict[str, CodeInfo] = {
    info.code: info
    for info in (
        _c("00", "Transacción exitosa", "Approved", "Aprobada", "Approved", "smart"),
        _c(
            "02",
            "Cancelado por el usuario o tiempo de espera agotado",
            "Cancelled on the terminal or timed out waiting for the card",
            "Cancelada en la terminal o sin tarjeta a tiempo",
            "Cancelled on the terminal or no card in time",
            "smart",
        ),
        _c(
            "05",
            "Error de conexión",
            "Connection error",
            "Error de conexión: verifique el estado antes de cobrar de nuevo",
            "Connection error: check the status before charging again",
            "smart",
        ),
        _c(
            "13",
            "Transacción no permitida",
            "Transaction not permitted",
            "Rechazada: transacción no permitida",
            "Declined: transaction not permitted",
            "smart",
        ),
        _c(
            "14",
            "Tarjeta inválida",
            "Invalid card",
            "Rechazada: tarjeta inválida",
            "Declined: invalid card",
            "smart",
        ),
        _c(
            "34",
            "Tarjeta o transacción rechazada",
            "Card or transaction rejected",
            "Rechazada por el banco",
            "Declined by the bank",
            "smart",
        ),
        _c(
            "48",
            "Promoción no válida para el tipo de tarjeta",
            "Promotion not valid for this card type",
            "Meses sin intereses no válidos con esta tarjeta",
            "Months without interest not valid for this card",
            "smart",
        ),
        _c(
            "56",
            "Tarjeta inválida",
            "Invalid card",
            "Rechazada: tarjeta inválida",
            "Declined: invalid card",
            "smart",
        ),
        _c(
            "01",
            "El emisor pide contactarlo",
            "Refer to card issuer",
            "Rechazada: llame al banco emisor",
            "Declined: call the card issuer",
            "checkout",
        ),
        _c(
            "03",
            "Problemas con la afiliación",
            "Invalid merchant",
            "Rechazada: problema con la afiliación",
            "Declined: merchant account problem",
            "checkout",
        ),
        _c(
            "04",
            "Tarjeta bloqueada",
            "Card blocked (pick up)",
            "Rechazada: tarjeta bloqueada",
            "Declined: card blocked",
            "checkout",
        ),
        _c(
            "06",
            "Problema de comunicación",
            "Communication problem",
            "Error de comunicación: intente de nuevo",
            "Communication error: try again",
            "checkout",
        ),
        _c(
            "07",
            "Tarjeta bloqueada",
            "Card blocked (special condition)",
            "Rechazada: tarjeta bloqueada",
            "Declined: card blocked",
            "checkout",
        ),
        _c(
            "12",
            "Problemas con el tipo de operación",
            "Invalid transaction",
            "Rechazada: operación no válida",
            "Declined: invalid transaction",
            "checkout",
        ),
        _c(
            "15",
            "Problemas con el emisor",
            "No such issuer",
            "Rechazada: problema con el banco emisor",
            "Declined: card issuer problem",
            "checkout",
        ),
        _c(
            "30",
            "Problemas con la afiliación",
            "Format error",
            "Rechazada: problema con la afiliación",
            "Declined: merchant account problem",
            "checkout",
        ),
        _c(
            "31",
            "Problemas con el tipo de operación",
            "Bank not supported",
            "Rechazada: operación no soportada",
            "Declined: operation not supported",
            "checkout",
        ),
        _c(
            "33",
            "La tarjeta expiró",
            "Expired card",
            "Rechazada: tarjeta vencida",
            "Declined: expired card",
            "checkout",
        ),
        _c(
            "36",
            "Tarjeta bloqueada",
            "Restricted card",
            "Rechazada: tarjeta restringida",
            "Declined: restricted card",
            "checkout",
        ),
        _c(
            "41",
            "Tarjeta bloqueada (extraviada)",
            "Lost card",
            "Rechazada: tarjeta bloqueada",
            "Declined: card blocked",
            "checkout",
        ),
        _c(
            "43",
            "Tarjeta bloqueada (robada)",
            "Stolen card",
            "Rechazada: tarjeta bloqueada",
            "Declined: card blocked",
            "checkout",
        ),
        _c(
            "51",
            "Fondos insuficientes",
            "Insufficient funds",
            "Rechazada: fondos insuficientes",
            "Declined: insufficient funds",
            "checkout",
        ),
    )
}


PUSH_CODES: dict[str, CodeInfo] = {
    "00": CodeInfo(
        "00",
        "Mensaje enviado exitosamente",
        "Message delivered to the terminal",
        "Enviado a la terminal",
        "Sent to the terminal",
        approved=True,
        source="push",
    ),
    "19": CodeInfo(
        "19",
        "No se encontró la terminal",
        "Terminal not found",
        "Terminal no encontrada: revise el número de serie",
        "Terminal not found: check the serial number",
        source="push",
    ),
}


def describe(code: str | None, message: str | None = None) -> CodeInfo:
    """Describe a terminal ``responseCode``; an unknown or missing code is a decline.

    The terminal's own ``message`` is kept in the cashier's line for codes we do not know,
    since it is the only explanation there is.
    """
    key = (code or "").strip()
    info = TERMINAL_CODES.get(key)
    if info is not None:
        return info
    said = (message or "").strip()
    return CodeInfo(
        key,
        said or "Código desconocido",
        said or "Unknown code",
        f"Rechazada: {said}" if said else f"Rechazada (código {key or '?'})",
        f"Declined: {said}" if said else f"Declined (code {key or '?'})",
        known=False,
        source="unknown",
    )


#: What to tell the cashier about a transaction's current state. On a reprint the
#: ``responseCode`` is the original sale's (``00`` even once it is reversed or cancelled), so
#: the state, not the code, says what happened (NETPAY-FACTS.md §4.6).
STATE_TEXTS: dict[ReprintState, CodeInfo] = {
    ReprintState.APPROVED: CodeInfo(
        "C",
        "Transacción aprobada",
        "Transaction approved",
        "Aprobada",
        "Approved",
        approved=True,
        source="reprint",
    ),
    ReprintState.CANCELLED: CodeInfo(
        "V",
        "Transacción cancelada",
        "Transaction cancelled",
        "Cancelada: la venta fue anulada",
        "Cancelled: the sale was voided",
        source="reprint",
    ),
    ReprintState.REVERSED: CodeInfo(
        "RV",
        "Transacción revertida",
        "Transaction reversed",
        "Revertida: el cargo no se realizó",
        "Reversed: the charge did not go through",
        source="reprint",
    ),
    ReprintState.PENDING_REVERSAL: CodeInfo(
        "PRV",
        "Reverso pendiente",
        "Reversal pending",
        "Reverso pendiente: el cargo se anulará",
        "Reversal pending: the charge will be undone",
        source="reprint",
    ),
    ReprintState.DECLINED: CodeInfo(
        "D",
        "Transacción rechazada",
        "Transaction declined",
        "Rechazada",
        "Declined",
        source="reprint",
    ),
}


def describe_state(state: str) -> CodeInfo:
    """Describe a transaction's current state (a :class:`ReprintState` value or a
    ``reprintModule`` letter such as ``RV``).

    >>> describe_state("RV").cashier_en
    'Reversed: the charge did not go through'
    """
    key = state.strip()
    found = REPRINT_MODULES.get(key.upper())
    return STATE_TEXTS[found if found is not None else ReprintState(key.lower())]


#: Where the money stands, by a transaction's status, when that and not its code says it.
_STATUS_STATES: dict[str, ReprintState] = {
    "cancelled": ReprintState.CANCELLED,
    "reversed": ReprintState.REVERSED,
    "pending_reversal": ReprintState.PENDING_REVERSAL,
}


def describe_result(code: str | None, message: str | None, status: str) -> CodeInfo:
    """Describe a result by its code, unless its ``status`` (the receiver's and the SDK's
    names: ``reversed``, ``cancelled`` ...) says more: a reversed sale's code is still ``00``,
    and "Aprobada" would tell a cashier to hand over the goods.

    >>> describe_result("00", "Transaccion Valida", "reversed").cashier_es
    'Revertida: el cargo no se realizó'
    """
    info = describe(code, message)
    state = _STATUS_STATES.get(status)
    if state is None and status == "declined" and info.approved:
        state = ReprintState.DECLINED  # a reprint said D about a sale approved before
    return info if state is None else STATE_TEXTS[state]


def describe_push(code: str | None, message: str | None = None) -> CodeInfo:
    """Describe a push answer ``code``; an unknown code is a failed push, with its message."""
    key = (code or "").strip()
    info = PUSH_CODES.get(key)
    if info is not None:
        return info
    said = (message or "").strip() or "Respuesta desconocida"
    return CodeInfo(key, said, said, said, said, known=False, source="push")
