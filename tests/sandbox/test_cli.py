"""``netpay-smart sandbox`` starts the sandbox as a real process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

from .harness import BASIC, RecorderHub, wait_for

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def sandbox_process(tmp_path: Path, *options: str) -> Iterator[str]:
    """Run ``python -m netpay_smart sandbox --port P ...``; yield its base URL once it answers."""
    port = free_port()
    log = (tmp_path / "sandbox.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "netpay_smart", "sandbox", "--port", str(port), *options],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (tmp_path / "sandbox.log").read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/sandbox/terminals", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_sandbox_command_answers_the_token_request(tmp_path: Path) -> None:
    """The command serves NetPay's documented world: the docs' credentials get a token."""
    with sandbox_process(tmp_path) as base:
        answer = httpx.post(
            f"{base}/oauth-service/oauth/token",
            data={"grant_type": "password", "username": "Nacional", "password": "netpay"},
            headers={"Authorization": f"Basic {BASIC}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()
        assert (token["token_type"], token["expires_in"], token["scope"]) == (
            "bearer",
            43199,
            "read write",
        )
        serials = {t["serial"] for t in httpx.get(f"{base}/sandbox/terminals").json()}
        assert serials == {"0821000119", "1490293930", "0800000000"}
        assert httpx.post(f"{base}/sandbox/clock", json={"advance": 1}).status_code == 409
    assert "netpay-smart sandbox" in (tmp_path / "sandbox.log").read_text("utf-8")


def test_sandbox_command_options(tmp_path: Path, hub: RecorderHub) -> None:
    """--config, --token-ttl, --manual-clock and --webhook-url all take effect."""
    config = tmp_path / "world.toml"
    config.write_text('[[terminals]]\nserial = "5550001111"\nstore_id = "42"\n', "utf-8")
    recorder = hub.new()
    options = ("--config", str(config), "--token-ttl", "120", "--manual-clock")
    with sandbox_process(tmp_path, *options, "--webhook-url", recorder.url) as base:
        answer = httpx.post(
            f"{base}/gateway/oauth-service/oauth/token",
            data={"grant_type": "password", "username": "Nacional", "password": "netpay"},
            headers={"Authorization": f"Basic {BASIC}"},
            timeout=10,
        )
        assert answer.json()["expires_in"] == 120
        (terminal,) = httpx.get(f"{base}/sandbox/terminals").json()
        assert (terminal["serial"], terminal["store_id"]) == ("5550001111", "42")
        assert httpx.post(f"{base}/sandbox/clock", json={"advance": 1}).status_code == 200
        wait_for(recorder.probes, what="the probe from the command's webhook URL")


def test_the_panel_shows_where_configured_terminals_post(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --config setting a terminal's response_url (and no --webhook-url), the panel
    shows that URL, not "none yet"; results indeed go there."""
    recorder_url = "http://127.0.0.1:9/recorder/webhook"
    config = tmp_path / "world.toml"
    config.write_text(
        f'[[terminals]]\nserial = "5550001111"\nstore_id = "42"\nresponse_url = "{recorder_url}"\n'
        '[[terminals]]\nserial = "5550002222"\nstore_id = "43"\n',
        "utf-8",
    )
    monkeypatch.setenv("COLUMNS", "200")  # the panel on one line a row
    with sandbox_process(tmp_path, "--config", str(config)) as base:
        configured = httpx.get(f"{base}/sandbox/terminals/5550001111").json()
        assert configured["response_url"] == recorder_url
    panel = (tmp_path / "sandbox.log").read_text("utf-8")
    [said] = [line for line in panel.splitlines() if "Results to:" in line]
    assert f"5550001111 -> {recorder_url}; las demás sin URL / the others none yet" in said
    assert "(sin URL / none yet)" not in said


def test_the_panel_names_one_url_once() -> None:
    """--webhook-url, or one URL every configured terminal shares, is shown once; no URL at
    all is "none yet"."""
    from netpay_smart.cli import _response_urls
    from netpay_smart.sandbox import SandboxConfig, TerminalConfig

    url = "http://127.0.0.1:8000/webhook/s"
    shared = SandboxConfig(
        terminals=(TerminalConfig("1", "1", response_url=url), TerminalConfig("2", "2",
                   response_url=url))
    )  # fmt: skip
    assert _response_urls(shared, None) == url
    assert _response_urls(SandboxConfig(), "http://elsewhere/x") == "http://elsewhere/x"
    assert _response_urls(SandboxConfig(), None) == "(sin URL / none yet)"
