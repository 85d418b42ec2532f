"""The sandbox's world: credentials, merchants and terminals, from a TOML file or built in.

```toml
[credentials]
client_id = "trusted-app"
client_secret = "secret"
users = { Nacional = "netpay" }

[[terminals]]
serial = "0821000119"
store_id = "455311"
smart_accounts = ["455311", "455312", "9194"]
blocked_stores = ["455399"]
store_name = "Netpay"
response_url = "http://127.0.0.1:8000/webhook/..."   # optional
mode = "auto"            # or "manual": a person drives the card flow
card_delay = 1.0         # seconds until the (virtual) card is presented in auto mode
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = ["DEFAULT_TERMINALS", "SandboxConfig", "TerminalConfig"]


@dataclass(frozen=True)
class TerminalConfig:
    """One virtual Smart terminal."""

    serial: str
    store_id: str
    smart_accounts: tuple[str, ...] = ()
    blocked_stores: tuple[str, ...] = ()
    affiliation: str = "7389108"
    store_name: str = "Netpay"
    street_name: str = "Centro"
    city_name: str = "Monterrey NUEVO LEON"
    app_version: str = "2.6.0.1.p.p_20260110"
    response_url: str | None = None
    mode: str = "auto"
    card_delay: float = 1.0
    pin_delay: float = 0.5
    auth_delay: float = 0.5
    print_delay: float = 1.0
    timeout: float = 60.0
    delivery_timeout: float = 15.0

    def __post_init__(self) -> None:
        if not self.serial.isdigit():
            raise ConfigurationError(f"terminal serial {self.serial!r} must be digits")
        if self.mode not in ("auto", "manual"):
            raise ConfigurationError(f"terminal {self.serial}: mode must be auto or manual")


DEFAULT_TERMINALS: tuple[TerminalConfig, ...] = (
    # The Smart Accounts page's examples.
    TerminalConfig(
        "0821000119",
        "455311",
        smart_accounts=("455311", "455312", "9194"),
        blocked_stores=("455399",),
    ),
    # The "receiving the response" pages' examples.
    TerminalConfig(
        "1490293930",
        "9194",
        store_name="COMERCIALIZADORA DE MANGUERAS DE CHIHUAHUA SA DE CV",
        street_name="AVE PABLO LIVAS 7200",
        city_name="Guadalupe NUEVO LEON",
    ),
    TerminalConfig("0800000000", "1", street_name="Ricardo Maragain"),
)


@dataclass(frozen=True)
class SandboxConfig:
    """Credentials the gateway accepts and the terminals it knows."""

    client_id: str = "trusted-app"
    client_secret: str = "secret"  # noqa: S105 - NetPay's documented public sandbox credential
    users: dict[str, str] = field(default_factory=lambda: {"Nacional": "netpay"})
    token_ttl: int = 43199
    terminals: tuple[TerminalConfig, ...] = DEFAULT_TERMINALS

    @classmethod
    def load(cls, path: str | Path | None, **overrides: Any) -> SandboxConfig:
        """Read a TOML file (or nothing: the built-in world), then apply ``overrides``."""
        values: dict[str, Any] = {}
        if path is not None:
            try:
                data = tomllib.loads(Path(path).read_text("utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigurationError(f"cannot read sandbox config {path}: {exc}") from exc
            credentials = data.get("credentials", {})
            for key in ("client_id", "client_secret", "users"):
                if key in credentials:
                    values[key] = credentials[key]
            if "token_ttl" in data:
                values["token_ttl"] = int(data["token_ttl"])
            if "terminals" in data:
                known = {f.name for f in fields(TerminalConfig)}
                terminals = []
                for entry in data["terminals"]:
                    missing = [k for k in ("serial", "store_id") if k not in entry]
                    if missing:
                        raise ConfigurationError(
                            f"a terminal in {path} has no {' or '.join(missing)}"
                        )
                    unknown = set(entry) - known
                    if unknown:
                        raise ConfigurationError(
                            f"unknown terminal setting(s) {sorted(unknown)} in {path}"
                        )
                    for key in ("smart_accounts", "blocked_stores"):
                        if key in entry:
                            entry[key] = tuple(str(s) for s in entry[key])
                    entry["serial"] = str(entry["serial"])
                    entry["store_id"] = str(entry["store_id"])
                    terminals.append(TerminalConfig(**entry))
                values["terminals"] = tuple(terminals)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
