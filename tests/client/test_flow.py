"""The SDK against the sandbox and the receiver over real HTTP (uvicorn on 127.0.0.1:0).

The sandbox runs on a ManualClock at 10:00 Mexico City, so cancellations are open and the
card timeout only passes when a test moves time. Each behaviour uses its own terminal.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import anyio
import pytest

from netpay_smart.client import AsyncClient, AsyncPush, Card, Client, Outcome, OutcomeStatus, Push
from netpay_smart.codes import describe
from netpay_smart.errors import (
    ConfigurationError,
    RuleError,
    TerminalBusyError,
    TerminalNotFoundError,
)
from netpay_smart.sandbox import SandboxConfig, create_sandbox_app
from netpay_smart.wire import MEXICO_CITY
from tests.conftest import serve_in_thread

from .world import (
    MAIN_SERIAL,
    MAIN_STORE,
    MORNING_CDMX,
    PASSWORD,
    USERNAME,
    ManualClock,
    World,
    running_world,
    terminal,
    wait_until,
)

BUSY = "0821000120"
LOST = "0821000121"
NO_CARD = "0821000122"
QUIET = "0821000123"
THREADED = tuple(f"30000000{n:02d}" for n in range(10))
TASKS = tuple(f"40000000{n:02d}" for n in range(10))
WAIT = 10.0  # seconds: every result here arrives in milliseconds

_folios = itertools.count(1)


def folio() -> str:
    """A unique, readable folio (no long digit runs, which the receiver would mask)."""
    return f"FLOW-{next(_folios):04d}-X"


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    """The sandbox's time: 10:00 in Mexico City, moved only by tests that need the timeout."""
    return ManualClock(MORNING_CDMX)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, clock: ManualClock) -> Iterator[World]:
    """A receiver and a sandbox with one terminal per behaviour, zero delays, 1 s card timeout."""
    terminals = (
        terminal(MAIN_SERIAL, smart_accounts=(MAIN_STORE, "455312")),
        *(terminal(serial) for serial in (BUSY, LOST, NO_CARD, QUIET, *THREADED, *TASKS)),
    )
    with running_world(tmp_path_factory.mktemp("flow"), terminals, clock=clock) as running:
        yield running


@pytest.fixture
def sdk(world: World, clock: ManualClock) -> Iterator[Client]:
    """A client on the sandbox and the receiver, sharing the sandbox's clock."""
    with Client(**world.client_options(clock=clock.now)) as client:
        yield client


def sale(client: Client, amount: str, serial: str = MAIN_SERIAL, **options: Any) -> Outcome:
    outcome = client.sale(
        serial_number=serial,
        store_id=MAIN_STORE,
        amount=amount,
        folio_number=options.pop("folio_number", None) or folio(),
        wait=True,
        timeout=options.pop("timeout", WAIT),
        **options,
    )
    assert isinstance(outcome, Outcome)
    return outcome


# -- outcomes ---------------------------------------------------------------------------------


def test_approved_sale(sdk: Client) -> None:
    """1.00 is approved: order id yyMMddHHmmss-serial, amount, card, Spanish message."""
    outcome = sale(sdk, "1.00")
    assert outcome.approved is True
    assert outcome.status is OutcomeStatus.APPROVED
    assert outcome.kind == "sale"
    assert outcome.code == "00"
    assert outcome.order_id is not None
    assert re.fullmatch(r"\d{12}-0821000119", outcome.order_id)
    assert outcome.order_id.startswith(f"{MORNING_CDMX:%y%m%d}")
    assert outcome.amount == Decimal("1.00")
    assert outcome.card == Card("VISA", "C", "8425")
    assert (outcome.message, outcome.message_en) == ("Aprobada", "Approved")
    assert outcome.terminal_message == "Transacción exitosa"
    assert outcome.recovered is False


def test_declined_sale_is_an_outcome_not_an_exception(sdk: Client) -> None:
    """0.51 comes back declined with code 51 and the catalogue's Spanish and English text."""
    outcome = sale(sdk, "0.51")
    assert outcome.approved is False
    assert outcome.status is OutcomeStatus.DECLINED
    assert outcome.code == "51"
    assert outcome.message == describe("51").cashier_es == "Rechazada: fondos insuficientes"
    assert outcome.message_en == "Declined: insufficient funds"
    assert outcome.terminal_message == "FONDOS INSUFICIENTES"
    assert outcome.amount == Decimal("0.51")


@pytest.mark.parametrize(
    ("amount", "code", "terminal_message"),
    [
        ("0.13", "13", "TRANSACCION NO PERMITIDA"),
        ("0.14", "14", "TARJETA INVALIDA"),
        ("0.34", "34", "TARJETA RECHAZADA"),
        ("0.48", "48", "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA"),
        ("0.56", "56", "TARJETA INVALIDA"),
    ],
)
def test_each_documented_decline_is_an_outcome(
    sdk: Client, amount: str, code: str, terminal_message: str
) -> None:
    """Every documented decline code comes back as a declined outcome with its texts."""
    outcome = sale(sdk, amount)
    assert (outcome.approved, outcome.status, outcome.code) == (
        False,
        OutcomeStatus.DECLINED,
        code,
    )
    assert outcome.message == describe(code).cashier_es
    assert outcome.message_en == describe(code).cashier_en
    assert outcome.terminal_message == terminal_message
    assert outcome.amount == Decimal(amount)


def test_msi_on_a_debit_card_is_declined_48(sdk: Client) -> None:
    """Months without interest on a debit card (0.21) is code 48, as the terminal answers."""
    outcome = sale(sdk, "0.21", msi=3)
    assert (outcome.approved, outcome.code) == (False, "48")


def test_cancelled_on_the_terminal_is_cancelled_by_user(sdk: Client) -> None:
    """0.03 (the cashier presses cancel) is code 02, status cancelled_by_user, not approved."""
    outcome = sale(sdk, "0.03")
    assert (outcome.status, outcome.code, outcome.approved) == (
        OutcomeStatus.CANCELLED_BY_USER,
        "02",
        False,
    )
    assert outcome.terminal_message == "Cancelado por el Usuario"


def test_no_card_before_the_terminal_timeout_is_code_02(sdk: Client, clock: ManualClock) -> None:
    """0.02 posts 02 after the terminal timeout; an early 02 is reported cancelled_by_user."""
    # The SDK calls a 02 timed_out only from 55 s after the push (TERMINAL_TIMEOUT - 5, in
    # client/_base.py outcome_from_push); this sandbox terminal gives up after 1 s.
    push = sdk.sale(serial_number=NO_CARD, store_id=MAIN_STORE, amount="0.02", folio_number=folio())
    assert isinstance(push, Push)
    assert push.plan.serial_number == NO_CARD
    clock.advance(1.5)  # the sandbox terminal's timeout is 1 s
    outcome = push.wait(WAIT)
    assert outcome.code == "02"
    assert outcome.status is OutcomeStatus.CANCELLED_BY_USER
    assert outcome.approved is False
    assert outcome.message == "Cancelada en la terminal o sin tarjeta a tiempo"


def test_a_lost_result_is_recovered_by_the_reprint_by_folio(sdk: Client, world: World) -> None:
    """A dropped result is recovered after the wait by a reprint by folio: approved, recovered."""
    number = folio()
    outcome = sale(
        sdk,
        "1.00",
        serial=LOST,
        folio_number=number,
        traceability={"npsSandbox": {"drop": True}},
        timeout=0.5,
    )
    assert outcome.approved is True
    assert outcome.status is OutcomeStatus.APPROVED
    assert outcome.recovered is True
    assert outcome.folio_number == number
    assert outcome.order_id is not None
    assert outcome.order_id.endswith(f"-{LOST}")
    assert outcome.raw is not None
    assert outcome.raw["isRePrint"] is True
    assert outcome.raw["folioNumber"] == number
    log = [text for _, text in world.terminal(LOST).log]
    assert "resultado perdido (falla simulada) / result dropped (fault)" in log
    assert "Reimpresión / Reprint" in log


def test_a_reversed_sale_is_told_reversed_not_a_connection_error(sdk: Client, world: World) -> None:
    """0.70 posts a 05; the SDK asks the terminal (a reprint by folio) and says reversed; the
    receiver keeps the attempt as one sale, reversed, under the bank's orderId."""
    number = folio()
    outcome = sale(sdk, "0.70", folio_number=number)
    assert (outcome.status, outcome.approved, outcome.recovered, outcome.kind) == (
        OutcomeStatus.REVERSED,
        False,
        True,
        "sale",
    )
    assert (outcome.message, outcome.message_en) == (
        "Revertida: el cargo no se realizó",
        "Reversed: the charge did not go through",
    )
    assert outcome.folio_number == number
    # What the terminal said of this sale, not the reprint's "00" and "Transaccion Valida".
    assert (outcome.code, outcome.terminal_message) == ("05", "Error de conexión")
    assert outcome.order_id is not None  # the bank's, for the merchant's records
    assert outcome.raw is not None
    assert (outcome.raw["reprintModule"], outcome.raw["isRePrint"]) == ("RV", True)
    listed = world.api.get("/api/transactions", params={"folio": number}).json()["items"]
    assert [(t["order_id"], t["status"], t["response_code"]) for t in listed] == [
        (outcome.order_id, "reversed", "05")
    ]
    truth = sdk.reprint(
        serial_number=MAIN_SERIAL, store_id=MAIN_STORE, folio_number=number, wait=True, timeout=WAIT
    )
    assert isinstance(truth, Outcome)
    assert (truth.kind, truth.status, truth.approved) == ("reprint", OutcomeStatus.REVERSED, False)


def test_a_pending_reversal_is_told_pending(sdk: Client) -> None:
    """0.71 posts a 05; asked, the terminal says the reversal is pending (PRV)."""
    outcome = sale(sdk, "0.71")
    assert (outcome.status, outcome.approved, outcome.recovered) == (
        OutcomeStatus.PENDING_REVERSAL,
        False,
        True,
    )
    assert outcome.message == "Reverso pendiente: el cargo se anulará"
    assert outcome.code == "05"


def test_a_05_the_terminal_confirms_declined_is_declined_without_doubt(sdk: Client) -> None:
    """0.05 posts a 05 with no charge behind it; asked, the terminal says declined (D), and
    the cashier is told "Rechazada" instead of "check the status"."""
    outcome = sale(sdk, "0.05")
    assert (outcome.status, outcome.approved, outcome.code, outcome.recovered) == (
        OutcomeStatus.DECLINED,
        False,
        "05",
        True,
    )
    assert (outcome.message, outcome.message_en) == ("Rechazada", "Declined")
    assert outcome.terminal_message == "Error de conexión"


def test_without_recover_a_05_stays_in_doubt(sdk: Client) -> None:
    """``wait(recover=False)`` sends no reprint: a 05 is a decline to check by hand."""
    push = sdk.sale(
        serial_number=MAIN_SERIAL, store_id=MAIN_STORE, amount="0.70", folio_number=folio()
    )
    assert isinstance(push, Push)
    outcome = push.wait(timeout=WAIT, recover=False)
    assert (outcome.status, outcome.code, outcome.recovered) == (
        OutcomeStatus.DECLINED,
        "05",
        False,
    )
    assert outcome.message == "Error de conexión: verifique el estado antes de cobrar de nuevo"


def test_async_a_reversed_sale_is_told_reversed(world: World, clock: ManualClock) -> None:
    """The AsyncClient twin: 0.70 comes back reversed after the reprint by folio."""

    async def main() -> Outcome | AsyncPush:
        async with AsyncClient(**world.client_options(clock=clock.now)) as client:
            return await client.sale(
                serial_number=MAIN_SERIAL, store_id=MAIN_STORE, amount="0.70",
                folio_number=folio(), wait=True, timeout=WAIT,
            )  # fmt: skip

    outcome = anyio.run(main)
    assert isinstance(outcome, Outcome)
    assert (outcome.status, outcome.recovered) == (OutcomeStatus.REVERSED, True)


def test_a_smart_accounts_sale_switches_the_terminal_to_the_store(sdk: Client) -> None:
    """A sale for store 455312 with smart_accounts=True is approved under that store."""
    outcome = sdk.sale(
        serial_number=MAIN_SERIAL,
        store_id="455312",
        amount="2.50",
        folio_number=folio(),
        smart_accounts=True,
        wait=True,
        timeout=WAIT,
    )
    assert isinstance(outcome, Outcome)
    assert outcome.approved is True
    assert outcome.amount == Decimal("2.50")
    assert outcome.transaction is not None
    assert outcome.transaction["store_id"] == "455312"
    sdk.sale(
        serial_number=MAIN_SERIAL,
        store_id=MAIN_STORE,
        amount="1.00",
        smart_accounts=True,
        wait=True,
        timeout=WAIT,
    )  # back to the terminal's own store for the other tests


# -- reprints and cancellations ---------------------------------------------------------------


def test_reprint_by_order_id_returns_the_sale(sdk: Client) -> None:
    """A reprint by order id with wait returns the same sale, approved, as a reprint."""
    original = sale(sdk, "3.00")
    assert original.order_id is not None
    reprint = sdk.reprint(
        serial_number=MAIN_SERIAL, store_id=MAIN_STORE, order_id=original.order_id, wait=True,
        timeout=WAIT,
    )  # fmt: skip
    assert isinstance(reprint, Outcome)
    assert reprint.kind == "reprint"
    assert reprint.approved is True
    assert reprint.order_id == original.order_id
    assert reprint.amount == Decimal("3.00")
    assert reprint.raw is not None
    assert reprint.raw["isRePrint"] is True
    assert reprint.raw["reprintModule"] == "C"


def test_same_day_cancel_is_an_approved_cancellation(sdk: Client, world: World) -> None:
    """Cancelling a sale the same morning comes back approved, and the sale shows cancelled."""
    original = sale(sdk, "4.00")
    assert original.order_id is not None
    cancel = sdk.cancel(
        serial_number=MAIN_SERIAL, store_id=MAIN_STORE, order_id=original.order_id, wait=True,
        timeout=WAIT,
    )  # fmt: skip
    assert isinstance(cancel, Outcome)
    assert (cancel.kind, cancel.status, cancel.approved, cancel.code) == (
        "cancel",
        OutcomeStatus.APPROVED,
        True,
        "00",
    )
    assert cancel.order_id == original.order_id
    assert cancel.raw is not None
    assert cancel.raw["transType"] == "V"
    stored = world.api.get(f"/api/transactions/{original.order_id}").json()
    assert stored["cancelled"] is True


def test_cancel_after_the_cut_off_is_refused_before_sending(world: World) -> None:
    """At 20:00 Mexico City a cancel raises RuleError; no login, nothing reaches the terminal."""
    evening = ManualClock(MORNING_CDMX.replace(hour=20))
    before = world.sandbox.token_requests
    log = list(world.terminal(QUIET).log)
    with (
        Client(**world.client_options(clock=evening.now)) as client,
        pytest.raises(RuleError, match="refund"),
    ):
        client.cancel(
            serial_number=QUIET,
            store_id=MAIN_STORE,
            order_id=f"{MORNING_CDMX:%y%m%d}100000-{QUIET}",
        )
    assert world.sandbox.token_requests == before
    assert list(world.terminal(QUIET).log) == log


# -- one push per terminal --------------------------------------------------------------------


def test_a_second_sale_on_a_waiting_terminal_is_busy(world: World, clock: ManualClock) -> None:
    """A sale on a terminal whose sale waits is busy: in-process, and via the receiver's 409."""
    results: dict[str, Any] = {}
    with (
        Client(**world.client_options(clock=clock.now)) as first,
        Client(**world.client_options(clock=clock.now)) as second,
    ):

        def waiting_sale() -> None:
            results["outcome"] = sale(first, "0.02", serial=BUSY)

        waiter = threading.Thread(target=waiting_sale)
        waiter.start()
        wait_until(lambda: world.terminal(BUSY).state == "waiting_card", what="the card prompt")
        with pytest.raises(TerminalBusyError) as in_process:
            sale(first, "1.00", serial=BUSY)
        with pytest.raises(TerminalBusyError) as across:
            sale(second, "1.00", serial=BUSY)
        clock.advance(1.5)  # the card never comes: the first sale ends with 02
        waiter.join(WAIT + 5)
        after = sale(second, "1.00", serial=BUSY)
    assert (in_process.value.status, in_process.value.code) == (None, "terminal_busy")
    assert (across.value.status, across.value.code) == (409, "terminal_busy")
    first_push = results["outcome"].push_id
    assert across.value.body == {
        "error": "terminal_busy",
        "message": f"terminal {BUSY} is busy with push {first_push}",
        "push_id": first_push,
    }
    assert results["outcome"].code == "02"
    assert after.approved is True  # the terminal is free again once the result is in


def test_an_unknown_terminal_is_not_found_and_frees_the_push(sdk: Client, world: World) -> None:
    """The sandbox answers code 19 for an unknown serial; the receiver's push is marked failed."""
    for _attempt in range(2):  # the second is not TerminalBusyError: the first was freed
        with pytest.raises(TerminalNotFoundError) as caught:
            sdk.sale(serial_number="9999999999", store_id=MAIN_STORE, amount="1.00")
        assert (caught.value.status, caught.value.code) == (200, "19")
        assert caught.value.description == "No se encontró la terminal"


# -- tokens -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def expiring() -> Iterator[tuple[str, Any, ManualClock]]:
    """A sandbox of its own whose one-hour tokens expire when its clock is moved."""
    clock = ManualClock(MORNING_CDMX)
    app = create_sandbox_app(
        SandboxConfig(token_ttl=3600, terminals=(terminal(MAIN_SERIAL),)), clock=clock
    )
    with serve_in_thread(app) as url:
        yield url, app.state.sandbox, clock


def test_a_token_the_gateway_expired_is_replaced_by_logging_in_again(
    expiring: tuple[str, Any, ManualClock],
) -> None:
    """The sandbox expires the token (its clock moved an hour); the push logs in once more."""
    url, sandbox, gateway_clock = expiring
    before = sandbox.token_requests
    with Client(base_url=url, username=USERNAME, password=PASSWORD) as client:
        first = client.sale(serial_number=MAIN_SERIAL, store_id=MAIN_STORE, amount="1.00")
        gateway_clock.advance(3601)
        second = client.sale(serial_number=MAIN_SERIAL, store_id=MAIN_STORE, amount="1.00")
    assert isinstance(first, Push)
    assert isinstance(second, Push)
    assert sandbox.token_requests - before == 2


def test_ten_threads_cost_one_token_request_at_the_sandbox(world: World) -> None:
    """Ten threads pushing to ten terminals at once make one token request to the sandbox."""
    before = world.sandbox.token_requests
    start = threading.Barrier(len(THREADED))

    def push(serial: str) -> Any:
        start.wait()
        return client.sale(serial_number=serial, store_id=MAIN_STORE, amount="1.00")

    with (
        Client(base_url=world.sandbox_url, username=USERNAME, password=PASSWORD) as client,
        ThreadPoolExecutor(len(THREADED)) as pool,
    ):
        pushes = list(pool.map(push, THREADED))
    assert all(isinstance(p, Push) for p in pushes)
    assert world.sandbox.token_requests - before == 1
    wait_until(lambda: all(world.terminal(s).journal for s in THREADED), what="ten approved sales")


def test_ten_tasks_cost_one_token_request_at_the_sandbox(world: World) -> None:
    """Ten asyncio tasks pushing to ten terminals at once make one token request."""
    before = world.sandbox.token_requests
    pushes: list[Any] = []

    async def main() -> None:
        async with AsyncClient(
            base_url=world.sandbox_url, username=USERNAME, password=PASSWORD
        ) as client:

            async def push(serial: str) -> None:
                pushes.append(
                    await client.sale(serial_number=serial, store_id=MAIN_STORE, amount="1.00")
                )

            async with anyio.create_task_group() as tasks:
                for serial in TASKS:
                    tasks.start_soon(push, serial)

    anyio.run(main)
    assert len(pushes) == len(TASKS)
    assert all(isinstance(p, AsyncPush) for p in pushes)
    assert world.sandbox.token_requests - before == 1


# -- the sync and async twins -----------------------------------------------------------------


def test_push_wait_and_await_result_are_twins(world: World, clock: ManualClock) -> None:
    """A push's wait() and an async push's await_result() both return the approved outcome."""
    with Client(**world.client_options(clock=clock.now)) as client:
        push = client.sale(
            serial_number=MAIN_SERIAL, store_id=MAIN_STORE, amount="5.00", folio_number=folio()
        )
        assert isinstance(push, Push)
        synced = push.wait(WAIT)

    async def main() -> Outcome:
        async with AsyncClient(**world.client_options(clock=clock.now)) as client:
            pushed = await client.sale(
                serial_number=MAIN_SERIAL, store_id=MAIN_STORE, amount="5.00", folio_number=folio()
            )
            assert isinstance(pushed, AsyncPush)
            return await pushed.await_result(WAIT)

    awaited = anyio.run(main)
    for outcome, push_id in ((synced, push.id), (awaited, awaited.push_id)):
        assert outcome.push_id == push_id
        assert (outcome.status, outcome.approved, outcome.amount) == (
            OutcomeStatus.APPROVED,
            True,
            Decimal("5.00"),
        )
    assert synced.order_id != awaited.order_id


def test_async_sale_cancel_and_reprint_with_wait(world: World, clock: ManualClock) -> None:
    """AsyncClient sells, reprints by order id and cancels with wait=True, like Client."""

    async def main() -> tuple[Outcome, Outcome, Outcome]:
        async with AsyncClient(**world.client_options(clock=clock.now)) as client:
            sold = await client.sale(
                serial_number=MAIN_SERIAL, store_id=MAIN_STORE, amount="6.00", wait=True,
                timeout=WAIT, folio_number=folio(),
            )  # fmt: skip
            assert isinstance(sold, Outcome)
            assert sold.order_id is not None
            again = await client.reprint(
                serial_number=MAIN_SERIAL, store_id=MAIN_STORE, order_id=sold.order_id,
                wait=True, timeout=WAIT,
            )  # fmt: skip
            voided = await client.cancel(
                serial_number=MAIN_SERIAL, store_id=MAIN_STORE, order_id=sold.order_id,
                wait=True, timeout=WAIT,
            )  # fmt: skip
            assert isinstance(again, Outcome)
            assert isinstance(voided, Outcome)
            return sold, again, voided

    sold, again, voided = anyio.run(main)
    assert (sold.kind, sold.approved) == ("sale", True)
    assert (again.kind, again.approved, again.order_id) == ("reprint", True, sold.order_id)
    assert (voided.kind, voided.approved, voided.order_id) == ("cancel", True, sold.order_id)
    assert sold.order_id is not None
    assert sold.order_id.startswith(f"{MORNING_CDMX.astimezone(MEXICO_CITY):%y%m%d}")


def test_async_second_sale_on_a_waiting_terminal_is_busy(world: World, clock: ManualClock) -> None:
    """AsyncClient refuses a second sale on a terminal whose first sale still waits."""

    async def main() -> tuple[TerminalBusyError, Outcome]:
        async with AsyncClient(**world.client_options(clock=clock.now)) as client:
            first: dict[str, Outcome] = {}

            async def waiting_sale() -> None:
                outcome = await client.sale(
                    serial_number=BUSY, store_id=MAIN_STORE, amount="0.02", wait=True,
                    timeout=WAIT, folio_number=folio(),
                )  # fmt: skip
                assert isinstance(outcome, Outcome)
                first["outcome"] = outcome

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(waiting_sale)
                await anyio.to_thread.run_sync(
                    lambda: wait_until(
                        lambda: world.terminal(BUSY).state == "waiting_card", what="card prompt"
                    )
                )
                with pytest.raises(TerminalBusyError) as busy:
                    await client.sale(serial_number=BUSY, store_id=MAIN_STORE, amount="1.00")
                clock.advance(1.5)
            return busy.value, first["outcome"]

    busy, first = anyio.run(main)
    assert (busy.status, busy.code) == (None, "terminal_busy")
    assert first.code == "02"


def test_an_async_client_serves_a_second_event_loop_with_the_same_token(
    world: World, clock: ManualClock
) -> None:
    """An AsyncClient used in two asyncio.run calls sells in both and logs in only once."""
    client = AsyncClient(**world.client_options(clock=clock.now))
    before = world.sandbox.token_requests

    async def sell() -> Outcome:
        outcome = await client.sale(
            serial_number=MAIN_SERIAL, store_id=MAIN_STORE, amount="7.00", wait=True,
            timeout=WAIT, folio_number=folio(),
        )  # fmt: skip
        assert isinstance(outcome, Outcome)
        return outcome

    first = asyncio.run(sell())
    second = asyncio.run(sell())
    asyncio.run(client.aclose())
    assert (first.approved, second.approved) == (True, True)
    assert first.order_id != second.order_id
    assert world.sandbox.token_requests - before == 1


def test_an_async_client_in_use_on_another_loop_says_so(world: World) -> None:
    """An AsyncClient whose first event loop still runs refuses a second one with a hint."""
    client = AsyncClient(base_url=world.sandbox_url, username=USERNAME, password=PASSWORD)
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(client.token())
        with pytest.raises(ConfigurationError, match="one AsyncClient per event loop"):
            asyncio.run(client.sale(serial_number=QUIET, store_id=MAIN_STORE, amount="1.00"))
        first.run_until_complete(client.aclose())
    finally:
        first.close()
