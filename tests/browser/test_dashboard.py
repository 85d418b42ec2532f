"""The merchant dashboard in a real Chromium, against a real receiver and sandbox.

One receiver and one sandbox serve the whole module (one database). Sales are pushed through
the SDK at most once per amount (:meth:`World.sale`), so each test runs alone or in any order
and still sees exactly one approved sale of $12.50 and, once asked for, one decline (code 51).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from netpay_smart.client import Client
from netpay_smart.receiver import create_app
from netpay_smart.sandbox import SandboxConfig, TerminalConfig, create_sandbox_app
from netpay_smart.settings import ReceiverSettings
from netpay_smart.store.ingest import OUTCOMES
from tests.conftest import serve_in_thread

expect = pytest.importorskip("playwright.sync_api").expect

TOKEN = "t" * 20
SECRET = "s" * 20
SERIAL = "0821000119"
STORE = "455311"
SALE = "12.50"
DECLINE = "0.51"
CANCELLED_SALE = "20.00"  # a cancelled sale counts under "cancelled", never under "approved"
CANCEL_CUTOFF_HOUR = 20
MEXICO_CITY = ZoneInfo("America/Mexico_City")
FAST_REFRESH = "window.NPS_REFRESH_MS = 200"  # the summary's refresh period, 30 s by default


@dataclass
class World:
    """The running servers and the sales made so far (by amount)."""

    receiver: str
    client: Client
    sales: dict[str, Any] = field(default_factory=dict)

    def sale(self, amount: str) -> Any:
        """Push a sale of ``amount`` through the sandbox once; later calls return the same one."""
        if amount not in self.sales:
            outcome = self.client.sale(
                serial_number=SERIAL, store_id=STORE, amount=Decimal(amount), wait=True
            )
            assert outcome.transaction is not None
            self.sales[amount] = outcome
        return self.sales[amount]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A receiver and a sandbox whose terminal answers at once, wired together."""
    tmp = tmp_path_factory.mktemp("dashboard")
    receiver_app = create_app(
        ReceiverSettings(
            database_url=f"sqlite:///{tmp}/r.sqlite3", webhook_secrets=(SECRET,), api_token=TOKEN
        )
    )
    with serve_in_thread(receiver_app) as receiver:
        terminal = TerminalConfig(
            SERIAL, STORE, card_delay=0, pin_delay=0, auth_delay=0, print_delay=0
        )
        sandbox_app = create_sandbox_app(
            SandboxConfig(terminals=(terminal,)), webhook_url=f"{receiver}/webhook/{SECRET}"
        )
        with (
            serve_in_thread(sandbox_app) as sandbox,
            Client(
                base_url=sandbox,
                username="Nacional",
                password="netpay",
                receiver_url=receiver,
                api_token=TOKEN,
            ) as client,
        ):
            yield World(receiver, client)


@pytest.fixture
def strict_receiver(tmp_path: Path) -> Iterator[str]:
    """A receiver of its own that answers 429 after two wrong tokens from one address."""
    app = create_app(
        ReceiverSettings(
            database_url=f"sqlite:///{tmp_path}/strict.sqlite3",
            webhook_secrets=(SECRET,),
            api_token=TOKEN,
            auth_failure_limit=2,
        )
    )
    with serve_in_thread(app) as receiver:
        yield receiver


def sign_in(page: Any, world: World | str, path: str = "/") -> None:
    """Open the dashboard, sign in through the form, wait until the live stream is connected."""
    page.goto((world if isinstance(world, str) else world.receiver) + path)
    page.fill("#token", TOKEN)
    page.click("#signin-submit")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    expect(page.locator("#transactions")).to_have_attribute("aria-busy", "false")


def row_of(page: Any, outcome: Any) -> Any:
    return page.locator(f'#transactions tr[data-key="{outcome.transaction["key"]}"]')


def test_sign_in_form_refuses_a_wrong_token_and_sets_an_http_only_cookie(
    page: Any, world: World
) -> None:
    """A wrong token is refused; the right one opens the app and sets an HttpOnly cookie."""
    page.goto(world.receiver + "/")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    expect(page.locator("#signin h1")).to_have_text("Entrar al panel")

    page.fill("#token", "x" * 20)
    page.click("#signin-submit")
    expect(page.locator("#signin-error")).to_have_text(re.compile("Token incorrecto"))
    expect(page.locator("#app")).to_be_hidden()

    page.fill("#token", TOKEN)
    page.click("#signin-submit")
    expect(page.locator("#transactions")).to_be_visible()
    expect(page.locator("#signin")).to_be_hidden()
    today = datetime.now(ZoneInfo("America/Mexico_City")).date().isoformat()
    expect(page.locator("#f-date")).to_have_value(today)

    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["nps_session"]["httpOnly"] is True
    assert "nps_session" not in page.evaluate("document.cookie")

    page.reload()  # the cookie keeps the session
    expect(page.locator("#app")).to_be_visible()
    page.click("#signout")
    expect(page.locator("#signin")).to_be_visible()
    page.reload()
    expect(page.locator("#signin")).to_be_visible()


def test_a_sale_appears_in_the_table_without_reloading(page: Any, world: World) -> None:
    """A sale made through the sandbox after the page is open appears in the table live."""
    sign_in(page, world)
    page.evaluate("window.__notReloaded = true")
    outcome = world.sale(SALE)

    row = row_of(page, outcome)
    expect(row).to_be_visible()
    expect(row).to_contain_text("$12.50")
    expect(row).to_contain_text("Aprobada")
    expect(row).to_contain_text(outcome.order_id)
    assert page.evaluate("window.__notReloaded") is True


def test_the_transaction_page_shows_every_field_and_the_timeline(page: Any, world: World) -> None:
    """Clicking a row opens its page: order id, amount, fields, timeline and raw body."""
    outcome = world.sale(SALE)
    sign_in(page, world)
    row_of(page, outcome).click()

    expect(page).to_have_url(re.compile(r"#/t/"))
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#main-view")).to_be_hidden()
    expect(page.locator("#detail-title")).to_have_text(outcome.order_id)
    expect(page.locator("#detail-amount")).to_have_text("$12.50")
    expect(page.locator('#detail-fields [data-field="auth_code"] dd')).to_have_text("222222")
    expect(page.locator('#timeline li[data-event="push_sale"]')).to_have_count(1)
    expect(page.locator('#timeline li[data-event="delivery_new"]')).to_contain_text(
        "Resultado recibido"
    )
    expect(page.locator("#raw")).to_contain_text(f'"orderId": "{outcome.order_id}"')

    page.reload()  # the hash is a link to the transaction
    expect(page.locator("#detail-title")).to_have_text(outcome.order_id)
    page.click("#back")
    expect(page.locator("#main-view")).to_be_visible()
    expect(row_of(page, outcome)).to_be_visible()


def test_switching_language_changes_the_visible_texts(page: Any, world: World) -> None:
    """The EN button turns headers and status names to English, and the choice sticks."""
    outcome = world.sale(SALE)
    sign_in(page, world)
    badge = row_of(page, outcome).locator(".badge")
    expect(page.locator("#tx-title")).to_have_text("Transacciones")
    expect(badge).to_have_text("Aprobada")
    expect(page.locator("#export-csv")).to_have_text("Exportar CSV")

    page.click("#lang-en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#tx-title")).to_have_text("Transactions")
    expect(badge).to_have_text("Approved")
    expect(page.locator("#export-csv")).to_have_text("Export CSV")
    expect(page.locator("#lang-en")).to_have_attribute("aria-pressed", "true")

    page.goto(world.receiver + "/")  # the server now picks English for this browser
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#tx-title")).to_have_text("Transactions")
    page.click("#lang-es")
    expect(page.locator("#tx-title")).to_have_text("Transacciones")


def test_csv_export_link_downloads_the_filtered_rows(page: Any, world: World) -> None:
    """The export link's URL answers a CSV with the header and the sale's row (12.50, approved)."""
    outcome = world.sale(SALE)
    sign_in(page, world)
    href = page.locator("#export-csv").get_attribute("href")
    assert href is not None
    assert href.startswith("/api/transactions?")
    assert "format=csv" in href
    assert "date=" in href

    response = page.request.get(world.receiver + href)
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.body().decode("utf-8-sig")))
    rows = list(reader)
    assert reader.fieldnames is not None
    assert reader.fieldnames[:6] == [
        "transaction_at", "business_date", "kind", "status", "approved", "amount",
    ]  # fmt: skip
    [row] = [r for r in rows if r["order_id"] == outcome.order_id]
    assert row["amount"] == "12.50"
    assert row["status"] == "approved"
    assert row["terminal_id"] == SERIAL

    page.context.clear_cookies()  # without the session the export is closed
    assert page.request.get(world.receiver + href).status == 401


def test_daily_totals_count_the_sale_and_a_live_decline(page: Any, world: World) -> None:
    """Totals show one approved sale of $12.50, then a decline made while the page is open."""
    world.sale(SALE)
    sign_in(page, world)
    approved = page.locator('#totals [data-total="approved"]')
    expect(approved.locator(".count")).to_have_text("1")
    expect(approved.locator(".amount")).to_have_text("$12.50")
    expect(page.locator('#totals [data-total="net"] .amount')).to_have_text("$12.50")

    world.sale(DECLINE)
    expect(page.locator('#totals [data-total="declined"] .count')).to_have_text("1")
    terminal = page.locator(f'#totals-terminals tr[data-id="{SERIAL}"]')
    expect(terminal.locator('[data-col="approved-count"]')).to_have_text("1")
    expect(terminal.locator('[data-col="approved-amount"]')).to_have_text("$12.50")
    expect(terminal.locator('[data-col="declined-count"]')).to_have_text("1")
    store = page.locator(f'#totals-stores tr[data-id="{STORE}"]')
    expect(store.locator('[data-col="net"]')).to_have_text("$12.50")
    expect(page.locator('#chart-hours rect.bar:not([data-count="0"])')).not_to_have_count(0)
    expect(page.locator('#chart-declines [data-code="51"]')).to_contain_text("51")
    expect(page.locator("#exceptions h3")).to_have_count(6)


def test_filtering_by_status_shows_only_the_decline(page: Any, world: World) -> None:
    """Choosing the status "declined" leaves only the declined sale in the table."""
    sale, decline = world.sale(SALE), world.sale(DECLINE)
    sign_in(page, world)
    rows = page.locator("#transactions tbody tr[data-key]")
    expect(row_of(page, sale)).to_be_visible()

    page.select_option("#f-status", "declined")
    expect(rows).to_have_count(1)
    expect(row_of(page, decline)).to_have_attribute("data-status", "declined")
    expect(row_of(page, decline)).to_contain_text("Rechazada")
    expect(row_of(page, decline)).to_contain_text("$0.51")
    expect(row_of(page, sale)).to_have_count(0)
    expect(page.locator("#export-csv")).to_have_attribute("href", re.compile("status=declined"))

    page.fill("#f-terminal", "0000000000")
    expect(rows).to_have_count(0)
    expect(page.locator("#transactions tbody")).to_contain_text("No hay transacciones")
    page.click("#f-clear")
    expect(row_of(page, sale)).to_be_visible()
    expect(row_of(page, decline)).to_be_visible()


def test_a_cancellation_turns_the_sale_row_cancelled_live(page: Any, world: World) -> None:
    """Cancelling a sale while the page is open marks its row cancelled and links both."""
    if datetime.now(ZoneInfo("America/Mexico_City")).hour >= CANCEL_CUTOFF_HOUR:
        pytest.skip("NetPay takes cancellations only before 20:00 Mexico City time")
    sale = world.sale(CANCELLED_SALE)
    sign_in(page, world)
    expect(row_of(page, sale)).to_have_attribute("data-status", "approved")

    cancellation = world.client.cancel(
        serial_number=SERIAL, store_id=STORE, order_id=sale.order_id, wait=True
    )
    assert cancellation.transaction is not None
    expect(row_of(page, sale)).to_have_attribute("data-status", "cancelled")
    expect(row_of(page, sale).locator(".badge")).to_have_text("Cancelada")
    expect(row_of(page, cancellation)).to_have_attribute("data-kind", "cancellation")
    expect(page.locator('#totals [data-total="cancelled"] .count')).to_have_text("1")

    row_of(page, sale).click()
    expect(page.locator("#detail-cancellation")).to_be_visible()
    expect(page.locator('#timeline li[data-event="push_cancel"]')).to_have_count(1)


def unanswered_push(world: World, kind: str, **fields: str) -> str:
    """Register a push that no terminal will answer and that expires after a second."""
    push_id = uuid.uuid4().hex
    body = {"id": push_id, "kind": kind, "terminal_id": f"09{push_id[:8]}", "ttl_seconds": 1}
    response = httpx.post(
        f"{world.receiver}/api/pushes",
        json={**body, **fields},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 201, response.text
    return push_id


def expired_push(world: World, kind: str, **fields: str) -> str:
    """An unanswered push, returned once the receiver reports it expired (its own long-poll)."""
    push_id = unanswered_push(world, kind, **fields)
    response = httpx.get(
        f"{world.receiver}/api/pushes/{push_id}",
        params={"wait": "3"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert response.json()["state"] == "expired"
    return push_id


def test_sign_in_answered_429_says_too_many_attempts_and_the_wait(
    page: Any, strict_receiver: str
) -> None:
    """A 429 to the sign-in form says "too many attempts, try again in N s" in both languages."""
    for _ in range(2):
        wrong = page.request.post(f"{strict_receiver}/session", data={"token": "x" * 20})
        assert wrong.status == 401
    page.goto(strict_receiver + "/")
    page.fill("#token", TOKEN)
    page.click("#signin-submit")

    error = page.locator("#signin-error")
    expect(error).to_have_text(
        re.compile(r"^Demasiados intentos fallidos desde esta red\. .* en \d+ s\.$")
    )
    expect(error).not_to_contain_text("no respondió")
    expect(page.locator("#app")).to_be_hidden()
    page.click("#lang-en")
    expect(error).to_have_text(
        re.compile(r"^Too many failed attempts from this network\. Try again in \d+ s\.$")
    )

    page.reload()  # the receiver refuses even to check the session: the form says why
    expect(error).to_have_text(re.compile(r"^Too many failed attempts .* in \d+ s\.$"))


def test_api_answered_429_while_signed_in_says_so_and_keeps_the_page(
    page: Any, world: World
) -> None:
    """Signed in, a 429 from the API shows "too many attempts, retrying in N s", then recovers;
    never a sign-out or "no transactions"."""
    decline = world.sale(DECLINE)
    sign_in(page, world)
    listing = re.compile(r"/api/transactions\?")
    # The receiver lets a signed-in dashboard through its own lockout; a proxy in front may not.
    page.route(
        listing,
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "2"},
            json={"error": "too_many_failures", "message": "try again later"},
        ),
    )

    page.select_option("#f-status", "declined")
    expect(page.locator("#notice")).to_have_text(
        re.compile(r"^Demasiados intentos: .* Se reintentará en [12] s\.$")
    )
    expect(page.locator("#transactions tbody")).to_contain_text(
        "No se pudieron cargar las transacciones"
    )
    expect(page.locator("#transactions tbody")).not_to_contain_text("No hay transacciones")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#signin-view")).to_be_hidden()
    page.click("#lang-en")
    expect(page.locator("#notice")).to_have_text(re.compile(r"^Too many attempts: .* in [12] s\.$"))

    page.unroute(listing)  # after the wait it asked for, the list is loaded again
    expect(row_of(page, decline)).to_be_visible()
    expect(page.locator("#notice")).to_be_hidden()


def test_exception_rows_do_not_widen_a_phone_screen(page: Any, world: World) -> None:
    """At 375 px wide, a list of pushes without a result scrolls in its box, not the page."""
    push_id = expired_push(world, "sale", amount="3.75", folio_number="F-375")
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, world)
    row = page.locator(f'[data-list="pushes_without_result"] tr[data-push="{push_id}"]')
    expect(row).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_exceptions_refresh_by_themselves_when_a_push_expires(page: Any, world: World) -> None:
    """A push or a cancel push that expires unanswered appears in its list without any event."""
    page.add_init_script(FAST_REFRESH)
    sign_in(page, world)
    sale_push = unanswered_push(world, "sale", amount="4.10")
    cancel_push = unanswered_push(world, "cancel", order_id=f"260101000000-{uuid.uuid4().hex[:6]}")

    pushes = page.locator('[data-list="pushes_without_result"]')
    cancels = page.locator('[data-list="cancel_pushes"]')
    expect(pushes.locator(f'tr[data-push="{sale_push}"]')).to_be_visible(timeout=10_000)
    expect(cancels.locator(f'tr[data-push="{cancel_push}"]')).to_be_visible(timeout=10_000)
    expect(pushes.locator("h3 .count-badge")).not_to_have_text("0")


def test_a_failed_list_load_says_so_instead_of_no_transactions(page: Any, world: World) -> None:
    """When the list cannot be loaded the table says so (never "no transactions"), then recovers."""
    decline = world.sale(DECLINE)
    page.add_init_script(FAST_REFRESH)
    sign_in(page, world)
    listing = re.compile(r"/api/transactions\?")
    page.route(listing, lambda route: route.abort())

    page.select_option("#f-status", "declined")
    body = page.locator("#transactions tbody")
    expect(body).to_contain_text("No se pudieron cargar las transacciones")
    expect(body).not_to_contain_text("No hay transacciones")
    expect(page.locator("#notice")).to_contain_text("No se pudieron cargar los datos")
    page.click("#lang-en")
    expect(body).to_contain_text("Could not load the transactions")
    page.click("#lang-es")

    page.unroute(listing)  # the server answers again: the retry fills the table
    expect(row_of(page, decline)).to_be_visible()
    expect(page.locator("#notice")).to_be_hidden()


def test_english_mode_explains_responses_in_english(page: Any, world: World) -> None:
    """In English the Response column and the decline chart say what code 51 means in English;
    the terminal's own (Spanish) message stays where it is labelled as the terminal's."""
    decline = world.sale(DECLINE)
    sign_in(page, world)
    response = row_of(page, decline).locator("td.response")
    reason = page.locator('#chart-declines [data-code="51"]')
    expect(response).to_contain_text("Fondos insuficientes")
    expect(reason).to_contain_text("51 · Fondos insuficientes")

    page.click("#lang-en")
    expect(response).to_contain_text("51 Insufficient funds")
    expect(response).not_to_contain_text(re.compile("fondos", re.IGNORECASE))
    expect(reason).to_contain_text("51 · Insufficient funds")

    row_of(page, decline).click()
    expect(page.locator('#detail-fields [data-field="response_text"] dd')).to_have_text(
        "Insufficient funds"
    )
    terminal_message = page.locator('#detail-fields [data-field="message"]')
    expect(terminal_message.locator("dt")).to_have_text("Terminal message")
    expect(terminal_message.locator("dd")).to_have_text(re.compile("FONDOS INSUFICIENTES"))


def test_every_label_follows_the_language(page: Any, world: World) -> None:
    """The charts' label, every delivery outcome and its timeline event read in Spanish or
    English (never the raw name), and Spanish says "envío", not "push"."""
    sale = world.sale(SALE)

    def more_deliveries(route: Any) -> None:
        answer = route.fetch()
        found = answer.json()
        found["deliveries"] = [
            {"id": 900 + i, "received_at": found["received_at"], "outcome": outcome, "kind": "sale"}
            for i, outcome in enumerate(OUTCOMES)
        ]
        found["timeline"] = [
            {"at": found["received_at"], "event": f"delivery_{outcome}", "id": 900 + i}
            for i, outcome in enumerate(OUTCOMES)
        ]
        route.fulfill(response=answer, json=found)

    page.route(re.compile(r"/api/transactions/[^?]+$"), more_deliveries)
    sign_in(page, world)
    charts = page.locator("section.charts")
    expect(charts).to_have_attribute("aria-label", "Gráficas")
    expect(page.locator("#exceptions")).not_to_contain_text(re.compile("push", re.IGNORECASE))
    expect(page.locator('[data-list="pushes_without_result"] h3')).to_contain_text(
        "Envíos a la terminal sin resultado"
    )

    row_of(page, sale).click()
    deliveries = page.locator("#detail-deliveries tbody tr")
    expect(deliveries).to_have_count(len(OUTCOMES))
    expect(page.locator("#detail-deliveries")).to_contain_text("Inválida")
    expect(page.locator("#detail-deliveries")).to_contain_text("Demasiado grande")
    expect(page.locator('#timeline li[data-event="delivery_error"]')).to_contain_text(
        "Entrega con error al procesar"
    )
    expect(page.locator("#detail-pushes h2")).to_have_text("Envíos a la terminal")
    expect(page.locator('#detail-fields [data-field="push_id"] dt')).to_have_text(
        "Envío a la terminal"
    )
    expect(page.locator("#timeline")).not_to_contain_text(re.compile("push", re.IGNORECASE))
    for lang in ("es", "en"):
        page.click(f"#lang-{lang}")
        for i, outcome in enumerate(OUTCOMES):
            expect(deliveries.nth(i).locator("td").nth(2)).not_to_have_text(outcome)
            event = page.locator(f'#timeline li[data-event="delivery_{outcome}"] .tl-text')
            expect(event).not_to_have_text(re.compile(f"^delivery_{outcome}"))
    expect(page.locator("#detail-deliveries")).to_contain_text("Too large")
    page.click("#back")
    expect(charts).to_have_attribute("aria-label", "Charts")


def test_the_date_filter_follows_today_past_midnight_unless_picked(page: Any, world: World) -> None:
    """Left open past midnight (Mexico City), the date filter moves to the new day; a date the
    user picked stays."""
    page.clock.install(time=datetime(2031, 3, 5, 23, 58, tzinfo=MEXICO_CITY))
    sign_in(page, world)
    date = page.locator("#f-date")
    expect(date).to_have_value("2031-03-05")

    page.clock.fast_forward("03:00")
    expect(date).to_have_value("2031-03-06")
    expect(page.locator("#export-csv")).to_have_attribute("href", re.compile("date=2031-03-06"))
    expect(page.locator("#totals-title")).to_have_text("Totales de hoy (06/03/2031)")

    date.fill("2031-03-01")
    expect(page.locator("#export-csv")).to_have_attribute("href", re.compile("date=2031-03-01"))
    page.clock.fast_forward("24:00:00")
    expect(date).to_have_value("2031-03-01")
    expect(page.locator("#totals-title")).to_have_text("Totales del 01/03/2031")
