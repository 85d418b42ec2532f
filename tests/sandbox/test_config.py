"""The sandbox's world from a TOML file: credentials, terminals, and refusals of bad files."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from netpay_smart.errors import ConfigurationError
from netpay_smart.sandbox import SandboxConfig, TerminalConfig
from netpay_smart.sandbox.config import DEFAULT_TERMINALS

from .conftest import MakeSandbox
from .harness import BASIC, PUSHED

WORLD = """
token_ttl = 600

[credentials]
client_id = "mi-punto-de-venta"
client_secret = "s3cr3t0"
users = { cajero = "clave-123" }

[[terminals]]
serial = 1234567890
store_id = 777
smart_accounts = [777, "778"]
blocked_stores = ["779"]
store_name = "Tienda Centro"
card_delay = 0
pin_delay = 0
auth_delay = 0
print_delay = 0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sandbox.toml"
    path.write_text(text, "utf-8")
    return path


def test_load_reads_credentials_and_terminals(tmp_path: Path) -> None:
    """A TOML file sets the credentials, the token lifetime and the terminals."""
    config = SandboxConfig.load(write(tmp_path, WORLD))
    assert (config.client_id, config.client_secret) == ("mi-punto-de-venta", "s3cr3t0")
    assert config.users == {"cajero": "clave-123"}
    assert config.token_ttl == 600
    (terminal,) = config.terminals
    assert terminal == TerminalConfig(
        "1234567890",
        "777",
        smart_accounts=("777", "778"),
        blocked_stores=("779",),
        store_name="Tienda Centro",
        card_delay=0,
        pin_delay=0,
        auth_delay=0,
        print_delay=0,
    )


def test_loaded_world_works_over_http(tmp_path: Path, make_sandbox: MakeSandbox) -> None:
    """A sandbox started from the file accepts its credentials and drives its terminal."""
    config = SandboxConfig.load(write(tmp_path, WORLD))
    with make_sandbox(settings=config) as live:
        url = f"{live.url}/oauth-service/oauth/token"
        form = {"grant_type": "password", "username": "cajero", "password": "clave-123"}
        basic = base64.b64encode(b"mi-punto-de-venta:s3cr3t0").decode()
        refused = live.http.post(url, data=form, headers={"Authorization": f"Basic {BASIC}"})
        assert refused.status_code == 401
        answer = live.http.post(url, data=form, headers={"Authorization": f"Basic {basic}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["expires_in"] == 600
        token = answer.json()["access_token"]

        body = {"traceability": {}, "amount": 5, "serialNumber": "1234567890", "storeId": "777"}
        default = live.push("sale", {**body, "serialNumber": "0821000119"}, token=token)
        assert default.json() == {"code": "19", "message": "No se encontró la terminal"}

        def sale() -> None:
            pushed = live.push(
                "sale", {**body, "storeId": "778", "isSmartAccounts": "true"}, token=token
            )
            assert pushed.json() == PUSHED

        result = live.expect(sale, "1234567890")
        assert (result["terminalId"], result["storeId"]) == ("1234567890", "778")
        assert result["storeName"] == "Tienda Centro"


def test_unknown_terminal_setting(tmp_path: Path) -> None:
    """A terminal setting the sandbox does not know is a ConfigurationError naming it."""
    path = write(tmp_path, '[[terminals]]\nserial = "1"\nstore_id = "2"\ncard_dealy = 0\n')
    with pytest.raises(ConfigurationError, match=r"unknown terminal setting\(s\) \['card_dealy'\]"):
        SandboxConfig.load(path)


@pytest.mark.parametrize(
    "text",
    [
        '[[terminals]]\nserial = "08-21"\nstore_id = "2"\n',
        '[[terminals]]\nserial = "1"\nstore_id = "2"\nmode = "turbo"\n',
    ],
    ids=["serial-not-digits", "bad-mode"],
)
def test_bad_terminal_values(tmp_path: Path, text: str) -> None:
    """A serial that is not digits, or a mode other than auto/manual: ConfigurationError."""
    with pytest.raises(ConfigurationError):
        SandboxConfig.load(write(tmp_path, text))


def test_terminal_without_serial(tmp_path: Path) -> None:
    """A terminal without a serial is a ConfigurationError, like any other bad setting."""
    with pytest.raises(ConfigurationError):
        SandboxConfig.load(write(tmp_path, '[[terminals]]\nstore_id = "2"\n'))


def test_unreadable_files(tmp_path: Path) -> None:
    """A missing file or one that is not TOML: ConfigurationError naming the file."""
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigurationError, match=r"nowhere\.toml"):
        SandboxConfig.load(missing)
    with pytest.raises(ConfigurationError, match="cannot read sandbox config"):
        SandboxConfig.load(write(tmp_path, "[[terminals]\nserial ="))


def test_no_file_is_the_built_in_world() -> None:
    """load(None) is the documented world; a token_ttl override applies, None does not."""
    config = SandboxConfig.load(None)
    assert config.terminals == DEFAULT_TERMINALS
    assert (config.client_id, config.client_secret, config.users) == (
        "trusted-app",
        "secret",
        {"Nacional": "netpay"},
    )
    assert config.token_ttl == 43199
    assert SandboxConfig.load(None, token_ttl=60).token_ttl == 60
    assert SandboxConfig.load(None, token_ttl=None).token_ttl == 43199


def test_overrides_apply_over_the_file(tmp_path: Path) -> None:
    """A command-line token_ttl wins over the file's."""
    assert SandboxConfig.load(write(tmp_path, WORLD), token_ttl=30).token_ttl == 30
