"""Card numbers as cards are printed (groups with spaces or dashes) are masked like runs are."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netpay_smart._pci import luhn_valid, mask_pans


def _with_check_digit(prefix: str) -> str:
    """``prefix`` plus the digit that makes it pass the Luhn check."""
    return next(prefix + d for d in "0123456789" if luhn_valid(prefix + d))


def _grouped(number: str, separator: str) -> str:
    """4-6-5 for 15 digits (American Express), else groups of four."""
    if len(number) == 15:
        return separator.join((number[:4], number[4:10], number[10:]))
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


CARDS = st.builds(
    _with_check_digit, st.from_regex(r"\A[3-6][0-9]{12,17}\Z", fullmatch=True)
).filter(lambda n: len(n) in (15, 16, 19))
SEPARATORS = st.sampled_from([" ", "-"])


@given(number=CARDS, separator=SEPARATORS)
def test_a_printed_card_number_keeps_only_its_last_four(number: str, separator: str) -> None:
    """Grouped with spaces or dashes, a Luhn-valid number keeps its shape and last four."""
    printed = _grouped(number, separator)
    body = json.dumps({"traceability": {"nota": f"tarjeta {printed} ok"}}).encode()

    masked, count = mask_pans(body)

    text = json.loads(masked)["traceability"]["nota"]
    assert count == 1
    assert number not in text.replace(separator, "")
    shown = text.removeprefix("tarjeta ").removesuffix(" ok")
    assert [c == separator for c in shown] == [c == separator for c in printed]  # same shape
    assert "".join(c for c in shown if c.isdigit()) == number[-4:]
    assert shown.count("*") == len(number) - 4


@given(number=CARDS, separator=SEPARATORS)
def test_a_printed_number_that_fails_luhn_is_left_alone(number: str, separator: str) -> None:
    """A grouped number that is not a card (wrong check digit) is kept as it was."""
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    body = json.dumps({"folio": _grouped(wrong, separator)}).encode()
    assert mask_pans(body) == (body, 0)


def test_order_ids_dates_and_the_signature_are_not_cards() -> None:
    """Dashes in orderIds and dates, and digits inside hexSign, are never taken for cards."""
    body = json.dumps(
        {
            "orderId": "210304142730-1490293930",
            "transDate": "2024-03-05 13:14:48.CST",
            "hexSign": "4111 1111 1111 1111",
        }
    ).encode()
    assert mask_pans(body) == (body, 0)


@pytest.mark.parametrize(
    "written",
    [
        "4111\\u003111111111111",  # one digit escaped
        "\\u0034\\u0031\\u0031\\u0031111111111111",  # several
        "41111111\\u00311111111",  # in the middle
    ],
)
def test_a_card_number_with_digits_written_as_escapes_is_masked(written: str) -> None:
    """Digits written as JSON escapes (``\\u0031`` is "1") hide no card number: the body is
    kept with them written plainly (the same JSON) and the number masked to its last four."""
    body = ('{"cardNumber":"9493","traceability":{"nota":"' + written + '"}}').encode()
    masked, count = mask_pans(body)

    assert count == 1
    assert json.loads(masked)["traceability"]["nota"] == "************1111"
    assert b"\\u003" not in masked


def test_escaped_digits_that_are_no_card_number_stay_as_they_came() -> None:
    """Escaped digits that make no card number, and an escaped backslash before "u0034"
    (which is no escape), leave the body byte for byte."""
    for body in (
        b'{"folioNumber":"F\\u00312"}',
        b'{"nota":"\\\\u0034111111111111111"}',
    ):
        assert mask_pans(body) == (body, 0)
