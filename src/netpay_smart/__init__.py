"""netpay-smart: take card payments on NetPay Smart terminals.

The SDK surface lives here; the receiver, sandbox and CLI are in their own subpackages.
"""

from __future__ import annotations

from .codes import CodeInfo, describe, describe_push
from .errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    NetPayError,
    PayloadError,
    RuleError,
    TerminalBusyError,
    TerminalNotFoundError,
    TransportError,
)
from .wire import (
    CancelRequest,
    Kind,
    Normalised,
    ReprintRequest,
    SaleRequest,
    Status,
    TerminalResult,
    normalise,
    parse_result,
)

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AuthenticationError",
    "CancelRequest",
    "CodeInfo",
    "ConfigurationError",
    "Kind",
    "NetPayError",
    "Normalised",
    "PayloadError",
    "ReprintRequest",
    "RuleError",
    "SaleRequest",
    "Status",
    "TerminalBusyError",
    "TerminalNotFoundError",
    "TerminalResult",
    "TransportError",
    "__version__",
    "describe",
    "describe_push",
    "normalise",
    "parse_result",
]
