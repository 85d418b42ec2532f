"""Shared pieces of the receiver's HTTP tests: a running receiver, polling, result bodies."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from netpay_smart.receiver import create_app
from netpay_smart.receiver.app import Receiver
from netpay_smart.settings import ReceiverSettings
from netpay_smart.store import Store
from tests.conftest import free_port, serve_in_thread
from tests.wire.vectors import FACTS_REAL_SALE_2024

SECRET = "s" * 20
TOKEN = "t" * 20
ACK = b'{"code":"00","message":"Recibido"}'

T = TypeVar("T")


def migrate_if_postgres(url: str) -> None:
    """``create_app`` migrates SQLite itself; PostgreSQL is migrated by ``db upgrade``."""
    if url.startswith("postgresql"):
        Store.open(url, migrate=True).close()


@dataclass
class Live:
    """A receiver served by a real uvicorn, with an authorised client on it."""

    base: str
    receiver: Receiver
    api: httpx.Client  # sends the API token
    bare: httpx.Client  # sends nothing but what a test gives it

    def post(self, body: bytes, *, secret: str = SECRET, **kw: Any) -> httpx.Response:
        return self.bare.post(f"/webhook/{secret}", content=body, **kw)

    def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        answer = self.api.get("/api/deliveries", params={"limit": 500, **params})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    def transactions(self, **params: Any) -> list[dict[str, Any]]:
        answer = self.api.get("/api/transactions", params={"limit": 500, **params})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    def processed_deliveries(self, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` deliveries are stored and processed; newest first."""
        return wait_until(
            self.deliveries,
            lambda items: len(items) == count and all(d["outcome"] != "pending" for d in items),
            what=f"{count} processed deliveries",
        )

    def transaction(self, order_id: str) -> dict[str, Any]:
        answer = self.api.get(f"/api/transactions/{order_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def settings(url: str, **overrides: Any) -> ReceiverSettings:
    values: dict[str, Any] = {
        "database_url": url,
        "webhook_secrets": (SECRET,),
        "api_token": TOKEN,
    }
    values.update(overrides)
    return ReceiverSettings(**values)


@contextlib.contextmanager
def live_receiver(url: str, *, migrate: bool = True, **overrides: Any) -> Iterator[Live]:
    """``create_app`` on ``url`` served on 127.0.0.1:0; the store is closed afterwards.

    On PostgreSQL the receiver keeps a spool: in a temporary directory unless ``spool_path``
    is given, never in the working directory of the test run.
    """
    if migrate:
        migrate_if_postgres(url)
    with contextlib.ExitStack() as stack:
        if "spool_path" not in overrides:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="netpay-spool-"))
            overrides["spool_path"] = str(Path(directory) / "spool.sqlite3")
        yield stack.enter_context(_served(create_app(settings(url, **overrides))))


@contextlib.contextmanager
def _served(receiver: Receiver) -> Iterator[Live]:
    try:
        with (
            serve_in_thread(receiver) as base,
            httpx.Client(
                base_url=base, headers={"authorization": f"Bearer {TOKEN}"}, timeout=10
            ) as api,
            httpx.Client(base_url=base, timeout=10) as bare,
        ):
            yield Live(base, receiver, api, bare)
    finally:
        receiver.store.close()


def wait_until(
    fetch: Callable[[], T],
    ready: Callable[[T], bool],
    *,
    timeout: float = 5.0,
    what: str = "the condition",
) -> T:
    """Call ``fetch`` until ``ready`` says yes (results are processed just after the ack)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ready(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout}s for {what}; last value: {value!r}")
        time.sleep(0.02)


def sale_body(order_id: str, **changes: Any) -> bytes:
    """The documented 2024 sale, with another order id (and any other field changed)."""
    body = json.loads(FACTS_REAL_SALE_2024)
    body["orderId"] = order_id
    body.update(changes)
    return json.dumps(body, ensure_ascii=False).encode()


# -- the ``serve`` command in a subprocess ---------------------------------------------------


def serve_env(**values: str) -> dict[str, str]:
    """The environment minus every ``NETPAY_*`` setting, plus ``values``; wide rich output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPAY_")}
    env.update(COLUMNS="400", PYTHONUNBUFFERED="1", **values)
    return env


@dataclass
class Served:
    """A ``python -m netpay_smart serve`` process; its output goes to files, never a pipe
    (a full pipe would stall the server mid-test)."""

    process: subprocess.Popen[bytes]
    base: str
    out_path: Path
    err_path: Path

    def stdout(self) -> str:
        return self.out_path.read_text("utf-8", "replace")

    def stderr(self) -> str:
        return self.err_path.read_text("utf-8", "replace")

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Poll /readyz until the server answers (its lifespan is done; what a restart left
        behind may still be processed, see :meth:`wait_caught_up`)."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1) as client:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"serve exited with {self.process.returncode}: {self.stderr()}"
                    )
                try:
                    if client.get(f"{self.base}/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"serve did not become ready: {self.stderr()}")
                time.sleep(0.05)

    def wait_caught_up(self, timeout: float = 60.0) -> None:
        """Poll /metrics until nothing waits to be processed: none pending in the database,
        none in the spool (what a restart left behind is processed after it is ready)."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as client:
            while True:
                metrics = client.get(f"{self.base}/metrics").text
                waiting = re.findall(
                    r"^netpay_(?:deliveries_pending|spool_depth) (\d+)$", metrics, re.MULTILINE
                )
                if waiting and not any(int(n) for n in waiting):
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"still waiting to be processed: {waiting}")
                time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, as a process manager stops it; it must shut down gracefully."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        # uvicorn re-raises the signal after a graceful shutdown, so -SIGTERM is normal.
        assert code in (0, -signal.SIGTERM), self.stderr()
        assert "Application shutdown complete." in self.stderr()


@contextlib.contextmanager
def serve_process(
    directory: Path, *args: str, env: dict[str, str], port: int | None = None
) -> Iterator[Served]:
    """Start ``serve`` (not waiting for it); it is always ended and reaped afterwards."""
    port = port or free_port()
    out_path = directory / f"serve-{port}-{time.monotonic_ns()}.out"
    err_path = out_path.with_suffix(".err")
    command = [sys.executable, "-m", "netpay_smart", "serve", "--port", str(port), *args]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=directory)
    served = Served(process, f"http://127.0.0.1:{port}", out_path, err_path)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(15)
