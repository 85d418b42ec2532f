"""Reads for the API, the dashboard and reports, and the registration of pushes.

Everything returns plain dicts in the API's snake_case shape (DESIGN.md): amounts as decimal
strings with two places, times as ISO 8601 with the Mexico City offset, ``raw`` as the body the
terminal sent. Functions are synchronous; the receiver runs them on worker threads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import and_, delete, exists, func, insert, or_, select, text, update

from .._personal import Sealer, blank, hide, without_personal
from ..codes import CodeInfo, describe_result
from ..errors import TerminalBusyError
from ..wire import MEXICO_CITY, decode_object
from .engine import Engines
from .schema import deliveries, pushes, sessions, transactions

__all__ = [
    "PushRequest",
    "TransactionFilter",
    "daily_report",
    "end_session",
    "exceptions",
    "get_push",
    "get_transaction",
    "get_transaction_by_key",
    "iter_transactions",
    "list_deliveries",
    "list_transactions",
    "money",
    "purge_personal",
    "register_push",
    "session_expiry",
    "start_session",
    "update_push_state",
]

PUSH_KINDS = ("sale", "reprint", "cancel")


def money(cents: int | None) -> str | None:
    """Cents to the API's decimal string: 15050 -> "150.50"."""
    return None if cents is None else f"{Decimal(cents) / 100:.2f}"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(MEXICO_CITY).isoformat()


def _body_json(body: bytes | None) -> Any:
    if body is None:
        return None
    try:
        return decode_object(body)
    except Exception:
        return None


def _body_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def _texts(info: CodeInfo) -> dict[str, str]:
    return {"es": info.es, "en": info.en}


def transaction_json(
    row: Any, raw: bytes | None = None, *, personal: bool = False, sealer: Sealer | None = None
) -> dict[str, Any]:
    """One ``transactions`` row (joined with its first delivery's body) as the API shows it.

    ``raw`` leaves out the cardholder's name and signature unless ``personal`` (one
    transaction's own page), where a ``sealer`` opens them if they were sealed.
    """
    body = _body_json(raw)
    if not personal:
        body = without_personal(body)
    elif sealer is not None and body is not None:
        body = sealer.open_values(body)
    return {
        "order_id": row.order_id,
        "terminal_id": row.terminal_id,
        "store_id": row.store_id,
        "folio_number": row.folio_number,
        "kind": row.kind,
        "status": row.status,
        "approved": bool(row.approved),
        "response_code": row.response_code,
        "message": row.message,
        # What the code (or, for a sale reversed or cancelled since, its state) means, in
        # Spanish and English: the terminal's own message is Spanish only.
        "response_text": _texts(describe_result(row.response_code, row.message, row.status)),
        "amount": money(row.amount_cents),
        "tip_amount": money(row.tip_cents),
        "cancelled": bool(row.cancelled),
        "reprint_count": row.reprint_count,
        "delivery_count": row.delivery_count,
        "conflict_count": row.conflict_count,
        "reprint_module": row.reprint_module,
        "card": {
            "brand": row.card_brand,
            "type": row.card_type,
            "last4": row.card_last4,
            "bank": row.bank_name,
        },
        "auth_code": row.auth_code,
        "msi": row.msi,
        "transaction_id": row.transaction_id,
        "transaction_at": _iso(row.transaction_at),
        "business_date": row.business_date,
        "received_at": _iso(row.received_at),
        "updated_at": _iso(row.updated_at),
        "traceability": msgspec.json.decode(row.traceability) if row.traceability else {},
        "push_id": row.push_id,
        "source": row.source,
        "key": row.key,
        "raw": body,
    }


def _with_raw() -> Any:
    return select(transactions, deliveries.c.body.label("raw_body")).join(
        deliveries, deliveries.c.id == transactions.c.first_delivery_id
    )


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    """Filters of ``GET /api/transactions``; ``None`` means "any"."""

    store_id: str | None = None
    terminal_id: str | None = None
    date: date | None = None
    status: str | None = None
    folio: str | None = None
    kind: str | None = None
    order_id: str | None = None

    def conditions(self) -> list[Any]:
        c = transactions.c
        pairs = [
            (c.store_id, self.store_id),
            (c.terminal_id, self.terminal_id),
            (c.business_date, self.date.isoformat() if self.date else None),
            (c.status, self.status),
            (c.folio_number, self.folio),
            (c.kind, self.kind),
            (c.order_id, self.order_id),
        ]
        return [column == value for column, value in pairs if value is not None]


def list_transactions(
    engines: Engines,
    filters: TransactionFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Newest first, keyset paging: pass the returned ``next_cursor`` as ``before_id``."""
    query = _with_raw().where(*filters.conditions())
    if before_id is not None:
        query = query.where(transactions.c.id < before_id)
    query = query.order_by(transactions.c.id.desc()).limit(limit + 1)
    with engines.read.connect() as connection:
        rows = list(connection.execute(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [transaction_json(row, row.raw_body) for row in rows],
        "next_cursor": rows[-1].id if more and rows else None,
    }


def get_transaction(
    engines: Engines, order_id: str, *, sealer: Sealer | None = None
) -> dict[str, Any] | None:
    """The sale with this order id (with its cancellation, if any), else the cancellation;
    failing both, the transaction whose key is ``order_id`` (declines have no order id).

    The answer carries its ``timeline``: the pushes that asked for it and every delivery
    (duplicates, reprints, conflicts), oldest first.
    """
    with engines.read.connect() as connection:
        # One row per kind; an approved row wins over a declined one (a refused cancellation).
        rows = {
            row.kind: row
            for row in connection.execute(
                _with_raw()
                .where(transactions.c.order_id == order_id)
                .order_by(transactions.c.approved, transactions.c.id)
            )
        }
        if not rows:
            row = connection.execute(_with_raw().where(transactions.c.key == order_id)).first()
            if row is None:
                return None
            if row.order_id:  # a key of a sale with an order id: show it with its cancellation
                return get_transaction(engines, row.order_id, sealer=sealer)
            rows = {row.kind: row}
        main = rows.get("sale") or next(iter(rows.values()))
        found = transaction_json(main, main.raw_body, personal=True, sealer=sealer)
        cancellation = rows.get("cancellation")
        if cancellation is not None and main is not cancellation:
            found["cancellation"] = transaction_json(
                cancellation, cancellation.raw_body, personal=True, sealer=sealer
            )
        keys = [row.key for row in rows.values()]
        found["deliveries"] = [
            _delivery_json(row, with_body=False)
            for row in connection.execute(
                select(deliveries)
                .where(deliveries.c.transaction_key.in_(keys))
                .order_by(deliveries.c.id)
            )
        ]
        push_rows = list(
            connection.execute(
                select(pushes)
                .where(pushes.c.transaction_key.in_(keys))
                .order_by(pushes.c.created_at)
            )
        )
        found["pushes"] = [_push_json(row, None) for row in push_rows]
        found["timeline"] = _timeline(found, push_rows)
        return found


def _timeline(found: dict[str, Any], push_rows: list[Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for row in push_rows:
        events.append({"at": _iso(row.created_at), "event": f"push_{row.kind}", "id": row.id})
        if row.completed_at is not None:
            events.append({"at": _iso(row.completed_at), "event": "push_completed", "id": row.id})
    for delivery in found["deliveries"]:
        events.append(
            {
                "at": delivery["received_at"],
                "event": f"delivery_{delivery['outcome']}",
                "id": delivery["id"],
                "kind": delivery["kind"],
            }
        )
    return sorted(events, key=lambda e: (e["at"] or "", e["event"]))


def get_transaction_by_key(engines: Engines, key: str) -> dict[str, Any] | None:
    with engines.read.connect() as connection:
        row = connection.execute(_with_raw().where(transactions.c.key == key)).first()
    return None if row is None else transaction_json(row, row.raw_body)


def _delivery_json(row: Any, *, with_body: bool = True) -> dict[str, Any]:
    found = {
        "id": row.id,
        "received_at": _iso(row.received_at),
        "remote": row.remote,
        "size": row.size,
        "truncated": bool(row.truncated),
        "outcome": row.outcome,
        "kind": row.kind,
        "error": row.error,
        "problems": msgspec.json.decode(row.problems) if row.problems else [],
        "transaction_key": row.transaction_key,
        "push_id": row.push_id,
        "processed_at": _iso(row.processed_at),
    }
    if with_body:
        found["body"] = _body_text(hide(row.body))
    return found


def list_deliveries(
    engines: Engines,
    *,
    outcome: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Every body received, newest first, duplicates and bad bodies included."""
    query = select(deliveries)
    if outcome is not None:
        query = query.where(deliveries.c.outcome == outcome)
    if kind is not None:
        query = query.where(deliveries.c.kind == kind)
    if before_id is not None:
        query = query.where(deliveries.c.id < before_id)
    with engines.read.connect() as connection:
        rows = list(connection.execute(query.order_by(deliveries.c.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [_delivery_json(row) for row in rows],
        "next_cursor": rows[-1].id if more and rows else None,
    }


# -- pushes -----------------------------------------------------------------------------------


class PushRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /api/pushes``: what the SDK is about to push."""

    kind: str
    terminal_id: str
    id: str | None = None
    store_id: str | None = None
    amount: Decimal | None = None
    folio_number: str | None = None
    order_id: str | None = None
    traceability: dict[str, Any] = msgspec.field(default_factory=dict)
    ttl_seconds: float = 120.0
    exclusive: bool = True


def _push_json(row: Any, now: datetime | None) -> dict[str, Any]:
    state = row.state
    if state in ("registered", "sent") and now is not None and row.expires_at <= now:
        state = "expired"
    return {
        "id": row.id,
        "kind": row.kind,
        "terminal_id": row.terminal_id,
        "store_id": row.store_id,
        "amount": money(row.amount_cents),
        "folio_number": row.folio_number,
        "order_id": row.order_id,
        "traceability": msgspec.json.decode(row.traceability) if row.traceability else {},
        "state": state,
        "created_at": _iso(row.created_at),
        "expires_at": _iso(row.expires_at),
        "completed_at": _iso(row.completed_at),
        "result_status": row.result_status,
        "transaction_key": row.transaction_key,
    }


def register_push(engines: Engines, request: PushRequest, *, now: datetime) -> dict[str, Any]:
    """Record a push before it is sent. With ``exclusive`` (the default) a terminal takes one
    push at a time: another open, unexpired push on it raises :class:`TerminalBusyError`."""
    if request.kind not in PUSH_KINDS:
        raise ValueError(f"kind must be one of {', '.join(PUSH_KINDS)}")
    if not request.terminal_id.strip():
        raise ValueError("terminal_id is required")
    for name, value, limit in (
        ("id", request.id, 64),
        ("terminal_id", request.terminal_id, 40),
        ("store_id", request.store_id, 40),
        ("folio_number", request.folio_number, 250),
        ("order_id", request.order_id, 64),
    ):
        if value is not None and len(value) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
        if value is not None and "\x00" in value:
            raise ValueError(f"{name} must not contain NUL characters")
    if not 1 <= request.ttl_seconds <= 3600:
        raise ValueError("ttl_seconds must be between 1 and 3600")
    if request.amount is not None and (
        not request.amount.is_finite()
        or request.amount <= 0
        or request.amount.adjusted() >= 13  # NUMBER(15,2), and cents fit 64 bits
        or request.amount != request.amount.quantize(Decimal("0.01"))
    ):
        raise ValueError("amount must be positive with at most two decimals")
    push_id = request.id or uuid.uuid4().hex
    with engines.write.begin() as connection:
        if engines.dialect == "postgresql":
            # Serialise registrations per terminal across replicas.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": request.terminal_id}
            )
        existing = connection.execute(select(pushes).where(pushes.c.id == push_id)).first()
        if existing is not None:
            return _push_json(existing, now)  # registering twice is harmless
        if request.exclusive:
            busy = connection.execute(
                select(pushes.c.id).where(
                    pushes.c.terminal_id == request.terminal_id,
                    pushes.c.state.in_(("registered", "sent")),
                    pushes.c.expires_at > now,
                )
            ).first()
            if busy is not None:
                raise TerminalBusyError(
                    f"terminal {request.terminal_id} is busy with push {busy.id}",
                    code="terminal_busy",
                    description=busy.id,
                )
        connection.execute(
            insert(pushes).values(
                id=push_id,
                kind=request.kind,
                terminal_id=request.terminal_id,
                store_id=request.store_id,
                amount_cents=None if request.amount is None else int(request.amount * 100),
                folio_number=request.folio_number,
                order_id=request.order_id,
                traceability=msgspec.json.encode(request.traceability).decode(),
                state="registered",
                created_at=now,
                expires_at=now + timedelta(seconds=request.ttl_seconds),
            )
        )
        row = connection.execute(select(pushes).where(pushes.c.id == push_id)).one()
    return _push_json(row, now)


def update_push_state(engines: Engines, push_id: str, state: str, *, now: datetime) -> bool:
    """Mark a push ``sent`` or ``failed`` (the gateway refused it: the terminal is free)."""
    if state not in ("sent", "failed", "abandoned"):
        raise ValueError("state must be sent, failed or abandoned")
    with engines.write.begin() as connection:
        result = connection.execute(
            update(pushes)
            .where(pushes.c.id == push_id, pushes.c.state.in_(("registered", "sent")))
            .values(state=state)
        )
        return bool(result.rowcount)


def get_push(engines: Engines, push_id: str, *, now: datetime) -> dict[str, Any] | None:
    """The push and, once a result completed it, that result's transaction."""
    with engines.read.connect() as connection:
        row = connection.execute(select(pushes).where(pushes.c.id == push_id)).first()
        if row is None:
            return None
        found = _push_json(row, now)
        found["result"] = None
        if row.result_delivery_id is not None:
            delivery = connection.execute(
                select(deliveries).where(deliveries.c.id == row.result_delivery_id)
            ).first()
            tx = None
            if row.transaction_key:
                tx = connection.execute(
                    _with_raw().where(transactions.c.key == row.transaction_key)
                ).first()
            found["result"] = {
                "delivery_id": row.result_delivery_id,
                "status": row.result_status,
                "kind": delivery.kind if delivery is not None else None,
                "body": without_personal(_body_json(delivery.body)) if delivery else None,
                "transaction": transaction_json(tx, tx.raw_body) if tx is not None else None,
            }
        return found


# -- reports ----------------------------------------------------------------------------------


def daily_report(engines: Engines, day: date) -> dict[str, Any]:
    """Totals of one business day (America/Mexico_City), per store and per terminal.

    Sales only: a reprint is never a row of its own, so it never counts twice; a cancelled
    sale counts under ``cancelled``, not ``approved``; ``net`` is what stays charged (the
    approved sales that were not cancelled or reversed).

    One pass over the day's rows, grouped in SQL by everything any view needs (store,
    terminal, status, hour, code), so the store, terminal, hour and decline views are sums of
    a few hundred groups rather than four scans of the day.
    """
    c = transactions.c
    query = (
        select(
            c.store_id,
            c.terminal_id,
            c.status,
            c.business_hour,
            c.approved,
            c.response_code,
            func.max(c.message).label("message"),
            func.count().label("n"),
            func.coalesce(func.sum(c.amount_cents), 0).label("cents"),
            func.coalesce(func.sum(c.tip_cents), 0).label("tips"),
        )
        .where(c.business_date == day.isoformat(), c.kind == "sale")
        .group_by(c.store_id, c.terminal_id, c.status, c.business_hour, c.approved, c.response_code)
    )
    overall = _empty_bucket()
    by_store: dict[Any, dict[str, Any]] = {}
    by_terminal: dict[Any, dict[str, Any]] = {}
    hours = [[0, 0] for _ in range(24)]
    declines: dict[Any, list[Any]] = {}
    with engines.read.connect() as connection:
        for row in connection.execute(query):
            for bucket in (
                overall,
                by_store.setdefault(row.store_id, _empty_bucket()),
                by_terminal.setdefault(row.terminal_id, _empty_bucket()),
            ):
                _add(bucket, row.status, row.n, row.cents, row.tips)
            if row.status == "approved" and row.business_hour is not None:
                hours[row.business_hour][0] += row.n
                hours[row.business_hour][1] += row.cents
            if _STATUS_BUCKET.get(row.status) == "declined":  # not a reversal's "00"
                found = declines.setdefault(row.response_code, [row.message, 0])
                found[0] = max(found[0] or "", row.message or "") or None
                found[1] += row.n
    return {
        "date": day.isoformat(),
        "totals": _finish_bucket(overall),
        "by_store": _groups(by_store),
        "by_terminal": _groups(by_terminal),
        "by_hour": [
            {"hour": hour, "count": count, "amount": money(cents)}
            for hour, (count, cents) in enumerate(hours)
        ],
        "decline_reasons": [
            {
                "code": code,
                "message": message,
                "count": count,
                # A sale a reprint reported declined (module D) keeps its code "00": its
                # reason is the decline, not the code's "approved".
                "text": _texts(describe_result(code, message, "declined")),
            }
            for code, (message, count) in sorted(
                declines.items(), key=lambda item: (-item[1][1], str(item[0]))
            )
        ],
    }


_BUCKETS = ("approved", "cancelled", "declined", "reversed", "other")


def _empty_bucket() -> dict[str, Any]:
    bucket: dict[str, Any] = {"tips_cents": 0}
    for name in _BUCKETS:
        bucket[name] = {"count": 0, "cents": 0}
    return bucket


def _groups(buckets: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups sorted by id; a group without id (no store on the result) keeps ``id: null``."""
    ordered = sorted(buckets.items(), key=lambda kv: (kv[0] is None, str(kv[0])))
    return [{"id": key, **_finish_bucket(bucket)} for key, bucket in ordered]


_STATUS_BUCKET = {
    "approved": "approved",
    "cancelled": "cancelled",
    "declined": "declined",
    "user_cancelled": "declined",
    "reversed": "reversed",
    "pending_reversal": "reversed",
}


def _add(bucket: dict[str, Any], status: str, count: int, cents: int, tips: int) -> None:
    name = _STATUS_BUCKET.get(status, "other")
    bucket[name]["count"] += count
    bucket[name]["cents"] += cents
    if name == "approved":
        bucket["tips_cents"] += tips


def _finish_bucket(bucket: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _BUCKETS:
        out[name] = {"count": bucket[name]["count"], "amount": money(bucket[name]["cents"])}
    out["tips"] = money(bucket["tips_cents"])
    out["net"] = money(bucket["approved"]["cents"])
    return out


def exceptions(engines: Engines, day: date, *, now: datetime, limit: int = 200) -> dict[str, Any]:
    """What needs a person's attention on ``day`` (America/Mexico_City).

    - ``pushes_without_result``: pushed, no result, and past their deadline;
    - ``results_without_push``: results that match no registered push (only meaningful when
      every sale goes through the SDK);
    - ``reversals``: reversed and pending-reversal sales (the card was charged and returned,
      or will be);
    - ``conflicts``: a body that disagrees with an earlier one for the same transaction; a
      cancellation from another terminal, or for another amount, than its sale; an approved
      sale whose amount could not be read, or is zero or less;
    - ``needs_refund``: sales someone tried to cancel too late (a declined cancellation, or a
      cancel push with no result): after 20:00 or the next day only a refund returns the money.
    """
    c = transactions.c
    start = datetime.combine(day, datetime.min.time(), MEXICO_CITY)
    end = start + timedelta(days=1)
    with engines.read.connect() as connection:
        stale = [
            _push_json(row, now)
            for row in connection.execute(
                select(pushes)
                .where(
                    pushes.c.created_at >= start,
                    pushes.c.created_at < end,
                    or_(
                        pushes.c.state == "expired",
                        and_(
                            pushes.c.state.in_(("registered", "sent")), pushes.c.expires_at <= now
                        ),
                    ),
                )
                .order_by(pushes.c.created_at.desc())
                .limit(limit)
            )
        ]

        def tx(*conditions: Any) -> list[dict[str, Any]]:
            return [
                transaction_json(row, row.raw_body)
                for row in connection.execute(
                    _with_raw()
                    .where(c.business_date == day.isoformat(), *conditions)
                    .order_by(c.id.desc())
                    .limit(limit)
                )
            ]

        unsolicited = tx(c.push_id.is_(None), c.kind == "sale")
        reversals = tx(c.status.in_(("reversed", "pending_reversal")))
        sale = transactions.alias("sale")
        # A cancellation that names another terminal or amount than its sale cancelled it all
        # the same (NetPay cancels by orderId); an approved sale whose amount could not be
        # read counts as $0.00 in the totals; no terminal approves a sale of $0.00 or less,
        # and a negative one lowers the totals. None is an earlier body disagreeing, but all
        # need the same look.
        disagrees = exists().where(
            sale.c.kind == "sale",
            sale.c.order_id == c.order_id,
            or_(sale.c.terminal_id != c.terminal_id, sale.c.amount_cents != c.amount_cents),
        )
        conflicts = tx(
            or_(
                c.conflict_count > 0,
                and_(c.kind == "cancellation", c.approved.is_(True), disagrees),
                and_(
                    c.kind == "sale",
                    c.approved.is_(True),
                    or_(c.amount_cents.is_(None), c.amount_cents <= 0),
                ),
            )
        )
        # A cancellation refused (or a cancel push unanswered) for a sale cancelled all the
        # same (a second try answered 13) needs no refund: listed, it invited refunding a
        # sale already voided.
        voided = exists().where(
            sale.c.kind == "sale", sale.c.cancelled.is_(True), sale.c.order_id == c.order_id
        )
        refused_cancels = tx(c.kind == "cancellation", c.approved.is_(False), ~voided)
        asked = [p for p in stale if p["kind"] == "cancel"]
        done = set(
            connection.scalars(
                select(c.order_id).where(
                    c.kind == "sale",
                    c.cancelled.is_(True),
                    c.order_id.in_([p["order_id"] for p in asked if p["order_id"]]),
                )
            )
        )
        cancel_pushes = [p for p in asked if p["order_id"] not in done]
    return {
        "date": day.isoformat(),
        "pushes_without_result": stale,
        "results_without_push": unsolicited,
        "reversals": reversals,
        "conflicts": conflicts,
        "needs_refund": {"declined_cancellations": refused_cancels, "cancel_pushes": cancel_pushes},
    }


def iter_transactions(
    engines: Engines, filters: TransactionFilter, *, batch: int = 500
) -> Iterator[dict[str, Any]]:
    """Every matching transaction, newest first, in batches (for CSV export)."""
    cursor: int | None = None
    while True:
        page = list_transactions(engines, filters, limit=batch, before_id=cursor)
        yield from page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def purge_personal(engines: Engines, before: datetime, *, batch: int = 500) -> int:
    """Blank the cardholder's name and signature in bodies received before ``before``.

    Returns how many bodies changed; running it again changes none.
    """
    changed = 0
    cursor = 0
    while True:
        with engines.write.begin() as connection:
            rows = list(
                connection.execute(
                    select(deliveries.c.id, deliveries.c.body)
                    .where(deliveries.c.received_at < before, deliveries.c.id > cursor)
                    .order_by(deliveries.c.id)
                    .limit(batch)
                )
            )
            for row in rows:
                emptied = blank(row.body)
                if emptied != row.body:
                    connection.execute(
                        update(deliveries)
                        .where(deliveries.c.id == row.id)
                        .values(body=emptied, size=len(emptied))
                    )
                    changed += 1
        if len(rows) < batch:
            return changed
        cursor = rows[-1].id


# -- the dashboard's sessions --------------------------------------------------------------------


def start_session(engines: Engines, digest: str, *, now: datetime, expires_at: datetime) -> None:
    """Record a sign-in (by the SHA-256 of its cookie); forget the sessions that expired."""
    with engines.write.begin() as connection:
        connection.execute(delete(sessions).where(sessions.c.expires_at <= now))
        connection.execute(
            insert(sessions).values(id=digest, created_at=now, expires_at=expires_at)
        )


def session_expiry(engines: Engines, digest: str) -> datetime | None:
    """When the session ``digest`` ends; ``None`` if there is none (signed out, or unknown)."""
    with engines.read.connect() as connection:
        found: datetime | None = connection.scalar(
            select(sessions.c.expires_at).where(sessions.c.id == digest)
        )
    return found


def end_session(engines: Engines, digest: str) -> None:
    with engines.write.begin() as connection:
        connection.execute(delete(sessions).where(sessions.c.id == digest))
