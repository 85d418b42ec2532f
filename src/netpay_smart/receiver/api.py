"""The query API behind ``Authorization: Bearer $NETPAY_API_TOKEN``: transactions, deliveries,
reports, pushes (with long-poll) and the live event stream."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import math
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from time import monotonic
from typing import Any

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..errors import TerminalBusyError
from ..store import PushRequest, Store, TransactionFilter
from ..store.ingest import OUTCOMES
from ..store.notify import Hub
from ..wire import Kind, Status
from .ops import AuthFailures

__all__ = ["Api", "json_response", "read_body"]

_encoder = msgspec.json.Encoder(decimal_format="string")
SESSION_COOKIE = "nps_session"
SESSION_SECONDS = 12 * 3600
SESSION_RECHECK = 5.0  # seconds a session found valid is trusted before asking again
CSV_COLUMNS = (
    "transaction_at", "business_date", "kind", "status", "approved", "amount", "tip_amount",
    "order_id", "folio_number", "terminal_id", "store_id", "response_code", "message",
    "cancelled", "reprint_count", "delivery_count", "card_brand", "card_type", "card_last4",
    "auth_code", "transaction_id", "received_at",
)  # fmt: skip
_DONE_STATES = ("completed", "failed", "abandoned", "expired")


def _could_be_session(value: str) -> bool:
    """Whether a cookie is worth a look in the database (a session is 43 characters)."""
    return 20 <= len(value) <= 100


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(data), status, headers, media_type="application/json")


def problem(status: int, code: str, message: str, **extra: Any) -> Response:
    return json_response({"error": code, "message": message, **extra}, status)


def too_many(wait: float) -> Response:
    return json_response(
        {"error": "too_many_failures", "message": "too many failed attempts; try again later"},
        429,
        headers={"retry-after": str(int(wait + 0.999))},
    )


#: The query parameters of the two list routes (the others take ``date`` or ``wait`` alone).
TRANSACTION_PARAMS = (
    "store_id", "terminal_id", "date", "status", "folio", "kind", "order_id", "format", "limit",
    "cursor",
)  # fmt: skip
DELIVERY_PARAMS = ("outcome", "kind", "limit", "cursor")
#: The largest body the API reads (a push registration is a few hundred bytes).
API_BODY_MAX = 64 * 1024
#: Methods a dashboard session may use; anything that changes state takes the Bearer token, so
#: that another page on the same site cannot make a signed-in browser do it (CSRF).
_SESSION_METHODS = ("GET", "HEAD")


class BodyTooLargeError(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused past ``limit`` bytes however it is sent (chunked too),
    before more than that is held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> Response:
    return problem(413, "too_large", f"the body is over the {limit} byte limit")


class BadRequestError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


def _int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequestError(f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise BadRequestError(f"{name} must be between {low} and {high}")
    return value


def _date(raw: str | None, name: str = "date") -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequestError(f"{name} must be a date like 2024-03-05") from exc


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    """A filter that takes one of ``allowed``: a value outside them is a typo (``aproved``),
    refused rather than answered with an empty list that reads as "none today"."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    if raw not in allowed:
        raise BadRequestError(f"{name} must be one of: {', '.join(allowed)}")
    return raw


TX_STATUSES = tuple(str(s) for s in Status if s is not Status.NONE)
TX_KINDS = (str(Kind.SALE), str(Kind.CANCELLATION))
DELIVERY_KINDS = tuple(str(k) for k in Kind)

Handler = Callable[[Request], Awaitable[Response]]


class Api:
    """Route handlers; ``authorised`` wraps each so that no route answers without the token."""

    def __init__(
        self,
        store: Store,
        hub: Callable[[], Hub],
        *,
        api_token: str | None,
        clock: Callable[[], datetime],
        long_poll_max: float,
        failures: AuthFailures | None = None,
    ) -> None:
        self._store = store
        self._hub = hub
        self._token = api_token.encode() if api_token else None
        self._clock = clock
        self._long_poll_max = long_poll_max
        self.failures = failures or AuthFailures()
        # The event streams' batches, encoded once: (the batch, its bytes being made).
        self._batches: OrderedDict[int, tuple[list[Any], asyncio.Task[bytes]]] = OrderedDict()
        # Sessions seen valid: digest -> (expires at, when the database said so).
        self._sessions: OrderedDict[str, tuple[datetime, float]] = OrderedDict()

    def authorised(self, handler: Handler, *, params: tuple[str, ...] = ()) -> Handler:
        """``handler`` behind the token; a query parameter not in ``params`` is a 400 (a
        misspelt filter would otherwise return everything, unfiltered)."""
        allowed = frozenset(params)

        async def guarded(request: Request) -> Response:
            client = request.client.host if request.client else "-"
            # A signed-in dashboard is let through a lockout: its session is a random value,
            # nothing to guess, and others' wrong tokens from the same public address (a shop
            # behind one router) must not sign the merchant out.
            cookie = self._session_cookie(request)
            signed_in = cookie is not None and await self.session_valid(cookie)
            session = signed_in and request.method in _SESSION_METHODS
            wait = 0.0 if session else self.failures.retry_after(client)
            if wait:
                return too_many(wait)
            if not (session or self._bearer_ok(request)):
                if signed_in:
                    # A signed-in browser asked to change something: no guess, no failure
                    # counted (another page could make it ask, to lock the POS out).
                    return problem(
                        401,
                        "unauthorized",
                        "a dashboard session can only read; send Authorization: Bearer "
                        "<NETPAY_API_TOKEN>",
                    )
                # A request that offers no token guesses nothing (the dashboard asks whether it
                # is signed in on every visit): only a wrong one counts as a failure.
                if "authorization" in request.headers or SESSION_COOKIE in request.cookies:
                    self.failures.failed(client)
                return (
                    problem(
                        401,
                        "unauthorized",
                        "send Authorization: Bearer <NETPAY_API_TOKEN>",
                    )
                    if self._token
                    else problem(
                        401, "unauthorized", "the API is closed: set NETPAY_API_TOKEN to open it"
                    )
                )
            if any(
                "\x00" in value
                for value in (
                    *request.query_params.values(),
                    *map(str, request.path_params.values()),
                )
            ):
                return problem(400, "bad_request", "NUL characters are not accepted")
            unknown = sorted(set(request.query_params) - allowed)
            if unknown:
                return problem(
                    400,
                    "bad_request",
                    f"unknown parameter {', '.join(unknown)}; this route takes "
                    f"{', '.join(params) or 'none'}",
                )
            try:
                return await handler(request)
            except BadRequestError as exc:
                return problem(400, "bad_request", str(exc))

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    def _bearer_ok(self, request: Request) -> bool:
        if self._token is None:
            return False
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self._token
        )

    @staticmethod
    def _session_cookie(request: Request) -> str | None:
        """The session cookie, unless a Bearer token says who the caller is."""
        cookie = request.cookies.get(SESSION_COOKIE)
        scheme = request.headers.get("authorization", "").partition(" ")[0]
        return None if scheme.lower() == "bearer" else cookie

    # -- dashboard sessions: a random value; its SHA-256 is a row until sign-out ----------------

    async def open_session(self) -> str:
        """A new session: the cookie's value (nothing derived from the API token)."""
        value = secrets.token_urlsafe(32)
        digest, now = _digest(value), self._clock()
        expires_at = now + timedelta(seconds=SESSION_SECONDS)
        await self._run(self._store.start_session, digest, now=now, expires_at=expires_at)
        self._sessions[digest] = (expires_at, monotonic())
        return value

    async def session_valid(self, value: str) -> bool:
        """Whether ``value`` is a session not signed out and not expired. Known ones are
        asked again after ``SESSION_RECHECK`` seconds: a sign-out on another replica ends
        the session here within that."""
        if self._token is None or not _could_be_session(value):
            return False
        digest = _digest(value)
        known = self._sessions.get(digest)
        if known is None or monotonic() - known[1] > SESSION_RECHECK:
            expires_at = await self._run(self._store.session_expiry, digest)
            if expires_at is None:
                self._sessions.pop(digest, None)
                return False
            known = (expires_at, monotonic())
            self._sessions[digest] = known
            while len(self._sessions) > 1000:
                self._sessions.popitem(last=False)
        return known[0] > self._clock()

    async def close_session(self, value: str) -> None:
        """End the session ``value`` on every replica (nothing to end for a value that no
        session could have)."""
        if not _could_be_session(value):
            return
        digest = _digest(value)
        self._sessions.pop(digest, None)
        await self._run(self._store.end_session, digest)

    def token_matches(self, given: str) -> bool:
        return self._token is not None and hmac.compare_digest(given.encode(), self._token)

    async def _run(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kw))

    # -- transactions -----------------------------------------------------------------------

    async def transactions(self, request: Request) -> Response:
        """A page of transactions; ``?format=csv`` streams every matching row instead."""
        q = request.query_params
        filters = TransactionFilter(
            store_id=q.get("store_id") or None,
            terminal_id=q.get("terminal_id") or None,
            date=_date(q.get("date")),
            status=_choice(request, "status", TX_STATUSES),
            folio=q.get("folio") or None,
            kind=_choice(request, "kind", TX_KINDS),
            order_id=q.get("order_id") or None,
        )
        if _choice(request, "format", ("json", "csv")) == "csv":
            rows = await self._run(lambda: list(self._store.iter_transactions(filters)))
            name = f"transacciones-{filters.date or 'todas'}.csv"
            return Response(
                csv_bytes(rows),
                media_type="text/csv; charset=utf-8",
                headers={"content-disposition": f'attachment; filename="{name}"'},
            )
        page = await self._run(
            self._store.list_transactions,
            filters,
            limit=_int(request, "limit", 50, 1, 500),
            before_id=_int(request, "cursor", None, 1, 2**62),
        )
        return json_response(page)

    async def transaction(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        found = await self._run(self._store.get_transaction, order_id)
        if found is None:
            return problem(404, "not_found", f"no transaction with order id {order_id}")
        return json_response(found)

    async def deliveries(self, request: Request) -> Response:
        page = await self._run(
            self._store.list_deliveries,
            outcome=_choice(request, "outcome", OUTCOMES),
            kind=_choice(request, "kind", DELIVERY_KINDS),
            limit=_int(request, "limit", 50, 1, 500),
            before_id=_int(request, "cursor", None, 1, 2**62),
        )
        return json_response(page)

    async def daily_report(self, request: Request) -> Response:
        from ..wire import MEXICO_CITY

        day = (
            _date(request.query_params.get("date")) or self._clock().astimezone(MEXICO_CITY).date()
        )
        return json_response(await self._run(self._store.daily_report, day))

    async def exceptions(self, request: Request) -> Response:
        from ..wire import MEXICO_CITY

        now = self._clock()
        day = _date(request.query_params.get("date")) or now.astimezone(MEXICO_CITY).date()
        return json_response(await self._run(self._store.exceptions, day, now=now))

    # -- pushes -----------------------------------------------------------------------------

    async def register_push(self, request: Request) -> Response:
        try:
            body = msgspec.json.decode(await read_body(request, API_BODY_MAX), type=PushRequest)
        except BodyTooLargeError:
            return too_large(API_BODY_MAX)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return problem(400, "bad_request", f"invalid push: {exc}")
        try:
            push = await self._run(self._store.register_push, body, now=self._clock())
        except TerminalBusyError as exc:
            return problem(409, "terminal_busy", str(exc), push_id=exc.description)
        except ValueError as exc:
            return problem(400, "bad_request", str(exc))
        return json_response(push, 201)

    async def update_push(self, request: Request) -> Response:
        try:
            raw = await read_body(request, API_BODY_MAX)
        except BodyTooLargeError:
            return too_large(API_BODY_MAX)
        try:
            body = msgspec.json.decode(raw, type=dict[str, str])
            changed = await self._run(
                self._store.update_push_state,
                request.path_params["push_id"],
                body.get("state", ""),
                now=self._clock(),
            )
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            return problem(400, "bad_request", str(exc))
        return (
            await self.push(request)
            if changed
            else problem(409, "not_open", "the push is unknown or already finished")
        )

    async def push(self, request: Request) -> Response:
        """A push; ``?wait=SECONDS`` holds the answer until its result is in (long-poll)."""
        push_id = request.path_params["push_id"]
        wait = 0.0
        raw_wait = request.query_params.get("wait")
        if raw_wait:
            try:
                wait = float(raw_wait)
            except ValueError:
                wait = math.nan
            if not math.isfinite(wait):
                return problem(400, "bad_request", "wait must be a number of seconds")
            wait = min(max(wait, 0.0), self._long_poll_max)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        hub = self._hub()
        # Subscribe, query, wait, query again: a wake-up between query and wait is not lost.
        with hub.subscribe() as wakeups:
            found = await self._run(self._store.get_push, push_id, now=self._clock())
            while found is not None and found["state"] not in _DONE_STATES:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch = await asyncio.wait_for(wakeups.get(), remaining)
                except TimeoutError:
                    found = await self._run(self._store.get_push, push_id, now=self._clock())
                    break
                if batch is None:  # shutting down
                    break
                found = await self._run(self._store.get_push, push_id, now=self._clock())
        if found is None:
            return problem(404, "not_found", f"no push {push_id}")
        return json_response(found)

    # -- live events ------------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        """Server-sent events: one ``delivery`` event per processed body, pings every 15 s."""
        hub = self._hub()

        async def stream() -> AsyncIterator[bytes]:
            with hub.subscribe() as wakeups:
                yield b": connected\n\n"
                while True:
                    try:
                        batch = await asyncio.wait_for(wakeups.get(), 15)
                    except TimeoutError:
                        yield b": ping\n\n"
                        continue
                    if batch is None:
                        return
                    yield await asyncio.shield(self._encoded(batch))

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    def _encoded(self, batch: list[Any]) -> asyncio.Task[bytes]:
        """A batch's events, read and encoded once however many streams are open (every
        stream gets the same batch object from the hub)."""
        found = self._batches.get(id(batch))
        if found is not None and found[0] is batch:
            return found[1]
        task = asyncio.ensure_future(self._encode(batch))
        self._batches[id(batch)] = (batch, task)
        while len(self._batches) > 64:
            self._batches.popitem(last=False)
        return task

    async def _encode(self, batch: list[Any]) -> bytes:
        events = []
        for applied in batch:
            tx = None
            if applied.transaction_key:
                tx = await self._run(self._store.get_transaction_by_key, applied.transaction_key)
                if tx is not None:
                    tx.pop("raw", None)
            data = _encoder.encode(
                {
                    "delivery_id": applied.delivery_id,
                    "outcome": applied.outcome,
                    "kind": applied.kind,
                    "push_ids": applied.push_ids,
                    "transaction": tx,
                }
            )
            events.append(b"id: %d\nevent: delivery\ndata: %s\n\n" % (applied.delivery_id, data))
        return b"".join(events)


def csv_row(item: dict[str, Any]) -> list[Any]:
    """One transaction as the cells of ``CSV_COLUMNS`` (the card flattened, None as empty)."""
    card = item.get("card") or {}
    flat = {**item, "card_brand": card.get("brand"), "card_type": card.get("type"),
            "card_last4": card.get("last4")}  # fmt: skip
    return [_cell(flat.get(c)) for c in CSV_COLUMNS]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a folio or a message the terminal sent that
    begins like a formula (``=HYPERLINK(…)``) gets a leading apostrophe, so Excel does not run
    it. Amounts (``"-5.00"``) stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            number = Decimal(value).is_finite()
        except ArithmeticError:
            number = False
        if not number:
            return "'" + value
    return value


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel shows the accents right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(row) for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
