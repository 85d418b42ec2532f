"""Response codes, push codes and reprintModule states, with texts for developers and cashiers."""

from __future__ import annotations

import pytest

from netpay_smart import codes
from netpay_smart.codes import (
    PUSH_CODES,
    REPRINT_MODULES,
    TERMINAL_CODES,
    CodeInfo,
    ReprintState,
    describe,
    describe_push,
)

#: Codes a Smart terminal has sent according to NETPAY-FACTS.md §5.
SMART_CODES = ["00", "02", "05", "13", "14", "34", "48", "56"]

#: ISO-8583-style codes of NetPay's Checkout catalogue that the same host answers with.
ISO_CODES = ["01", "03", "04", "06", "07", "12", "15", "30", "31", "33", "36", "41", "43", "51"]


@pytest.mark.parametrize("code", SMART_CODES + ISO_CODES)
def test_every_catalogued_code_has_all_texts(code: str) -> None:
    """Each known code has non-empty Spanish, English and cashier texts and is marked known."""
    info = describe(code)
    assert info.code == code
    assert info.known is True
    for text in (info.es, info.en, info.cashier_es, info.cashier_en):
        assert isinstance(text, str)
        assert text.strip()


@pytest.mark.parametrize("code", SMART_CODES + ISO_CODES)
def test_only_00_is_approved(code: str) -> None:
    """``00`` is the one approved code; every other catalogued code is not."""
    assert describe(code).approved is (code == "00")


def test_catalogue_is_exactly_the_documented_codes() -> None:
    """The terminal catalogue holds the §5 codes and the ISO-style ones, nothing else."""
    assert set(TERMINAL_CODES) == set(SMART_CODES) | set(ISO_CODES)
    assert {c for c, i in TERMINAL_CODES.items() if i.approved} == {"00"}


@pytest.mark.parametrize(
    ("code", "source"), [(c, "smart") for c in SMART_CODES] + [(c, "checkout") for c in ISO_CODES]
)
def test_codes_say_where_they_come_from(code: str, source: str) -> None:
    """Smart codes are tagged "smart", Checkout codes "checkout"."""
    assert describe(code).source == source


@pytest.mark.parametrize(
    ("code", "en"),
    [
        ("00", "Approved"),
        ("02", "Cancelled on the terminal or timed out waiting for the card"),
        ("05", "Connection error"),
        ("48", "Promotion not valid for this card type"),
        ("51", "Insufficient funds"),
    ],
)
def test_key_code_meanings(code: str, en: str) -> None:
    """The codes a cashier meets most carry the meaning NetPay documents."""
    assert describe(code).en == en


def test_connection_error_tells_the_cashier_to_check_before_charging_again() -> None:
    """05 may hide a reversal, so its cashier line warns against charging twice."""
    assert "before charging again" in describe("05").cashier_en
    assert "antes de cobrar de nuevo" in describe("05").cashier_es


@pytest.mark.parametrize(
    ("code", "message", "cashier_es", "cashier_en"),
    [
        ("99", "RARO", "Rechazada: RARO", "Declined: RARO"),
        ("Z3", "  FALLO EMISOR  ", "Rechazada: FALLO EMISOR", "Declined: FALLO EMISOR"),
        ("77", None, "Rechazada (código 77)", "Declined (code 77)"),
        ("77", "   ", "Rechazada (código 77)", "Declined (code 77)"),
        (None, None, "Rechazada (código ?)", "Declined (code ?)"),
        ("", "", "Rechazada (código ?)", "Declined (code ?)"),
    ],
)
def test_unknown_codes_are_declines_with_the_terminal_message(
    code: str | None, message: str | None, cashier_es: str, cashier_en: str
) -> None:
    """An unknown or missing code never raises: it is an unknown decline with the message."""
    info = describe(code, message)
    assert info.known is False
    assert info.approved is False
    assert info.source == "unknown"
    assert (info.cashier_es, info.cashier_en) == (cashier_es, cashier_en)


def test_unknown_code_developer_texts() -> None:
    """An unknown code's es/en texts are the terminal's message, or a generic line."""
    assert (describe("99", "RARO").es, describe("99", "RARO").en) == ("RARO", "RARO")
    assert (describe("99").es, describe("99").en) == ("Código desconocido", "Unknown code")


def test_known_code_ignores_the_terminal_message() -> None:
    """A known code keeps its catalogue texts whatever message came with it."""
    assert describe("51", "CUALQUIER COSA") is TERMINAL_CODES["51"]
    assert describe(" 00 ") is TERMINAL_CODES["00"]


def test_code_info_text_picks_the_cashier_language() -> None:
    """``text("en")`` is the English cashier line, ``text()``/``text("es")`` the Spanish one."""
    info = describe("51")
    assert info.text("en") == "Declined: insufficient funds"
    assert info.text("en-US") == "Declined: insufficient funds"
    assert info.text() == "Rechazada: fondos insuficientes"
    assert info.text("es") == info.text("es-MX") == "Rechazada: fondos insuficientes"


def test_code_info_is_immutable() -> None:
    """``CodeInfo`` is frozen, so the shared catalogue cannot be changed by a caller."""
    info = describe("00")
    assert isinstance(info, CodeInfo)
    with pytest.raises(AttributeError):
        info.approved = False  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Push codes
# --------------------------------------------------------------------------------------------


def test_push_code_00_is_delivered() -> None:
    """Push code 00 is "Mensaje enviado exitosamente": delivered, approved."""
    info = describe_push("00")
    assert info.approved is True
    assert info.known is True
    assert info.es == "Mensaje enviado exitosamente"
    assert info.source == "push"


def test_push_code_19_is_terminal_not_found() -> None:
    """Push code 19 is "No se encontró la terminal", not approved, with a cashier hint."""
    info = describe_push("19")
    assert info.approved is False
    assert info.known is True
    assert info.es == "No se encontró la terminal"
    assert info.en == "Terminal not found"
    assert "serial number" in info.cashier_en
    assert set(PUSH_CODES) == {"00", "19"}


@pytest.mark.parametrize(
    ("code", "message", "text"),
    [("42", "Algo raro", "Algo raro"), ("42", None, "Respuesta desconocida"), (None, "", None)],
)
def test_unknown_push_codes_are_failed_pushes(
    code: str | None, message: str | None, text: str | None
) -> None:
    """An unknown push code is a failed push carrying the gateway's message; never raises."""
    info = describe_push(code, message)
    assert info.known is False
    assert info.approved is False
    assert info.source == "push"
    expected = text or "Respuesta desconocida"
    assert info.es == info.en == info.cashier_es == info.cashier_en == expected


# --------------------------------------------------------------------------------------------
# reprintModule
# --------------------------------------------------------------------------------------------


def test_reprint_modules_map_to_states() -> None:
    """C, V, RV, PRV and D are approved, cancelled, reversed, pending reversal and declined."""
    assert REPRINT_MODULES == {
        "C": ReprintState.APPROVED,
        "V": ReprintState.CANCELLED,
        "RV": ReprintState.REVERSED,
        "PRV": ReprintState.PENDING_REVERSAL,
        "D": ReprintState.DECLINED,
    }


def test_module_docstring_examples() -> None:
    """The examples at the top of ``codes`` hold."""
    assert codes.describe("51").en == "Insufficient funds"
    assert codes.describe("99", "RARO").cashier_es == "Rechazada: RARO"
