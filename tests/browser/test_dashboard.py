"""The merchant dashboard in a real Chromium, against a real receiver and sandbox.

One receiver and one sandbox serve the whole module (one database). Sales are pushed through
the SDK at most once per amount (:meth:`World.sale`), so each test runs alone or in any order
and still sees exactly one approved sale of $12.50 and, once asked for, one decline (code 51).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from netpay_smart.client import Client
from netpay_smart.receiver import create_app
from netpay_smart.sandbox import SandboxConfig, TerminalConfig, create_sandbox_app
from netpay_smart.settings import ReceiverSettings
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


def sign_in(page: Any, world: World, path: str = "/") -> None:
    """Open the dashboard, sign in through the form, wait until the live stream is connected."""
    page.goto(world.receiver + path)
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
