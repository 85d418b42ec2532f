"""The sandbox and the receiver wired together on real uvicorn servers, for flow and CLI tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from netpay_smart.receiver import create_app
from netpay_smart.sandbox import (
    ManualClock,
    Sandbox,
    SandboxConfig,
    SystemClock,
    TerminalConfig,
    create_sandbox_app,
)
from netpay_smart.sandbox.clock import Clock
from netpay_smart.settings import ReceiverSettings
from netpay_smart.wire import MEXICO_CITY
from tests.conftest import serve_in_thread

__all__ = [
    "API_TOKEN",
    "MAIN_SERIAL",
    "MAIN_STORE",
    "MORNING_CDMX",
    "PASSWORD",
    "SECRET",
    "USERNAME",
    "ManualClock",
    "World",
    "running_world",
    "terminal",
    "wait_until",
]

SECRET = "s" * 20
API_TOKEN = "t" * 20
USERNAME = "Nacional"
PASSWORD = "netpay"
MAIN_SERIAL = "0821000119"
MAIN_STORE = "455311"
#: A Thursday at 10:00 in Mexico City: cancellations are open until 20:00.
MORNING_CDMX = datetime(2026, 3, 5, 10, 0, tzinfo=MEXICO_CITY)


def terminal(serial: str, store_id: str = MAIN_STORE, **options: Any) -> TerminalConfig:
    """A virtual terminal with no delays and a one-second card timeout."""
    values: dict[str, Any] = {
        "card_delay": 0,
        "pin_delay": 0,
        "auth_delay": 0,
        "print_delay": 0,
        "timeout": 1.0,
    }
    values.update(options)
    return TerminalConfig(serial, store_id, **values)


@dataclass
class World:
    """A running receiver and a sandbox whose terminals post to it."""

    receiver_url: str
    sandbox_url: str
    sandbox: Sandbox
    api: httpx.Client  # the receiver's query API, with the token

    def terminal(self, serial: str) -> Any:
        return self.sandbox.terminals[serial]

    def push_record(self, push_id: str, wait: float = 0) -> dict[str, Any]:
        answer = self.api.get(f"/api/pushes/{push_id}", params={"wait": wait})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "base_url": self.sandbox_url,
            "username": USERNAME,
            "password": PASSWORD,
            "receiver_url": self.receiver_url,
            "api_token": API_TOKEN,
        }
        options.update(overrides)
        return options

    def env(self) -> dict[str, str]:
        """The ``NETPAY_*`` variables the CLI reads."""
        return {
            "NETPAY_ENVIRONMENT": self.sandbox_url,
            "NETPAY_USERNAME": USERNAME,
            "NETPAY_PASSWORD": PASSWORD,
            "NETPAY_RECEIVER_URL": self.receiver_url,
            "NETPAY_API_TOKEN": API_TOKEN,
        }


@contextlib.contextmanager
def running_world(
    directory: Path, terminals: tuple[TerminalConfig, ...], *, clock: Clock | None = None
) -> Iterator[World]:
    """Start the receiver (SQLite in ``directory``), then the sandbox posting to it."""
    receiver = create_app(
        ReceiverSettings(
            database_url=f"sqlite:///{directory / 'receiver.sqlite3'}",
            webhook_secrets=(SECRET,),
            api_token=API_TOKEN,
        )
    )
    with serve_in_thread(receiver) as receiver_url:
        app = create_sandbox_app(
            SandboxConfig(terminals=terminals),
            clock=clock or SystemClock(),
            webhook_url=f"{receiver_url}/webhook/{SECRET}",
        )
        with (
            serve_in_thread(app) as sandbox_url,
            httpx.Client(
                base_url=receiver_url,
                headers={"Authorization": f"Bearer {API_TOKEN}"},
                timeout=30,
            ) as api,
        ):
            yield World(receiver_url, sandbox_url, app.state.sandbox, api)


def wait_until(check: Any, *, timeout: float = 10.0, what: str = "a condition") -> None:
    """Poll ``check()`` until it is true (servers run in other threads)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
