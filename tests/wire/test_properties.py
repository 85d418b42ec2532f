"""Properties of the normaliser over arbitrary input (hypothesis).

Specific inputs known to crash the normaliser are pinned as strict-xfail unit tests in
``test_normaliser.py``; the strategies here stay general, so this file keeps passing until
those are fixed and then covers them too.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netpay_smart import wire
from netpay_smart.errors import PayloadError
from netpay_smart.wire import Kind, Normalised, Problem, Status, normalise, parse_money

SETTINGS = settings(max_examples=300, deadline=None)

#: Every field name the normaliser knows, plus the list-of-pays probe's own keys.
FIELD_NAMES = sorted(
    wire.DOCUMENTED_FIELDS
    | {"bin", "isRePrint", "transactionId", "storeId", "listOfPays", "tipTotalAmount"}
    | {"totalAmount"}
)

#: Values terminals really send, and their near misses.
TYPICAL_TEXT = st.sampled_from(
    [
        "",
        " ",
        "null",
        "NULL",
        "true",
        "false",
        "0",
        "0.0",
        "1",
        "200.0",
        "1.005",
        " 12.30 ",
        "NaN",
        "-Infinity",
        "1e13",
        "00",
        "02",
        "34",
        "A",
        "V",
        "C",
        "RV",
        "PRV",
        "D",
        "MAR. 05, 24 12:14:45 ",
        "DIC. 03, 19 10:40:46 ",
        "2024-03-05 13:14:48.CST",
        "2022-10-08 11:24:47.CDT",
        "2024-06-25 12:57:40.GMT-06:00",
        "2021-03-04 14:27:30.0",
        "2024-02-30 10:00:00",
        '{"npsPushId": "push-1"}',
        "[1, 2]",
        " PREALTA / DEBITO         ",
    ]
)

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | TYPICAL_TEXT
    | st.decimals(min_value=-(10**15), max_value=10**15, allow_nan=False, allow_infinity=False).map(
        str
    )
)

JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)

KEYS = st.sampled_from(FIELD_NAMES) | st.text(max_size=12)

#: Half the time a value terminals really send, half the time any JSON value.
FIELD_VALUES = st.one_of(TYPICAL_TEXT, JSON_VALUES)

BODIES = st.dictionaries(KEYS, FIELD_VALUES, max_size=12)

PROBLEM_CODES = {"coerced", "unreadable", "too_long", "not_a_result", "negative"}
REASONS = {"empty", "not_json", "not_object", "too_deep"}


def _check(n: Normalised, body: dict[str, Any]) -> None:
    """Invariants every normalised body satisfies."""
    assert isinstance(n, Normalised)
    assert n.raw == body
    assert all(isinstance(p, Problem) and p.code in PROBLEM_CODES for p in n.problems)
    if n.approved:
        assert n.status is Status.APPROVED
        assert n.result.response_code == "00"
    assert (n.status is Status.NONE) == (n.kind in (Kind.PROBE, Kind.UNKNOWN))
    assert (n.probe_shape is not None) == (n.kind is Kind.PROBE)
    unknown = {k for k in body if not isinstance(k, str) or k not in wire.DOCUMENTED_FIELDS}
    unknown -= {"bin", "isRePrint", "transactionId", "storeId"}
    assert set(n.result.extra) == {str(k) for k in unknown}


@SETTINGS
@given(BODIES)
def test_normalise_never_raises_and_keeps_raw(body: dict[str, Any]) -> None:
    """Any JSON object normalises without raising; ``raw`` is the input, unknown keys in extra."""
    n = normalise(body)
    assert n.raw is body
    _check(n, body)


@SETTINGS
@given(
    st.fixed_dictionaries(
        {},
        optional={
            name: FIELD_VALUES
            for name in (
                "amount",
                "transDate",
                "ticketDate",
                "hasPin",
                "traceability",
                "isRePrint",
                "transType",
                "responseCode",
                "reprintModule",
            )
        },
    )
)
def test_normalise_never_raises_on_the_tricky_fields(body: dict[str, Any]) -> None:
    """The fields with real parsing (money, dates, booleans, traceability, status) never raise."""
    _check(normalise(body), body)


def _mutate(data: bytes, position: int, insert: bytes) -> bytes:
    position %= len(data) + 1
    return data[:position] + insert + data[position + 1 :]


RAW_BODIES = (
    st.binary(max_size=300)
    | BODIES.map(lambda b: json.dumps(b).encode())
    | BODIES.map(lambda b: json.dumps(b, ensure_ascii=False).encode("utf-8"))
    | BODIES.map(lambda b: json.dumps(b, ensure_ascii=False).encode("latin-1", "replace"))
    | st.builds(
        _mutate,
        BODIES.map(lambda b: json.dumps(b).encode()),
        st.integers(min_value=0),
        st.binary(max_size=4),
    )
)


@SETTINGS
@given(RAW_BODIES)
def test_parse_result_returns_a_result_or_raises_payload_error(data: bytes) -> None:
    """Any bytes either normalise or raise ``PayloadError`` with a known reason, nothing else."""
    try:
        n = wire.parse_result(data)
    except PayloadError as exc:
        assert exc.reason in REASONS
    else:
        _check(n, wire.decode_object(data))


MONEY = st.decimals(
    min_value=Decimal("-9999999999999.99"),
    max_value=Decimal("9999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@SETTINGS
@given(MONEY)
def test_money_round_trip(amount: Decimal) -> None:
    """Every two-place amount that fits NUMBER(15,2) reads back equal, two places, no problem."""
    parsed, problem = parse_money(str(amount))
    assert problem is None
    assert parsed == amount
    assert parsed is not None
    assert parsed.as_tuple().exponent == -2


@SETTINGS
@given(
    st.decimals(
        min_value=Decimal("-999999999999.999"),
        max_value=Decimal("999999999999.999"),
        places=3,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_money_with_three_places_rounds_half_up(amount: Decimal) -> None:
    """A third decimal rounds half up; a problem is reported exactly when it changed the value."""
    parsed, problem = parse_money(str(amount))
    expected = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert parsed == expected
    assert (problem is not None) == (expected != amount)


#: The text fields and their byte limits, as the normaliser's table gives them.
TEXT_FIELDS = {
    name: (attribute, limit)
    for name, (attribute, parse, limit) in wire._FIELDS.items()
    if parse is wire._parse_str
}
TEXT_VALUES = (
    TYPICAL_TEXT
    | st.text()
    | st.text(alphabet="aé€😀 \t", max_size=300)
    | st.builds(lambda n, c: c * n, st.integers(0, 300), st.sampled_from("xñ"))
    | st.text(max_size=20).map(lambda t: "enc:v1:" + t * 40)
)


@SETTINGS
@given(st.dictionaries(st.sampled_from(sorted(TEXT_FIELDS)), TEXT_VALUES, max_size=8))
def test_text_fields_read_as_the_rule_says(body: dict[str, Any]) -> None:
    """Text fields: stripped, "", "null" and "NULL" dropped, over their byte limit a problem
    (sealed values exempt), whatever shortcut the normaliser takes."""
    n = normalise(body)
    for name, value in body.items():
        attribute, limit = TEXT_FIELDS[name]
        text = value.strip()
        assert getattr(n.result, attribute) == (None if text in ("", "null", "NULL") else text)
        size = len(value.encode("utf-8", "surrogatepass"))
        over = limit is not None and size > limit and not value.startswith("enc:v1:")
        expected = Problem(name, "too_long", f"{size} bytes, the limit is {limit}")
        assert (expected in n.problems) == over
