"""Push requests serialise to exactly NetPay's documented JSON; gateway answers parse by shape."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest
from rich.pretty import pretty_repr

from netpay_smart import codes
from netpay_smart.errors import PayloadError
from netpay_smart.wire import (
    TRACE_KEY,
    CancelRequest,
    OAuthError,
    PushAnswer,
    ReprintRequest,
    SaleRequest,
    SpringError,
    Token,
    encode_push,
    parse_gateway_answer,
)

from . import vectors as v

SERIAL = "0821000119"
STORE = "455311"


def _keys(body: bytes | str) -> list[str]:
    """Top-level keys of a JSON object, in the order they appear."""
    return list(json.loads(body))


# --------------------------------------------------------------------------------------------
# Sale
# --------------------------------------------------------------------------------------------


def test_seed000_sale_example_exactly() -> None:
    """The seed-000 sale comes out byte for byte as the compact form of the documented JSON."""
    body = encode_push(
        SaleRequest(
            traceability={},
            amount=Decimal("1.01"),
            serial_number=SERIAL,
            store_id=STORE,
            is_smart_accounts="true",
        )
    )
    assert body == (
        b'{"traceability":{},"amount":1.01,"serialNumber":"0821000119",'
        b'"storeId":"455311","isSmartAccounts":"true"}'
    )
    assert json.loads(body) == json.loads(v.SEED000_SALE_REQUEST)
    assert _keys(body) == _keys(v.SEED000_SALE_REQUEST)


@pytest.mark.parametrize(
    ("amount", "wire_text"),
    [
        (Decimal("200"), b"200.00"),
        (Decimal("1.01"), b"1.01"),
        (Decimal("1.1"), b"1.10"),
        (Decimal("0.01"), b"0.01"),
        (Decimal("1498.00"), b"1498.00"),
        (Decimal("2E+2"), b"200.00"),
    ],
)
def test_sale_amount_is_a_json_number_with_two_decimals(amount: Decimal, wire_text: bytes) -> None:
    """The amount is a bare JSON number with exactly two decimals, never a string or float."""
    body = encode_push(
        SaleRequest(traceability={}, amount=amount, serial_number=SERIAL, store_id=STORE)
    )
    assert b'"amount":' + wire_text + b"," in body
    assert json.loads(body, parse_float=Decimal)["amount"] == amount


def test_sale_optional_fields_appear_only_when_set() -> None:
    """``folioNumber``, ``msi`` and ``disablePrintAnimation`` are sent only when given."""
    bare = encode_push(
        SaleRequest(traceability={}, amount=Decimal("5"), serial_number=SERIAL, store_id=STORE)
    )
    assert _keys(bare) == ["traceability", "amount", "serialNumber", "storeId"]

    full = encode_push(
        SaleRequest(
            traceability={TRACE_KEY: "push-1"},
            amount=Decimal("5"),
            serial_number=SERIAL,
            store_id=STORE,
            folio_number="24LNA_TNP_33",
            msi=6,
            disable_print_animation=False,
            is_smart_accounts="true",
        )
    )
    assert json.loads(full) == {
        "traceability": {TRACE_KEY: "push-1"},
        "amount": 5.0,
        "serialNumber": SERIAL,
        "storeId": STORE,
        "folioNumber": "24LNA_TNP_33",
        "msi": 6,
        "disablePrintAnimation": False,
        "isSmartAccounts": "true",
    }


def test_push_bodies_use_only_netpay_camel_case_names() -> None:
    """No snake_case name leaks onto the wire."""
    body = encode_push(
        SaleRequest(
            traceability={},
            amount=Decimal("5"),
            serial_number=SERIAL,
            store_id=STORE,
            folio_number="F-1",
            msi=3,
            disable_print_animation=True,
            is_smart_accounts="true",
        )
    )
    assert b"_" not in body.replace(b"F-1", b"")
    assert "folio_number" not in json.loads(body)


def test_traceability_is_sent_verbatim() -> None:
    """Whatever goes in ``traceability`` goes out unchanged, nested values included."""
    trace = {TRACE_KEY: "p-9", "idProducto": "123456", "idTienda": 987, "extra": {"a": [1]}}
    body = encode_push(
        SaleRequest(traceability=trace, amount=Decimal("1"), serial_number=SERIAL, store_id=STORE)
    )
    assert json.loads(body)["traceability"] == trace


# --------------------------------------------------------------------------------------------
# Reprint and cancel
# --------------------------------------------------------------------------------------------


def test_seed000_reprint_example_exactly() -> None:
    """A reprint by order id is the (repaired) seed-000 example, keys in the same order."""
    body = encode_push(
        ReprintRequest(
            traceability={},
            order_id="200624084826-0821000119",
            serial_number=SERIAL,
            store_id=STORE,
            is_smart_accounts="true",
        )
    )
    assert body == (
        b'{"traceability":{},"orderId":"200624084826-0821000119","serialNumber":"0821000119",'
        b'"storeId":"455311","isSmartAccounts":"true"}'
    )
    assert json.loads(body) == json.loads(v.SEED000_REPRINT_REQUEST)
    assert _keys(body) == _keys(v.SEED000_REPRINT_REQUEST)


def test_reprint_by_folio_keeps_the_empty_order_id() -> None:
    """Reprint by folio sends ``orderId: ""`` and ``folioId``, as the real R3 request does."""
    body = encode_push(
        ReprintRequest(
            traceability={},
            order_id="",
            serial_number="1494113052",
            store_id="0",
            folio_id="24LNA_TNP_33",
            disable_print_animation=True,
        )
    )
    assert body == (
        b'{"traceability":{},"orderId":"","serialNumber":"1494113052","storeId":"0",'
        b'"folioId":"24LNA_TNP_33","disablePrintAnimation":true}'
    )
    documented = json.loads(v.FACTS_REPRINT_BY_FOLIO_REQUEST)
    ours = json.loads(body)
    # The real request also sends isSmartAccounts as a JSON boolean; we send it only if asked,
    # and then as the string "true" like the docs (see the next test).
    for key in ("serialNumber", "orderId", "folioId", "storeId", "disablePrintAnimation"):
        assert ours[key] == documented[key]


def test_reprint_by_folio_with_smart_accounts() -> None:
    """Smart Accounts on a reprint by folio is the documented string "true"."""
    body = encode_push(
        ReprintRequest(
            traceability={},
            order_id="",
            serial_number="1494113052",
            store_id="0",
            folio_id="24LNA_TNP_33",
            is_smart_accounts="true",
        )
    )
    assert json.loads(body)["isSmartAccounts"] == "true"
    assert json.loads(body)["orderId"] == ""


def test_seed000_cancel_example_exactly() -> None:
    """A cancel is the seed-000 example, keys in the same order."""
    body = encode_push(
        CancelRequest(
            traceability={},
            order_id="200623160129-0821000119",
            serial_number=SERIAL,
            store_id=STORE,
            is_smart_accounts="true",
        )
    )
    assert body == (
        b'{"traceability":{},"orderId":"200623160129-0821000119","serialNumber":"0821000119",'
        b'"storeId":"455311","isSmartAccounts":"true"}'
    )
    assert json.loads(body) == json.loads(v.SEED000_CANCEL_REQUEST)
    assert _keys(body) == _keys(v.SEED000_CANCEL_REQUEST)


def test_cancel_disable_print_animation_only_when_set() -> None:
    """``disablePrintAnimation`` appears on a cancel only when given."""
    base = {"traceability": {}, "order_id": "o", "serial_number": SERIAL, "store_id": STORE}
    assert "disablePrintAnimation" not in json.loads(encode_push(CancelRequest(**base)))
    body = encode_push(CancelRequest(**base, disable_print_animation=True))
    assert json.loads(body)["disablePrintAnimation"] is True


def test_push_models_are_frozen() -> None:
    """A push body cannot be changed after it was built (it may be retried as is)."""
    sale = SaleRequest(traceability={}, amount=Decimal("1"), serial_number=SERIAL, store_id=STORE)
    with pytest.raises(AttributeError):
        sale.amount = Decimal("2")  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Gateway answers
# --------------------------------------------------------------------------------------------


def test_token_answer_from_seed000() -> None:
    """The documented token answer is a ``Token`` with its values, expiring in 43199 s."""
    token = parse_gateway_answer(v.SEED000_TOKEN)
    assert token == Token(
        access_token="CI6IkpXVCJ9wianReyJhdWQiOlsib2F1dGgyX2lkIl0sInVzZX",
        token_type="bearer",
        expires_in=43199,
        refresh_token="mlkLnJtei45NUBnbWFpbC5jb20iLCJzY6ImRhd_3yghIRLnew",
        scope="read write",
        jti="32116378-023b-9331-0920-ff1e2e200601",
    )


def test_token_repr_hides_the_credentials() -> None:
    """``repr``/``str`` of a token never show the access or the refresh token."""
    token = parse_gateway_answer(v.SEED000_TOKEN.encode())
    assert isinstance(token, Token)
    for text in (repr(token), str(token), f"{token!r}", repr([token])):
        assert token.access_token not in text
        assert token.refresh_token is not None
        assert token.refresh_token not in text
    assert "43199" in repr(token)


def test_token_rich_repr_hides_the_credentials() -> None:
    """Rich's pretty printer does not show the access or the refresh token either."""
    token = parse_gateway_answer(v.SEED000_TOKEN)
    assert isinstance(token, Token)
    text = pretty_repr(token)
    assert token.access_token not in text
    assert "mlkLnJtei45NUBnbWFpbC5jb20iLCJzY6ImRhd_3yghIRLnew" not in text


@pytest.mark.parametrize(
    ("text", "code", "message", "delivered"),
    [
        (v.SEED000_PUSH_ANSWER, "00", "Mensaje enviado exitosamente", True),
        (v.FACTS_PUSH_OK, "00", "Mensaje enviado exitosamente", True),
        (v.FACTS_PUSH_TERMINAL_NOT_FOUND, "19", "No se encontró la terminal", False),
        ('{"code":19}', "19", None, False),
    ],
    ids=["seed000-00", "facts-00", "facts-19", "numeric-19"],
)
def test_push_answers(text: str, code: str, message: str | None, delivered: bool) -> None:
    """Push answers give their code and message; only ``00`` means delivered."""
    answer = parse_gateway_answer(text)
    assert answer == PushAnswer(code=code, message=message)
    assert isinstance(answer, PushAnswer)
    assert answer.delivered is delivered
    assert codes.describe_push(answer.code).known is True


def test_invalid_token_answer_is_an_oauth_error() -> None:
    """NetPay's bad-Bearer answer is an ``OAuthError`` with its description."""
    answer = parse_gateway_answer(
        b'{"error":"invalid_token","error_description":"Cannot convert access token to JSON"}'
    )
    assert answer == OAuthError(
        error="invalid_token", error_description="Cannot convert access token to JSON"
    )
    assert parse_gateway_answer(v.FACTS_INVALID_TOKEN) == answer


def test_spring_unauthorized_answer_is_a_spring_error() -> None:
    """Spring Boot's 401 page for a bad Basic credential is a ``SpringError``."""
    answer = parse_gateway_answer(
        b'{"timestamp":"2020-02-19T15:21:21.347+0000","status":401,"error":"Unauthorized",'
        b'"message":"Unauthorized","path":"/oauth/token"}'
    )
    assert answer == SpringError(
        status=401,
        error="Unauthorized",
        timestamp="2020-02-19T15:21:21.347+0000",
        message="Unauthorized",
        path="/oauth/token",
    )


def test_spring_error_with_status_as_text() -> None:
    """A Spring page whose ``status`` is a string still parses, as an int."""
    answer = parse_gateway_answer('{"status":"401","error":"Unauthorized"}')
    assert answer == SpringError(status=401, error="Unauthorized")


@pytest.mark.parametrize(
    ("name", "text", "model"), v.GATEWAY_ANSWERS, ids=[name for name, _, _ in v.GATEWAY_ANSWERS]
)
def test_every_documented_gateway_answer_parses_to_its_model(
    name: str, text: str, model: str
) -> None:
    """Each documented or reconstructed gateway body gives the model its shape calls for."""
    answer = parse_gateway_answer(text)
    assert type(answer).__name__ == model
    if isinstance(answer, OAuthError):
        assert answer.error == json.loads(text)["error"]
        assert answer.error_description == json.loads(text)["error_description"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"foo":"bar"}', "unexpected_shape"),
        (b"{}", "unexpected_shape"),
        (b'{"responseCode":"00"}', "unexpected_shape"),
        (b'{"access_token":12345}', "unexpected_shape"),
        (b'{"access_token":"x","expires_in":"soon"}', "unexpected_shape"),
        (b'{"status":"four-oh-one","error":"Unauthorized"}', "unexpected_shape"),
        (b"[]", "not_object"),
        (b"", "empty"),
        (v.FACTS_UNAUTHORIZED_PREFIX.encode(), "not_json"),
        (b"<html>502 Bad Gateway</html>", "not_json"),
    ],
)
def test_unrelated_answers_raise_payload_error(body: bytes, reason: str) -> None:
    """Bodies that are none of the four gateway shapes raise ``PayloadError`` with a reason."""
    with pytest.raises(PayloadError) as caught:
        parse_gateway_answer(body)
    assert caught.value.reason == reason


def test_gateway_models_round_trip_through_msgspec() -> None:
    """A parsed token serialises back to the same fields (e.g. for a token cache)."""
    token = parse_gateway_answer(v.SEED000_TOKEN)
    assert msgspec.json.decode(msgspec.json.encode(token)) == json.loads(v.SEED000_TOKEN)
