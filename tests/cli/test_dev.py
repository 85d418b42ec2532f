"""``netpay-smart dev`` as ``make run`` starts it: the installed command, not on PATH."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from netpay_smart.cli import _this_command
from tests.conftest import free_port

pytestmark = pytest.mark.slow

SAVED = "Datos guardados con éxito tpv Smart"
NOT_SAVED = "No se pudo guardar"
SERIALS = {"0821000119", "1490293930", "0800000000"}


def _path_without_netpay_smart() -> str:
    """PATH as a new shell after ``make run`` has it: no directory holding ``netpay-smart``."""
    kept = [
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and not (Path(folder) / "netpay-smart").exists()
    ]
    return os.pathsep.join(kept)


@dataclass
class Dev:
    """A running ``netpay-smart dev``: what it printed and where it listens."""

    command: list[str]
    lines: list[str]
    receiver: str
    sandbox: str
    token: str
    env: dict[str, str]

    def printed(self, start: str) -> str:
        return next(line.strip() for line in self.lines if line.strip().startswith(start))


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """``.venv/bin/netpay-smart dev`` at 80 columns, started as ``make run`` does, with a
    PATH where ``netpay-smart`` is not found."""
    script = Path(sys.executable).with_name("netpay-smart")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "netpay_smart"]
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPAY_") and k != "COLUMNS"}
    env["PATH"] = _path_without_netpay_smart()
    process = subprocess.Popen(
        [*command, "dev", "--port", str(port), "--sandbox-port", str(sandbox_port)],
        cwd=tmp_path_factory.mktemp("dev"), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    # Read on a thread: a readline() waiting for a line that never comes would hang the test.
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")))
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any(" sale --amount" in line for line in list(lines)):
            assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
            time.sleep(0.05)
        exports = next(line for line in lines if "export NETPAY_ENVIRONMENT=" in line)
        token = exports.split("NETPAY_API_TOKEN=", 1)[1].split()[0]
        running = Dev(
            command, lines, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}",
            token, env,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:  # both servers answer
            try:
                httpx.get(f"{running.receiver}/healthz").raise_for_status()
                httpx.get(f"{running.sandbox}/sandbox/terminals").raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "".join(lines)
                time.sleep(0.1)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(10)
        process.stdout.close()


def test_the_sale_line_works_pasted_where_netpay_smart_is_not_on_path(dev: Dev) -> None:
    """Without ``netpay-smart`` on PATH, ``dev`` prints the command it was started with, and
    its two lines, pasted into a new shell as they are, make an approved sale."""
    sale = dev.printed(f"{shlex.join(dev.command)} sale ")
    assert sale.endswith("--serial 0821000119 --store 455311 --wait")
    pasted = f"{dev.printed('export ')}\n{sale} --json --timeout 30"
    done = subprocess.run(
        ["/bin/sh", "-c", pasted], env=dev.env, capture_output=True, text=True, timeout=60,
        check=False, cwd="/",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"approved": true' in done.stdout


def test_every_terminal_s_probe_reaches_the_receiver(dev: Dev) -> None:
    """The receiver listens before the sandbox starts: each terminal's configuration probe is
    answered and recorded as a probe; no terminal says it could not save its URL."""
    deadline = time.monotonic() + 10
    while True:
        probes = httpx.get(
            f"{dev.receiver}/api/deliveries",
            params={"outcome": "probe"},
            headers={"Authorization": f"Bearer {dev.token}"},
        ).json()["items"]
        if len(probes) >= len(SERIALS) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(probes) == len(SERIALS)
    posted = [d for d in httpx.get(f"{dev.sandbox}/sandbox/deliveries").json() if d["probe"]]
    assert {(d["serial"], d["ok"], d["status"]) for d in posted} == {
        (serial, True, 200) for serial in SERIALS
    }
    for terminal in httpx.get(f"{dev.sandbox}/sandbox/terminals").json():
        said = [text for _, text in terminal["log"]]
        assert SAVED in said, said
        assert not any(NOT_SAVED in text for text in said), said


def test_the_api_token_is_whole_on_its_own_panel_line(dev: Dev) -> None:
    """At 80 columns the panel shows the API token on one line with its label, not cut."""
    assert any(f"API token: {dev.token}" in line for line in dev.lines), "".join(dev.lines)


@pytest.mark.parametrize("on_path", [True, False], ids=["on PATH", "python -m"])
def test_the_command_to_paste_is_the_one_the_shell_finds(
    on_path: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``netpay-smart`` when PATH has it; else how this one was started, ``python -m`` too."""
    if on_path:
        found = tmp_path / "netpay-smart"
        found.write_text("#!/bin/sh\n")
        found.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [str(Path("src/netpay_smart/__main__.py").absolute())])
    expected = "netpay-smart" if on_path else shlex.join([sys.executable, "-m", "netpay_smart"])
    assert _this_command() == expected
