"""``POST /webhook/{secret}``: the hot path a Smart terminal posts its result to.

Raw ASGI, no framework: read the bytes (with a size limit, chunked bodies too), mask card
numbers, hand them to the writer, await the commit, answer. The ack is pre-built bytes. Parsing
for the answer is a single decode, to tell a terminal that its body was not a JSON object; the
body is stored either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from .._pci import cut_for_record, mask_pans
from .._personal import Sealer
from ..errors import PayloadError
from ..store import Incoming, Store, StoreUnavailableError
from ..wire import ACK_BODY, decode_object
from .ops import AuthFailures, Metrics

__all__ = ["PREFIX", "Webhook"]

PREFIX = "/webhook/"
log = logging.getLogger("netpay_smart.receiver")

_JSON_HEADERS = [(b"content-type", b"application/json")]
_ACK_HEADERS = [*_JSON_HEADERS, (b"content-length", str(len(ACK_BODY)).encode())]

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": (headers or _JSON_HEADERS) + [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error(code: str, message: str) -> bytes:
    return msgspec.json.encode({"error": code, "message": message})


class Webhook:
    """The webhook endpoint; ``secrets`` may hold two during a rotation."""

    def __init__(
        self,
        store: Store,
        *,
        secrets: tuple[str, ...],
        max_body_size: int,
        metrics: Metrics,
        clock: Callable[[], datetime],
        failures: AuthFailures,
        sealer: Sealer | None = None,
    ) -> None:
        self._store = store
        self._secrets = tuple(s.encode() for s in secrets)
        self._limit = max_body_size
        self._metrics = metrics
        self._clock = clock
        self._failures = failures
        self._sealer = sealer

    async def _unavailable(self, send: Send) -> None:
        self._metrics.count_request(503)
        await _answer(
            send,
            503,
            _error("unavailable", "the result could not be stored; send it again"),
            [*_JSON_HEADERS, (b"retry-after", b"1")],
        )

    def _secret_ok(self, given: str) -> bool:
        candidate = given.encode("utf-8", "surrogateescape")
        # Compare against every secret, always, so timing says nothing about which matched.
        matches = [hmac.compare_digest(candidate, secret) for secret in self._secrets]
        return any(matches)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if not self._secret_ok(scope["path"][len(PREFIX) :].rstrip("/")):
            client = scope.get("client")
            host = client[0] if client else "-"
            wait = self._failures.retry_after(host)
            if wait:
                self._metrics.count_request(429)
                await _answer(
                    send,
                    429,
                    _error("too_many_failures", "too many wrong addresses; try again later"),
                    [*_JSON_HEADERS, (b"retry-after", str(int(wait + 0.999)).encode())],
                )
                return
            self._failures.failed(host)
            self._metrics.count_request(404)
            await _answer(send, 404, _error("not_found", "unknown webhook address"))
            return
        if scope["method"] != "POST":
            self._metrics.count_request(405)
            await _answer(
                send,
                405,
                _error("method_not_allowed", "terminals POST their results here"),
                [*_JSON_HEADERS, (b"allow", b"POST")],
            )
            return
        chunks: list[bytes] = []
        size = 0
        too_large = False
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the terminal gave up before sending everything: nothing to keep
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._limit:
                # Keep the first bytes for the record, without a card number cut in two.
                chunks.append(chunk[: len(chunk) - (size - self._limit)])
                chunks = [cut_for_record(b"".join(chunks))]
                too_large = True
                break
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, masked = mask_pans(b"".join(chunks))
        if masked:
            self._metrics.pans_masked += masked
        if self._sealer is not None:
            body = self._sealer.seal(body)
        decoded: dict[str, Any] | None = None
        problem: PayloadError | None = None
        if not too_large:
            try:
                decoded = decode_object(body)
            except PayloadError as exc:
                problem = exc
        client = scope.get("client")
        item = Incoming(
            body=body,
            received_at=self._clock(),
            remote=f"{client[0]}:{client[1]}" if client else None,
            truncated=too_large,
            error="too_large" if too_large else None,
            decoded=decoded,
        )
        try:
            await self._store.write(item)
        except StoreUnavailableError:
            await self._unavailable(send)
            return
        except asyncio.CancelledError:
            # The server is stopping and will not wait longer for the commit (a database that
            # hangs): the terminal is told to send again, not given a bare 500.
            with contextlib.suppress(Exception):
                await self._unavailable(send)
            raise
        if too_large:
            self._metrics.count_request(413)
            await _answer(
                send,
                413,
                _error("too_large", f"the body is over the {self._limit} byte limit"),
            )
            return
        if problem is not None:
            self._metrics.count_request(400)
            await _answer(send, 400, _error(problem.reason, str(problem)))
            return
        await send({"type": "http.response.start", "status": 200, "headers": _ACK_HEADERS})
        await send({"type": "http.response.body", "body": ACK_BODY})
        self._metrics.count_request(200)
        self._metrics.observe_ack(time.perf_counter() - started)
