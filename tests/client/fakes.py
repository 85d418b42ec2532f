"""Small fake servers for ``httpx.MockTransport``: NetPay's gateway and the receiver's push API.

They answer like the real ones (NETPAY-FACTS.md §2–3) and record every request, so a test can
count token requests and pushes and read exactly what the SDK sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx

from netpay_smart.client import AsyncClient, Client

BASE_URL = "http://gateway.test"
RECEIVER_URL = "http://receiver.test"
USERNAME = "Nacional"
PASSWORD = "s3cr3t-p4ss"  # distinctive, so a test can look for it in any text
AUTH_STRING = "dHJ1c3RlZC1hcHA6c2VjcmV0"
API_TOKEN = "a" * 24
TOKEN_PATH = "/oauth-service/oauth/token"
PUSH_PREFIX = "/integration-service/transactions/"

OK_PUSH = {"code": "00", "message": "Mensaje enviado exitosamente"}
INVALID_TOKEN = {
    "error": "invalid_token",
    "error_description": "Cannot convert access token to JSON",
}

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def reply(status: int, body: Any = None, *, text: str | None = None) -> httpx.Response:
    """A canned answer: JSON for dicts, raw text (e.g. an HTML error page) otherwise."""
    if text is not None:
        return httpx.Response(status, text=text, headers={"content-type": "text/html"})
    return httpx.Response(status, json=body)


class FakeGateway:
    """NetPay's gateway in miniature.

    Tokens are ``token-1``, ``token-2``, ... with refresh tokens ``refresh-1``, ...; a push with
    a token it did not issue (or that :meth:`revoke` revoked) gets 401 ``invalid_token``.
    ``token_answers`` / ``push_answers`` script the next answers (a response or an exception
    to raise); when empty, the gateway behaves normally.
    """

    def __init__(self, *, expires_in: int = 43199, token_delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.token_delay = token_delay
        self.requests: list[httpx.Request] = []
        self.token_answers: deque[Answer] = deque()
        self.push_answers: deque[Answer] = deque()
        self.valid: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self._issued = 0
        self._lock = threading.Lock()

    # -- what the tests read ----------------------------------------------------------------

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(TOKEN_PATH)]

    @property
    def pushes(self) -> list[httpx.Request]:
        return [r for r in self.requests if PUSH_PREFIX in r.url.path]

    def kinds(self) -> list[str]:
        """``token`` / ``sale`` / ``reprint`` / ``cancel`` for each request, in order."""
        return [
            "token" if r.url.path.endswith(TOKEN_PATH) else r.url.path.rsplit("/", 1)[-1]
            for r in self.requests
        ]

    @staticmethod
    def form(request: httpx.Request) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}

    @staticmethod
    def body(request: httpx.Request) -> dict[str, Any]:
        return dict(json.loads(request.content))

    @staticmethod
    def bearer(request: httpx.Request) -> str:
        return request.headers.get("authorization", "").removeprefix("Bearer ")

    def revoke(self) -> None:
        """Forget every access token issued so far (as if they had expired at the gateway)."""
        self.valid.clear()

    # -- the server -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        is_token = request.url.path.endswith(TOKEN_PATH)
        if is_token and self.token_delay:
            time.sleep(self.token_delay)  # other threads pile up meanwhile
        return self._answer(request, is_token)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        is_token = request.url.path.endswith(TOKEN_PATH)
        if is_token and self.token_delay:
            await anyio.sleep(self.token_delay)  # other tasks pile up meanwhile
        return self._answer(request, is_token)

    def _answer(self, request: httpx.Request, is_token: bool) -> httpx.Response:
        with self._lock:
            # A retry re-sends the same Request object with a new header: keep a snapshot.
            self.requests.append(
                httpx.Request(
                    request.method,
                    request.url,
                    headers=request.headers.copy(),
                    content=request.content,
                )
            )
            scripted = self.token_answers if is_token else self.push_answers
            if scripted:
                answer = scripted.popleft()
                if isinstance(answer, Exception):
                    raise answer
                return answer if isinstance(answer, httpx.Response) else answer(request)
            return self._token(request) if is_token else self._push(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = self.form(request)
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return reply(401, INVALID_TOKEN)
        elif form.get("grant_type") != "password":
            return reply(400, {"error": "unsupported_grant_type"})
        self._issued += 1
        access, refresh = f"token-{self._issued}", f"refresh-{self._issued}"
        self.valid.add(access)
        self.refresh_tokens.add(refresh)
        return reply(
            200,
            {
                "access_token": access,
                "token_type": "bearer",
                "refresh_token": refresh,
                "expires_in": self.expires_in,
                "scope": "read write",
                "jti": f"jti-{self._issued}",
            },
        )

    def _push(self, request: httpx.Request) -> httpx.Response:
        if self.bearer(request) not in self.valid:
            return reply(401, INVALID_TOKEN)
        return reply(200, OK_PUSH)


class FakeReceiver:
    """The receiver's push API: registrations, state changes and (scripted) results."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.registered: dict[str, dict[str, Any]] = {}
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.results: dict[str, dict[str, Any]] = {}  # push id -> result (completes it)
        self.register_answer: httpx.Response | None = None
        #: A result every push registered from now on completes with (the terminal answered).
        self.answer_with: dict[str, Any] | None = None
        #: How many of the next questions about a push get 503 (the database is down).
        self.unavailable = 0
        #: When the receiver says every push was registered (its ``created_at``), if it says.
        self.created_at: str | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path == "/api/pushes":
            if self.register_answer is not None:
                return self.register_answer
            body = json.loads(request.content)
            self.registered[body["id"]] = body
            if self.answer_with is not None:
                self.results[body["id"]] = self.answer_with
            return reply(201, {**body, "state": "registered"})
        push_id = path.rsplit("/", 1)[-1]
        if request.method == "PATCH":
            self.patches.append((push_id, json.loads(request.content)))
            return reply(200, {"id": push_id})
        if self.unavailable:
            self.unavailable -= 1
            return reply(503, {"error": "database_unavailable", "message": "try again shortly"})
        registered = self.registered.get(push_id)
        if registered is None:
            return reply(404, {"error": "not_found"})
        result = self.results.get(push_id)
        found = {
            "id": push_id,
            "kind": registered["kind"],
            "folio_number": registered.get("folio_number"),
            "state": "completed" if result else "registered",
            "result": result,
        }
        if self.created_at is not None:
            found["created_at"] = self.created_at
        return reply(200, found)


class FakeTime:
    """The client's ``timer`` and ``sleep``: time passes only when the client pauses (or a
    test moves ``now``), and every pause is recorded in ``sleeps``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def timer(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def client(gateway: FakeGateway, receiver: FakeReceiver | None = None, **options: Any) -> Client:
    """A :class:`Client` whose gateway (and receiver, if given) are the fakes."""
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "username": USERNAME,
        "password": PASSWORD,
        "transport": httpx.MockTransport(gateway.handle),
    }
    if receiver is not None:
        values.update(
            receiver_url=RECEIVER_URL,
            api_token=API_TOKEN,
            receiver_transport=httpx.MockTransport(receiver.handle),
        )
    values.update(options)
    return Client(**values)


def async_client(
    gateway: FakeGateway, receiver: FakeReceiver | None = None, **options: Any
) -> AsyncClient:
    """An :class:`AsyncClient` whose gateway (and receiver, if given) are the fakes."""
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "username": USERNAME,
        "password": PASSWORD,
        "transport": httpx.MockTransport(gateway.ahandle),
    }
    if receiver is not None:
        values.update(
            receiver_url=RECEIVER_URL,
            api_token=API_TOKEN,
            receiver_transport=httpx.MockTransport(receiver.handle),
        )
    values.update(options)
    return AsyncClient(**values)


def sale_kwargs(serial: str = "0821000119", **overrides: Any) -> dict[str, Any]:
    """A valid sale's arguments."""
    values: dict[str, Any] = {"serial_number": serial, "store_id": "455311", "amount": "1.01"}
    values.update(overrides)
    return values
