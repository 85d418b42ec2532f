"""How the receiver is served: uvicorn, with limits a service on the internet needs.

uvicorn closes a connection idle *between* requests (keep-alive), but not one that connects and
never finishes a request: a few hundred such connections (slow or broken networks, or someone
doing it on purpose) would hold every file descriptor and keep terminals out. So the receiver's
HTTP protocol remembers since when it has been reading a request, and one timer per server
closes the connections that took longer than ``request_timeout``. The hot path pays two
attribute writes per request, no timer each.

Past ``max_connections`` open connections (or running requests), uvicorn answers ``503`` at
once: a terminal is told to send again rather than left waiting, and nothing is acknowledged
that was not stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..settings import DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT

__all__ = ["guarded_protocol", "server_config"]

log = logging.getLogger("netpay_smart.receiver")

_TIMEOUT_BODY = b'{"error":"request_timeout","message":"the request took too long to arrive"}'
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


def guarded_protocol(request_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol, closing connections slower than ``request_timeout`` to
    send a request. Each call makes a class of its own, with its own sweeping timer."""
    if request_timeout <= 0:
        raise ValueError("request_timeout must be > 0")
    every = min(max(request_timeout / 4, 0.05), 5.0)

    class GuardedProtocol(HttpToolsProtocol):
        sweeping: asyncio.TimerHandle | None = None
        # Since when this connection has been sending a request (None: it is not).
        reading_since: float | None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self.reading_since = time.monotonic()  # a new connection owes a request
            super().connection_made(transport)
            if GuardedProtocol.sweeping is None:
                GuardedProtocol.sweeping = self.loop.call_later(
                    every, _sweep, self.loop, self.connections
                )

        def on_message_begin(self) -> None:
            self.reading_since = time.monotonic()
            super().on_message_begin()

        def on_message_complete(self) -> None:
            self.reading_since = None
            super().on_message_complete()

        def time_out(self) -> None:
            """Close a connection that took too long; say why if no answer has begun."""
            self.reading_since = None
            if self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(_TIMED_OUT)
            # A request whose body never finished sees a disconnect: nothing is stored or
            # acknowledged for it.
            self.transport.close()

    def _sweep(loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        limit = time.monotonic() - request_timeout
        late = [
            c
            for c in connections
            if isinstance(c, GuardedProtocol) and c.reading_since and c.reading_since < limit
        ]
        for connection in late:
            client = connection.client
            log.warning(
                "closed a connection from %s: no whole request in %g s",
                client[0] if client else "-",
                request_timeout,
            )
            connection.time_out()
        GuardedProtocol.sweeping = (
            loop.call_later(every, _sweep, loop, connections) if connections else None
        )

    return GuardedProtocol


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    **options: Any,
) -> uvicorn.Config:
    """The uvicorn configuration the receiver runs with (``serve``, ``dev``, the tests)."""
    if max_connections < 1:
        raise ValueError("max_connections must be >= 1")
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(request_timeout),
        limit_concurrency=max_connections,
        **options,
    )
