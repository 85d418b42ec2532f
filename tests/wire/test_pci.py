"""Card numbers as cards are printed (groups with separators) are masked like runs are, a body
cut at the size limit keeps no part of one, and only a real signature is exempt."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from netpay_smart._pci import cut_for_record, luhn_valid, mask_pans

from .vectors import ALL_RESULTS


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
    # 4-4-4-4-3 holds two shorter card shapes, 4-4-4-4 and 4-4-4-3: either may pass the check.
    assume(len(wrong) != 19 or not (luhn_valid(wrong[:16]) or luhn_valid(wrong[4:])))
    body = json.dumps({"folio": _grouped(wrong, separator)}).encode()
    assert mask_pans(body) == (body, 0)


def test_order_ids_dates_and_the_signature_are_not_cards() -> None:
    """Dashes in orderIds and dates, and digits inside a hex hexSign, are never taken for cards."""
    body = json.dumps(
        {
            "orderId": "210304142730-1490293930",
            "transDate": "2024-03-05 13:14:48.CST",
            "hexSign": "00000100000001DA4111111111111111FF02",
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


def test_escapes_are_written_plainly_only_when_they_hide_a_card() -> None:
    """An escaped no-break space inside a card is written plainly and the card masked; escapes
    away from a card stay as they were sent."""
    hidden = b'{"folio":"5555\\u00a05555 5555 4444","nota":"caf\\u00e9"}'
    away = b'{"a":{"\\u00a0":14577836330432},"nota":"caf\\u00e9\\u0031"}'

    assert mask_pans(hidden) == (b'{"folio":"****\xc2\xa0**** **** 4444","nota":"caf\\u00e9"}', 1)
    assert mask_pans(away) == (b'{"a":{"\\u00a0":"**********0432"},"nota":"caf\\u00e9\\u0031"}', 1)


# -- printed with any separators, digits after the card, dates -----------------------------------

# What may stand between two groups, one or two of them mixed: space, dash, tab, dot, slash and
# no-break space. JSON writes a tab as "\t" and, ASCII only, a no-break space as "\u00a0".
GAPS = st.lists(st.sampled_from([" ", "-", "\t", ".", "/", "\u00a0"]), min_size=1, max_size=2).map(
    "".join
)


def _groups(number: str) -> list[str]:
    """The groups a card is printed in: 4-6-5 for 15 digits, else groups of four."""
    if len(number) == 15:
        return [number[:4], number[4:10], number[10:]]
    return [number[i : i + 4] for i in range(0, len(number), 4)]


def _joined(groups: list[str], gaps: list[str]) -> str:
    return groups[0] + "".join(gap + group for gap, group in zip(gaps, groups[1:], strict=True))


def _json_ascii(text: str) -> bytes:
    return json.dumps({"traceability": {"nota": text}}).encode()


def _json_utf8(text: str) -> bytes:
    return json.dumps({"traceability": {"nota": text}}, ensure_ascii=False).encode()


def _plain(text: str) -> bytes:
    return f"nota={text}".encode()


def _read(writer: Callable[[str], bytes], body: bytes) -> str:
    """The text ``writer`` wrote into ``body``, read back."""
    if writer is _plain:
        return body.decode().removeprefix("nota=")
    return str(json.loads(body)["traceability"]["nota"])


WRITERS = st.sampled_from([_json_ascii, _json_utf8, _plain])


#: Three to five separators between groups (a dash padded with spaces: "4111 - 1111").
WIDE_GAPS = st.lists(
    st.sampled_from([" ", "-", "\t", ".", "/", "\u00a0"]), min_size=3, max_size=5
).map("".join)


@pytest.mark.parametrize("gaps", [GAPS, WIDE_GAPS], ids=["one-or-two", "three-to-five"])
@given(number=CARDS, data=st.data(), writer=WRITERS)
def test_a_card_printed_with_any_separators_keeps_only_its_last_four(
    gaps: st.SearchStrategy[str],
    number: str,
    data: st.DataObject,
    writer: Callable[[str], bytes],
) -> None:
    """One to five separators of any kind between groups, mixed, hide no card number."""
    groups = _groups(number)
    printed = _joined(
        groups, data.draw(st.lists(gaps, min_size=len(groups) - 1, max_size=len(groups) - 1))
    )
    masked, count = mask_pans(writer(f"tarjeta {printed} ok"))

    shown = _read(writer, masked).removeprefix("tarjeta ").removesuffix(" ok")
    assert count == 1
    assert [c.isdigit() or c == "*" for c in shown] == [c.isdigit() for c in printed]
    assert "".join(c for c in shown if c.isdigit()) == number[-4:]
    assert shown.count("*") == len(number) - 4


EXPIRIES = st.builds("{:02d}/{:02d}".format, st.integers(1, 12), st.integers(0, 99))
CVVS = st.from_regex(r"\A[0-9]{3}\Z", fullmatch=True)


@given(number=CARDS, data=st.data(), after=EXPIRIES | CVVS, writer=WRITERS)
def test_digits_printed_after_a_card_do_not_hide_it(
    number: str, data: st.DataObject, after: str, writer: Callable[[str], bytes]
) -> None:
    """A card followed by its expiry or CVV is masked to (at most) its last four; what follows
    is kept as it was."""
    groups = _groups(number)
    gaps = data.draw(st.lists(GAPS, min_size=len(groups), max_size=len(groups)))
    printed = _joined(groups, gaps[:-1])
    masked, count = mask_pans(writer(f"{printed}{gaps[-1]}{after}"))

    text = _read(writer, masked)
    card, rest = text[: len(printed)], text[len(printed) :]
    assert count == 1
    assert rest == gaps[-1] + after
    assert card.count("*") >= len(number) - 4
    assert [c.isdigit() or c == "*" for c in card] == [c.isdigit() for c in printed]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("5555 5555 5555 4444 06/27", "**** **** **** 4444 06/27"),
        ("4111-1111-1111-1111-123", "****-****-****-1111-123"),
        ("3782 822463 10005 12/29", "**** ****** *0005 12/29"),
        ("06/27 5555 5555 5555 4444", "06/27 **** **** **** 4444"),
        ("ref 1234 4111 1111 1111 1111", "ref 1234 **** **** **** 1111"),
        ("5555.5555.5555.4444", "****.****.****.4444"),
        ("5555/5555/5555/4444", "****/****/****/4444"),
        ("5555 5555-5555 4444", "**** ****-**** 4444"),
        ("5555  5555  5555  4444", "****  ****  ****  4444"),
        ("5555\t5555\t5555\t4444", "****\t****\t****\t4444"),
        ("5555\u00a05555\u00a05555\u00a04444", "****\u00a0****\u00a0****\u00a04444"),
        ("5555 -5555- 5555 /4444", "**** -****- **** /4444"),
    ],
)
def test_the_printed_forms_seen_in_the_qa_report_are_masked(written: str, shown: str) -> None:
    """Each form the security review found stored in clear keeps only the last four."""
    for writer in (_json_ascii, _json_utf8, _plain):
        masked, count = mask_pans(writer(written))
        assert (_read(writer, masked), count) == (shown, 1)


def test_two_printed_cards_are_two() -> None:
    """Two cards printed one after the other are both masked and counted."""
    masked, count = mask_pans(_json_ascii("4111 1111 1111 1111 5555 5555 5555 4444"))
    assert (_read(_json_ascii, masked), count) == ("**** **** **** **** **** **** **** 4444", 2)


DATE_LAYOUTS = st.sampled_from(
    [
        "%Y{0}%m{1}%d{2}%H{3}%M{4}%S",
        "%d{0}%m{1}%Y{2}%H{3}%M{4}%S",
        "%Y%m%d{2}%H%M%S",
        "%Y{0}%m{1}%d{2}%H{3}%M{4}%S.%f",
    ]
)


@given(
    when=st.datetimes(),
    layout=DATE_LAYOUTS,
    gaps=st.lists(GAPS | st.just(":"), min_size=5, max_size=5),
    writer=WRITERS,
)
def test_dates_and_times_written_with_any_separators_are_left_alone(
    when: datetime, layout: str, gaps: list[str], writer: Callable[[str], bytes]
) -> None:
    """Dates and times, whatever separators they are written with, are not card numbers."""
    body = writer(when.strftime(layout.format(*gaps).replace("%Y", f"{when.year:04d}")))
    assert mask_pans(body) == (body, 0)


@pytest.mark.parametrize(
    "written",
    [
        "2024-03-05 13:14:48",
        "2024.03.05 13.14.48",
        "2024/03/05\t13:14:48",
        "05/03/2024  13:14",
        "+52 55 1234 5678",
        "+52 1 55 1234-5678",
        "(55) 1234.5678 ext. 1234",
        "$ 1 234 567.89 / 2 345.67",
        "210304142730-1490293930",
        "1.3.10.2.p.p_20231005",
        "32116378-023b-9331-0920-ff1e2e200601",
        "1234-5678-9012-3456-789012345678",
    ],
)
def test_dates_phones_amounts_and_ids_are_not_cards(written: str) -> None:
    """Digits in groups that are not shaped like a printed card are kept as they came."""
    for writer in (_json_ascii, _json_utf8, _plain):
        body = writer(written)
        assert mask_pans(body) == (body, 0)


def test_no_documented_result_is_altered() -> None:
    """None of NetPay's example results (amounts, dates, ids, signatures) loses a digit."""
    for _name, body, _expected in ALL_RESULTS:
        assert mask_pans(body) == (body, 0)


# -- a body cut at the size limit ------------------------------------------------------------------


def test_a_body_cut_inside_a_printed_card_keeps_none_of_it() -> None:
    """The security review's case: a limit inside "5555 5555 5555 4444" keeps no digit of it."""
    limit = 65536
    prefix = b'{"folioNumber":"TRUNC","message":"'
    body = prefix + b"x" * (limit - len(prefix) - 16) + b"5555 5555 5555 4444" + b'"}'

    kept = cut_for_record(body[:limit])

    assert kept == prefix + b"x" * (limit - len(prefix) - 16)


@given(number=CARDS, data=st.data(), writer=WRITERS)
def test_a_cut_anywhere_in_a_card_keeps_none_of_it(
    number: str, data: st.DataObject, writer: Callable[[str], bytes]
) -> None:
    """Cut after any byte of a card, in one run or printed (separators and their escapes
    included), the body keeps nothing of it."""
    groups = _groups(number)
    gaps = data.draw(
        st.just([""] * (len(groups) - 1))
        | st.lists(GAPS, min_size=len(groups) - 1, max_size=len(groups) - 1)
    )
    body = writer("x" + _joined(groups, gaps))
    head = body[: body.index(b"x") + 1]
    end = len(body) - (0 if writer is _plain else 3)  # before the closing '"}}'
    cut = data.draw(st.integers(len(head) + 1, end))

    assert cut_for_record(body[:cut]) == head


@pytest.mark.parametrize(
    ("cut", "kept"),
    [
        (b'{"m":"total 12', b'{"m":"total '),
        (b'{"m":"total 12 ', b'{"m":"total 12 '),  # two digits begin no card
        (b'{"m":"2024-03-05 13', b'{"m":"2024-03-05 '),
        (b'{"m":"-0-0-0-0-0', b'{"m":"-0-0-0-0-'),
        (b'{"m":"x4111 1111 1111 1111 12', b'{"m":"x'),
        (b'{"m":"x3782-822463-1', b'{"m":"x'),
        (b'{"m":"x3782 822463 10005 1', b'{"m":"x3782 822463 10005 '),  # whole: masked later
        (b'{"m":"abc', b'{"m":"abc'),
        (b'{"m":"abc - ', b'{"m":"abc - '),
        (b'{"m":"x\\u00', b'{"m":"x\\u'),
        (b'{"m":"x4111\\u0031', b'{"m":"x'),
        (b'{"m":"x5555\xc2', b'{"m":"x'),
    ],
)
def test_a_cut_keeps_what_cannot_be_part_of_a_card(cut: bytes, kept: bytes) -> None:
    """The digits at the cut go, and the groups before them only when they can begin a card."""
    assert cut_for_record(cut) == kept


# -- hexSign ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("4111111111111111", "************1111"),
        ("4111 1111 1111 1111", "**** **** **** 1111"),
        ("firma: 4111111111111111", "firma: ************1111"),
    ],
)
def test_a_hexsign_that_is_no_signature_is_scanned(value: str, shown: str) -> None:
    """A hexSign holding anything but hexadecimal digits with a letter is no signature: a card
    number in it is masked, at the top level or nested."""
    for body, path in (
        ({"hexSign": value}, ["hexSign"]),
        ({"traceability": {"hexSign": value}}, ["traceability", "hexSign"]),
    ):
        masked, count = mask_pans(json.dumps(body).encode())
        found: Any = json.loads(masked)
        for key in path:
            found = found[key]
        assert (found, count) == (shown, 1)


def test_a_real_signature_is_left_alone() -> None:
    """A long hexadecimal signature keeps its digit runs, Luhn-valid or not."""
    sign = "00000100000001DA" + "4111111111111111" * 40 + "FF02D3043B65"
    body = json.dumps({"hexSign": sign, "folioNumber": "4111111111111111"}).encode()
    masked, count = mask_pans(body)
    assert count == 1
    assert json.loads(masked) == {"hexSign": sign, "folioNumber": "************1111"}
