"""Unit tests of the tolerant normaliser: money, types, lengths, status, dates, decoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from netpay_smart import codes
from netpay_smart.errors import PayloadError
from netpay_smart.wire import (
    MEXICO_CITY,
    TRACE_KEY,
    Kind,
    Problem,
    Status,
    decode_object,
    normalise,
    parse_money,
    parse_result,
    parse_ticket_date,
    parse_trans_date,
)

SALE: dict[str, Any] = {
    "responseCode": "00",
    "message": "Transacción exitosa",
    "orderId": "240305131447-1494113052",
    "amount": "200.0",
    "transType": "A",
}

REPRINT: dict[str, Any] = {**SALE, "isRePrint": True, "message": "Transaccion Valida"}

CST = timezone(timedelta(hours=-6))
CDT = timezone(timedelta(hours=-5))
UTC_MINUS_0530 = timezone(-timedelta(hours=5, minutes=30))


# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("200.0", "200.00"),
        ("1", "1.00"),
        (150.5, "150.50"),
        (" 12.30 ", "12.30"),
        (200, "200.00"),
        ("0", "0.00"),
        ("100.49", "100.49"),
        ("9999999999999.99", "9999999999999.99"),  # the largest NUMBER(15,2)
    ],
)
def test_parse_money_reads_amounts_with_two_places(value: object, expected: str) -> None:
    """Strings, ints and floats become a two-place ``Decimal`` without a problem."""
    amount, problem = parse_money(value)
    assert str(amount) == expected
    assert problem is None


@pytest.mark.parametrize("value", ["null", "NULL", "", "   ", None])
def test_parse_money_absent_values_are_none_without_problem(value: object) -> None:
    """``"null"``, empty, blank and ``None`` are no amount, and not a problem."""
    assert parse_money(value) == (None, None)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "'abc' is not a number"),
        ("1,000.00", "'1,000.00' is not a number"),
        ("NaN", "'NaN' is not a finite number"),
        ("sNaN", "'sNaN' is not a finite number"),
        ("Infinity", "'Infinity' is not a finite number"),
        ("-Infinity", "'-Infinity' is not a finite number"),
        (float("nan"), "'nan' is not a finite number"),
        ("1e13", "1E+13 does not fit NUMBER(15,2)"),
        ("10000000000000", "10000000000000 does not fit NUMBER(15,2)"),
        ("-1e20", "-1E+20 does not fit NUMBER(15,2)"),
        (True, "expected a number, got true"),
        ([1], "expected a number, got list"),
        ({"amount": 1}, "expected a number, got dict"),
    ],
)
def test_parse_money_unreadable_values_are_none_with_a_problem(value: object, problem: str) -> None:
    """Non-numbers, NaN/Infinity, booleans, containers and huge values give no amount."""
    assert parse_money(value) == (None, problem)


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        (1.005, "1.01", "1.005 has more than two decimals, rounded to 1.01"),
        ("0.125", "0.13", "0.125 has more than two decimals, rounded to 0.13"),  # half up
        ("2.675", "2.68", "2.675 has more than two decimals, rounded to 2.68"),
        ("-0.125", "-0.13", "-0.125 has more than two decimals, rounded to -0.13"),
    ],
)
def test_parse_money_rounds_half_up_with_a_problem(
    value: object, expected: str, problem: str
) -> None:
    """A third decimal is rounded half up (away from zero on a tie) and reported."""
    amount, got = parse_money(value)
    assert str(amount) == expected
    assert got == problem


def test_parse_money_astronomical_exponent_is_a_problem_not_an_exception() -> None:
    """``"1e1000000"`` is too large like ``"1e13"``: no amount, a problem, no exception."""
    amount, problem = parse_money("1e1000000")
    assert amount is None
    assert problem is not None
    assert "does not fit" in problem


def test_parse_result_with_astronomical_amount_reports_a_problem() -> None:
    """A body with ``"amount": "1e1000000"`` is normalised with an ``amount`` problem."""
    n = parse_result(b'{"responseCode":"00","amount":"1e1000000"}')
    assert n.result.amount is None
    assert [p.field for p in n.problems] == ["amount"]


def test_parse_money_never_returns_an_amount_that_does_not_fit() -> None:
    """Rounding up past 9999999999999.99 gives no amount rather than one that does not fit."""
    amount, problem = parse_money("9999999999999.995")
    assert amount is None
    assert problem is not None


# --------------------------------------------------------------------------------------------
# Booleans, numbers and text sent as whatever type
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        (" TRUE ", True),
        ("1", True),
        ("1.0", True),
        ("sí", True),
        ("si", True),
        ("yes", True),
        (1, True),
        ("false", False),
        ("0", False),
        ("0.0", False),
        ("no", False),
        (0, False),
        (0.0, False),
    ],
)
def test_booleans_sent_as_strings_or_numbers(value: object, expected: bool) -> None:
    """``hasPin`` as "true", "0.0", 1, ... is read as the boolean it means, silently."""
    n = normalise({**SALE, "hasPin": value})
    assert n.result.has_pin is expected
    assert n.problems == ()


@pytest.mark.parametrize("value", ["", "null", None])
def test_absent_booleans_are_none(value: object) -> None:
    """An empty, "null" or null ``hasPin`` is no value and not a problem."""
    n = normalise({**SALE, "hasPin": value})
    assert n.result.has_pin is None
    assert n.problems == ()


@pytest.mark.parametrize(
    ("value", "detail"), [("maybe", "'maybe' is not a boolean"), (2, "'2' is not a boolean")]
)
def test_unreadable_boolean_is_a_problem(value: object, detail: str) -> None:
    """A ``hasPin`` that is no boolean is dropped with an ``unreadable`` problem."""
    n = normalise({**SALE, "hasPin": value})
    assert n.result.has_pin is None
    assert n.problems == (Problem("hasPin", "unreadable", detail),)


@pytest.mark.parametrize(
    ("field", "value", "attribute", "expected"),
    [
        ("isQps", "0.0", "is_qps", Decimal("0.0")),
        ("preStatus", "0", "pre_status", Decimal("0")),
        ("isQps", 0, "is_qps", Decimal("0")),
        ("authCode", 222222, "auth_code", "222222"),
        ("terminalId", 1494113052, "terminal_id", "1494113052"),
        ("moduleLote", 6, "module_lote", "6"),
        ("amount", 200, "amount", Decimal("200.00")),
        ("tipAmount", "0.0", "tip_amount", Decimal("0.00")),
    ],
)
def test_numbers_as_strings_and_strings_as_numbers(
    field: str, value: object, attribute: str, expected: object
) -> None:
    """Numeric fields accept strings and text fields accept numbers, without a problem."""
    n = normalise({**SALE, field: value})
    assert getattr(n.result, attribute) == expected
    assert n.problems == ()


def test_unreadable_number_is_a_problem() -> None:
    """An ``isQps`` that is no number is dropped with an ``unreadable`` problem."""
    n = normalise({**SALE, "isQps": "abc"})
    assert n.result.is_qps is None
    assert n.problems == (Problem("isQps", "unreadable", "'abc' is not a number"),)


def test_text_field_with_a_container_is_a_problem() -> None:
    """A list where text belongs is dropped with an ``unreadable`` problem."""
    n = normalise({**SALE, "authCode": ["222222"]})
    assert n.result.auth_code is None
    assert n.problems == (Problem("authCode", "unreadable", "expected text, got list"),)


def test_empty_strings_and_nulls_are_none_without_problems() -> None:
    """Empty, blank, "null" and null values of any type are no value and never a problem."""
    n = normalise(
        {
            **SALE,
            "folioNumber": "",
            "internalNumber": "   ",
            "customerName": " ",
            "authCode": None,
            "tipAmount": "null",
            "tipLessAmount": "",
            "isQps": None,
            "transDate": "",
            "ticketDate": None,
            "traceability": None,
            "tableId": "NULL",
        }
    )
    r = n.result
    assert (r.folio_number, r.internal_number, r.customer_name, r.auth_code) == (None,) * 4
    assert (r.tip_amount, r.tip_less_amount, r.is_qps, r.table_id) == (None,) * 4
    assert (r.trans_date, r.ticket_date, r.traceability) == (None, None, {})
    assert n.problems == ()
    assert n.status is Status.APPROVED


def test_amount_with_three_decimals_is_coerced() -> None:
    """A rounded amount is kept and reported as ``coerced``."""
    n = normalise({**SALE, "amount": "10.005"})
    assert n.result.amount == Decimal("10.01")
    assert n.problems == (
        Problem("amount", "coerced", "10.005 has more than two decimals, rounded to 10.01"),
    )


def test_a_negative_amount_is_kept_and_reported() -> None:
    """A negative ``amount`` or ``tipAmount`` is kept as sent with a ``negative`` problem;
    zero is no problem."""
    n = normalise({**SALE, "amount": "-150.0", "tipAmount": "-0.5"})
    assert (n.result.amount, n.result.tip_amount) == (Decimal("-150.00"), Decimal("-0.50"))
    assert n.problems == (
        Problem("amount", "negative", "-150.00 is less than zero"),
        Problem("tipAmount", "negative", "-0.50 is less than zero"),
    )
    assert normalise({**SALE, "amount": "0.0"}).problems == ()


# --------------------------------------------------------------------------------------------
# Field lengths
# --------------------------------------------------------------------------------------------


def test_auth_code_over_seven_bytes_is_reported_not_fatal() -> None:
    """An 8-character ``authCode`` gives a ``too_long`` problem; the value and status stay."""
    n = normalise({**SALE, "authCode": "12345678"})
    assert n.problems == (Problem("authCode", "too_long", "8 bytes, the limit is 7"),)
    assert n.result.auth_code == "12345678"
    assert (n.kind, n.status, n.approved) == (Kind.SALE, Status.APPROVED, True)


def test_several_length_problems_are_all_reported() -> None:
    """Every field over its length is reported, in body order, and none stops the others."""
    n = normalise({**SALE, "responseCode": "000", "cardExpDate": "11/2024", "orderId": "x" * 37})
    assert [(p.field, p.code) for p in n.problems] == [
        ("responseCode", "too_long"),
        ("orderId", "too_long"),
        ("cardExpDate", "too_long"),
    ]
    assert n.result.order_id == "x" * 37


# --------------------------------------------------------------------------------------------
# Status: reprintModule, response codes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "status", "approved"),
    [
        ("C", Status.APPROVED, True),
        ("V", Status.CANCELLED, False),
        ("RV", Status.REVERSED, False),
        ("PRV", Status.PENDING_REVERSAL, False),
        ("D", Status.DECLINED, False),
        ("rv", Status.REVERSED, False),
        (" C ", Status.APPROVED, True),
    ],
)
def test_reprint_module_gives_the_current_state(
    module: str, status: Status, approved: bool
) -> None:
    """On a reprint, ``reprintModule`` (not the original ``00``) says where the money stands."""
    n = normalise({**REPRINT, "reprintModule": module})
    assert n.kind is Kind.REPRINT
    assert (n.status, n.approved) == (status, approved)


def test_reprint_approved_needs_module_c_and_code_00() -> None:
    """A reprint with module C but a non-00 code is never ``approved``."""
    n = normalise({**REPRINT, "reprintModule": "C", "responseCode": "34"})
    assert n.status is Status.APPROVED
    assert n.approved is False


def test_reprint_without_module_falls_back_to_the_code() -> None:
    """A reprint without ``reprintModule`` is judged by its ``responseCode``."""
    assert normalise(REPRINT).status is Status.APPROVED
    assert normalise({**REPRINT, "responseCode": "05"}).status is Status.DECLINED


@pytest.mark.parametrize(
    ("module", "status"), [("RV", Status.REVERSED), ("PRV", Status.PENDING_REVERSAL)]
)
def test_reversal_states_outrank_the_code_on_a_sale(module: str, status: Status) -> None:
    """A sale result whose ``reprintModule`` says reversed is not approved despite ``00``."""
    n = normalise({**SALE, "reprintModule": module})
    assert n.kind is Kind.SALE
    assert (n.status, n.approved) == (status, False)


@pytest.mark.parametrize("module", ["C", "V", "D"])
def test_other_modules_do_not_change_a_sale(module: str) -> None:
    """Outside reprints, C, V and D leave the status to ``responseCode``."""
    n = normalise({**SALE, "reprintModule": module})
    assert (n.status, n.approved) == (Status.APPROVED, True)


def test_unknown_response_code_is_a_decline_with_the_terminal_message() -> None:
    """An unknown code is a decline (no problem), and ``describe`` repeats the message."""
    n = normalise({**SALE, "responseCode": "99", "message": "CODIGO RARO DEL EMISOR"})
    assert (n.kind, n.status, n.approved) == (Kind.SALE, Status.DECLINED, False)
    assert n.problems == ()
    info = codes.describe(n.result.response_code, n.result.message)
    assert info.known is False
    assert info.approved is False
    assert info.cashier_es == "Rechazada: CODIGO RARO DEL EMISOR"
    assert info.cashier_en == "Declined: CODIGO RARO DEL EMISOR"
    assert info.es == info.en == "CODIGO RARO DEL EMISOR"


def test_result_without_a_code_is_a_decline() -> None:
    """A result with an order id but no ``responseCode`` is not approved."""
    n = normalise({"orderId": "240305131447-1494113052", "amount": "1.0"})
    assert (n.kind, n.status, n.approved) == (Kind.SALE, Status.DECLINED, False)


@pytest.mark.parametrize("body", [{}, {"foo": 1}, {"traceability": {}, "rrn": "1"}])
def test_body_without_result_markers_or_probe_keys_is_unknown(body: dict[str, Any]) -> None:
    """A body that is neither a result nor a probe is unknown, with a ``not_a_result`` problem."""
    n = normalise(body)
    assert (n.kind, n.status, n.approved, n.probe_shape) == (Kind.UNKNOWN, Status.NONE, False, None)
    assert [p.code for p in n.problems] == ["not_a_result"]


def test_non_string_keys_go_to_extra() -> None:
    """Keys that are not strings cannot be NetPay fields: they are kept in ``extra``."""
    n = normalise({**SALE, 7: "siete"})
    assert n.result.extra == {"7": "siete"}
    assert n.kind is Kind.SALE


# --------------------------------------------------------------------------------------------
# Traceability and push id
# --------------------------------------------------------------------------------------------


def test_push_id_comes_from_the_trace_key() -> None:
    """``result.push_id`` is the value netpay-smart put under ``TRACE_KEY`` in traceability."""
    n = normalise({**SALE, "traceability": {TRACE_KEY: "push-7f3a", "idTienda": 987}})
    assert TRACE_KEY == "npsPushId"
    assert n.result.push_id == "push-7f3a"
    assert n.result.traceability == {TRACE_KEY: "push-7f3a", "idTienda": 987}


@pytest.mark.parametrize(
    ("traceability", "expected"),
    [({TRACE_KEY: 42}, "42"), ({TRACE_KEY: ""}, None), ({TRACE_KEY: None}, None), ({}, None)],
)
def test_push_id_edge_values(traceability: dict[str, Any], expected: str | None) -> None:
    """A numeric push id is text; an empty or missing one is ``None``."""
    assert normalise({**SALE, "traceability": traceability}).result.push_id == expected


def test_traceability_sent_as_a_json_string_is_decoded() -> None:
    """Traceability sent as a JSON string is decoded, reported as coerced, and keeps the id."""
    text = json.dumps({TRACE_KEY: "push-1", "idTienda": 987})
    n = normalise({**SALE, "traceability": text})
    assert n.result.traceability == {TRACE_KEY: "push-1", "idTienda": 987}
    assert n.result.push_id == "push-1"
    assert n.problems == (Problem("traceability", "coerced", "object sent as a JSON string"),)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_absent_traceability_is_an_empty_object(value: object) -> None:
    """Missing, null or blank traceability is ``{}`` without a problem."""
    n = normalise({**SALE, "traceability": value})
    assert n.result.traceability == {}
    assert n.problems == ()


@pytest.mark.parametrize("value", [5, "[1, 2]", ["a"]])
def test_traceability_that_is_not_an_object_is_unreadable(value: object) -> None:
    """Traceability that is no object is dropped, so its problem says ``unreadable``."""
    n = normalise({**SALE, "traceability": value})
    assert n.result.traceability == {}
    assert [(p.field, p.code) for p in n.problems] == [("traceability", "unreadable")]


def test_deeply_nested_traceability_string_is_a_problem_not_an_exception() -> None:
    """A traceability string nested too deeply is dropped with a problem; nothing raises."""
    inner = json.dumps("[" * 5000 + "]" * 5000)
    n = parse_result(('{"responseCode":"00","traceability":' + inner + "}").encode())
    assert n.result.traceability == {}
    assert [p.field for p in n.problems] == ["traceability"]


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05 13:14:48.CST", datetime(2024, 3, 5, 13, 14, 48, tzinfo=CST)),
        ("2022-10-08 11:24:47.CDT", datetime(2022, 10, 8, 11, 24, 47, tzinfo=CDT)),
        ("2024-06-25 12:57:40.GMT-06:00", datetime(2024, 6, 25, 12, 57, 40, tzinfo=CST)),
        ("2024-06-25 12:57:40.UTC", datetime(2024, 6, 25, 12, 57, 40, tzinfo=UTC)),
        ("2024-03-05 13:14:48 CST", datetime(2024, 3, 5, 13, 14, 48, tzinfo=CST)),
        ("2024-06-25 12:57:40 GMT-06:00", datetime(2024, 6, 25, 12, 57, 40, tzinfo=CST)),
        ("2024-06-25 12:57:40.-0530", datetime(2024, 6, 25, 12, 57, 40, tzinfo=UTC_MINUS_0530)),
        ("2021-03-04 14:27:30.0", datetime(2021, 3, 4, 14, 27, 30, tzinfo=MEXICO_CITY)),
        ("2021-03-04 14:27:30.123", datetime(2021, 3, 4, 14, 27, 30, 123000, tzinfo=MEXICO_CITY)),
        ("2021-03-04 14:27", datetime(2021, 3, 4, 14, 27, tzinfo=MEXICO_CITY)),
        ("2024-03-05T13:14:48Z", datetime(2024, 3, 5, 13, 14, 48, tzinfo=UTC)),
        ("2024-03-05T13:14:48+00:00", datetime(2024, 3, 5, 13, 14, 48, tzinfo=UTC)),
    ],
)
def test_parse_trans_date_formats(text: str, expected: datetime) -> None:
    """Every ``transDate`` form seen in the field parses to the right aware datetime."""
    got, problem = parse_trans_date(text)
    assert got == expected
    assert got is not None
    assert got.utcoffset() == expected.utcoffset()
    assert problem is None


def test_parse_trans_date_unknown_zone_is_mexico_city_with_a_note() -> None:
    """An unknown zone suffix is read as Mexico City time and reported."""
    got, problem = parse_trans_date("2024-03-05 13:14:48.XYZ")
    assert got == datetime(2024, 3, 5, 13, 14, 48, tzinfo=MEXICO_CITY)
    assert problem == "unknown zone 'XYZ', read as America/Mexico_City"
    n = normalise({**SALE, "transDate": "2024-03-05 13:14:48.XYZ"})
    assert [(p.field, p.code) for p in n.problems] == [("transDate", "coerced")]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ayer", "'ayer' is not a date"),
        (
            "2024-02-30 10:00:00.CST",
            "'2024-02-30 10:00:00.CST' is not a date: day is out of range for month",
        ),
        ("2024-03-05 25:00:00", "'2024-03-05 25:00:00' is not a date: hour must be in 0..23"),
    ],
)
def test_parse_trans_date_impossible_dates_are_problems(text: str, problem: str) -> None:
    """Text that is no date, or an impossible one, gives no date and a problem."""
    assert parse_trans_date(text) == (None, problem)


@pytest.mark.parametrize("suffix", ["GMT+24:00", "GMT-25:00", "UTC+23:99"])
def test_parse_trans_date_impossible_offset_is_a_problem(suffix: str) -> None:
    """An offset of a day or more is not a zone: the date is reported, nothing raises."""
    n = parse_result(json.dumps({**SALE, "transDate": f"2024-03-05 13:14:48.{suffix}"}).encode())
    assert "transDate" in [p.field for p in n.problems]


def test_parse_trans_date_superscript_fraction_is_a_problem() -> None:
    """A fraction of non-decimal digits (``.²``) is reported, not raised."""
    n = parse_result(json.dumps({**SALE, "transDate": "2024-03-05 13:14:48.²"}).encode())
    assert "transDate" in [p.field for p in n.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MAR. 05, 24 12:14:45 ", datetime(2024, 3, 5, 12, 14, 45, tzinfo=MEXICO_CITY)),
        ("DIC. 03, 19 10:40:46 ", datetime(2019, 12, 3, 10, 40, 46, tzinfo=MEXICO_CITY)),
        ("MAR. 04, 21 14:27:31", datetime(2021, 3, 4, 14, 27, 31, tzinfo=MEXICO_CITY)),
        ("ENE. 2, 2024 08:00", datetime(2024, 1, 2, 8, 0, tzinfo=MEXICO_CITY)),
        ("AGO 15, 23 23:59:59", datetime(2023, 8, 15, 23, 59, 59, tzinfo=MEXICO_CITY)),
        ("SEPT. 30, 22 07:05:00", datetime(2022, 9, 30, 7, 5, tzinfo=MEXICO_CITY)),
        ("dec. 24, 24 18:00:00", datetime(2024, 12, 24, 18, 0, tzinfo=MEXICO_CITY)),
    ],
)
def test_parse_ticket_date_formats(text: str, expected: datetime) -> None:
    """Ticket dates with Spanish or English months and 2- or 4-digit years parse in CDMX."""
    got, problem = parse_ticket_date(text)
    assert got == expected
    assert got is not None
    assert got.tzinfo is MEXICO_CITY
    assert problem is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("XYZ. 03, 19 10:40:46", "unknown month 'XYZ'"),
        (
            "FEB. 30, 24 10:00:00",
            "'FEB. 30, 24 10:00:00' is not a date: day is out of range for month",
        ),
        ("2024-03-05", "'2024-03-05' is not a ticket date"),
    ],
)
def test_parse_ticket_date_bad_values_are_problems(text: str, problem: str) -> None:
    """Unknown months, impossible days and other shapes give no date and a problem."""
    assert parse_ticket_date(text) == (None, problem)


def test_transaction_at_prefers_trans_date_then_ticket_date() -> None:
    """``transaction_at`` is ``transDate`` when present, else ``ticketDate``."""
    both = normalise(
        {**SALE, "transDate": "2024-03-05 13:14:48.CST", "ticketDate": "MAR. 05, 24 12:14:45 "}
    )
    only_ticket = normalise({**SALE, "ticketDate": "MAR. 05, 24 12:14:45 "})
    assert both.result.transaction_at == both.result.trans_date
    assert only_ticket.result.transaction_at == datetime(2024, 3, 5, 12, 14, 45, tzinfo=MEXICO_CITY)


# --------------------------------------------------------------------------------------------
# Mappings the wire cannot produce (normalise promises never to raise on a mapping)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["amount", "authCode", "hasPin"])
def test_normalise_huge_int_is_a_problem(field: str) -> None:
    """An int with 5000 digits is reported, not raised."""
    n = normalise({**SALE, field: 10**5000})
    assert field in [p.field for p in n.problems]


def test_normalise_lone_surrogate_does_not_raise() -> None:
    """A text value with a lone surrogate is normalised without an exception."""
    n = normalise({**SALE, "authCode": "\ud800"})
    assert n.kind is Kind.SALE


# --------------------------------------------------------------------------------------------
# decode_object
# --------------------------------------------------------------------------------------------


def test_decode_object_accepts_a_utf8_bom() -> None:
    """A UTF-8 byte-order mark before the object is ignored."""
    assert decode_object(b'\xef\xbb\xbf{"message":"Transacci\xc3\xb3n"}') == {
        "message": "Transacción"
    }


def test_decode_object_accepts_latin1() -> None:
    """A body that is not UTF-8 is read as Latin-1 (older terminals)."""
    assert decode_object(b'{"message":"Transacci\xf3n"}') == {"message": "Transacción"}
    n = parse_result(b'{"responseCode":"05","message":"Error de conexi\xf3n"}')
    assert n.result.message == "Error de conexión"


def test_decode_object_accepts_str() -> None:
    """A ``str`` body is read like its UTF-8 bytes."""
    assert decode_object('{"message":"Transacción"}') == {"message": "Transacción"}


def test_decode_object_accepts_a_bom_in_a_str_body() -> None:
    """A ``str`` body starting with U+FEFF is read like the same bytes with a UTF-8 BOM."""
    assert decode_object('\ufeff{"code":"00"}') == {"code": "00"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n\t", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b'{"responseCode":"00",', "not_json"),
        (b"{'responseCode':'00'}", "not_json"),
        (b'{"a":1}{"b":2}', "not_json"),
        (b"NaN", "not_json"),
        (b"[]", "not_object"),
        (b'[{"responseCode":"00"}]', "not_object"),
        (b'"{\\"responseCode\\":\\"00\\"}"', "not_object"),
        (b"null", "not_object"),
        (b"42", "not_object"),
        (b"[" * 100000, "too_deep"),
        (b'{"a":' * 100000, "too_deep"),
        (b"\xff\xfe\x00\x80\x81garbage\xc3", "not_json"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not_json"),
    ],
    ids=[
        "empty",
        "whitespace",
        "bom-only",
        "broken",
        "single-quotes",
        "two-objects",
        "nan",
        "array",
        "array-of-object",
        "json-string",
        "null",
        "number",
        "deep-array",
        "deep-object",
        "garbage",
        "png",
    ],
)
def test_decode_object_refuses_with_a_reason(body: bytes, reason: str) -> None:
    """Anything but one JSON object raises ``PayloadError`` whose ``reason`` says why."""
    with pytest.raises(PayloadError) as caught:
        decode_object(body)
    assert caught.value.reason == reason
    assert str(caught.value)
    with pytest.raises(PayloadError):
        parse_result(body)
