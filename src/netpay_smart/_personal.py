"""The cardholder's name and handwritten signature: personal data, sealed and purged.

NetPay results carry ``customerName`` and ``hexSign`` (the signature image). They are not card
data, but they identify a person. With ``NETPAY_ENCRYPTION_KEY`` (a Fernet key) the receiver
seals both values inside the stored body before writing it: the body stays valid JSON, each
value becomes ``"enc:v1:<token>"``. List endpoints never show them; one transaction's page shows
them opened. ``netpay-smart purge`` blanks them once the retention period is over.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from .errors import ConfigurationError

__all__ = ["PERSONAL_FIELDS", "SEALED", "Sealer", "blank", "hide", "without_personal"]

PERSONAL_FIELDS: Final = ("customerName", "hexSign")
SEALED: Final = "enc:v1:"
# A JSON string value of one of the fields: "customerName" : "…" (escapes included).
_VALUE: Final = re.compile(rb'("(?:customerName|hexSign)"\s*:\s*)"((?:[^"\\]|\\.)*)"')


class Sealer:
    """Seals and opens the personal fields with a Fernet key (the ``cryptography`` package).

    >>> sealer = Sealer(Sealer.new_key())
    >>> sealed = sealer.seal(b'{"customerName":"ANA","amount":"1.0"}')
    >>> sealer.open_values({"customerName": sealed.split(b'"')[3].decode()})["customerName"]
    'ANA'
    """

    def __init__(self, key: str) -> None:
        try:
            from cryptography.fernet import Fernet
        except ImportError as exc:  # pragma: no cover - the extra is part of dev
            raise ConfigurationError(
                "NETPAY_ENCRYPTION_KEY needs the cryptography package",
                hint="pip install 'netpay-smart[encryption]'",
            ) from exc
        try:
            self._fernet = Fernet(key.encode() if isinstance(key, str) else key)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "NETPAY_ENCRYPTION_KEY is not a Fernet key",
                hint="make one with: python -c 'from netpay_smart._personal import Sealer; "
                "print(Sealer.new_key())'",
            ) from exc

    @staticmethod
    def new_key() -> str:
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()

    def seal(self, body: bytes) -> bytes:
        """Replace each personal value in a raw body with its sealed token."""
        if b'"customerName"' not in body and b'"hexSign"' not in body:
            return body

        def sealed(match: re.Match[bytes]) -> bytes:
            value = match.group(2)
            if not value or value.startswith(SEALED.encode()):
                return match.group(0)
            token = self._fernet.encrypt(value).decode("ascii")
            return match.group(1) + b'"' + SEALED.encode() + token.encode() + b'"'

        return _VALUE.sub(sealed, body)

    def open_values(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A decoded body with its sealed values opened (a value that will not open stays)."""
        from cryptography.fernet import InvalidToken

        opened = dict(body)
        for name in PERSONAL_FIELDS:
            value = opened.get(name)
            if isinstance(value, str) and value.startswith(SEALED):
                try:
                    raw = self._fernet.decrypt(value[len(SEALED) :].encode())
                except InvalidToken:
                    continue
                # The sealed bytes are the JSON string's inside: undo its escapes.
                opened[name] = json.loads(b'"' + raw + b'"')
        return opened


def without_personal(body: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A decoded body without the personal fields (what list endpoints show)."""
    if body is None:
        return None
    return {k: v for k, v in body.items() if k not in PERSONAL_FIELDS}


def blank(body: bytes) -> bytes:
    """The raw body with the personal values emptied (retention is over)."""
    return _VALUE.sub(lambda m: m.group(1) + b'""', body)


def hide(body: bytes) -> bytes:
    """The raw body with each non-empty personal value shown as ``"***"`` (list endpoints)."""
    return _VALUE.sub(lambda m: m.group(1) + (b'"***"' if m.group(2) else b'""'), body)


Opener = Callable[[Mapping[str, Any]], dict[str, Any]]
