"""Everything the sync and async clients share, without I/O: settings, rules, push bodies,
answer parsing, and turning a receiver's push record into an :class:`Outcome`."""

from __future__ import annotations

import json
import os
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final

import httpx
import msgspec

from ..codes import STATE_TEXTS, ReprintState, describe_result
from ..errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    PayloadError,
    RuleError,
    TerminalNotFoundError,
    TransportError,
)
from ..wire import (
    MEXICO_CITY,
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

__all__ = [
    "ENVIRONMENTS",
    "Card",
    "ClientSettings",
    "Outcome",
    "OutcomeStatus",
]

ENVIRONMENTS: Final = {
    "sandbox": "http://nubeqa.netpay.com.mx:3334",
    "production": "https://suite.netpay.com.mx/gateway",
    "api-154": "https://api-154.api-netpay.com",
}
#: base64("trusted-app:secret"), the Basic credential NetPay's documentation publishes.
DOCUMENTED_AUTH_STRING: Final = "dHJ1c3RlZC1hcHA6c2VjcmV0"
TOKEN_PATH: Final = "/oauth-service/oauth/token"  # noqa: S105 - a URL path
PUSH_PATH: Final = "/integration-service/transactions/"
MSI_MONTHS: Final = frozenset({3, 6, 9, 12, 18})
CANCEL_CUTOFF_HOUR: Final = 20
#: The terminal gives up on a card after about a minute; we wait a little longer.
TERMINAL_TIMEOUT: Final = 60.0
DEFAULT_WAIT: Final = TERMINAL_TIMEOUT + 30.0
RECOVERY_WAIT: Final = 30.0
#: Sale results that leave the money in doubt, so that the terminal is asked what became of
#: the sale (a reprint by folio, no ticket) before the cashier is told: a terminal shows
#: "05 Error de conexión" when the bank approved but its answer never reached it, and NetPay
#: then reverses the charge, or has yet to (NETPAY-FACTS §4.6, "Manejo de reversos").
VERIFY_CODES: Final = frozenset({"05"})
#: While the receiver cannot tell (503: its database is down and results wait in its spool; or
#: it cannot be reached for a moment), or a long-poll comes back early (a receiver shutting
#: down ends them at once), how long to pause before asking again.
UNAVAILABLE_PAUSE: Final = 1.0
#: The longest single long-poll: proxies cut requests that stay idle for long.
LONGEST_POLL: Final = 25.0


@dataclass(frozen=True)
class ClientSettings:
    """Validated settings of a client; built by :meth:`from_options`."""

    base_url: str
    username: str
    password: str = field(repr=False)
    auth_string: str = field(repr=False)
    receiver_url: str | None = None
    api_token: str | None = field(default=None, repr=False)
    smart_accounts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    refresh_grant: bool = False
    timeout: float = 30.0

    @classmethod
    def from_options(
        cls,
        *,
        base_url: str | None,
        environment: str | None,
        username: str | None,
        password: str | None,
        auth_string: str | None,
        receiver_url: str | None,
        api_token: str | None,
        smart_accounts: Mapping[str, Any] | None,
        refresh_grant: bool,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> ClientSettings:
        """Arguments first, then ``NETPAY_*`` variables; missing essentials raise with a hint."""
        env = os.environ if env is None else env
        environment = environment or env.get("NETPAY_ENVIRONMENT")
        if base_url is None and environment:
            base_url = ENVIRONMENTS.get(environment.lower(), environment)
        if not base_url:
            raise ConfigurationError(
                "no gateway base URL",
                hint="pass base_url= or environment='sandbox' | 'production' | a URL, "
                "or set NETPAY_ENVIRONMENT",
            )
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"unknown environment {base_url!r}",
                hint=f"one of {', '.join(ENVIRONMENTS)} or an http(s) URL",
            )
        username = username or env.get("NETPAY_USERNAME")
        password = password or env.get("NETPAY_PASSWORD")
        if not username or not password:
            raise ConfigurationError(
                "NetPay username and password are required",
                hint="pass username= and password= or set NETPAY_USERNAME and NETPAY_PASSWORD",
            )
        groups = {
            str(serial): frozenset(str(s) for s in stores)
            for serial, stores in (smart_accounts or {}).items()
        }
        return cls(
            base_url=base_url.rstrip("/"),
            username=username,
            password=password,
            auth_string=auth_string or env.get("NETPAY_AUTH_STRING") or DOCUMENTED_AUTH_STRING,
            receiver_url=(receiver_url or env.get("NETPAY_RECEIVER_URL") or "").rstrip("/") or None,
            api_token=api_token or env.get("NETPAY_API_TOKEN"),
            smart_accounts=groups,
            refresh_grant=refresh_grant,
            timeout=timeout,
        )

    def require_receiver(self) -> tuple[str, str]:
        if not self.receiver_url or not self.api_token:
            raise ConfigurationError(
                "waiting for a result needs the receiver",
                hint="pass receiver_url= and api_token= (or NETPAY_RECEIVER_URL and "
                "NETPAY_API_TOKEN): the terminal posts its result there",
            )
        return self.receiver_url, self.api_token


# -- rules ------------------------------------------------------------------------------------


def check_amount(amount: Any) -> Decimal:
    """Amounts are Decimal (or a string/int), > 0, with at most two decimals."""
    if isinstance(amount, float):
        raise RuleError(f"amount {amount!r} is a float; pass Decimal('{amount}') or a string")
    try:
        value = Decimal(str(amount).strip()) if not isinstance(amount, Decimal) else amount
    except InvalidOperation as exc:
        raise RuleError(f"amount {amount!r} is not a number") from exc
    if not value.is_finite() or value <= 0:
        raise RuleError(f"amount must be greater than 0, got {amount}")
    if value.adjusted() >= 13:  # NUMBER(15,2): also keeps quantize() from overflowing
        raise RuleError(f"amount {amount} is too large")
    if value != value.quantize(Decimal("0.01")):
        raise RuleError(f"amount {amount} has more than two decimals")
    return value.quantize(Decimal("0.01"))


def check_msi(msi: int | None) -> int | None:
    if msi is None:
        return None
    if isinstance(msi, bool) or not isinstance(msi, int):
        raise RuleError(
            f"msi must be an int, one of 3, 6, 9, 12, 18 (months without interest), "
            f"got {type(msi).__name__} {msi!r}"
        )
    if msi not in MSI_MONTHS:
        raise RuleError(f"msi must be one of 3, 6, 9, 12, 18 (months without interest), got {msi}")
    return msi


def order_date(order_id: str) -> datetime | None:
    """The moment a NetPay orderId (``yyMMddHHmmss-serial``) was created, in CDMX time."""
    stamp = order_id.split("-", 1)[0]
    if len(stamp) != 12 or not stamp.isdigit():
        return None
    try:
        return datetime.strptime(stamp, "%y%m%d%H%M%S").replace(tzinfo=MEXICO_CITY)
    except ValueError:
        return None


def check_cancel(order_id: str, now: datetime) -> None:
    """NetPay cancels only the same day, before 20:00 America/Mexico_City, in full."""
    if order_id is not None and not isinstance(order_id, str):
        raise RuleError(
            f"order_id must be a string (the sale's orderId), got {type(order_id).__name__}"
        )
    if not order_id or not order_id.strip():
        raise RuleError("order_id is required to cancel")
    local = now.astimezone(MEXICO_CITY)
    if local.hour >= CANCEL_CUTOFF_HOUR:
        raise RuleError(
            "cancellations close at 20:00 Mexico City time; after that the sale needs a refund "
            "(NetPay API Devoluciones, with the sale's transactionId)"
        )
    made = order_date(order_id)
    if made is not None and made.date() != local.date():
        raise RuleError(
            f"order {order_id} is from {made.date()}; only same-day sales can be cancelled, "
            "older ones need a refund (NetPay API Devoluciones)"
        )


def check_store(settings: ClientSettings, serial: str, store_id: str, smart: bool) -> None:
    group = settings.smart_accounts.get(serial)
    if smart and group is not None and store_id not in group:
        raise RuleError(
            f"store {store_id} is not in terminal {serial}'s Smart Accounts group "
            f"({', '.join(sorted(group))}); the terminal would reject the switch"
        )


def new_folio(now: datetime) -> str:
    """A unique folio (NetPay needs one per attempt, at most 250 characters)."""
    # The dash keeps the digit runs short: 13+ digits could pass the Luhn check and be masked
    # as a card number by the receiver.
    return f"NPS{now.astimezone(MEXICO_CITY):%y%m%d%H%M%S}-{secrets.token_hex(4).upper()}"


def new_push_id() -> str:
    return uuid.uuid4().hex


def traceability_with(push_id: str, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The caller's ``traceability`` plus our push id; it travels as JSON, so only JSON values."""
    if extra is not None and not isinstance(extra, Mapping):
        raise RuleError(f"traceability must be a dict of JSON values, got {type(extra).__name__}")
    trace = dict(extra or {})
    try:
        json.dumps(trace, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RuleError(
            "traceability must hold only JSON values (str, int, float, bool, None, lists and "
            f"dicts): {exc}"
        ) from exc
    trace[TRACE_KEY] = push_id
    return trace


# -- pushes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushPlan:
    """A push about to be sent: where, what, and how to recognise its result."""

    kind: str  # sale | reprint | cancel
    path: str
    body: bytes
    push_id: str
    serial_number: str
    store_id: str
    folio_number: str | None = None
    order_id: str | None = None
    amount: Decimal | None = None
    traceability: dict[str, Any] = field(default_factory=dict)
    smart_accounts: bool = False  # sent with isSmartAccounts: the store chosen, not the default

    def registration(self, ttl: float, *, exclusive: bool = True) -> dict[str, Any]:
        """Body of ``POST /api/pushes`` on the receiver."""
        body: dict[str, Any] = {
            "id": self.push_id,
            "kind": self.kind,
            "terminal_id": self.serial_number,
            "store_id": self.store_id,
            "traceability": self.traceability,
            "ttl_seconds": max(1.0, min(ttl, 3600.0)),
            "exclusive": exclusive,
        }
        if self.amount is not None:
            body["amount"] = f"{self.amount:.2f}"
        if self.folio_number is not None:
            body["folio_number"] = self.folio_number
        if self.order_id:
            body["order_id"] = self.order_id
        return body


def push_request(settings: ClientSettings, plan: PushPlan) -> httpx.Request:
    """The HTTP request that sends ``plan`` to the gateway (the token is added by the auth)."""
    return httpx.Request(
        "POST",
        settings.base_url + plan.path,
        content=plan.body,
        headers={"Content-Type": "application/json"},
    )


def plan_sale(
    settings: ClientSettings,
    *,
    serial_number: str,
    store_id: str,
    amount: Any,
    folio_number: str | None,
    traceability: Mapping[str, Any] | None,
    msi: int | None,
    print_ticket: bool,
    smart_accounts: bool,
    now: datetime,
) -> PushPlan:
    value = check_amount(amount)
    months = check_msi(msi)
    serial, store = _ids(serial_number, store_id)
    check_store(settings, serial, store, smart_accounts)
    folio = _text("folio_number", folio_number, strip=False) or new_folio(now)
    if len(folio) > 250:
        raise RuleError("folio_number is longer than 250 characters")
    push_id = new_push_id()
    trace = traceability_with(push_id, traceability)
    request = SaleRequest(
        traceability=trace,
        amount=value,
        serial_number=serial,
        store_id=store,
        folio_number=folio,
        msi=months,
        disable_print_animation=None if print_ticket else True,
        is_smart_accounts="true" if smart_accounts else None,
    )
    return PushPlan(
        "sale", PUSH_PATH + "sale", encode_push(request), push_id, serial, store,
        folio_number=folio, amount=value, traceability=trace, smart_accounts=smart_accounts,
    )  # fmt: skip


def plan_recovery(settings: ClientSettings, sale: PushPlan) -> PushPlan:
    """The reprint by folio that asks the terminal what became of ``sale``, no ticket. With the
    sale's store and Smart Accounts flag: without the flag a reprint looks in the terminal's
    default store, and a sale made for another store of the group is not found there."""
    return plan_reprint(
        settings,
        serial_number=sale.serial_number,
        store_id=sale.store_id,
        order_id=None,
        folio_number=sale.folio_number,
        traceability=None,
        print_ticket=False,
        smart_accounts=sale.smart_accounts,
    )


def plan_reprint(
    settings: ClientSettings,
    *,
    serial_number: str,
    store_id: str,
    order_id: str | None,
    folio_number: str | None,
    traceability: Mapping[str, Any] | None,
    print_ticket: bool,
    smart_accounts: bool,
) -> PushPlan:
    order_id = _text("order_id", order_id)
    folio_number = _text("folio_number", folio_number, strip=False)
    if bool(order_id) == bool(folio_number):
        raise RuleError("reprint needs exactly one of order_id or folio_number")
    serial, store = _ids(serial_number, store_id)
    check_store(settings, serial, store, smart_accounts)
    push_id = new_push_id()
    trace = traceability_with(push_id, traceability)
    request = ReprintRequest(
        traceability=trace,
        order_id=order_id or "",  # by folio, NetPay wants the empty orderId present
        serial_number=serial,
        store_id=store,
        folio_id=folio_number,
        disable_print_animation=None if print_ticket else True,
        is_smart_accounts="true" if smart_accounts else None,
    )
    return PushPlan(
        "reprint", PUSH_PATH + "reprint", encode_push(request), push_id, serial, store,
        folio_number=folio_number, order_id=order_id, traceability=trace,
    )  # fmt: skip


def plan_cancel(
    settings: ClientSettings,
    *,
    serial_number: str,
    store_id: str,
    order_id: str,
    traceability: Mapping[str, Any] | None,
    print_ticket: bool,
    smart_accounts: bool,
    now: datetime,
) -> PushPlan:
    check_cancel(order_id, now)
    order_id = order_id.strip()
    serial, store = _ids(serial_number, store_id)
    check_store(settings, serial, store, smart_accounts)
    push_id = new_push_id()
    trace = traceability_with(push_id, traceability)
    request = CancelRequest(
        traceability=trace,
        order_id=order_id,
        serial_number=serial,
        store_id=store,
        disable_print_animation=None if print_ticket else True,
        is_smart_accounts="true" if smart_accounts else None,
    )
    return PushPlan(
        "cancel", PUSH_PATH + "cancel", encode_push(request), push_id, serial, store,
        order_id=order_id, traceability=trace,
    )  # fmt: skip


def _ids(serial_number: str, store_id: str) -> tuple[str, str]:
    serial = _string("serial_number", serial_number, " like '0821000119'").strip()
    if not serial:
        raise RuleError("serial_number is required (the 10 digits on the back of the terminal)")
    store = _string("store_id", store_id, " like '455311'").strip()
    if not store:
        raise RuleError("store_id is required")
    return serial, store


def _string(name: str, value: Any, hint: str = "") -> str:
    """``value`` if it is a string, ``""`` for ``None``; any other type is refused, since
    ``str()`` would send ``None`` as "None" and a serial number as an int loses its zeros."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RuleError(f"{name} must be a string{hint}, got {type(value).__name__} {value!r}")
    return value


def _text(name: str, value: Any, *, strip: bool = True) -> str | None:
    """An optional identifier: ``None`` when absent (``None`` or ``""``); only blanks are
    refused, since NetPay would get them as they are."""
    text = _string(name, value)
    if not text:
        return None
    if not text.strip():
        raise RuleError(f"{name} is blank: pass the value or leave it out")
    return text.strip() if strip else text


# -- answers ----------------------------------------------------------------------------------


_JWT_LIKE = re.compile(r"[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
_AFTER_COLON = re.compile(r"(token[^:]*:\s*)\S+", re.IGNORECASE)


def redact(text: str | None) -> str | None:
    """Gateway messages may quote the token ("Access token expired: eyJ..."): hide it."""
    if text is None:
        return None
    return _AFTER_COLON.sub(r"\1<token>", _JWT_LIKE.sub("<token>", text))


def transport_error(exc: httpx.HTTPError) -> TransportError:
    """Only a request that never left is safe to send again: after a read timeout or a cut
    connection the terminal may already have the push. A token request that failed either
    way is safe too: the push behind it was never sent."""
    retryable = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) or _for_token(exc)
    if isinstance(exc, httpx.TimeoutException):
        return TransportError(f"NetPay did not answer in time: {exc}", retryable=retryable)
    return TransportError(f"cannot reach NetPay: {exc}", retryable=retryable)


def _for_token(exc: httpx.HTTPError) -> bool:
    try:
        return exc.request.url.path.endswith(TOKEN_PATH)
    except RuntimeError:  # raised without its request: assume the worst, it was the push
        return False


def push_failed(exc: Exception) -> bool:
    """Whether a push that raised ``exc`` certainly never reached the terminal (so the
    receiver may free the terminal). After a timeout or a cut connection it may have: the push
    stays open, its own result completes it, and the terminal stays locked until then (or
    its expiry) so the next push's result cannot be mistaken for it."""
    return not isinstance(exc, TransportError) or exc.retryable


def push_transport_error(plan: PushPlan, exc: TransportError) -> TransportError:
    """``exc`` naming the push, and when it may have reached the terminal, how to find out."""
    message = str(exc)
    if not exc.retryable:
        named = f"push {plan.push_id}" + (
            f", folio {plan.folio_number}" if plan.folio_number else ""
        )
        advice = (
            f"a reprint by folio {plan.folio_number} tells its outcome"
            if plan.folio_number and plan.kind == "sale"
            else "its result may still arrive at the receiver"
        )
        message = f"{message}; {named} may have reached the terminal: {advice}"
    return TransportError(
        message, retryable=exc.retryable, push_id=plan.push_id, folio_number=plan.folio_number
    )


def _answer(response: httpx.Response) -> Any:
    try:
        return parse_gateway_answer(response.content)
    except PayloadError as exc:
        if response.status_code >= 500:
            raise TransportError(
                f"the gateway answered HTTP {response.status_code}", retryable=True
            ) from exc
        raise APIError(
            f"unexpected answer from the gateway (HTTP {response.status_code}): {exc}",
            status=response.status_code,
            body=response.text[:500],
        ) from exc


def parse_token(response: httpx.Response) -> Token:
    """The token endpoint's answer, or the error NetPay meant."""
    answer = _answer(response)
    if isinstance(answer, Token):
        return answer
    status = response.status_code
    if isinstance(answer, SpringError) and answer.status == 401:
        raise AuthenticationError(
            "the gateway rejected the Basic credential (NETPAY_AUTH_STRING)",
            status=status,
            code=answer.error,
            description=answer.message,
            body=msgspec.to_builtins(answer),
        )
    if isinstance(answer, OAuthError):
        message = {
            "invalid_grant": "wrong NetPay username or password",
            "invalid_token": "the refresh token is no longer valid",
        }.get(answer.error, f"token request refused: {answer.error}")
        raise AuthenticationError(
            message,
            status=status,
            code=answer.error,
            description=answer.error_description,
            body=msgspec.to_builtins(answer),
        )
    raise APIError(f"unexpected token answer (HTTP {status})", status=status, body=answer)


def is_invalid_token(response: httpx.Response) -> bool:
    """A push answered with ``invalid_token`` (expired or revoked access token): said in the
    body, under whatever status (the gateway's OAuth errors come under varying ones, and a
    public integration retries on the body as well as on 401), or a 401 with no other word."""
    unauthorised = response.status_code == 401
    if not unauthorised and b"invalid_token" not in response.content:
        return False
    try:
        answer = parse_gateway_answer(response.content)
    except PayloadError:
        return unauthorised
    if not isinstance(answer, OAuthError):
        return False
    return answer.error == "invalid_token" or (unauthorised and answer.error == "unauthorized")


def parse_push(response: httpx.Response) -> PushAnswer:
    """A push answer: ``00`` returns, everything else raises the matching error."""
    answer = _answer(response)
    status = response.status_code
    if isinstance(answer, PushAnswer):
        if answer.code == "00":
            return answer
        if answer.code == "19":
            raise TerminalNotFoundError(
                "NetPay does not know this terminal (code 19): check the serial number",
                status=status,
                code="19",
                description=answer.message,
                body=msgspec.to_builtins(answer),
            )
        raise APIError(
            f"push refused: {answer.code} {answer.message or ''}".strip(),
            status=status,
            code=answer.code,
            description=answer.message,
            body=msgspec.to_builtins(answer),
        )
    if isinstance(answer, OAuthError):
        description = redact(answer.error_description)
        raise AuthenticationError(
            f"the gateway refused the token: {description or answer.error}",
            status=status,
            code=answer.error,
            description=description,
            body={"error": answer.error, "error_description": description},
        )
    if isinstance(answer, SpringError):
        cls = AuthenticationError if answer.status == 401 else APIError
        raise cls(
            f"push refused (HTTP {answer.status}): {answer.message or answer.error}",
            status=status,
            code=str(answer.status),
            description=answer.message,
            body=msgspec.to_builtins(answer),
        )
    raise APIError(f"unexpected push answer (HTTP {status})", status=status, body=answer)


# -- outcomes ---------------------------------------------------------------------------------


class OutcomeStatus(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED_BY_USER = "cancelled_by_user"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    REVERSED = "reversed"
    PENDING_REVERSAL = "pending_reversal"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Card:
    brand: str | None
    type: str | None  # C credit, D debit
    last4: str | None


@dataclass(frozen=True)
class Outcome:
    """What happened at the terminal. A decline is an outcome, not an exception.

    >>> outcome.approved, outcome.code, outcome.message   # doctest: +SKIP
    (False, '51', 'Rechazada: fondos insuficientes')
    """

    status: OutcomeStatus
    approved: bool
    push_id: str
    kind: str
    order_id: str | None = None
    response_code: str | None = None
    message: str | None = None
    message_en: str | None = None
    terminal_message: str | None = None
    amount: Decimal | None = None
    card: Card | None = None
    folio_number: str | None = None
    recovered: bool = False
    transaction: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None

    @property
    def code(self) -> str | None:
        return self.response_code


_STATUS: Final = {
    "approved": OutcomeStatus.APPROVED,
    "declined": OutcomeStatus.DECLINED,
    "cancelled": OutcomeStatus.CANCELLED,
    "reversed": OutcomeStatus.REVERSED,
    "pending_reversal": OutcomeStatus.PENDING_REVERSAL,
}


def _moment(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def answered_after(push: Mapping[str, Any]) -> float | None:
    """Seconds from the push's registration to its result's arrival, both by the receiver's
    clock; ``None`` when the record does not tell."""
    created = _moment(push.get("created_at"))
    result = push.get("result") or {}
    transaction = result.get("transaction") or {}
    # A reprint's transaction is the older sale's: its received_at precedes the push.
    for text in (transaction.get("received_at"), push.get("completed_at")):
        arrived = _moment(text)
        if created is not None and arrived is not None and arrived >= created:
            return (arrived - created).total_seconds()
    return None


def outcome_from_push(
    push: Mapping[str, Any], *, elapsed: float, recovered: bool = False
) -> Outcome:
    """Turn the receiver's ``GET /api/pushes/{id}`` answer into an :class:`Outcome`.

    ``elapsed`` (seconds since the push) stands in for when the result arrived only if the
    record does not say (its ``created_at`` and the result's ``received_at``)."""
    result = push.get("result")
    if push.get("state") != "completed" or not result:
        return Outcome(
            OutcomeStatus.UNKNOWN,
            False,
            push["id"],
            push.get("kind", "sale"),
            folio_number=push.get("folio_number"),
            message="Resultado desconocido: verifique en la terminal antes de cobrar de nuevo",
            message_en="Unknown result: check the terminal before charging again",
        )
    body = result.get("body") or {}
    tx = result.get("transaction") or {}
    code = _result_code(result)
    status_text = result.get("status") or "declined"
    if status_text == "user_cancelled":
        arrived = answered_after(push)
        status = (
            OutcomeStatus.TIMED_OUT
            if (elapsed if arrived is None else arrived) >= TERMINAL_TIMEOUT - 5
            else OutcomeStatus.CANCELLED_BY_USER
        )
    else:
        status = _STATUS.get(status_text, OutcomeStatus.DECLINED)
    # On a reprint the code is the original sale's ("00"); the state is what holds now.
    info = describe_result(code, body.get("message"), status_text)
    if str(body.get("reprintModule") or "").strip().upper() == "D" and code in VERIFY_CODES:
        # The terminal, asked, says the sale was declined: no more doubt to tell the cashier of.
        info = STATE_TEXTS[ReprintState.DECLINED]
    amount = tx.get("amount") or body.get("amount")
    try:
        value = (
            None if amount in (None, "", "null") else Decimal(str(amount)).quantize(Decimal("0.01"))
        )
    except InvalidOperation:
        value = None
    card_info = tx.get("card") or {}
    card = (
        Card(card_info.get("brand"), card_info.get("type"), card_info.get("last4"))
        if any(card_info.values())
        else None
    )
    return Outcome(
        status=status,
        approved=status is OutcomeStatus.APPROVED and code == "00",
        push_id=push["id"],
        kind=push.get("kind", "sale"),
        order_id=tx.get("order_id") or body.get("orderId") or None,
        response_code=code,
        message=info.cashier_es,
        message_en=info.cashier_en,
        terminal_message=tx.get("message") or body.get("message"),  # as the code: the sale's
        amount=value,
        card=card,
        folio_number=push.get("folio_number") or body.get("folioNumber"),
        recovered=recovered,
        transaction=tx or None,
        raw=body or None,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def push_answer(push_id: str, status: int, read_json: Callable[[], Any]) -> dict[str, Any] | None:
    """The receiver's answer about a push: the push, ``None`` while it cannot tell (503)."""
    if status == 503:
        return None
    if status != 200:
        raise APIError(f"the receiver does not know push {push_id} (HTTP {status})", status=status)
    found: dict[str, Any] = read_json()
    return found


def _result_code(result: Mapping[str, Any]) -> Any:
    """A push result's response code: its transaction's first, the sale's own where the body
    is a reprint that checked it (after a 05 the terminal said "05", not the reprint's "00")."""
    transaction, body = result.get("transaction") or {}, result.get("body") or {}
    return transaction.get("response_code") or body.get("responseCode")


def needs_verifying(push: Mapping[str, Any]) -> bool:
    """Whether a sale's result leaves its money in doubt (:data:`VERIFY_CODES`)."""
    result = push.get("result") or {}
    return (
        is_completed(push)
        and result.get("status") == "declined"
        and str(_result_code(result) or "").strip() in VERIFY_CODES
    )


def verified(sale: Mapping[str, Any], check: Mapping[str, Any]) -> dict[str, Any]:
    """The sale's push with the result of the reprint by folio that checked it: the state the
    terminal reports now (reversed, pending reversal, approved after all, declined)."""
    return {**sale, "result": check["result"]}


def unknown_push(plan: PushPlan) -> dict[str, Any]:
    """What is known of a push the receiver never answered about: nothing, so far."""
    return {"id": plan.push_id, "kind": plan.kind, "folio_number": plan.folio_number,
            "state": "unknown"}  # fmt: skip


def is_completed(push: Mapping[str, Any] | None) -> bool:
    return push is not None and push.get("state") == "completed"


def poll_seconds(left: float) -> float:
    """How long the next long-poll may hold: what is left of the wait, at most a slice."""
    return min(max(left, 0.0), LONGEST_POLL)


def pause_after(asked: float, took: float, left: float) -> float:
    """The pause before the next poll. None after a long-poll that held as long as asked; after
    one that came back early (a receiver shutting down, 503, unreachable) a short one: the wait
    lasts until its deadline without spinning."""
    if left <= 0 or took >= asked:
        return 0.0
    return min(UNAVAILABLE_PAUSE, left)


def expiry(token: Token, now: datetime) -> datetime:
    """When to stop using a token: a minute (or 10 % of a short lifetime) before it expires."""
    margin = min(60.0, token.expires_in * 0.1)
    return now + timedelta(seconds=max(token.expires_in - margin, 0))
