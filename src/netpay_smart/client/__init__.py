"""The SDK: push to NetPay Smart terminals and get the outcome, sync or async."""

from __future__ import annotations

from ._async import AsyncClient, AsyncPush
from ._auth import FileTokenStore, StoredToken, TokenStore
from ._base import ENVIRONMENTS, Card, Outcome, OutcomeStatus
from ._sync import Client, Push

__all__ = [
    "ENVIRONMENTS",
    "AsyncClient",
    "AsyncPush",
    "Card",
    "Client",
    "FileTokenStore",
    "Outcome",
    "OutcomeStatus",
    "Push",
    "StoredToken",
    "TokenStore",
]
