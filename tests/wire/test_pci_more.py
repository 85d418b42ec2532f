"""The rarer ways a card number reached a stored body in clear, found by a security review:
printed with three to five separators between its groups, written as a double in exponent
form, written in non-ASCII digits, or in a UTF-16 or UTF-32 body. Each is masked like a
plain card number, and what only looks like one is left alone."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netpay_smart._pci import cut_for_record, mask_pans

from .test_pci import (
    _json_ascii,
    _json_utf8,
    _plain,
    _read,
    _with_check_digit,
)

# -- printed with three to five separators ---------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("4111 - 1111 - 1111 - 1111", "**** - **** - **** - 1111"),
        ("4111  -  1111  -  1111  -  1111", "****  -  ****  -  ****  -  1111"),
        ("3782 / 822463 / 10005", "**** / ****** / *0005"),
        ("5555 -\t5555 . 5555 /\u00a04444", "**** -\t**** . **** /\u00a04444"),
        ("4111 - 1111 - 1111 - 1111 - 12/29", "**** - **** - **** - 1111 - 12/29"),
    ],
)
def test_the_wider_printed_forms_of_the_review_are_masked(written: str, shown: str) -> None:
    """Each form the review found with three or more separators keeps only the last four."""
    for writer in (_json_ascii, _json_utf8, _plain):
        masked, count = mask_pans(writer(written))
        assert (_read(writer, masked), count) == (shown, 1)


@pytest.mark.parametrize(
    "written",
    [
        "4111   -   1111   -   1111   -   1111",  # seven separators: not one number
        "2024 - 03 - 05  13 : 14 : 48",
        "+52 (55) 1234 - 5678  /  55 8765 - 4321",
        "Lote 0012  -  Ref 123456  -  0001",
        "2021 / 2022 / 2023",
    ],
)
def test_groups_far_apart_dates_and_phones_are_not_cards(written: str) -> None:
    """More than five separators join no groups, and dates and phone numbers printed with
    wide separators are not shaped like a card: kept as they came."""
    for writer in (_json_ascii, _json_utf8, _plain):
        body = writer(written)
        assert mask_pans(body) == (body, 0)


@pytest.mark.parametrize(
    ("cut", "kept"),
    [
        (b'{"m":"x4111 - 1111 - 1111 - 11', b'{"m":"x'),
        (b'{"m":"x4111  -  1111  -  ', b'{"m":"x'),
        (b'{"m":"x3782 / 822463 / 1', b'{"m":"x'),
    ],
)
def test_a_cut_inside_a_widely_printed_card_keeps_none_of_it(cut: bytes, kept: bytes) -> None:
    """The size limit falling inside a card printed with wide separators keeps no group of it."""
    assert cut_for_record(cut) == kept


# -- a double in exponent form ---------------------------------------------------------------------


def _as_double(number: str) -> str:
    """``number`` as Java's ``Double.toString`` prints it from 10**7 up: one digit, the point,
    the rest without trailing zeros, ``E`` and the exponent."""
    return f"{number[0]}.{number[1:].rstrip('0') or '0'}E{len(number) - 1}"


def _shown_double(number: str) -> str:
    """What masking shows of ``_as_double(number)``: every mantissa digit starred but those
    among the card's last four."""
    mantissa = number[0] + number[1:].rstrip("0")
    keep = max(0, len(mantissa) - (len(number) - 4))
    hidden = "*" * (len(mantissa) - keep)
    return f"{hidden[0]}.{hidden[1:]}{mantissa[len(mantissa) - keep :]}E{len(number) - 1}"


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("4.111111111111111E15", "*.***********1111E15"),
        ("4.111111111111111e+15", "*.***********1111e+15"),
        ("5.555555555554444E15", "*.***********4444E15"),
        ("4.222222222222E12", "*.********2222E12"),  # 13 digits
        ("3.78282246310005E14", "*.**********0005E14"),  # American Express
        ("3.0569309025904E13", "*.*********5904E13"),  # Diners Club
        ("4.111111111009E15", "*.***********9E15"),  # 4111111111009000
        ("-4.111111111111111E15", "-*.***********1111E15"),
    ],
)
def test_a_card_written_as_a_double_is_masked(written: str, shown: str) -> None:
    """A card that a POS stored in a double and printed in exponent form, as a JSON number,
    becomes a string with only the card's last four digits left; in a string, or in a body
    that is not JSON, it is masked in place."""
    number = json.dumps({"traceability": {"card": "NUMBER"}}).replace('"NUMBER"', written)
    masked, count = mask_pans(number.encode())
    assert (json.loads(masked)["traceability"]["card"], count) == (shown, 1)
    for writer in (_json_ascii, _plain):
        masked, count = mask_pans(writer(f"tarjeta {written} ok"))
        assert (_read(writer, masked), count) == (f"tarjeta {shown} ok", 1)


# Cards of 13 to 16 digits whose trailing zeros leave twelve digits after the point.
SHORT_CARDS = st.builds(
    _with_check_digit, st.from_regex(r"\A[3-6][0-9]{11,14}\Z", fullmatch=True)
).filter(lambda n: len(n[1:].rstrip("0")) >= 12)


@given(number=SHORT_CARDS, lower=st.booleans(), plus=st.booleans())
def test_any_card_of_13_to_16_digits_written_as_a_double_keeps_only_its_last_four(
    number: str, lower: bool, plus: bool
) -> None:
    """Whatever its digits, a 13–16 digit card printed as a double (``E`` or ``e``, with or
    without ``+``) shows nothing but (part of) its last four."""
    written = _as_double(number)
    shown = _shown_double(number)
    mark = ("e" if lower else "E") + ("+" if plus else "")
    body = f'{{"traceability":{{"card":{written.replace("E", mark)}}}}}'.encode()

    masked, count = mask_pans(body)

    assert float(written) == int(number)  # a double holds such a card exactly
    assert json.loads(masked)["traceability"]["card"] == shown.replace("E", mark)
    assert count == 1


@pytest.mark.parametrize(
    "number",
    [
        "1.5E2",  # an amount
        "1.0E7",
        '"200.0"',
        "4.111111111111112E15",  # fails the Luhn check
        "1.0168484268088856e+16",  # 17 digits (10168484268088856 passes the check): chance
        "1.2345678901234567e-05",
        "4.111111111111111E400",
        "1e15",
    ],
)
def test_amounts_and_other_numbers_in_exponent_form_are_left_alone(number: str) -> None:
    """Numbers in exponent form that do not stand for a 13–16 digit card are kept as sent."""
    body = f'{{"amount":{number},"traceability":{{"ratio":{number}}}}}'.encode()
    assert mask_pans(body) == (body, 0)


@pytest.mark.parametrize(
    "cut",
    [
        b'{"m":"x","card":4.111111111111111E1',
        b'{"m":"x","card":4.111111111111111E',
        b'{"m":"x","card":4.111111111111111e+',
        b'{"m":"x","card":4.111111111111111E15',
    ],
)
def test_a_cut_in_the_exponent_of_a_double_keeps_none_of_its_mantissa(cut: bytes) -> None:
    """The size limit falling in (or right after) the exponent drops the whole mantissa: with
    its exponent gone, nothing would say it is a card."""
    assert cut_for_record(cut) == b'{"m":"x","card":'


# -- non-ASCII digits ------------------------------------------------------------------------------

# The zero of every set of Unicode decimal digits (Arabic-Indic, Devanagari, fullwidth, ...).
ZEROS = [
    code
    for code in range(0x80, 0x110000)
    if chr(code).isdecimal() and unicodedata.digit(chr(code)) == 0
]


def _in_script(number: str, zero: int) -> str:
    return "".join(chr(zero + int(d)) if d.isdigit() else d for d in number)


@pytest.mark.parametrize("zero", ZEROS, ids=[f"U+{zero:04X}" for zero in ZEROS])
def test_a_card_in_the_digits_of_any_script_keeps_only_its_last_four(zero: int) -> None:
    """A card written in the digits of any script, in one run or printed, keeps only its last
    four, in that script; separators are kept."""
    for number, shown in (
        ("4111111111111111", "************1111"),
        ("5555 5555 5555 4444", "**** **** **** 4444"),
    ):
        for writer in (_json_utf8, _plain):
            masked, count = mask_pans(writer(f"tarjeta {_in_script(number, zero)}"))
            assert (_read(writer, masked), count) == (f"tarjeta {_in_script(shown, zero)}", 1)


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("４１１１－１１１１－１１１１－１１１１", "****－****－****－１１１１"),
        (
            "４１１１\u3000１１１１\u3000１１１１\u3000１１１１",
            "****\u3000****\u3000****\u3000１１１１",
        ),
        ("4111١١١١11111111", "************1111"),  # mixed with ASCII digits
        ("٣٧٨٢ ٨٢٢٤٦٣ ١٠٠٠٥ ١٢/٢٩", "**** ****** *٠٠٠٥ ١٢/٢٩"),
    ],
)
def test_fullwidth_and_mixed_digits_are_masked(written: str, shown: str) -> None:
    """Fullwidth separators join fullwidth groups, and a run mixing scripts is one number."""
    for writer in (_json_utf8, _plain):
        masked, count = mask_pans(writer(written))
        assert (_read(writer, masked), count) == (shown, 1)


@pytest.mark.parametrize(
    "written",
    [
        "٢٠٢٤-٠٣-٠٥ ١٣:١٤:٤٨",  # a date
        "١٢٣٫٤٥",  # an amount
        "٤١١١١١١١١١١١١١١٢",  # fails the Luhn check
        "Válida, más, Sánchez: 4111",
    ],
)
def test_non_ascii_digits_that_are_no_card_are_kept_byte_for_byte(written: str) -> None:
    """Dates, amounts and Luhn-failing numbers in non-ASCII digits, and accented text, stay
    exactly as they came, in UTF-8 and in Latin-1."""
    for body in (_json_utf8(written), _plain(written)):
        assert mask_pans(body) == (body, 0)
    body = '{"message":"Válida, más, Sánchez, Ùrsula, ß, ê, ï, ð"}'.encode("latin-1")
    assert mask_pans(body) == (body, 0)


# -- UTF-16 and UTF-32 bodies ----------------------------------------------------------------------

WIDE = [
    ("utf-16", b"\xff\xfe"),
    ("utf-16-le", b""),
    ("utf-16-be", b""),
    ("utf-32", b"\xff\xfe\x00\x00"),
    ("utf-32-le", b""),
    ("utf-32-be", b""),
]


@pytest.mark.parametrize(("codec", "mark"), WIDE, ids=[codec for codec, _ in WIDE])
def test_a_card_in_a_utf16_or_utf32_body_keeps_only_its_last_four(codec: str, mark: bytes) -> None:
    """A UTF-16 or UTF-32 body, with or without a byte-order mark, is masked like a UTF-8
    one and stays in its encoding, mark kept: a run, a printed card and a double."""
    sent = {
        "message": "Transacción",
        "traceability": {"a": "4111111111111111", "b": "5555 5555 5555 4444"},
    }
    text = json.dumps(sent, ensure_ascii=False)[:-1] + ',"c":4.222222222222E12}'
    body = text.encode(codec)
    assert body.startswith(mark)

    masked, count = mask_pans(body)

    assert masked.startswith(mark)
    stored = json.loads(masked.decode(codec))
    assert stored["message"] == "Transacción"
    assert stored["traceability"] == {"a": "************1111", "b": "**** **** **** 4444"}
    assert (stored["c"], count) == ("*.********2222E12", 3)


def test_a_big_endian_utf16_body_with_its_mark_and_half_a_character_is_masked() -> None:
    """A big-endian mark is kept, and so is an odd last byte (a cut body)."""
    body = b"\xfe\xff" + '{"a":"4111111111111111"}'.encode("utf-16-be") + b"\x00"
    assert mask_pans(body) == (
        b"\xfe\xff" + '{"a":"************1111"}'.encode("utf-16-be") + b"\x00",
        1,
    )


@pytest.mark.parametrize(("codec", "mark"), WIDE, ids=[codec for codec, _ in WIDE])
def test_a_utf16_or_utf32_body_without_a_card_is_kept_byte_for_byte(
    codec: str, mark: bytes
) -> None:
    """Without a card number, a wide body is stored exactly as it came."""
    body = json.dumps({"message": "Transacción", "amount": "1.0", "a": "\ud800"}).encode(
        codec, "surrogatepass"
    )
    assert mask_pans(body) == (body, 0)
