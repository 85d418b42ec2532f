"""The sandbox's virtual-terminal page in real Chromium: a cashier drives a sale by hand.

Real servers on both sides: the sandbox (gateway, terminal, control API, the page) and a
recorder standing in for the merchant's webhook. The sale is pushed over HTTP like an SDK
would; the card flow is driven by clicking the page in manual mode. Tests take ``live`` before
``page`` so the servers outlive the page: its closing screenshot shows a connected page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from netpay_smart.sandbox import SandboxConfig, TerminalConfig
from netpay_smart.sandbox.gateway import create_sandbox_app
from tests.conftest import serve_in_thread

expect = pytest.importorskip("playwright.sync_api").expect

SERIAL = "0821000119"
STORE = "455311"
BASIC = "dHJ1c3RlZC1hcHA6c2VjcmV0"  # base64("trusted-app:secret"), the documentation's
ACK = {"code": "00", "message": "Recibido"}


@dataclass
class Recorder:
    """The merchant's response service: keeps every body POSTed to it and answers ``00``."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def receive(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self.lock:
            self.bodies.append(body)
        return JSONResponse(ACK)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/webhook", self.receive, methods=["POST"])])

    def results(self) -> list[dict[str, Any]]:
        """Transaction results only (not the configuration probe the terminal posts first)."""
        with self.lock:
            return [b for b in self.bodies if "responseCode" in b]

    def wait_for_result(self, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not (found := self.results()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no result reached the webhook in {timeout} s")
            time.sleep(0.02)
        return found[0]


@dataclass
class Live:
    sandbox: str
    recorder: Recorder
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def live() -> Iterator[Live]:
    """A sandbox with one zero-delay terminal posting to a fresh recorder, both on uvicorn."""
    recorder = Recorder()
    with serve_in_thread(recorder.app()) as recorder_url:
        config = SandboxConfig(
            terminals=(TerminalConfig(SERIAL, STORE, auth_delay=0, pin_delay=0, print_delay=0),)
        )
        app = create_sandbox_app(config, webhook_url=f"{recorder_url}/webhook")
        with serve_in_thread(app) as sandbox_url:
            yield Live(sandbox_url, recorder)


def push_sale(base: str, amount: float, folio: str) -> None:
    """What an SDK does: a password-grant token, then the sale push to the terminal."""
    with httpx.Client(base_url=base, timeout=10) as client:
        token = client.post(
            "/oauth-service/oauth/token",
            headers={"Authorization": f"Basic {BASIC}"},
            data={"grant_type": "password", "username": "Nacional", "password": "netpay"},
        )
        assert token.status_code == 200, token.text
        pushed = client.post(
            "/integration-service/transactions/sale",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            json={
                "traceability": {},
                "amount": amount,
                "serialNumber": SERIAL,
                "storeId": STORE,
                "folioNumber": folio,
            },
        )
    assert pushed.json() == {"code": "00", "message": "Mensaje enviado exitosamente"}


def open_in_manual_mode(page: Any, live: Live) -> Any:
    """Open the page, switch the terminal to manual with its toggle; return its card."""
    page.on("pageerror", lambda error: live.page_errors.append(str(error)))
    page.goto(f"{live.sandbox}/sandbox/")
    expect(page).to_have_title("Terminales virtuales / Virtual terminals · netpay-smart sandbox")
    card = page.locator(f'[data-serial="{SERIAL}"]')
    expect(card.locator(".screen")).to_have_text("Datos guardados con éxito tpv Smart")
    toggle = card.locator('[data-action="mode"]')
    expect(toggle).to_have_attribute("aria-checked", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-checked", "true")
    expect(card).to_have_attribute("data-mode", "manual")
    expect(card.locator('[data-action="present_card"]')).to_be_disabled()
    return card


def button(card: Any, action: str) -> Any:
    return card.locator(f'[data-action="{action}"]')


def test_manual_sale_approved_with_pin(live: Live, page: Any) -> None:
    """A PIN card presented, PIN entered and approved by hand posts an approved 00 result."""
    card = open_in_manual_mode(page, live)
    screen = card.locator(".screen")
    push_sale(live.sandbox, 25.00, "M-1")

    expect(screen).to_contain_text("Esperando tarjeta")
    expect(card.locator(".op")).to_contain_text("$25.00")
    expect(card.locator(".op")).to_contain_text("M-1")
    expect(button(card, "present_card")).to_be_enabled()
    expect(button(card, "approve")).to_be_disabled()
    card.locator('[data-field="card"]').select_option("visa_debit_pin")
    button(card, "present_card").click()

    expect(screen).to_contain_text("Ingrese su NIP")
    expect(button(card, "sign")).to_be_disabled()
    button(card, "pin").click()

    expect(screen).to_contain_text("Esperando autorización")
    expect(button(card, "cancel")).to_be_disabled()
    button(card, "approve").click()

    result = live.recorder.wait_for_result()
    assert result["responseCode"] == "00"
    assert result["amount"] == "25.0"
    assert result["folioNumber"] == "M-1"
    assert result["hasPin"] is True
    assert result["cardNumber"] == "9493"
    expect(screen).to_have_text("Venta normal Aprobada")
    expect(card).to_have_attribute("data-state", "idle")
    expect(button(card, "approve")).to_be_disabled()
    assert len(live.recorder.results()) == 1
    assert live.page_errors == []


def test_manual_sale_declined_with_code_51(live: Live, page: Any) -> None:
    """A signed sale declined by hand with code 51 posts responseCode 51 to the webhook."""
    card = open_in_manual_mode(page, live)
    screen = card.locator(".screen")
    push_sale(live.sandbox, 25.00, "M-2")

    expect(screen).to_contain_text("Esperando tarjeta")
    card.locator('[data-field="card"]').select_option("mastercard_debit_signature")
    button(card, "present_card").click()
    expect(screen).to_contain_text("Ingrese su firma")
    expect(button(card, "pin")).to_be_disabled()
    button(card, "sign").click()

    expect(screen).to_contain_text("Esperando autorización")
    card.locator('[data-field="code"]').select_option("51")
    button(card, "decline").click()

    result = live.recorder.wait_for_result()
    assert result["responseCode"] == "51"
    assert result["folioNumber"] == "M-2"
    assert result["cardNumber"] == "3344"
    expect(screen).to_have_text("FONDOS INSUFICIENTES")
    expect(card).to_have_attribute("data-state", "idle")
    assert live.page_errors == []


def test_cancel_while_waiting_for_card(live: Live, page: Any) -> None:
    """Cancelling on the terminal before any card is read posts 02 "Cancelado por el Usuario"."""
    card = open_in_manual_mode(page, live)
    screen = card.locator(".screen")
    push_sale(live.sandbox, 25.00, "M-3")

    expect(screen).to_contain_text("Esperando tarjeta")
    button(card, "cancel").click()

    result = live.recorder.wait_for_result()
    assert result["responseCode"] == "02"
    assert result["message"] == "Cancelado por el Usuario"
    assert result["folioNumber"] == "M-3"
    expect(screen).to_have_text("Cancelado por el Usuario")
    expect(card).to_have_attribute("data-state", "idle")
    expect(card.locator(".op")).to_contain_text("M-3")
    expect(button(card, "present_card")).to_be_disabled()
    expect(button(card, "cancel")).to_be_disabled()
    assert live.page_errors == []
