"""Settings from flags or ``NETPAY_*`` environment variables, checked once at start."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ._personal import Sealer
from .errors import ConfigurationError
from .store.engine import DEFAULT_DATABASE_URL
from .store.spool import DEFAULT_SPOOL_PATH

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_REQUEST_TIMEOUT",
    "ReceiverSettings",
    "database_url_from_env",
    "is_loopback",
]

#: How the receiver is served (``receiver/serving.py``): seconds a client has to send one whole
#: request, and open connections past which new ones are answered 503.
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 1000


def database_url_from_env(flag: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The database URL for commands that only touch the database (``db upgrade``,
    ``report``, ...): the flag, else ``NETPAY_DATABASE_URL``, else the SQLite default. Nothing
    else is read, so a receiver setting they do not use cannot stop them."""
    env = os.environ if env is None else env
    return flag or env.get("NETPAY_DATABASE_URL") or DEFAULT_DATABASE_URL


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses nobody else can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ReceiverSettings:
    """What the receiver needs. Several webhook secrets may be active during a rotation.

    >>> ReceiverSettings(webhook_secrets=("s1",), api_token="t").max_body_size
    65536
    """

    database_url: str = DEFAULT_DATABASE_URL
    webhook_secrets: tuple[str, ...] = ()
    api_token: str | None = None
    max_body_size: int = 64 * 1024
    long_poll_max: float = 120.0
    batch_max: int = 256
    #: Failed authentications per client address and minute before it gets 429 (0: no limit).
    auth_failure_limit: int = 60
    #: PostgreSQL only: the local file that keeps acknowledging while the database is down
    #: (``None``: no spool, an unreachable database means 503s).
    spool_path: str | None = DEFAULT_SPOOL_PATH
    spool_max_bytes: int = 1024 * 1024 * 1024
    #: A Fernet key: seals customerName and hexSign in stored bodies.
    encryption_key: str | None = field(default=None, repr=False)
    generated: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ReceiverSettings:
        """Read ``NETPAY_DATABASE_URL``, ``NETPAY_WEBHOOK_SECRET`` (comma-separated for a
        rotation), ``NETPAY_API_TOKEN``, ``NETPAY_MAX_BODY_SIZE``, ``NETPAY_SPOOL_PATH``
        (``off`` for none) and ``NETPAY_SPOOL_MAX_MB``; flags win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if env.get("NETPAY_DATABASE_URL"):
            values["database_url"] = env["NETPAY_DATABASE_URL"]
        if env.get("NETPAY_WEBHOOK_SECRET"):
            values["webhook_secrets"] = tuple(
                part.strip() for part in env["NETPAY_WEBHOOK_SECRET"].split(",") if part.strip()
            )
        if env.get("NETPAY_API_TOKEN"):
            values["api_token"] = env["NETPAY_API_TOKEN"]
        if env.get("NETPAY_ENCRYPTION_KEY"):
            values["encryption_key"] = env["NETPAY_ENCRYPTION_KEY"].strip()
        spool = env.get("NETPAY_SPOOL_PATH", "").strip()
        if spool:
            values["spool_path"] = None if spool.lower() in ("off", "none", "0") else spool
        if env.get("NETPAY_SPOOL_MAX_MB"):
            try:
                values["spool_max_bytes"] = int(env["NETPAY_SPOOL_MAX_MB"]) * 1024 * 1024
            except ValueError as exc:
                raise ConfigurationError(
                    "NETPAY_SPOOL_MAX_MB is not a number", hint="megabytes, e.g. 1024"
                ) from exc
        if env.get("NETPAY_MAX_BODY_SIZE"):
            try:
                values["max_body_size"] = int(env["NETPAY_MAX_BODY_SIZE"])
            except ValueError as exc:
                raise ConfigurationError(
                    "NETPAY_MAX_BODY_SIZE is not a number", hint="bytes, e.g. 65536"
                ) from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        for secret in self.webhook_secrets:
            if len(secret) < 16 or "/" in secret:
                raise ConfigurationError(
                    "a webhook secret must be at least 16 characters, without '/'",
                    hint="make one with: openssl rand -hex 24",
                )
        if self.api_token is not None and len(self.api_token) < 16:
            raise ConfigurationError("NETPAY_API_TOKEN must be at least 16 characters")
        if not 1024 <= self.max_body_size <= 16 * 1024 * 1024:
            raise ConfigurationError("the body size limit must be between 1 KiB and 16 MiB")
        if self.spool_max_bytes < 1024 * 1024:
            raise ConfigurationError("the spool needs at least 1 MB", hint="NETPAY_SPOOL_MAX_MB")
        if self.encryption_key is not None:
            self.sealer()  # raises ConfigurationError for a bad key

    def sealer(self) -> Sealer | None:
        """The sealer for personal fields, when a key is set."""
        return None if self.encryption_key is None else Sealer(self.encryption_key)

    def for_host(self, host: str) -> ReceiverSettings:
        """Settings fit to listen on ``host``.

        On a loopback address missing secrets are generated (and reported in ``generated`` so
        the caller can show them); anywhere else both must be set, or this raises.
        """
        missing = [
            name
            for name, present in (
                ("NETPAY_WEBHOOK_SECRET", bool(self.webhook_secrets)),
                ("NETPAY_API_TOKEN", bool(self.api_token)),
            )
            if not present
        ]
        if not missing:
            return self
        if not is_loopback(host):
            raise ConfigurationError(
                f"refusing to listen on {host} without {' and '.join(missing)}",
                hint="set them, or listen on 127.0.0.1 to try things out",
            )
        return replace(
            self,
            webhook_secrets=self.webhook_secrets or (secrets.token_urlsafe(18),),
            api_token=self.api_token or secrets.token_urlsafe(24),
            generated=tuple(missing),
        )
