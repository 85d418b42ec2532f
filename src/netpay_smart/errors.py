"""The one error tree of netpay-smart.

```
NetPayError
 ├ ConfigurationError        bad settings, caught at construction, with a hint
 ├ PayloadError              a body that is not a JSON object (.reason says why)
 ├ RuleError                 refused before sending (cancel after 20:00 CDMX, amount <= 0, ...)
 ├ TransportError            network, timeout; .retryable
 └ APIError                  .status .code .description .body
    ├ AuthenticationError    bad Basic credential, bad user/password, invalid_token after re-login
    ├ TerminalNotFoundError  push code 19
    └ TerminalBusyError      another push in flight on that terminal
```

A declined card is a *result*, not an exception: ``outcome.approved is False``.
Raise only when the call itself could not do what was asked.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "NetPayError",
    "PayloadError",
    "RuleError",
    "TerminalBusyError",
    "TerminalNotFoundError",
    "TransportError",
]


class NetPayError(Exception):
    """Base of every error netpay-smart raises."""


class ConfigurationError(NetPayError):
    """A setting is missing or wrong; ``hint`` says how to fix it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{message} ({hint})" if hint else message)
        self.hint = hint


class PayloadError(NetPayError):
    """A body could not be read as a JSON object.

    ``reason`` is a short machine-readable tag (``not_json``, ``not_object``, ``empty``,
    ``too_deep``, ``unexpected_shape``); the message explains it to a person.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RuleError(NetPayError):
    """A push was refused before anything was sent, because NetPay would refuse it too."""


class TransportError(NetPayError):
    """The request did not reach NetPay or its answer did not come back.

    ``retryable`` is True only when nothing was sent. On a push, ``push_id`` and
    ``folio_number`` name it: when ``retryable`` is False the terminal may have it, and a
    reprint by that folio tells how it ended.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        push_id: str | None = None,
        folio_number: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.push_id = push_id
        self.folio_number = folio_number


class APIError(NetPayError):
    """NetPay answered, but not with what was asked for."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        description: str | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.description = description
        self.body = body


class AuthenticationError(APIError):
    """The gateway refused the credentials or the token."""


class TerminalNotFoundError(APIError):
    """Push code 19: the gateway does not know that serial number."""


class TerminalBusyError(APIError):
    """Another push is still waiting for its result on the same terminal."""
