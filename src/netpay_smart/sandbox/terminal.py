"""A virtual Smart terminal: an explicit state machine on an injectable clock.

```
idle ─push─▶ waiting_card ─card─▶ pin | signature ─▶ authorising ─▶ printing ─▶ delivering ─▶ idle
                 │ timeout / cancel ──────────────────────────────────────────────▶ delivering
```

Nothing here does I/O or sleeps. The sandbox server calls :meth:`Terminal.tick` with the
clock's time; ``tick`` moves every timer that is due and returns the HTTP deliveries to make;
the server reports back with :meth:`Terminal.delivered`. Tests move a :class:`ManualClock`.

The results it posts have exactly the shape of the real app's (the examples of NetPay's
"receiving the response" pages and a real sandbox capture of 2024): camelCase fields in the
app's order, amounts as strings (``"200.0"``), ``transDate`` ``"yyyy-MM-dd HH:mm:ss.CST"``,
``ticketDate`` with Spanish months, ``orderId`` ``yyMMddHHmmss-serial``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .config import TerminalConfig
from .scenarios import CARDS, DECLINE_MESSAGES, Card, Scenario, scenario_for

__all__ = ["Delivery", "Faults", "JournalEntry", "State", "Terminal"]

MEXICO_CITY = ZoneInfo("America/Mexico_City")
CANCEL_CUTOFF_HOUR = 20  # cancellations only before 20:00 America/Mexico_City, same day

_MONTHS = ("ENE", "FEB", "MAR", "ABR", "MAY", "JUN", "JUL", "AGO", "SEP", "OCT", "NOV", "DIC")


class State(StrEnum):
    IDLE = "idle"
    WAITING_CARD = "waiting_card"
    PIN = "pin"
    SIGNATURE = "signature"
    AUTHORISING = "authorising"
    PRINTING = "printing"
    DELIVERING = "delivering"


_BUSY = frozenset(State) - {State.IDLE}


@dataclass
class Faults:
    """What goes wrong on the terminal → webhook leg (per terminal, or per push)."""

    delay: float = 0.0  # seconds before posting the result
    duplicate: bool = False  # post the result twice
    out_of_order: bool = False  # hold this result until the next one has been posted
    drop: bool = False  # never post it (as if the network were down)
    retry_after: float | None = None  # the cashier presses "Reintentar" after N s on failure
    retries: int = 1

    @classmethod
    def from_json(cls, data: Any) -> Faults:
        if not isinstance(data, dict):
            raise ValueError("faults must be an object")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        for name in ("delay", "retry_after"):
            value = data.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise ValueError(f"{name} must be a number of seconds, not negative")
        for name in ("duplicate", "out_of_order", "drop"):
            if name in data and not isinstance(data[name], bool):
                raise ValueError(f"{name} must be true or false")
        retries = data.get("retries", 1)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
            raise ValueError("retries must be a whole number from 0 to 100")
        return cls(**data)


@dataclass
class JournalEntry:
    """What the terminal remembers of a transaction, for reprints and cancellations."""

    order_id: str | None
    folio: str | None
    state: Literal["C", "V", "RV", "PRV", "D"]
    result: dict[str, Any]
    at: datetime


@dataclass
class Delivery:
    """One POST of a result to the terminal's response URL."""

    serial: str
    url: str
    body: bytes
    due: datetime
    attempt: int = 1
    probe: bool = False
    faults: Faults = field(default_factory=Faults)


@dataclass
class _Operation:
    kind: Literal["sale", "reprint", "cancel"]
    request: dict[str, Any]
    started: datetime
    scenario: Scenario
    faults: Faults
    store_id: str
    card: Card | None = None
    manual_code: str | None = None


def _java_double(amount: Decimal) -> str:
    """Amounts as the Android app writes them: 200 -> "200.0", 1.5 -> "1.5", 1.01 -> "1.01"."""
    text = format(amount.normalize(), "f")
    return text if "." in text else f"{text}.0"


def _plain(amount: Decimal) -> str:
    """Amounts as reprints write them: 1 -> "1", 150.50 -> "150.5"."""
    return format(amount.normalize(), "f")


def _trans_date(moment: datetime, suffix: str | None = None) -> str:
    """``2024-03-05 13:14:48.CST``; ``.CDT`` under the daylight saving time Mexico City kept
    until October 2022, as the real 2022 payloads show; reprints use ``.0``."""
    local = moment.astimezone(MEXICO_CITY)
    if suffix is None:
        suffix = "CDT" if local.dst() else "CST"
    return f"{local:%Y-%m-%d %H:%M:%S}.{suffix}"


def _ticket_date(moment: datetime) -> str:
    local = moment.astimezone(MEXICO_CITY)
    return f"{_MONTHS[local.month - 1]}. {local:%d, %y %H:%M:%S} "


def _hex(seed: str, length: int) -> str:
    out = ""
    while len(out) < length:
        seed = hashlib.sha256(seed.encode()).hexdigest()
        out += seed
    return out[:length].upper()


class Terminal:
    """One virtual terminal. Not thread-safe: the sandbox drives it from one event loop."""

    def __init__(self, config: TerminalConfig, now: datetime) -> None:
        self.config = config
        self.serial = config.serial
        self.store_id = config.store_id
        self.response_url = config.response_url
        self.mode = config.mode
        self.state = State.IDLE
        self.screen = "Smart PinPad: lista / ready"
        self.faults = Faults()
        self.faults_once = False
        self.journal: list[JournalEntry] = []
        self.log: deque[tuple[datetime, str]] = deque(maxlen=200)
        self._op: _Operation | None = None
        self._deadline: datetime | None = None
        self._outbox: list[Delivery] = []
        self._in_flight: Delivery | None = None
        self._held: Delivery | None = None
        self._failed: Delivery | None = None
        self._last_order_at: datetime | None = None
        self._waiting_for: Literal["card", "timeout"] = "card"
        self.last_result: dict[str, Any] | None = None
        self._note(now, "encendida / powered on")

    # -- what the outside sees --------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.state in _BUSY

    def _note(self, now: datetime, text: str) -> None:
        self.log.append((now, text))

    def _show(self, now: datetime, screen: str) -> None:
        self.screen = screen
        self._note(now, screen)

    def snapshot(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "store_id": self.store_id,
            "smart_accounts": list(self.config.smart_accounts),
            "state": str(self.state),
            "screen": self.screen,
            "busy": self.busy,
            "mode": self.mode,
            "response_url": self.response_url,
            "operation": None
            if self._op is None
            else {
                "kind": self._op.kind,
                "amount": self._op.request.get("amount"),
                "folio": self._op.request.get("folioNumber"),
                "scenario": self._op.scenario.name,
            },
            "journal": len(self.journal),
            "retry_pending": self._failed is not None,
            "last_result": self.last_result,
            "log": [(t.isoformat(), text) for t, text in list(self.log)[-20:]],
        }

    def next_deadline(self) -> datetime | None:
        # Behind a post in flight the outbox waits for its answer (delivered() wakes the
        # sandbox), not for the clock: a due delivery there is no deadline.
        times = [] if self._in_flight is not None else [d.due for d in self._outbox]
        if self._deadline is not None:
            times.append(self._deadline)
        return min(times) if times else None

    # -- inputs -----------------------------------------------------------------------------

    def set_response_url(
        self, url: str, now: datetime, *, probe: Literal["documented", "list_of_pays"]
    ) -> None:
        """Saving the URL in the app posts a test body; the app then says "Datos guardados"."""
        self.response_url = url
        body: dict[str, Any] = (
            {
                "folioNumber": "",
                "hasPin": False,
                "internalNumber": "",
                "isQps": 0.0,
                "preStatus": 0.0,
                "tableId": "",
            }
            if probe == "documented"
            else {
                "folioNumber": "",
                "internalNumber": "",
                "tableId": "",
                "listOfPays": [],
                "tipTotalAmount": "",
                "totalAmount": "",
            }
        )
        self._outbox.append(Delivery(self.serial, url, _dump(body), now, probe=True))
        self._note(now, f"URL de respuesta guardada / response URL saved: {url}")

    def push(
        self,
        kind: Literal["sale", "reprint", "cancel"],
        request: dict[str, Any],
        now: datetime,
        *,
        faults: Faults | None = None,
    ) -> str:
        """A push reaches the terminal. Returns what happened, for the sandbox's log."""
        if self.busy:
            self._note(now, f"push de {kind} ignorado: terminal ocupada / busy, push ignored")
            return "ignored_busy"
        store = str(request.get("storeId", self.store_id))
        smart = str(request.get("isSmartAccounts", "")).lower() == "true"
        if store in self.config.blocked_stores:
            self._show(now, "Usuario no válido")
            return "blocked_store"
        if smart:
            if store not in self.config.smart_accounts:
                self._show(
                    now,
                    "Error de sesión: el store no pertenece al grupo Smart Accounts / "
                    "store not in the Smart Accounts group",
                )
                return "store_not_in_group"
            if store != self.store_id:
                self._note(now, f"smartAccountLogin: store {self.store_id} -> {store}")
                self.store_id = store
        if faults is None:
            faults = self.faults
            if self.faults_once:
                self.faults, self.faults_once = Faults(), False
        amount = Decimal(str(request.get("amount", "0")))
        scenario = scenario_for(amount) if kind == "sale" else Scenario(kind)
        self._op = _Operation(kind, request, now, scenario, faults, self.store_id)
        if scenario.offline:
            self._op = None
            self._note(now, "sin conexión / offline: push never arrives")
            return "offline"
        if kind == "sale":
            self.state = State.WAITING_CARD
            self._show(now, f"Esperando tarjeta / Waiting for card  ${amount:.2f}")
            self._wait_for_card(now)
        else:
            self.state = State.AUTHORISING
            self._show(now, "Procesando / Processing")
            self._deadline = now + timedelta(seconds=self.config.auth_delay)
        return "accepted"

    def _wait_for_card(self, now: datetime) -> None:
        """In auto mode the card comes after ``card_delay``; in manual mode (or with no card)
        the terminal gives up after ``timeout``, counted from the push."""
        op = self._op
        assert op is not None
        if op.scenario.no_card or self.mode == "manual":
            self._waiting_for = "timeout"
            self._deadline = op.started + timedelta(seconds=self.config.timeout)
        else:
            self._waiting_for = "card"
            self._deadline = max(op.started + timedelta(seconds=self.config.card_delay), now)

    def set_mode(self, mode: Literal["auto", "manual"], now: datetime) -> None:
        """Switch between a person and the scenario table, even in the middle of a sale."""
        if mode == self.mode:
            return
        self.mode = mode
        self._note(now, f"modo / mode: {mode}")
        op = self._op
        if op is None or op.kind != "sale":
            return
        if self.state is State.WAITING_CARD:
            self._wait_for_card(now)
        elif self.state in (State.PIN, State.SIGNATURE, State.AUTHORISING):
            # Manual: wait for the person. Auto: go on from here.
            self._deadline = None if mode == "manual" else now

    def act(self, action: str, now: datetime, **options: Any) -> None:
        """A person at the terminal (manual mode, or to cancel in auto mode)."""
        op = self._op
        if action == "retry":
            if self._failed is None:
                raise ValueError("nothing to retry")
            if op is not None:  # "Reintentar" is gone once another operation has started
                what = "cancellation" if op.kind == "cancel" else op.kind
                raise ValueError(f"cannot retry: another {what} has started on the terminal")
            delivery, self._failed = self._failed, None
            delivery.due, delivery.attempt = now, delivery.attempt + 1
            self._outbox.append(delivery)
            self.state = State.DELIVERING
            self._show(now, "Reintentando / Retrying")
            return
        if op is None or op.kind != "sale":
            raise ValueError(f"no sale in progress to {action}")
        if action == "cancel" and self.state in (State.WAITING_CARD, State.PIN, State.SIGNATURE):
            self._finish_sale(now, code="02", message="Cancelado por el Usuario")
            return
        if action == "present_card" and self.state is State.WAITING_CARD:
            name = options.get("card") or op.scenario.card
            if name not in CARDS:
                raise ValueError(f"unknown card {name!r}; one of {', '.join(CARDS)}")
            op.card = CARDS[name]
            verification = options.get("verification")
            pin = op.card.pin if verification is None else verification == "pin"
            self.state = State.PIN if pin else State.SIGNATURE
            self._show(now, "Ingrese su NIP" if pin else "Ingrese su firma")
            # In manual mode a person enters the PIN or signs; in auto mode the flow goes on.
            self._deadline = (
                None if self.mode == "manual" else now + timedelta(seconds=self.config.pin_delay)
            )
            return
        if action in ("pin", "sign") and self.state in (State.PIN, State.SIGNATURE):
            self.state = State.AUTHORISING
            self._show(now, "Esperando autorización / Authorising")
            self._deadline = None if self.mode == "manual" else now
            return
        if action in ("approve", "decline") and self.state is State.AUTHORISING:
            code = "00" if action == "approve" else str(options.get("code") or "51")
            if code != "00" and code not in DECLINE_MESSAGES:
                raise ValueError(f"decline code must be one of {', '.join(DECLINE_MESSAGES)}")
            op.manual_code = code
            self._deadline = now
            return
        raise ValueError(f"cannot {action} while the terminal is {self.state}")

    # -- time -------------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Delivery]:
        """Advance every timer that is due; return the deliveries to post now."""
        for _ in range(16):  # a few steps may fall due at once (zero delays)
            if self._deadline is None or self._deadline > now or self._op is None:
                break
            self._step(now)
        due = [d for d in self._outbox if d.due <= now]
        if self._in_flight is not None:
            return []
        if due:
            first = min(due, key=lambda d: d.due)
            self._outbox.remove(first)
            self._in_flight = first
            return [first]
        return []

    def delivered(self, delivery: Delivery, ok: bool, now: datetime, detail: str = "") -> None:
        """The server reports how the POST went (``ok``: HTTP 2xx with ``code "00"``)."""
        self._in_flight = None
        if ok:
            self._note(now, f"respuesta entregada / delivered ({detail})")
            if delivery.probe:
                self._show(now, "Datos guardados con éxito tpv Smart")
            if self._held is not None and delivery is not self._held and not delivery.probe:
                held, self._held = self._held, None
                held.due = now
                self._outbox.append(held)
            if self.state is State.DELIVERING and not self._outbox and self._held is None:
                self.state = State.IDLE
            return
        self._note(now, f"no se pudo enviar / delivery failed ({detail})")
        if delivery.probe:
            self._show(now, "No se pudo guardar: el servicio no respondió / service did not answer")
            return
        if delivery.faults.retry_after is not None and delivery.attempt <= delivery.faults.retries:
            delivery.attempt += 1
            delivery.due = now + timedelta(seconds=delivery.faults.retry_after)
            self._outbox.append(delivery)
            self._show(now, "No se pudo enviar la respuesta. Reintentar / Could not send. Retry")
            return
        self._failed = delivery
        self._show(now, "No se pudo enviar la respuesta. Reintentar / Could not send. Retry")
        if self.state is State.DELIVERING and not self._outbox:
            self.state = State.IDLE

    # -- the machine ------------------------------------------------------------------------

    def _step(self, now: datetime) -> None:
        op = self._op
        assert op is not None
        if self.state is State.WAITING_CARD:
            if self._waiting_for == "timeout" or op.scenario.user_cancels:
                self._finish_sale(now, code="02", message="Cancelado por el Usuario")
                return
            op.card = CARDS[op.scenario.card]
            self.state = State.PIN if op.card.pin else State.SIGNATURE
            self._show(now, "Ingrese su NIP" if op.card.pin else "Ingrese su firma")
            self._deadline = now + timedelta(seconds=self.config.pin_delay)
        elif self.state in (State.PIN, State.SIGNATURE):
            self.state = State.AUTHORISING
            self._show(now, "Esperando autorización / Authorising")
            self._deadline = now + timedelta(seconds=self.config.auth_delay)
        elif self.state is State.AUTHORISING:
            if op.kind == "sale":
                self._authorise_sale(now)
            elif op.kind == "cancel":
                self._cancel(now)
            else:
                self._reprint(now)
        elif self.state is State.PRINTING:
            self._deadline = None
            self._deliver_pending(now)

    def _order_id(self, now: datetime) -> str:
        # yyMMddHHmmss-serial; two sales in one second would collide, a real terminal can't.
        moment = now.astimezone(MEXICO_CITY).replace(microsecond=0)
        if self._last_order_at is not None and moment <= self._last_order_at:
            moment = self._last_order_at + timedelta(seconds=1)
        self._last_order_at = moment
        return f"{moment:%y%m%d%H%M%S}-{self.serial}"

    def _authorise_sale(self, now: datetime) -> None:
        op = self._op
        assert op is not None and op.card is not None
        code, message = op.scenario.code, op.scenario.message
        if op.manual_code is not None:
            code = op.manual_code
            message = "Transacción exitosa" if code == "00" else DECLINE_MESSAGES[code]
        elif self.mode == "manual":  # authorising waits for approve / decline
            self._deadline = None
            return
        msi = op.request.get("msi")
        if code == "00" and msi not in (None, "", 0, "0") and op.card.type == "D":
            code, message = "48", "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA"
        if code == "00" or op.scenario.reversal:
            order_id = self._order_id(now)
            result = self._approved_result(op, order_id, now)
            if op.scenario.reversal:
                # The bank approved, the answer never reached the terminal: it shows a
                # communication error and posts a 05; the reprint by folio tells the truth.
                self.journal.append(
                    JournalEntry(order_id, op.request.get("folioNumber"), op.scenario.reversal,
                                 result, now)
                )  # fmt: skip
                self._finish_sale(now, code=code, message=message, journal=False)
                return
            for entry in self.journal:
                if entry.state == "PRV":
                    entry.state = "RV"  # the next approved sale completes a pending reversal
            self.journal.append(JournalEntry(order_id, op.request.get("folioNumber"), "C",
                                             result, now))  # fmt: skip
            self._pending_result = result
            self._show(now, "Venta normal Aprobada")
            self._print_then_deliver(now, result)
            return
        self._finish_sale(now, code=code, message=message)

    def _print_then_deliver(self, now: datetime, result: dict[str, Any]) -> None:
        op = self._op
        assert op is not None
        self._pending_result = result
        if op.request.get("disablePrintAnimation") in (True, "true"):
            self._deliver_pending(now)
            return
        self.state = State.PRINTING
        self._deadline = now + timedelta(seconds=self.config.print_delay)

    def _deliver_pending(self, now: datetime) -> None:
        op = self._op
        assert op is not None
        result = self._pending_result
        self.state = State.DELIVERING
        self._deadline = None
        self._op = None
        self._queue(result, op.faults, now)

    def _queue(self, result: dict[str, Any], faults: Faults, now: datetime) -> None:
        self.last_result = {
            "kind": _kind_of(result),
            "response_code": result.get("responseCode"),
            "amount": result.get("amount"),
            "folio": result.get("folioNumber"),
            "order_id": result.get("orderId"),
            "message": result.get("message"),
        }
        if self.response_url is None:
            self._show(now, "Sin URL de respuesta / no response URL configured")
            self.state = State.IDLE
            return
        if faults.drop:
            self._note(now, "resultado perdido (falla simulada) / result dropped (fault)")
            self._show(now, "No se pudo enviar la respuesta. Reintentar / Could not send. Retry")
            self.state = State.IDLE
            return
        body = _dump(result)
        delivery = Delivery(
            self.serial, self.response_url, body, now + timedelta(seconds=faults.delay),
            faults=faults,
        )  # fmt: skip
        if faults.out_of_order:
            self._held = delivery
            self.state = State.IDLE  # free for the next push, whose result goes first
            return
        self._outbox.append(delivery)
        if faults.duplicate:
            copy = Delivery(self.serial, self.response_url, body, delivery.due, faults=Faults())
            self._outbox.append(copy)

    def _finish_sale(self, now: datetime, *, code: str, message: str, journal: bool = True) -> None:
        op = self._op
        assert op is not None
        request = op.request
        result: dict[str, Any] = {
            "affiliation": self.config.affiliation,
            "amount": _java_double(Decimal(str(request.get("amount", "0")))),
            "bin": op.card.bin if op.card else "",
            "cardTypeName": op.card.brand if op.card else "",
            "cityName": self.config.city_name,
            "responseCode": code,
            "folioNumber": request.get("folioNumber", ""),
            "hasPin": False,
            "internalNumber": "",
            "isQps": 0,
            "isRePrint": False,
            "message": message,
            "moduleCharge": "1",
            "moduleLote": "1",
            "terminalId": self.serial,
            "cardNumber": op.card.last4 if op.card else "",
            "preStatus": 0,
            "storeId": op.store_id,
            "streetName": self.config.street_name,
            "tableId": "",
            "ticketDate": _ticket_date(now),
            "traceability": request.get("traceability") or {},
            "transType": "A",
        }
        if journal:
            self.journal.append(JournalEntry(None, request.get("folioNumber"), "D", result, now))
        self._show(now, message)
        self._pending_result = result
        self._deliver_pending(now)

    def _approved_result(self, op: _Operation, order_id: str, now: datetime) -> dict[str, Any]:
        card = op.card
        assert card is not None
        amount = Decimal(str(op.request.get("amount", "0")))
        msi = op.request.get("msi")
        result = {
            "affiliation": self.config.affiliation,
            "applicationLabel": card.label,
            "arqc": _hex(order_id + "arqc", 16),
            "aid": card.aid,
            "amount": _java_double(amount),
            "authCode": "222222",
            "bankName": card.bank,
            "bin": card.bin,
            "cardExpDate": card.exp,
            "cardType": card.type,
            "cardTypeName": card.brand,
            "cityName": self.config.city_name,
            "responseCode": "00",
            "folioNumber": op.request.get("folioNumber"),  # left out below when None
            "hasPin": card.pin,
            "hexSign": "" if card.pin else "00000100000001DA0000009E00" + _hex(order_id, 480),
            "isQps": 0,
            "isRePrint": False,
            "message": "Transacción exitosa",
            "moduleCharge": "1",
            "moduleLote": "1",
            "customerName": f"{card.holder} ",
            "terminalId": self.serial,
            "orderId": order_id,
            "preAuth": "0",
            "preStatus": 0,
            "promotion": f"{int(msi):02d}" if msi not in (None, "", 0, "0") else "00",
            "rePrintDate": self.config.app_version,
            "rePrintMark": card.brand,
            "reprintModule": "C",
            "cardNumber": card.last4,
            "storeId": op.store_id,  # newer apps send it (the 2024 capture); older ones do not
            "storeName": self.config.store_name,
            "streetName": self.config.street_name,
            "ticketDate": _ticket_date(now),
            "tipAmount": "0.0",
            "tipLessAmount": _java_double(amount),
            "traceability": op.request.get("traceability") or {},
            "transDate": _trans_date(now),
            "transType": "A",
            "transactionCertificate": _hex(order_id + "tc", 16),
            "transactionId": str(uuid.uuid5(uuid.NAMESPACE_URL, order_id)).upper(),
        }
        # As in every approved example of NetPay's pages: no folioNumber when the sale was
        # pushed without one.
        return {key: value for key, value in result.items() if value is not None}

    def _find(self, request: dict[str, Any]) -> JournalEntry | None:
        order_id = str(request.get("orderId") or "")
        folio = request.get("folioId")
        for entry in reversed(self.journal):
            if order_id and entry.order_id == order_id:
                return entry
            if not order_id and folio and entry.folio == folio:  # case-sensitive, as NetPay
                return entry
        return None

    def _reprint(self, now: datetime) -> None:
        op = self._op
        assert op is not None
        entry = self._find(op.request)
        if entry is None:
            self._show(now, "Transacción no encontrada / transaction not found")
            self._op, self._deadline, self.state = None, None, State.IDLE
            return
        result = dict(entry.result)
        if entry.order_id is not None:
            amount = Decimal(result["amount"])
            result.update(
                amount=_plain(amount),
                tipAmount="0",
                tipLessAmount=_plain(amount),
                transDate=_trans_date(entry.at, "0"),
                message="Transaccion Valida",
            )
            if entry.state == "V":
                result["transType"] = "V"
        result.update(
            isRePrint=True,
            reprintModule=entry.state,
            traceability=op.request.get("traceability") or {},
        )
        self._show(now, "Reimpresión / Reprint")
        self._print_then_deliver(now, result)

    def _cancel(self, now: datetime) -> None:
        op = self._op
        assert op is not None
        entry = self._find({"orderId": op.request.get("orderId")})
        local_now = now.astimezone(MEXICO_CITY)
        allowed = (
            entry is not None
            and entry.state == "C"
            and entry.at.astimezone(MEXICO_CITY).date() == local_now.date()
            and local_now.hour < CANCEL_CUTOFF_HOUR
        )
        if entry is None or not allowed:
            base = entry.result if entry is not None else {}
            result = {
                "responseCode": "13",
                "folioNumber": base.get("folioNumber", ""),
                "orderId": op.request.get("orderId", ""),
                "hasPin": False,
                "internalNumber": "",
                "isRePrint": False,
                "message": "TRANSACCION NO PERMITIDA",
                "tableId": "",
                "terminalId": self.serial,
                "traceability": op.request.get("traceability") or {},
                "transType": "V",
            }
            self._show(now, "Cancelación no permitida / Cancellation not allowed")
            self._pending_result = result
            self._deliver_pending(now)
            return
        entry.state = "V"
        result = dict(entry.result)
        # As NetPay's cancellation example: the sale's body with the cancellation's transDate
        # (its ticketDate stays the sale's), no signature, no certificate, reprintModule "C".
        result.update(
            tipAmount="null",
            hexSign="",
            traceability=op.request.get("traceability") or {},
            transDate=_trans_date(now),
            transType="V",
        )
        for key in ("transactionCertificate", "transactionId"):
            result.pop(key, None)
        self._show(now, "Cancelación Su transacción ha sido aprobada")
        self._print_then_deliver(now, result)

    _pending_result: dict[str, Any]


def _kind_of(result: dict[str, Any]) -> str:
    if result.get("isRePrint") is True:
        return "reprint"
    return "cancellation" if result.get("transType") == "V" else "sale"


def _dump(body: dict[str, Any]) -> bytes:
    """Compact JSON with non-ASCII as UTF-8, the way the Android app's Gson writes it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
