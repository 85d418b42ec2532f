"""The limits of the stack: apps that read the body and answer the ack, and store nothing.

``app`` is raw ASGI (the ceiling of uvicorn itself); ``starlette_app`` is the same on Starlette
(the ceiling of a framework). Both answer ``200 {"code":"00","message":"Recibido"}`` to any
request, after reading the whole body, as the receiver does before it stores anything.

    python -m uvicorn bench.noop:app --no-access-log --loop uvloop --http httptools
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ACK = b'{"code":"00","message":"Recibido"}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ACK)).encode())]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Raw ASGI: read the body, answer the pre-built ack."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": ACK})


async def _webhook(request: Request) -> Response:
    await request.body()
    return Response(ACK, media_type="application/json")


async def _health(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


starlette_app = Starlette(
    routes=[
        Route("/webhook/{secret}", _webhook, methods=["POST"]),
        Route("/healthz", _health),
    ]
)
