"""NetPay Smart payloads as typed models, and the tolerant normaliser for terminal results.

Pure: no I/O. NetPay's camelCase names live only here; everything else in netpay-smart uses
the snake_case names of the models below.

Two directions, two attitudes:

- What *we* send (token requests, sale / reprint / cancel pushes) is strict: the models
  serialise to exactly the JSON NetPay's documentation shows.
- What *terminals* send is whatever the Smart PinPad app version in the field produces, so
  :func:`normalise` never raises on a JSON object. It returns a typed :class:`TerminalResult`
  and a list of :class:`Problem` for everything it had to guess, round or drop.

>>> n = normalise({"responseCode": "00", "amount": "200.0", "orderId": "240305131447-1494113052"})
>>> n.kind, n.status, n.approved, n.result.amount
(<Kind.SALE: 'sale'>, <Status.APPROVED: 'approved'>, True, Decimal('200.00'))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec

from .codes import REPRINT_MODULES, ReprintState
from .errors import PayloadError

__all__ = [
    "ACK_BODY",
    "DOCUMENTED_FIELDS",
    "MEXICO_CITY",
    "TRACE_KEY",
    "CancelRequest",
    "GatewayAnswer",
    "Kind",
    "Normalised",
    "OAuthError",
    "Problem",
    "PushAnswer",
    "ReprintRequest",
    "SaleRequest",
    "SpringError",
    "Status",
    "TerminalResult",
    "Token",
    "classify",
    "decode_object",
    "encode_push",
    "normalise",
    "parse_gateway_answer",
    "parse_money",
    "parse_result",
    "parse_ticket_date",
    "parse_trans_date",
]

MEXICO_CITY: Final = ZoneInfo("America/Mexico_City")

#: The exact body a receiver must answer a terminal with.
ACK_BODY: Final = b'{"code":"00","message":"Recibido"}'

#: Key netpay-smart adds to a push's ``traceability`` so the result can be matched to it.
TRACE_KEY: Final = "npsPushId"

_CENT = Decimal("0.01")
_MONEY_LIMIT = Decimal("1e13")  # NUMBER(15,2) in the data-model table


# --------------------------------------------------------------------------------------------
# Gateway: OAuth token and push answers
# --------------------------------------------------------------------------------------------


class Token(msgspec.Struct, frozen=True):
    """The token endpoint's success answer (43199 s is NetPay's usual ``expires_in``)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = 43199
    refresh_token: str | None = None
    scope: str | None = None
    jti: str | None = None

    def __repr__(self) -> str:  # never show a credential
        return f"Token(expires_in={self.expires_in}, jti={self.jti!r})"

    def __rich_repr__(self) -> Any:  # rich tracebacks and pretty-printing: same rule
        yield "expires_in", self.expires_in
        yield "jti", self.jti


class OAuthError(msgspec.Struct, frozen=True):
    """Spring OAuth2 error, e.g. ``{"error": "invalid_grant", "error_description": "..."}``."""

    error: str
    error_description: str | None = None


class SpringError(msgspec.Struct, frozen=True):
    """Spring Boot's default error page, sent for a bad Basic credential (HTTP 401)."""

    status: int
    error: str
    timestamp: str | None = None
    message: str | None = None
    path: str | None = None


class PushAnswer(msgspec.Struct, frozen=True):
    """What sale / reprint / cancel answer: ``00`` delivered to the terminal, ``19`` unknown."""

    code: str
    message: str | None = None

    @property
    def delivered(self) -> bool:
        return self.code == "00"


GatewayAnswer = Token | PushAnswer | OAuthError | SpringError


def parse_gateway_answer(body: bytes | str) -> GatewayAnswer:
    """Parse any answer of NetPay's gateway by the keys it carries, not by its HTTP status.

    NetPay sends ``code 19`` and OAuth errors under varying statuses, so branching on keys is
    the only reliable way (NETPAY-FACTS.md §8). Raises :class:`PayloadError` for anything that
    is none of the four shapes.
    """
    obj = decode_object(body)
    try:
        if "access_token" in obj:
            return msgspec.convert(obj, Token)
        if "code" in obj:
            return PushAnswer(code=str(obj["code"]), message=_opt_str(obj.get("message")))
        if "status" in obj and "error" in obj:
            return msgspec.convert(obj, SpringError, strict=False)
        if "error" in obj:
            return OAuthError(
                error=str(obj["error"]),
                error_description=_opt_str(obj.get("error_description")),
            )
    except msgspec.ValidationError as exc:
        raise PayloadError("unexpected_shape", f"gateway answer has a bad field: {exc}") from exc
    raise PayloadError("unexpected_shape", f"not a NetPay gateway answer: keys {sorted(obj)}")


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


# --------------------------------------------------------------------------------------------
# Push requests (strict: exactly the JSON the docs show)
# --------------------------------------------------------------------------------------------

_PUSH_OPTIONS: Final = {"rename": "camel", "omit_defaults": True, "frozen": True}


class SaleRequest(msgspec.Struct, **_PUSH_OPTIONS):
    """Body of ``POST /integration-service/transactions/sale``.

    >>> encode_push(SaleRequest(traceability={}, amount=Decimal("1.01"),
    ...     serial_number="0821000119", store_id="455311", is_smart_accounts="true"))
    b'{"traceability":{},"amount":1.01,"serialNumber":"0821000119","storeId":"455311","isSmartAccounts":"true"}'
    """

    traceability: dict[str, Any]
    amount: Decimal
    serial_number: str
    store_id: str
    folio_number: str | None = None
    msi: int | None = None
    disable_print_animation: bool | None = None
    # The docs send the *string* "true"; we do the same so the wire matches them exactly.
    is_smart_accounts: Literal["true"] | None = None


class ReprintRequest(msgspec.Struct, **_PUSH_OPTIONS):
    """Body of ``POST /integration-service/transactions/reprint``.

    By order id: ``order_id`` set. By folio (status recovery): ``order_id=""`` and ``folio_id``
    set; NetPay requires the empty ``orderId`` to be present, so it is never omitted.
    """

    traceability: dict[str, Any]
    order_id: str
    serial_number: str
    store_id: str
    folio_id: str | None = None
    disable_print_animation: bool | None = None
    is_smart_accounts: Literal["true"] | None = None


class CancelRequest(msgspec.Struct, **_PUSH_OPTIONS):
    """Body of ``POST /integration-service/transactions/cancel`` (same day, before 20:00 CDMX)."""

    traceability: dict[str, Any]
    order_id: str
    serial_number: str
    store_id: str
    disable_print_animation: bool | None = None
    is_smart_accounts: Literal["true"] | None = None


_push_encoder = msgspec.json.Encoder(decimal_format="number")


def encode_push(request: SaleRequest | ReprintRequest | CancelRequest) -> bytes:
    """Serialise a push; a sale's amount always goes out as a number with two decimals."""
    if isinstance(request, SaleRequest):
        amount = request.amount.quantize(_CENT)
        if amount != request.amount:
            raise ValueError(f"amount {request.amount} has more than two decimals")
        request = msgspec.structs.replace(request, amount=amount)
    return _push_encoder.encode(request)


# --------------------------------------------------------------------------------------------
# Terminal results (tolerant)
# --------------------------------------------------------------------------------------------


class Kind(StrEnum):
    """What a body a terminal posted is."""

    PROBE = "probe"
    SALE = "sale"
    CANCELLATION = "cancellation"
    REPRINT = "reprint"
    UNKNOWN = "unknown"


class Status(StrEnum):
    """Where the money stands according to one result."""

    APPROVED = "approved"
    DECLINED = "declined"
    USER_CANCELLED = "user_cancelled"  # code 02: cancelled on the terminal or ~1 min timeout
    CANCELLED = "cancelled"  # voided by a cancellation (reprintModule V)
    REVERSED = "reversed"
    PENDING_REVERSAL = "pending_reversal"
    NONE = "none"  # probes and bodies that are not results


class Problem(msgspec.Struct, frozen=True):
    """One thing the normaliser had to fix or could not read; never fatal.

    ``code`` is ``coerced`` (read, with a fix), ``unreadable`` (dropped), ``too_long`` (over
    NetPay's documented length, kept), ``negative`` (an amount below zero, kept) or
    ``not_a_result`` (the body is no result or probe).
    """

    field: str
    code: str
    detail: str


class TerminalResult(msgspec.Struct, kw_only=True):
    """A terminal's result with typed values; ``extra`` keeps every field we do not model.

    Field names are the snake_case of NetPay's. Three are renamed because NetPay's names lie:
    ``rePrintDate`` is the app version (``app_version``), ``cardNumber`` the last four digits
    (``card_last4``), ``terminalId`` the terminal's serial number (kept as ``terminal_id``).
    """

    affiliation: str | None = None
    aid: str | None = None
    amount: Decimal | None = None
    application_label: str | None = None
    arqc: str | None = None
    auth_code: str | None = None
    bank_name: str | None = None
    card_exp_date: str | None = None
    card_last4: str | None = None
    card_type: str | None = None
    card_type_name: str | None = None
    city_name: str | None = None
    customer_name: str | None = None
    folio_number: str | None = None
    has_pin: bool | None = None
    hex_sign: str | None = None
    internal_number: str | None = None
    is_qps: Decimal | None = None
    message: str | None = None
    module_charge: str | None = None
    module_lote: str | None = None
    order_id: str | None = None
    pre_auth: str | None = None
    pre_status: Decimal | None = None
    promotion: str | None = None
    app_version: str | None = None
    reprint_mark: str | None = None
    reprint_module: str | None = None
    response_code: str | None = None
    store_name: str | None = None
    street_name: str | None = None
    table_id: str | None = None
    terminal_id: str | None = None
    ticket_date: datetime | None = None
    tip_amount: Decimal | None = None
    tip_less_amount: Decimal | None = None
    traceability: dict[str, Any] = msgspec.field(default_factory=dict)
    trans_date: datetime | None = None
    trans_type: str | None = None
    transaction_certificate: str | None = None
    # Seen in real payloads, not in the 38-field model:
    bin: str | None = None
    is_reprint: bool | None = None
    transaction_id: str | None = None
    store_id: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def transaction_at(self) -> datetime | None:
        """When the transaction happened: ``transDate``, else ``ticketDate``."""
        return self.trans_date or self.ticket_date

    @property
    def push_id(self) -> str | None:
        """The netpay-smart push id echoed back in ``traceability``, if any."""
        value = self.traceability.get(TRACE_KEY)
        return str(value) if value not in (None, "") else None


class Normalised(msgspec.Struct, frozen=True):
    """The outcome of :func:`normalise`: kind, status, typed result, problems, original body."""

    kind: Kind
    status: Status
    approved: bool
    result: TerminalResult
    problems: tuple[Problem, ...]
    raw: Mapping[str, Any]
    probe_shape: Literal["documented", "list_of_pays"] | None = None


# Parsers: each takes a raw value and returns (value, problem text or None).
_Parsed = tuple[Any, str | None]


_NULL_TEXTS: Final = frozenset({"", "null", "NULL"})


def _as_text(value: Any) -> str | None:
    """Strings stripped; numbers as text; empty, whitespace and the string "null" as None."""
    if value is None or isinstance(value, bool):
        return None if value is None else ("true" if value else "false")
    if isinstance(value, int | float | Decimal):
        try:
            return str(value)
        except ValueError:  # an int past Python's 4300-digit conversion limit
            raise TypeError("a number too long to read") from None
    if isinstance(value, str):
        text = value.strip()
        return None if text in _NULL_TEXTS else text
    raise TypeError(type(value).__name__)


def _parse_str(value: Any) -> _Parsed:
    try:
        return _as_text(value), None
    except TypeError as exc:
        return None, f"expected text, got {exc}"


def parse_money(value: Any) -> _Parsed:
    """Amount as ``Decimal`` with two places: ``"200.0"``, ``"1"``, ``150.5``, ``" 12.30 "``.

    Returns ``(Decimal | None, problem | None)``: ``"null"`` and empty are ``None`` without a
    problem; more than two decimals are rounded half-up *with* a problem.
    """
    number, problem = _parse_decimal(value)
    if number is None:
        return None, problem
    # adjusted() is the exponent: it never overflows, where abs() or quantize() might.
    if number.adjusted() >= 13:
        return None, f"{_text_of(number)} does not fit NUMBER(15,2)"
    rounded = number.quantize(_CENT, rounding=ROUND_HALF_UP)
    if abs(rounded) >= _MONEY_LIMIT:
        return None, f"{rounded} does not fit NUMBER(15,2)"
    if rounded != number:
        return rounded, f"{number} has more than two decimals, rounded to {rounded}"
    return rounded, None


def _text_of(number: Decimal) -> str:
    """A short text for a number that may be huge, for problem messages."""
    text = str(number)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _parse_decimal(value: Any) -> _Parsed:
    try:
        text = _as_text(value)
    except TypeError as exc:
        return None, f"expected a number, got {exc}"
    if text is None:
        return None, None
    if value is True or value is False:
        return None, f"expected a number, got {text}"
    try:
        if "_" in text:  # Decimal("1_0") is 10; no terminal writes numbers that way
            raise InvalidOperation
        number = Decimal(text)
    except InvalidOperation:
        return None, f"{text[:40]!r} is not a number"
    if not number.is_finite():
        return None, f"{text[:40]!r} is not a finite number"
    return number, None


def _parse_bool(value: Any) -> _Parsed:
    if isinstance(value, bool) or value is None:
        return value, None
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value), None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "1.0", "si", "sí", "yes"):
            return True, None
        if text in ("false", "0", "0.0", "no"):
            return False, None
        if text in ("", "null"):
            return None, None
    return None, f"{_short(value)} is not a boolean"


def _short(value: Any) -> str:
    try:
        return repr(str(value)[:40])
    except ValueError:
        return type(value).__name__


def _parse_object(value: Any) -> _Parsed:
    if value is None:
        return {}, None
    if isinstance(value, dict):
        return value, None
    if isinstance(value, str):
        if not value.strip():
            return {}, None
        try:
            decoded = msgspec.json.decode(value)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeError):
            decoded = None
        if isinstance(decoded, dict):
            return decoded, "object sent as a JSON string"
    return None, f"expected an object, got {type(value).__name__}"


_TRANS_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.\s](.*))?$"
)
_GMT_OFFSET = re.compile(r"^(?:GMT|UTC)?([+-])(\d{1,2}):?(\d{2})?$")
_ZONE_ABBREVIATIONS: Final = {
    "CST": timezone(timedelta(hours=-6)),
    "CDT": timezone(timedelta(hours=-5)),
    "GMT": UTC,
    "UTC": UTC,
    "Z": UTC,
}


def parse_trans_date(value: Any) -> _Parsed:
    """``transDate`` as an aware datetime.

    Real terminals send ``2024-03-05 13:14:48.CST``, ``.CDT``, ``.GMT-06:00`` or ``.0`` (a
    fraction, no zone); the zone after a space (``13:14:48 CST``) is read too. No zone means
    America/Mexico_City, where the terminals are.
    """
    text, problem = _parse_str(value)
    if text is None:
        return None, problem
    match = _TRANS_DATE.match(text)
    if match is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None, f"{text[:40]!r} is not a date"
        tz = parsed.tzinfo or MEXICO_CITY
        return parsed.replace(tzinfo=tz), None
    year, month, day, hour, minute, second, suffix = match.groups()
    zone: Any = MEXICO_CITY
    micro = 0
    note = None
    if suffix:
        suffix = suffix.strip()
        if suffix.isascii() and suffix.isdigit():
            micro = int((suffix + "000000")[:6])
        elif suffix.upper() in _ZONE_ABBREVIATIONS:
            zone = _ZONE_ABBREVIATIONS[suffix.upper()]
        elif offset := _GMT_OFFSET.match(suffix.upper()):
            sign, hours, minutes = offset.groups()
            delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
            if delta >= timedelta(hours=24):
                return None, f"{text[:40]!r} has an impossible zone offset"
            zone = timezone(-delta if sign == "-" else delta)
        else:
            note = f"unknown zone {suffix[:20]!r}, read as America/Mexico_City"
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro,
            tzinfo=zone,
        )  # fmt: skip
    except ValueError as exc:
        return None, f"{text[:40]!r} is not a date: {exc}"
    return parsed, note


_MONTHS: Final = {
    "ENE": 1, "JAN": 1, "FEB": 2, "MAR": 3, "ABR": 4, "APR": 4, "MAY": 5, "JUN": 6,
    "JUL": 7, "AGO": 8, "AUG": 8, "SEP": 9, "SEPT": 9, "SET": 9, "OCT": 10, "NOV": 11,
    "DIC": 12, "DEC": 12,
}  # fmt: skip
_TICKET_DATE = re.compile(
    r"^([A-Za-z]{3,4})\.?\s*(\d{1,2}),?\s*(\d{2}|\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?$"
)


def parse_ticket_date(value: Any) -> _Parsed:
    """``ticketDate`` like ``"MAR. 05, 24 12:14:45 "`` (Spanish month, two-digit year, CDMX)."""
    text, problem = _parse_str(value)
    if text is None:
        return None, problem
    match = _TICKET_DATE.match(text)
    if match is None:
        return None, f"{text[:40]!r} is not a ticket date"
    month_name, day, year, hour, minute, second = match.groups()
    month = _MONTHS.get(month_name.upper())
    if month is None:
        return None, f"unknown month {month_name!r}"
    full_year = int(year) + (2000 if len(year) == 2 else 0)
    try:
        parsed = datetime(
            full_year, month, int(day), int(hour), int(minute), int(second or 0),
            tzinfo=MEXICO_CITY,
        )  # fmt: skip
    except ValueError as exc:
        return None, f"{text[:40]!r} is not a date: {exc}"
    return parsed, None


# wire name -> (attribute, parser, maximum length in bytes from the data-model table of
# seeds/002, or None where the table gives a number or no length)
_Field = tuple[str, Callable[[Any], _Parsed], int | None]
_FIELDS: Final[dict[str, _Field]] = {
    "affiliation": ("affiliation", _parse_str, 50),
    "aid": ("aid", _parse_str, 50),
    "amount": ("amount", parse_money, None),
    "applicationLabel": ("application_label", _parse_str, 100),
    "arqc": ("arqc", _parse_str, 250),
    "authCode": ("auth_code", _parse_str, 7),
    "bankName": ("bank_name", _parse_str, 250),
    "cardExpDate": ("card_exp_date", _parse_str, 5),
    "cardNumber": ("card_last4", _parse_str, 50),
    "cardType": ("card_type", _parse_str, 20),
    "cardTypeName": ("card_type_name", _parse_str, 250),
    "cityName": ("city_name", _parse_str, 150),
    "customerName": ("customer_name", _parse_str, 100),
    "folioNumber": ("folio_number", _parse_str, 250),
    "hasPin": ("has_pin", _parse_bool, None),
    "hexSign": ("hex_sign", _parse_str, 4000),
    "internalNumber": ("internal_number", _parse_str, None),
    "isQps": ("is_qps", _parse_decimal, None),
    "message": ("message", _parse_str, 200),
    "moduleCharge": ("module_charge", _parse_str, 20),
    "moduleLote": ("module_lote", _parse_str, 9),
    "orderId": ("order_id", _parse_str, 36),
    "preAuth": ("pre_auth", _parse_str, 9),
    "preStatus": ("pre_status", _parse_decimal, None),
    "promotion": ("promotion", _parse_str, 20),
    "rePrintDate": ("app_version", _parse_str, 100),
    "rePrintMark": ("reprint_mark", _parse_str, 100),
    # The table says VARCHAR2(1), but reversal states are "RV" and "PRV": allow those.
    "reprintModule": ("reprint_module", _parse_str, 3),
    "responseCode": ("response_code", _parse_str, 2),
    "storeName": ("store_name", _parse_str, 60),
    "streetName": ("street_name", _parse_str, 150),
    "tableId": ("table_id", _parse_str, None),
    "terminalId": ("terminal_id", _parse_str, 20),
    "ticketDate": ("ticket_date", parse_ticket_date, 100),
    "tipAmount": ("tip_amount", parse_money, None),
    "tipLessAmount": ("tip_less_amount", parse_money, None),
    "traceability": ("traceability", _parse_object, None),
    "transDate": ("trans_date", parse_trans_date, None),
    "transType": ("trans_type", _parse_str, 5),
    "transactionCertificate": ("transaction_certificate", _parse_str, 50),
    "bin": ("bin", _parse_str, None),
    "isRePrint": ("is_reprint", _parse_bool, None),
    "transactionId": ("transaction_id", _parse_str, None),
    "storeId": ("store_id", _parse_str, None),
}

#: The fields of NetPay's documented data model: seeds/001's JSON model (40 names; seeds/002's
#: table lists 38 of them).
DOCUMENTED_FIELDS: Final = frozenset(_FIELDS) - {"bin", "isRePrint", "transactionId", "storeId"}

_PROBE_DOCUMENTED: Final = frozenset(
    {"folioNumber", "hasPin", "internalNumber", "isQps", "preStatus", "tableId"}
)
_PROBE_LIST_OF_PAYS: Final = frozenset({"listOfPays", "tipTotalAmount", "totalAmount"})
_RESULT_MARKERS: Final = ("responseCode", "orderId", "transType", "amount", "message")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "null"))


def classify(body: Mapping[str, Any]) -> tuple[Kind, Literal["documented", "list_of_pays"] | None]:
    """Probe, reprint, cancellation or sale, in that order of checks.

    ``isRePrint`` is checked before ``transType`` because a reprint of a cancellation also
    carries ``transType "V"``. A body with no result marker is a configuration probe when it
    has a probe's keys (both shapes), otherwise unknown.
    """
    if all(_blank(body.get(key)) for key in _RESULT_MARKERS):
        keys = set(body)
        if keys & _PROBE_LIST_OF_PAYS:
            return Kind.PROBE, "list_of_pays"
        if keys and keys <= _PROBE_DOCUMENTED | {"traceability", "bin", "isRePrint"}:
            return Kind.PROBE, "documented"
        return Kind.UNKNOWN, None
    if _parse_bool(body.get("isRePrint"))[0] is True:
        return Kind.REPRINT, None
    trans_type = body.get("transType")
    if isinstance(trans_type, str) and trans_type.strip().upper() == "V":
        return Kind.CANCELLATION, None
    return Kind.SALE, None


_REPRINT_STATUS: Final = {
    ReprintState.APPROVED: Status.APPROVED,
    ReprintState.CANCELLED: Status.CANCELLED,
    ReprintState.REVERSED: Status.REVERSED,
    ReprintState.PENDING_REVERSAL: Status.PENDING_REVERSAL,
    ReprintState.DECLINED: Status.DECLINED,
}


def _status(kind: Kind, result: TerminalResult) -> Status:
    if kind in (Kind.PROBE, Kind.UNKNOWN):
        return Status.NONE
    module = (result.reprint_module or "").upper()
    state = REPRINT_MODULES.get(module)
    # On a reprint, responseCode is the original sale's: reprintModule tells the state now.
    # On any result, a reversal state outranks the code, since the money did not move.
    if state is not None and (
        kind is Kind.REPRINT or state in (ReprintState.REVERSED, ReprintState.PENDING_REVERSAL)
    ):
        return _REPRINT_STATUS[state]
    code = result.response_code
    if code == "00":
        return Status.APPROVED
    if code == "02":
        return Status.USER_CANCELLED
    return Status.DECLINED


def normalise(body: Mapping[str, Any]) -> Normalised:
    """Turn any JSON object a terminal posted into a typed result plus a list of problems.

    Never raises on a mapping. Unknown fields go to ``result.extra``; ``raw`` is ``body``.
    """
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in body.items():
        spec = _FIELDS.get(name) if isinstance(name, str) else None
        if spec is None:
            extra[str(name)] = value
            continue
        attribute, parse, limit = spec
        if parse is _parse_str and type(value) is str:
            # Most fields are text sent as text: the same as _parse_str, without its calls
            # (processing normalises every result; this halves the time it takes).
            text = value.strip()
            if text not in _NULL_TEXTS:
                values[attribute] = text
        else:
            parsed, problem = parse(value)
            if problem is not None:
                problems.append(
                    Problem(name, "coerced" if parsed is not None else "unreadable", problem)
                )
            if parsed is not None:
                values[attribute] = parsed
        # ASCII no longer than the limit is within it, in bytes too; anything else is measured.
        if (
            limit is not None
            and isinstance(value, str)
            and (len(value) > limit or not value.isascii())
            and not value.startswith("enc:v1:")
        ):
            size = len(value.encode("utf-8", "surrogatepass"))
            if size > limit:
                problems.append(Problem(name, "too_long", f"{size} bytes, the limit is {limit}"))
    result = TerminalResult(**values, extra=extra)
    kind, probe_shape = classify(body)
    if kind is Kind.UNKNOWN:
        problems.append(
            Problem("", "not_a_result", "no responseCode, orderId, transType or amount")
        )
    for name, amount in (("amount", result.amount), ("tipAmount", result.tip_amount)):
        # Kept as sent, but said: a terminal reports what it charged, never less than nothing,
        # and an approved sale with it would lower the day's totals unseen.
        if amount is not None and amount < 0:
            problems.append(Problem(name, "negative", f"{amount} is less than zero"))
    status = _status(kind, result)
    approved = result.response_code == "00" and status is Status.APPROVED
    return Normalised(kind, status, approved, result, tuple(problems), body, probe_shape)


_BOM: Final = b"\xef\xbb\xbf"


def decode_object(raw: bytes | str) -> dict[str, Any]:
    """Decode a body that must be a JSON object, or raise :class:`PayloadError` saying why.

    Accepts a UTF-8 byte-order mark and, failing UTF-8, Latin-1 (older terminals).
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    data = data.removeprefix(_BOM)
    if not data.strip():
        raise PayloadError("empty", "the body is empty; a JSON object was expected")
    try:
        obj = _decode_json(data)
    except (UnicodeDecodeError, PayloadError):
        # msgspec before 0.23 raised UnicodeDecodeError on bytes that are not UTF-8, later
        # versions a DecodeError: either way, bytes that are not UTF-8 are read as Latin-1.
        if _is_utf8(data):
            raise
        obj = _decode_json(data.decode("latin-1").encode())
    if not isinstance(obj, dict):
        raise PayloadError(
            "not_object", f"the body is JSON {type(obj).__name__}, a JSON object was expected"
        )
    return obj


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode_json(data: bytes) -> Any:
    try:
        return msgspec.json.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise PayloadError("not_json", f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise PayloadError("too_deep", "the body is nested too deeply to read") from exc


def parse_result(raw: bytes | str) -> Normalised:
    """Decode and normalise a terminal's body; raises :class:`PayloadError` if not an object."""
    return normalise(decode_object(raw))
