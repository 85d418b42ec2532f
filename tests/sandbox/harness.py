"""A running sandbox and the merchant's response service it posts to, both on real uvicorn.

The recorder plays the merchant webhook: it keeps every body POSTed to it and answers
``{"code":"00","message":"Recibido"}``, or 500, or hangs, when a test asks it to.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from netpay_smart.sandbox import ManualClock, SandboxConfig, TerminalConfig
from netpay_smart.sandbox.clock import Clock
from netpay_smart.sandbox.gateway import create_sandbox_app
from tests.conftest import serve_in_thread

T = TypeVar("T")

SERIAL = "0821000119"
STORE = "455311"
OTHER_SERIAL = "1490293930"
OTHER_STORE = "9194"
BASIC = "dHJ1c3RlZC1hcHA6c2VjcmV0"  # base64("trusted-app:secret"), the documentation's
ACK = {"code": "00", "message": "Recibido"}
PUSHED = {"code": "00", "message": "Mensaje enviado exitosamente"}
SAVED = "Datos guardados con éxito tpv Smart"
# 2024-03-05 12:00 in Mexico City (UTC-6 all year since 2022).
NOON_CDMX = datetime(2024, 3, 5, 18, 0, tzinfo=UTC)


def wait_for(check: Callable[[], T | None], *, timeout: float = 5.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.01)


def terminal_config(serial: str = SERIAL, store: str = STORE, **options: Any) -> TerminalConfig:
    """A terminal with every delay at zero, so a ManualClock drives it without advancing."""
    settings: dict[str, Any] = {
        "card_delay": 0,
        "pin_delay": 0,
        "auth_delay": 0,
        "print_delay": 0,
    }
    if serial == SERIAL:
        settings.update(smart_accounts=(STORE, "455312"), blocked_stores=("455399",))
    settings.update(options)
    return TerminalConfig(serial, store, **settings)


class Recorder:
    """The merchant's response service of one test: records every POST, answers ``00``.

    ``status`` other than 200 makes it answer that status; ``hang`` makes it wait that many
    seconds before answering (until the test ends).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._bodies: list[bytes] = []
        self.status = 200
        self.hang: float = 0.0
        self.released = threading.Event()

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self._bodies.append(body)
        if self.hang:
            await anyio.to_thread.run_sync(self.released.wait, self.hang)
        if self.status != 200:
            return JSONResponse({"error": "boom"}, self.status)
        return JSONResponse(ACK)

    def raw(self) -> list[bytes]:
        with self._lock:
            return list(self._bodies)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.raw()]

    def results(self, serial: str | None = SERIAL) -> list[dict[str, Any]]:
        """Every body that is not a configuration probe, of one terminal (or all)."""
        return [
            b
            for b in self.bodies()
            if "responseCode" in b and (serial is None or b.get("terminalId") == serial)
        ]

    def probes(self) -> list[dict[str, Any]]:
        return [b for b in self.bodies() if "responseCode" not in b]

    def wait_results(
        self, count: int, serial: str | None = SERIAL, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` results of ``serial`` arrived; return them all."""

        def enough() -> list[dict[str, Any]] | None:
            found = self.results(serial)
            return found if len(found) >= count else None

        return wait_for(enough, timeout=timeout, what=f"{count} result(s) from {serial}")


class RecorderHub:
    """One server for every test's recorder: ``/{name}/webhook`` is that test's."""

    def __init__(self) -> None:
        self.base_url = ""
        self._recorders: dict[str, Recorder] = {}
        self.app = Starlette(routes=[Route("/{name}/webhook", self._receive, methods=["POST"])])

    def new(self) -> Recorder:
        name = uuid.uuid4().hex
        recorder = Recorder(f"{self.base_url}/{name}/webhook")
        self._recorders[name] = recorder
        return recorder

    async def _receive(self, request: Request) -> Response:
        recorder = self._recorders.get(request.path_params["name"])
        if recorder is None:
            return JSONResponse({"error": "no such recorder"}, 404)
        return await recorder.receive(request)


@dataclass
class Live:
    """A sandbox serving at ``url`` whose terminals post to ``recorder``."""

    url: str
    recorder: Recorder
    clock: Clock
    http: httpx.Client
    _token: tuple[str, datetime] | None = field(default=None, repr=False)

    # -- gateway -----------------------------------------------------------------------------

    def token_response(self, data: dict[str, str], *, basic: str = BASIC) -> httpx.Response:
        return self.http.post(
            f"{self.url}/oauth-service/oauth/token",
            data=data,
            headers={"Authorization": f"Basic {basic}"},
        )

    def token(self) -> str:
        """An access token, fetched again once the sandbox's clock has passed its lifetime."""
        if self._token is None or self.clock.now() >= self._token[1]:
            answer = self.token_response(
                {"grant_type": "password", "username": "Nacional", "password": "netpay"}
            )
            assert answer.status_code == 200, answer.text
            issued = answer.json()
            expires = self.clock.now() + timedelta(seconds=issued["expires_in"] - 1)
            self._token = (issued["access_token"], expires)
        return self._token[0]

    def push(
        self, kind: str, body: dict[str, Any], *, prefix: str = "", token: str | None = None
    ) -> httpx.Response:
        return self.http.post(
            f"{self.url}{prefix}/integration-service/transactions/{kind}",
            json=body,
            headers={"Authorization": f"Bearer {token or self.token()}"},
        )

    def _pushed(self, kind: str, body: dict[str, Any]) -> None:
        answer = self.push(kind, body)
        assert answer.status_code == 200, answer.text
        assert answer.json() == PUSHED

    def sale(
        self, amount: Any, serial: str = SERIAL, store: str | None = None, **extra: Any
    ) -> None:
        """Push a sale that the gateway accepts."""
        store = store or (STORE if serial == SERIAL else OTHER_STORE)
        body = {"traceability": {}, "amount": amount, "serialNumber": serial, "storeId": store}
        self._pushed("sale", {**body, **extra})

    def reprint(self, order_id: str, serial: str = SERIAL, **extra: Any) -> None:
        store = STORE if serial == SERIAL else OTHER_STORE
        body = {"traceability": {}, "orderId": order_id, "serialNumber": serial, "storeId": store}
        self._pushed("reprint", {**body, **extra})

    def reprint_by_folio(self, folio: str, serial: str = SERIAL) -> None:
        """The body NETPAY-FACTS.md §3.3 shows, as a real integration sends it."""
        self._pushed(
            "reprint",
            {
                "serialNumber": serial,
                "orderId": "",
                "folioId": folio,
                "storeId": STORE if serial == SERIAL else OTHER_STORE,
                "isSmartAccounts": True,
                "disablePrintAnimation": True,
            },
        )

    def cancel(self, order_id: str, serial: str = SERIAL, **extra: Any) -> None:
        store = STORE if serial == SERIAL else OTHER_STORE
        body = {"traceability": {}, "orderId": order_id, "serialNumber": serial, "storeId": store}
        self._pushed("cancel", {**body, **extra})

    # -- one result at a time ------------------------------------------------------------------

    def expect(self, action: Callable[[], Any], serial: str = SERIAL) -> dict[str, Any]:
        """Run ``action`` and return the one new result of ``serial`` it produced.

        Also waits until the terminal has heard the recorder's answer and is free again: a
        push sent before that would be ignored, the terminal being busy.
        """
        before = len(self.recorder.results(serial))
        action()
        result = self.recorder.wait_results(before + 1, serial)[before]
        self.wait_idle(serial)
        return result

    def sold(self, amount: Any, serial: str = SERIAL, **extra: Any) -> dict[str, Any]:
        """Push a sale and return its result."""
        return self.expect(lambda: self.sale(amount, serial, **extra), serial)

    def posts_nothing(self, action: Callable[[], Any], serial: str = SERIAL) -> None:
        """``action`` makes the terminal post nothing: a later sale's result comes next.

        A terminal posts its results one at a time in the order they were made, so had
        ``action`` produced one, it would arrive before the marker sale's.
        """
        before = self.recorder.results(serial)
        action()
        marker = self.sold("3.33", serial, folioNumber="marker")
        assert marker["amount"] == "3.33"
        assert self.recorder.results(serial) == [*before, marker]

    # -- control API ---------------------------------------------------------------------------

    def terminal(self, serial: str = SERIAL) -> dict[str, Any]:
        answer = self.http.get(f"{self.url}/sandbox/terminals/{serial}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait_terminal(
        self,
        check: Callable[[dict[str, Any]], bool],
        serial: str = SERIAL,
        what: str = "",
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Poll the terminal's snapshot until ``check`` accepts it; return that snapshot."""

        def matching() -> dict[str, Any] | None:
            snapshot = self.terminal(serial)
            return snapshot if check(snapshot) else None

        return wait_for(matching, timeout=timeout, what=what or f"terminal {serial} to match")

    def wait_idle(self, serial: str = SERIAL) -> dict[str, Any]:
        return self.wait_terminal(lambda t: t["state"] == "idle", serial, "an idle terminal")

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, f"{self.url}/sandbox{path}", json=body)

    def act(self, action: str, serial: str = SERIAL, **options: Any) -> httpx.Response:
        return self.control("POST", f"/terminals/{serial}/actions", {"action": action, **options})

    def advance(self, seconds: float) -> None:
        """Move the sandbox's ManualClock through its control API."""
        answer = self.control("POST", "/clock", {"advance": seconds})
        assert answer.status_code == 200, answer.text

    def set_clock(self, iso: str) -> None:
        answer = self.control("POST", "/clock", {"set": iso})
        assert answer.status_code == 200, answer.text

    def settle(self) -> None:
        """A sync point: a sale on the other terminal is ticked, posted and recorded.

        The sandbox ticks every terminal in one pass, so once that result is in, every timer of
        the first terminal that was due at the current time has fired.
        """
        self.sold("1.00", OTHER_SERIAL)


@contextlib.contextmanager
def running_sandbox(
    hub: RecorderHub,
    *,
    clock: Clock | None = None,
    terminals: tuple[TerminalConfig, ...] | None = None,
    webhook: bool = True,
    settings: SandboxConfig | None = None,
    **config: Any,
) -> Iterator[Live]:
    """A sandbox on a real server whose terminals post to a new recorder; probes answered.

    ``settings`` is the whole configuration; otherwise ``terminals`` (by default two with
    zero delays) and ``config`` (other SandboxConfig fields) make one.
    """
    recorder = hub.new()
    chosen = clock or ManualClock(NOON_CDMX)
    if settings is None:
        default = (terminal_config(), terminal_config(OTHER_SERIAL, OTHER_STORE))
        settings = SandboxConfig(terminals=terminals or default, **config)
    with contextlib.ExitStack() as stack:
        stack.callback(recorder.released.set)  # let a hung answer go when the test ends
        app = create_sandbox_app(
            settings, clock=chosen, webhook_url=recorder.url if webhook else None
        )
        url = stack.enter_context(serve_in_thread(app))
        http = stack.enter_context(httpx.Client(timeout=10))
        live = Live(url, recorder, chosen, http)
        if webhook:
            for terminal in settings.terminals:
                live.wait_terminal(
                    lambda t: t["screen"] == SAVED, terminal.serial, "the startup probe"
                )
        yield live
