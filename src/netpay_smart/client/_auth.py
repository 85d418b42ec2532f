"""The OAuth2 token lifecycle as one ``httpx.Auth`` flow, shared by the sync and async clients.

- No token, or one close to expiry: the flow yields a token request first (password grant, or
  the refresh grant when enabled and a refresh token is at hand).
- The push comes back ``invalid_token``: log in again once and retry the push once.
- However many threads or tasks push at once, one token request is made: the check and the
  request happen under a lock (``threading.Lock`` for sync, ``anyio.Lock`` for async).

A :class:`TokenStore` can persist the token so that several processes share one.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import anyio
import httpx

from ..wire import Token
from ._base import TOKEN_PATH, expiry, is_invalid_token, parse_token, utcnow

__all__ = ["FileTokenStore", "StoredToken", "TokenAuth", "TokenStore"]


@dataclass(frozen=True)
class StoredToken:
    """A token and when to stop using it."""

    access_token: str
    expires_at: datetime
    refresh_token: str | None = None

    def __repr__(self) -> str:
        return f"StoredToken(expires_at={self.expires_at.isoformat()})"

    def usable(self, now: datetime) -> bool:
        return now < self.expires_at


class TokenStore(Protocol):
    """Where a token is kept between processes (a file, a cache, a database row)."""

    def load(self) -> StoredToken | None: ...

    def save(self, token: StoredToken | None) -> None: ...


class FileTokenStore:
    """A JSON file readable only by its owner.

    >>> client = Client(environment="sandbox", ..., token_store=FileTokenStore("~/.netpay-token"))
    ... # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()

    def load(self) -> StoredToken | None:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return StoredToken(
                data["access_token"],
                datetime.fromisoformat(data["expires_at"]),
                data.get("refresh_token"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, token: StoredToken | None) -> None:
        if token is None:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp creates a new file readable by its owner only (0600), never a leftover one.
        descriptor, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        temporary = Path(name)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "access_token": token.access_token,
                    "expires_at": token.expires_at.isoformat(),
                    "refresh_token": token.refresh_token,
                },
                handle,
            )
        temporary.replace(self.path)


class TokenAuth(httpx.Auth):
    """Adds ``Authorization: Bearer`` to pushes, fetching and renewing the token as needed."""

    requires_response_body = True

    def __init__(
        self,
        *,
        base_url: str,
        auth_string: str,
        username: str,
        password: str,
        refresh_grant: bool = False,
        store: TokenStore | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._url = base_url + TOKEN_PATH
        self._basic = f"Basic {auth_string}"
        self._username = username
        self._password = password
        self._refresh_grant = refresh_grant
        self._store = store
        self._clock = clock
        self._token: StoredToken | None = store.load() if store is not None else None
        self._sync_lock = threading.Lock()
        self._async_lock = anyio.Lock()
        self.token_requests = 0

    def __repr__(self) -> str:
        return f"TokenAuth(url={self._url!r}, username={self._username!r})"

    # -- decisions (no I/O) -----------------------------------------------------------------

    def _current(self) -> StoredToken | None:
        if self._store is not None and (self._token is None or not self._usable(self._token)):
            self._token = self._store.load()  # another process may have renewed it
        return self._token if self._token is not None and self._usable(self._token) else None

    def _usable(self, token: StoredToken) -> bool:
        return token.usable(self._clock())

    def token_request(self, *, fresh: bool = False) -> httpx.Request:
        """The request for a new token: refresh grant when enabled and possible."""
        if not fresh and self._refreshing() and self._token and self._token.refresh_token:
            form = {"grant_type": "refresh_token", "refresh_token": self._token.refresh_token}
        else:
            form = {
                "grant_type": "password",
                "username": self._username,
                "password": self._password,
            }
        self.token_requests += 1
        return httpx.Request("POST", self._url, data=form, headers={"Authorization": self._basic})

    def accept(self, response: httpx.Response) -> StoredToken:
        token: Token = parse_token(response)
        stored = StoredToken(token.access_token, expiry(token, self._clock()), token.refresh_token)
        self._token = stored
        if self._store is not None:
            self._store.save(stored)
        return stored

    def forget(self, used: StoredToken) -> None:
        if self._token is used:
            self._token = None

    @staticmethod
    def _sign(request: httpx.Request, token: StoredToken) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        return request

    def _refreshing(self) -> bool:
        previous = self._token
        return bool(self._refresh_grant and previous and previous.refresh_token)

    def _renewal(self) -> Generator[httpx.Request, httpx.Response, StoredToken]:
        """Yield token requests until one works (a refused refresh falls back to password)."""
        refreshing = self._refreshing()
        response = yield self.token_request()
        response.read()  # overriding the flow means reading bodies ourselves
        try:
            return self.accept(response)
        except Exception:
            if not refreshing:
                raise
        response = yield self.token_request(fresh=True)
        response.read()
        return self.accept(response)

    # -- the flows --------------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        with self._sync_lock:
            token = self._current()
            if token is None:
                token = yield from self._renewal()
        response = yield self._sign(request, token)
        response.read()
        if not is_invalid_token(response):
            return
        with self._sync_lock:
            if self._token is token or self._current() is None:
                self.forget(token)
                token = yield from self._fresh_login()
            else:
                token = self._token or token
        yield self._sign(request, token)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # Same steps as sync_auth_flow; an async generator cannot ``yield from``.
        async with self._async_lock:
            token = self._current()
            if token is None:
                refreshing = self._refreshing()
                response = yield self.token_request()
                await response.aread()
                try:
                    token = self.accept(response)
                except Exception:
                    if not refreshing:
                        raise
                    response = yield self.token_request(fresh=True)
                    await response.aread()
                    token = self.accept(response)
        response = yield self._sign(request, token)
        await response.aread()
        if not is_invalid_token(response):
            return
        async with self._async_lock:
            if self._token is token or self._current() is None:
                self.forget(token)
                response = yield self.token_request(fresh=True)
                await response.aread()
                token = self.accept(response)
            else:
                token = self._token or token
        yield self._sign(request, token)

    def _fresh_login(self) -> Generator[httpx.Request, httpx.Response, StoredToken]:
        response = yield self.token_request(fresh=True)
        response.read()
        return self.accept(response)
