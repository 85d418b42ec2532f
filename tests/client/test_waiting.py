"""Waiting for a result against a fake receiver: how long the wait lasts, when a result counts
as arrived, and what the cashier is told.

Time is a :class:`FakeTime`: it moves only when the client pauses, so a minute's wait takes
no time and every pause can be checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from netpay_smart.client import Outcome, OutcomeStatus, Push

from .fakes import (
    OK_PUSH,
    FakeGateway,
    FakeReceiver,
    FakeTime,
    async_client,
    client,
    reply,
    sale_kwargs,
)

APPROVED = {
    "status": "approved",
    "body": {"responseCode": "00", "message": "Transacción exitosa", "amount": "4.45"},
    "transaction": {"order_id": "260305100030-0821000119", "amount": "4.45"},
}


def restarting(receiver: FakeReceiver, time: FakeTime) -> Callable[[httpx.Request], Any]:
    """The receiver restarting during the wait: from 1.5 s to 3 s it cannot be reached, every
    long-poll comes back at once (as when it shuts down), and the result arrives at 30 s."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            if 1.5 <= time.now < 3:
                raise httpx.ConnectError("connection refused")
            if time.now >= 30:
                for push_id in receiver.registered:
                    receiver.results.setdefault(push_id, APPROVED)
        return receiver.handle(request)

    return handle


def gets(receiver: FakeReceiver) -> int:
    return len([r for r in receiver.requests if r.method == "GET"])


# -- the wait lasts until its deadline --------------------------------------------------------


def test_a_wait_lasts_until_its_deadline_however_early_the_polls_come_back() -> None:
    """Early polls and a moment unreachable cost a 1 s pause each; the 30 s result is returned."""
    gateway, receiver, time = FakeGateway(), FakeReceiver(), FakeTime()
    with client(
        gateway,
        receiver,
        receiver_transport=httpx.MockTransport(restarting(receiver, time)),
        timer=time.timer,
        sleep=time.sleep,
    ) as sdk:
        outcome = sdk.sale(**sale_kwargs(amount="4.45"), wait=True, timeout=60)
    assert isinstance(outcome, Outcome)
    assert (outcome.status, outcome.approved, outcome.recovered) == (
        OutcomeStatus.APPROVED,
        True,
        False,
    )
    assert gateway.kinds() == ["token", "sale"]  # no reprint by folio mid-sale
    assert time.now == 30.0
    assert time.sleeps == [1.0] * 30
    assert gets(receiver) == 30  # one poll a second from 0 to 30 s, but 2 s was unreachable


def test_async_a_wait_lasts_until_its_deadline_however_early_the_polls_come_back() -> None:
    """The AsyncClient twin: early polls and a moment unreachable, the result at 30 s."""
    gateway, receiver, time = FakeGateway(), FakeReceiver(), FakeTime()

    async def main() -> Outcome:
        async with async_client(
            gateway,
            receiver,
            receiver_transport=httpx.MockTransport(restarting(receiver, time)),
            timer=time.timer,
            sleep=time.asleep,
        ) as sdk:
            outcome = await sdk.sale(**sale_kwargs(amount="4.45"), wait=True, timeout=60)
        assert isinstance(outcome, Outcome)
        return outcome

    outcome = anyio.run(main)
    assert (outcome.status, outcome.approved, outcome.recovered) == (
        OutcomeStatus.APPROVED,
        True,
        False,
    )
    assert gateway.kinds() == ["token", "sale"]
    assert time.now == 30.0
    assert time.sleeps == [1.0] * 30


def test_the_recovery_reprint_is_sent_only_once_the_wait_is_over() -> None:
    """With no result, the reprint by folio goes at the 60 s deadline, then waits 30 s more."""
    gateway, receiver, time = FakeGateway(), FakeReceiver(), FakeTime()
    sent_at: list[float] = []

    def recovery(request: httpx.Request) -> httpx.Response:
        sent_at.append(time.now)
        return reply(200, OK_PUSH)

    gateway.push_answers.extend([reply(200, OK_PUSH), recovery])
    with client(gateway, receiver, timer=time.timer, sleep=time.sleep) as sdk:
        outcome = sdk.sale(**sale_kwargs(), wait=True, timeout=60)
    assert isinstance(outcome, Outcome)
    assert (outcome.status, outcome.recovered) == (OutcomeStatus.UNKNOWN, False)
    assert gateway.kinds() == ["token", "sale", "reprint"]
    assert sent_at == [60.0]
    assert time.now == 90.0
    assert time.sleeps == [1.0] * 90


# -- when the result arrived ------------------------------------------------------------------


def user_cancelled(received_at: str) -> dict[str, Any]:
    """A 02 result that reached the receiver at ``received_at``."""
    return {
        "status": "user_cancelled",
        "body": {"responseCode": "02", "message": "Cancelado por el Usuario"},
        "transaction": {"response_code": "02", "received_at": received_at},
    }


def test_a_02_is_timed_out_or_cancelled_by_when_it_arrived_not_when_wait_is_called() -> None:
    """A 02 arriving 58 s after the push is timed_out, 2 s after cancelled_by_user, anytime."""
    gateway, receiver, time = FakeGateway(), FakeReceiver(), FakeTime()
    receiver.created_at = "2026-03-05T10:00:00-06:00"
    with client(gateway, receiver, timer=time.timer, sleep=time.sleep) as sdk:
        receiver.answer_with = user_cancelled("2026-03-05T10:00:58-06:00")
        late = sdk.sale(**sale_kwargs())
        assert isinstance(late, Push)
        timed_out = late.wait()
        receiver.answer_with = user_cancelled("2026-03-05T10:00:02-06:00")
        early = sdk.sale(**sale_kwargs())
        assert isinstance(early, Push)
        time.now += 57
        cancelled = early.wait()
    assert (timed_out.status, timed_out.code) == (OutcomeStatus.TIMED_OUT, "02")
    assert (cancelled.status, cancelled.code) == (OutcomeStatus.CANCELLED_BY_USER, "02")


def test_async_a_02_is_timed_out_by_when_it_arrived() -> None:
    """The AsyncClient twin: a 02's status follows when it arrived, not when it is awaited."""
    gateway, receiver, time = FakeGateway(), FakeReceiver(), FakeTime()
    receiver.created_at = "2026-03-05T10:00:00-06:00"

    async def main() -> tuple[Outcome, Outcome]:
        async with async_client(gateway, receiver, timer=time.timer, sleep=time.asleep) as sdk:
            receiver.answer_with = user_cancelled("2026-03-05T10:00:58-06:00")
            late = await sdk.sale(**sale_kwargs(), wait=True)
            receiver.answer_with = user_cancelled("2026-03-05T10:00:02-06:00")
            early = await sdk.sale(**sale_kwargs())
            assert not isinstance(early, Outcome)
            time.now += 57
            cancelled = await early.await_result()
        assert isinstance(late, Outcome)
        return late, cancelled

    late, cancelled = anyio.run(main)
    assert late.status is OutcomeStatus.TIMED_OUT
    assert cancelled.status is OutcomeStatus.CANCELLED_BY_USER


# -- what the cashier is told -----------------------------------------------------------------

STATES = [
    ("reversed", "RV", OutcomeStatus.REVERSED,
     "Revertida: el cargo no se realizó", "Reversed: the charge did not go through"),
    ("pending_reversal", "PRV", OutcomeStatus.PENDING_REVERSAL,
     "Reverso pendiente: el cargo se anulará", "Reversal pending: the charge will be undone"),
    ("cancelled", "V", OutcomeStatus.CANCELLED,
     "Cancelada: la venta fue anulada", "Cancelled: the sale was voided"),
    ("declined", "D", OutcomeStatus.DECLINED, "Rechazada", "Declined"),
]  # fmt: skip


def reprinted(status: str, module: str) -> dict[str, Any]:
    """A reprint by folio: the original sale's code 00, the current state in reprintModule."""
    return {
        "status": status,
        "body": {
            "responseCode": "00",
            "message": "Transaccion Valida",
            "isRePrint": True,
            "reprintModule": module,
            "folioNumber": "CAJA1-0007",
        },
        "transaction": {"order_id": "260305100030-0821000119", "amount": "1.01"},
    }


@pytest.mark.parametrize(("status", "module", "expected", "es", "en"), STATES)
def test_a_reprint_tells_the_current_state_not_the_original_approval(
    status: str, module: str, expected: OutcomeStatus, es: str, en: str
) -> None:
    """A reprint with code 00 and state RV, PRV, V or D says that state, never "Aprobada"."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    receiver.answer_with = reprinted(status, module)
    with client(gateway, receiver) as sdk:
        outcome = sdk.reprint(
            serial_number="0821000119", store_id="455311", folio_number="CAJA1-0007", wait=True
        )
    assert isinstance(outcome, Outcome)
    assert (outcome.status, outcome.approved, outcome.code) == (expected, False, "00")
    assert (outcome.message, outcome.message_en) == (es, en)


def test_async_a_reversed_reprint_says_reversed() -> None:
    """The AsyncClient twin: a reprint reporting RV says "Revertida", not "Aprobada"."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    receiver.answer_with = reprinted("reversed", "RV")

    async def main() -> Outcome | Any:
        async with async_client(gateway, receiver) as sdk:
            return await sdk.reprint(
                serial_number="0821000119", store_id="455311", folio_number="CAJA1-0007",
                wait=True,
            )  # fmt: skip

    outcome = anyio.run(main)
    assert isinstance(outcome, Outcome)
    assert (outcome.status, outcome.message, outcome.message_en) == (
        OutcomeStatus.REVERSED,
        "Revertida: el cargo no se realizó",
        "Reversed: the charge did not go through",
    )


# -- a 05 is checked with the terminal --------------------------------------------------------

CONNECTION_ERROR = {
    "status": "declined",
    "body": {"responseCode": "05", "message": "Error de conexión", "folioNumber": "CAJA1-0007"},
    "transaction": {"response_code": "05"},
}


def answering(receiver: FakeReceiver, results: dict[str, Any]) -> Callable[[httpx.Request], Any]:
    """The receiver, each push registered completing with the result for its kind."""

    def handle(request: httpx.Request) -> httpx.Response:
        response = receiver.handle(request)
        if request.method == "POST" and request.url.path == "/api/pushes":
            body = json.loads(request.content)
            if body["kind"] in results:
                receiver.results[body["id"]] = results[body["kind"]]
        return response

    return handle


def test_a_05_is_checked_by_a_reprint_and_told_as_the_terminal_says() -> None:
    """A sale answered 05 sends a reprint by folio; the sale's outcome is what it reports."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    transport = httpx.MockTransport(
        answering(receiver, {"sale": CONNECTION_ERROR, "reprint": reprinted("reversed", "RV")})
    )
    with client(gateway, receiver, receiver_transport=transport) as sdk:
        outcome = sdk.sale(**sale_kwargs(folio_number="CAJA1-0007"), wait=True)
    assert isinstance(outcome, Outcome)
    assert gateway.kinds() == ["token", "sale", "reprint"]
    sale_id = next(i for i, body in receiver.registered.items() if body["kind"] == "sale")
    assert (outcome.push_id, outcome.kind, outcome.status, outcome.recovered) == (
        sale_id,
        "sale",
        OutcomeStatus.REVERSED,
        True,
    )
    assert outcome.order_id == "260305100030-0821000119"
    [check] = [body for body in receiver.registered.values() if body["kind"] == "reprint"]
    assert (check["folio_number"], check["exclusive"]) == ("CAJA1-0007", True)


def test_a_05_the_terminal_does_not_answer_about_stays_a_05() -> None:
    """If the reprint's result does not come within 30 s, the 05 is told as it came."""
    gateway, receiver, time = FakeGateway(), FakeReceiver(), FakeTime()
    transport = httpx.MockTransport(answering(receiver, {"sale": CONNECTION_ERROR}))
    with client(
        gateway, receiver, receiver_transport=transport, timer=time.timer, sleep=time.sleep
    ) as sdk:
        outcome = sdk.sale(**sale_kwargs(), wait=True)
    assert isinstance(outcome, Outcome)
    assert (outcome.status, outcome.code, outcome.recovered) == (
        OutcomeStatus.DECLINED,
        "05",
        False,
    )
    assert outcome.message == "Error de conexión: verifique el estado antes de cobrar de nuevo"
    assert gateway.kinds() == ["token", "sale", "reprint"]
    assert time.now == 30.0


def test_a_plain_decline_sends_no_reprint() -> None:
    """A 51 is no doubt: no reprint by folio follows it."""
    declined = {
        "status": "declined",
        "body": {"responseCode": "51", "message": "FONDOS INSUFICIENTES"},
        "transaction": {"response_code": "51"},
    }
    gateway, receiver = FakeGateway(), FakeReceiver()
    receiver.answer_with = declined
    with client(gateway, receiver) as sdk:
        outcome = sdk.sale(**sale_kwargs(), wait=True)
    assert isinstance(outcome, Outcome)
    assert (outcome.status, outcome.code, outcome.recovered) == (
        OutcomeStatus.DECLINED,
        "51",
        False,
    )
    assert gateway.kinds() == ["token", "sale"]


def test_async_a_05_is_checked_by_a_reprint() -> None:
    """The AsyncClient twin: a 05 followed by a reprint reporting a pending reversal."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    transport = httpx.MockTransport(
        answering(
            receiver,
            {"sale": CONNECTION_ERROR, "reprint": reprinted("pending_reversal", "PRV")},
        )
    )

    async def main() -> Outcome | Any:
        async with async_client(gateway, receiver, receiver_transport=transport) as sdk:
            return await sdk.sale(**sale_kwargs(), wait=True)

    outcome = anyio.run(main)
    assert isinstance(outcome, Outcome)
    assert (outcome.status, outcome.recovered) == (OutcomeStatus.PENDING_REVERSAL, True)
    assert gateway.kinds() == ["token", "sale", "reprint"]
