"""NetPay's documented examples parse, classify and type as the documentation says."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from netpay_smart import codes, wire
from netpay_smart.errors import PayloadError
from netpay_smart.wire import MEXICO_CITY, Kind, Problem, Status, normalise, parse_result

from . import vectors as v
from .vectors import ALL_RESULTS, NOT_JSON, Expected

RESULT_IDS = [name for name, _, _ in ALL_RESULTS]
RESULTS = {name: body for name, body, _ in ALL_RESULTS}

CST = timezone(timedelta(hours=-6))
CDT = timezone(timedelta(hours=-5))


def _body(name: str, **changes: object) -> dict[str, object]:
    """The decoded documented body ``name`` with some keys replaced or added."""
    body = json.loads(RESULTS[name])
    body.update(changes)
    return body


def _table_limits() -> dict[str, str]:
    """Field name -> data type, read from the seed-002 data-model table."""
    rows = re.findall(r"^\d+ \| (\w+) \| .* \| (.+) \|$", v.SEED002_DATA_MODEL_TABLE, re.M)
    return dict(rows)


# --------------------------------------------------------------------------------------------
# The vectors themselves
# --------------------------------------------------------------------------------------------


def test_seed000_result_repair_changes_only_the_broken_hexsign_line() -> None:
    """The repaired seed-000 result differs from the page only on the cut ``hexSign`` line."""
    printed = v.SEED000_RESULT_AS_PRINTED.split("\n")
    repaired = v.SEED000_RESULT.split("\n")
    changed = [(a, b) for a, b in zip(printed, repaired, strict=True) if a != b]
    assert changed == [('  "hexSign', '  "hexSign": "",')]
    assert json.loads(v.SEED000_RESULT)["hexSign"] == ""


def test_seed000_reprint_repair_only_adds_the_opening_brace() -> None:
    """The repaired reprint request is the printed text with ``{`` and a newline in front."""
    assert v.SEED000_REPRINT_REQUEST == "{\n" + v.SEED000_REPRINT_REQUEST_AS_PRINTED
    assert json.loads(v.SEED000_REPRINT_REQUEST)["orderId"] == "200624084826-0821000119"


@pytest.mark.parametrize(("name", "text"), NOT_JSON, ids=[name for name, _ in NOT_JSON])
def test_documented_non_json_examples_are_rejected_as_not_json(name: str, text: str) -> None:
    """Templates, truncations and the broken examples as printed are refused with ``not_json``."""
    with pytest.raises(PayloadError) as caught:
        wire.decode_object(text.encode())
    assert caught.value.reason == "not_json"


@pytest.mark.parametrize(("name", "text"), v.ACKS, ids=[name for name, _ in v.ACKS])
def test_ack_body_is_the_documented_answer(name: str, text: str) -> None:
    """``ACK_BODY`` is, as JSON, exactly the answer every page asks the receiver for."""
    assert json.loads(wire.ACK_BODY) == json.loads(text) == {"code": "00", "message": "Recibido"}


def test_documented_fields_are_the_keys_of_the_seed001_data_model() -> None:
    """``DOCUMENTED_FIELDS`` is exactly the key set of seed 001's data model (40 keys)."""
    keys = set(re.findall(r'^  "(\w+)":', v.SEED001_DATA_MODEL, re.M))
    assert len(keys) == 40
    assert keys == wire.DOCUMENTED_FIELDS


def test_seed002_table_is_the_data_model_without_internal_number_and_table_id() -> None:
    """The 38-row table of seed 002 lists the data model minus ``internalNumber``/``tableId``."""
    table = _table_limits()
    assert len(table) == 38
    assert set(table) == wire.DOCUMENTED_FIELDS - {"internalNumber", "tableId"}


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "body", "expected"), ALL_RESULTS, ids=RESULT_IDS)
def test_documented_body_classifies_as_the_docs_say(
    name: str, body: bytes, expected: Expected
) -> None:
    """Kind, status, approval, code, order id, amount and probe shape are the documented ones."""
    n = parse_result(body)
    got = Expected(
        n.kind.value,
        n.status.value,
        n.approved,
        n.result.response_code,
        n.result.order_id,
        n.result.amount,
        n.probe_shape,
    )
    assert got == expected


@pytest.mark.parametrize(("name", "body", "expected"), ALL_RESULTS, ids=RESULT_IDS)
def test_documented_body_raw_is_the_decoded_body(
    name: str, body: bytes, expected: Expected
) -> None:
    """``raw`` is the decoded body, key for key and value for value."""
    assert parse_result(body).raw == json.loads(body)


@pytest.mark.parametrize(("name", "body", "expected"), ALL_RESULTS, ids=RESULT_IDS)
def test_documented_body_parses_the_same_from_str_and_bytes(
    name: str, body: bytes, expected: Expected
) -> None:
    """A body handed over as ``str`` gives the same outcome as its UTF-8 bytes."""
    assert parse_result(body.decode()) == parse_result(body)


@pytest.mark.parametrize(("name", "body", "expected"), ALL_RESULTS, ids=RESULT_IDS)
def test_documented_body_has_no_problems(name: str, body: bytes, expected: Expected) -> None:
    """No documented body breaks the length table or needs a guess, so none has a problem."""
    assert parse_result(body).problems == ()


def test_no_documented_body_breaks_the_seed002_length_table() -> None:
    """Read from the table, not the code: no documented string exceeds its VARCHAR2 length."""
    # The only mismatch with the table is isQps, typed VARCHAR2(1) but always sent as the
    # number 0 / 0.0 (seed 001 calls it a decimal); the normaliser reads it as a number.
    limits = {
        field: int(m.group(1))
        for field, kind in _table_limits().items()
        if (m := re.fullmatch(r"VARCHAR2\((\d+) BYTE\)", kind))
    }
    breaks = []
    non_strings = set()
    for name, body, _ in ALL_RESULTS:
        for field, value in json.loads(body).items():
            if field not in limits:
                continue
            if not isinstance(value, str):
                non_strings.add(field)
            elif len(value.encode()) > limits[field]:
                breaks.append((name, field))
    assert breaks == []
    assert non_strings == {"isQps"}


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [r for r in ALL_RESULTS if r[0] != "PROBE_LIST_OF_PAYS"],
    ids=[n for n in RESULT_IDS if n != "PROBE_LIST_OF_PAYS"],
)
def test_documented_fields_are_all_modelled(name: str, body: bytes, expected: Expected) -> None:
    """Every field of the documented results (incl. bin, isRePrint, transactionId) is modelled."""
    assert parse_result(body).result.extra == {}


ADDED = {"rrnNumber": "412345678901", "nuevoCampo": {"lista": [1, "dos", None]}}


@pytest.mark.parametrize(("name", "body", "expected"), ALL_RESULTS, ids=RESULT_IDS)
def test_unknown_fields_survive_in_extra(name: str, body: bytes, expected: Expected) -> None:
    """Fields NetPay may add later are kept verbatim in ``extra`` and in ``raw``."""
    decoded = {**json.loads(body), **ADDED}
    n = normalise(decoded)
    assert {k: n.result.extra[k] for k in ADDED} == ADDED
    assert n.raw == decoded


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [r for r in ALL_RESULTS if r[0] != "SEED001_PROBE"],
    ids=[n for n in RESULT_IDS if n != "SEED001_PROBE"],
)
def test_unknown_fields_change_no_classification(
    name: str, body: bytes, expected: Expected
) -> None:
    """Added unknown fields leave kind, status, approval and problems as they were."""
    before = parse_result(body)
    after = normalise({**json.loads(body), **ADDED})
    assert (after.kind, after.status, after.approved, after.probe_shape) == (
        before.kind,
        before.status,
        before.approved,
        before.probe_shape,
    )
    assert after.problems == before.problems


def test_documented_probe_with_an_unknown_key_is_unknown() -> None:
    """The documented probe shape is a closed key set: one more key makes the body unknown."""
    # Unlike the list-of-pays shape, which is recognised by its own keys whatever else comes.
    n = normalise({**json.loads(v.SEED001_PROBE), **ADDED})
    assert (n.kind, n.status, n.probe_shape) == (Kind.UNKNOWN, Status.NONE, None)
    assert [p.code for p in n.problems] == ["not_a_result"]


def test_reprint_is_recognised_before_trans_type_v() -> None:
    """A reprint of a cancellation (``isRePrint`` true, ``transType`` V) is a reprint."""
    n = normalise(_body("SEED002_REPRINT", transType="V", reprintModule="V"))
    assert n.kind is Kind.REPRINT
    assert n.status is Status.CANCELLED
    assert n.approved is False


def test_reprint_flag_sent_as_a_string_still_makes_a_reprint() -> None:
    """``isRePrint`` as the string "true" is read as a boolean and still wins over transType."""
    n = normalise(_body("SEED002_REPRINT", isRePrint="true", transType="V"))
    assert n.kind is Kind.REPRINT


def test_cancellation_is_trans_type_v() -> None:
    """The documented cancel (``transType`` V, not a reprint) is a cancellation."""
    n = parse_result(RESULTS["SEED002_CANCEL"])
    assert n.kind is Kind.CANCELLATION
    assert n.result.trans_type == "V"
    assert n.result.is_reprint is False


@pytest.mark.parametrize(
    "name", ["SEED001_TIMEOUT_02", "SEED002_TIMEOUT_02", "SEED002_TIMEOUT_02_NEW_APP"]
)
def test_code_02_is_user_cancelled(name: str) -> None:
    """Code 02 (cancelled on the terminal or ~1 minute timeout) is ``user_cancelled``."""
    n = parse_result(RESULTS[name])
    assert n.status is Status.USER_CANCELLED
    assert n.approved is False
    assert n.result.message == "Cancelado por el Usuario"


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("SEED001_DECLINED_48", "48", "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA"),
        ("SEED001_DECLINED_13", "13", "TRANSACCION NO PERMITIDA"),
        ("SEED001_DECLINED_56", "56", "TARJETA INVALIDA"),
        ("SEED001_DECLINED_14", "14", "TARJETA INVALIDA"),
        ("SEED002_DECLINED_34", "34", "TARJETA RECHAZADA"),
        ("SEED002_DECLINED_34_NEW_APP", "34", "TRANSACCION RECHAZADA"),
        ("SEED002_CONNECTION_ERROR_05", "05", "Error de conexión"),
    ],
)
def test_documented_declines_are_declined_with_a_known_code(
    name: str, code: str, message: str
) -> None:
    """48, 13, 56, 14, 34 and 05 are declines, with the terminal's message and a known code."""
    n = parse_result(RESULTS[name])
    assert (n.status, n.approved) == (Status.DECLINED, False)
    assert (n.result.response_code, n.result.message) == (code, message)
    info = codes.describe(code, message)
    assert info.known is True
    assert info.approved is False


def test_documented_probe_shape() -> None:
    """The documented probe is a probe of shape "documented", with typed zero values."""
    n = parse_result(v.SEED001_PROBE)
    assert (n.kind, n.status, n.probe_shape) == (Kind.PROBE, Status.NONE, "documented")
    assert n.result.has_pin is False
    assert n.result.is_qps == Decimal("0.0")
    assert n.result.folio_number is None


def test_list_of_pays_probe_shape() -> None:
    """The newer probe is a probe of shape "list_of_pays"; its own keys stay in ``extra``."""
    n = parse_result(v.PROBE_LIST_OF_PAYS)
    assert (n.kind, n.status, n.probe_shape) == (Kind.PROBE, Status.NONE, "list_of_pays")
    assert n.result.extra == {"listOfPays": [], "tipTotalAmount": "", "totalAmount": ""}
    assert n.problems == ()


def test_facts_aliases_are_the_seed_texts() -> None:
    """Where NETPAY-FACTS.md quotes a seed example byte for byte, the vectors agree."""
    assert v.FACTS_PROBE == v.SEED001_PROBE
    assert v.FACTS_TIMEOUT_02 == v.SEED001_TIMEOUT_02
    assert v.FACTS_CONNECTION_ERROR_05 == v.SEED002_CONNECTION_ERROR_05
    assert parse_result(v.FACTS_TIMEOUT_02).status is Status.USER_CANCELLED


# --------------------------------------------------------------------------------------------
# Typed values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "attribute", "text"),
    [
        ("FACTS_REAL_SALE_2024", "amount", "200.00"),  # "200.0"
        ("FACTS_REAL_SALE_2024", "tip_amount", "0.00"),  # "0.0"
        ("FACTS_REAL_SALE_2024", "tip_less_amount", "200.00"),  # "200.0"
        ("SEED002_REPRINT", "amount", "1.00"),  # "1"
        ("SEED002_REPRINT", "tip_less_amount", "0.00"),  # "0"
        ("SEED001_APPROVED_NO_PIN", "amount", "100.49"),  # "100.49"
        ("SEED000_RESULT", "amount", "0.01"),  # "0.01"
    ],
)
def test_amounts_are_decimals_with_two_places(name: str, attribute: str, text: str) -> None:
    """Amount strings become ``Decimal`` with exactly two places ("1" -> 1.00)."""
    value = getattr(parse_result(RESULTS[name]).result, attribute)
    assert isinstance(value, Decimal)
    assert str(value) == text


def test_tip_amount_null_string_is_none() -> None:
    """``tipAmount: "null"`` on the documented cancel is no value, and not a problem."""
    n = parse_result(RESULTS["SEED002_CANCEL"])
    assert n.result.tip_amount is None
    assert n.result.tip_less_amount == Decimal("1.00")
    assert n.problems == ()


@pytest.mark.parametrize(
    ("trans_date", "expected", "offset_hours"),
    [
        (
            "2024-03-05 13:14:48.CST",
            datetime(2024, 3, 5, 13, 14, 48, tzinfo=CST),
            -6,
        ),
        (
            "2022-10-08 11:24:47.CDT",
            datetime(2022, 10, 8, 11, 24, 47, tzinfo=CDT),
            -5,
        ),
        (
            "2024-06-25 12:57:40.GMT-06:00",
            datetime(2024, 6, 25, 12, 57, 40, tzinfo=CST),
            -6,
        ),
        (
            "2021-03-04 14:27:30.0",
            datetime(2021, 3, 4, 14, 27, 30, tzinfo=MEXICO_CITY),
            -6,
        ),
    ],
    ids=["CST", "CDT", "GMT-06:00", "dot-zero"],
)
def test_trans_date_zones(trans_date: str, expected: datetime, offset_hours: int) -> None:
    """``transDate`` suffixes seen in the field give the right instant and UTC offset."""
    n = normalise(_body("FACTS_REAL_SALE_2024", transDate=trans_date))
    got = n.result.trans_date
    assert got == expected
    assert got is not None
    assert got.utcoffset() == timedelta(hours=offset_hours)
    assert n.problems == ()


def test_trans_date_without_zone_is_mexico_city() -> None:
    """The reprint's ``.0`` ``transDate`` has no zone, so it is read in America/Mexico_City."""
    got = parse_result(RESULTS["SEED002_REPRINT"]).result.trans_date
    assert got == datetime(2021, 3, 4, 14, 27, 30, tzinfo=MEXICO_CITY)
    assert got is not None
    assert got.tzinfo is MEXICO_CITY


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("FACTS_REAL_SALE_2024", datetime(2024, 3, 5, 12, 14, 45, tzinfo=MEXICO_CITY)),
        ("SEED000_RESULT", datetime(2019, 12, 3, 10, 40, 46, tzinfo=MEXICO_CITY)),
        ("SEED001_APPROVED_NO_PIN", datetime(2020, 3, 19, 12, 51, 45, tzinfo=MEXICO_CITY)),
        ("SEED002_REPRINT", datetime(2021, 3, 4, 14, 27, 31, tzinfo=MEXICO_CITY)),
    ],
)
def test_ticket_dates(name: str, expected: datetime) -> None:
    """``ticketDate`` ("MAR. 05, 24 12:14:45 ", "DIC. ...") is a Mexico City wall time."""
    got = parse_result(RESULTS[name]).result.ticket_date
    assert got == expected
    assert got is not None
    assert got.tzinfo is MEXICO_CITY
    assert got.utcoffset() == timedelta(hours=-6)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("FACTS_REAL_SALE_2024", "PREALTA / DEBITO"),
        ("SEED002_APPROVED_NO_PIN", "TREJO PECINA/AGUSTIN"),
        ("SEED002_APPROVED_PIN", None),  # " "
        ("SEED000_RESULT", "NOMBRE CLIENTE"),
    ],
)
def test_customer_name_is_stripped(name: str, expected: str | None) -> None:
    """Space-padded ``customerName`` is stripped; a blank one is no value."""
    assert parse_result(RESULTS[name]).result.customer_name == expected


def test_real_sale_fields_under_their_python_names() -> None:
    """The 2024 sale's fields land on the right attributes, renamed ones included."""
    r = parse_result(v.FACTS_REAL_SALE_2024).result
    assert r.app_version == "1.3.10.2.p.p_20231005"  # rePrintDate
    assert r.card_last4 == "9493"  # cardNumber
    assert r.terminal_id == "1494113052"
    assert r.transaction_id == "2A667C6A-563D-5377-E1F2-A83BACC5F756"
    assert r.bin == "476684"
    assert r.is_reprint is False
    assert r.has_pin is False
    assert r.is_qps == Decimal("0")
    assert r.pre_status == Decimal("0")
    assert r.folio_number == "16"
    assert r.reprint_module == "C"
    assert r.street_name == "AV. INSURGENTES  KM 5.025"
    assert r.message == "Transacción exitosa"
    assert r.traceability["store_id_netpay"] == "455311"
    assert r.traceability["smart_accounts"] is True
    assert r.push_id is None
    assert r.transaction_at == r.trans_date


# --------------------------------------------------------------------------------------------
# Field lengths from the seed-002 table
# --------------------------------------------------------------------------------------------


def _length_limits() -> dict[str, int]:
    """Byte limits the normaliser applies, derived from the seed-002 table.

    ``reprintModule`` is VARCHAR2(1) in the table but carries "RV" and "PRV", so its limit is
    3; ``isQps`` (VARCHAR2(1)) is a number on the wire and has no length; NUMBER(9) fields are
    capped at nine characters.
    """
    limits = {}
    for field, kind in _table_limits().items():
        if m := re.fullmatch(r"VARCHAR2\((\d+) BYTE\)|NUMBER \((\d+)\)", kind):
            limits[field] = int(m.group(1) or m.group(2))
    del limits["isQps"]
    limits["reprintModule"] = 3
    return limits


LIMITS = _length_limits()


def _length_problems(field: str, value: str) -> list[Problem]:
    return [p for p in normalise({field: value}).problems if p.code == "too_long"]


@pytest.mark.parametrize(("field", "limit"), sorted(LIMITS.items()))
def test_value_at_the_table_length_has_no_length_problem(field: str, limit: int) -> None:
    """A value exactly as long as the table allows is not reported."""
    assert _length_problems(field, "7" * limit) == []


@pytest.mark.parametrize(("field", "limit"), sorted(LIMITS.items()))
def test_value_over_the_table_length_is_reported_and_kept(field: str, limit: int) -> None:
    """One byte over the table's length is one ``too_long`` problem; nothing is dropped."""
    value = "7" * (limit + 1)
    assert _length_problems(field, value) == [
        Problem(field, "too_long", f"{limit + 1} bytes, the limit is {limit}")
    ]


def test_length_is_counted_in_utf8_bytes() -> None:
    """The table's lengths are in bytes: 100 "ó" fill ``message``'s 200, one more "a" breaks it."""
    assert _length_problems("message", "ó" * 100) == []
    assert _length_problems("message", "ó" * 100 + "a") == [
        Problem("message", "too_long", "201 bytes, the limit is 200")
    ]
