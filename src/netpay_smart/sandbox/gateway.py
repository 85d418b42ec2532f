"""The sandbox server: NetPay's gateway (OAuth, pushes) plus the virtual terminals behind it.

Paths are the real ones, with and without the ``/gateway`` prefix production uses:
``/oauth-service/oauth/token`` and ``/integration-service/transactions/{sale,reprint,cancel}``.
A control API under ``/sandbox/`` lists terminals, sets response URLs, reads screens, acts on
them in manual mode, injects faults and moves the clock.

Where NetPay's behaviour is not documented, the sandbox makes the most plausible choice and
says so here (see also docs/sandbox.md):

- OAuth errors are Spring Security OAuth2's: NetPay names its five outcomes but shows only
  the start of one body, so the bodies are Spring's own.
- An unknown serial answers HTTP 200 ``{"code":"19",...}``; SDKs must not rely on the status.
- A malformed push answers 400 in Spring Boot's error shape, with a message saying what is wrong.
- A push to a busy terminal is accepted (``00``) and ignored by the terminal.
- A blocked store shows "Usuario no válido" and posts nothing; a store outside the Smart
  Accounts group shows a session error and posts nothing.
- A cancellation that is not allowed (unknown order, already cancelled, another day, after
  20:00 CDMX) is declined by the terminal with ``13`` and ``transType "V"``.
- A reprint of an unknown order or folio shows "Transacción no encontrada" and posts nothing.
- Terminals never retry a failed delivery by themselves; the cashier presses "Reintentar"
  (the ``retry_after`` fault, or the ``retry`` action).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .clock import Clock, ManualClock, SystemClock
from .config import SandboxConfig
from .terminal import Delivery, Faults, Terminal

__all__ = ["Sandbox", "create_sandbox_app"]

TOKEN_PATH = "/oauth-service/oauth/token"  # noqa: S105 - a URL path, not a secret
SANDBOX_FAULTS_KEY = "npsSandbox"  # per-push faults, inside traceability
REFRESH_TTL = timedelta(days=30)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class _Grant:
    user: str
    expires_at: datetime
    refresh: bool = False


class Sandbox:
    """State of one sandbox: the clock, the tokens it issued, its terminals."""

    def __init__(
        self, config: SandboxConfig, *, clock: Clock | None = None, webhook_url: str | None = None
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        now = self.clock.now()
        self.terminals = {t.serial: Terminal(t, now) for t in config.terminals}
        self.webhook_url = webhook_url
        self.tokens: dict[str, _Grant] = {}
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=1000)
        self.token_requests = 0
        self._kick: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- tokens -----------------------------------------------------------------------------

    def _mint(self, user: str, *, refresh: bool, ttl: timedelta) -> str:
        now = self.clock.now()
        claims = {
            "aud": ["oauth2_id"],
            "user_name": user,
            "scope": ["read", "write"],
            "exp": int((now + ttl).timestamp()),
            "authorities": ["ROLE_USER"],
            "jti": str(uuid.uuid4()),
            "client_id": self.config.client_id,
        }
        if refresh:
            claims["ati"] = str(uuid.uuid4())
        header = _b64(b'{"alg":"RS256","typ":"JWT"}')
        token = f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(32))}"
        self.tokens[token] = _Grant(user, now + ttl, refresh)
        return token

    def issue(self, user: str) -> dict[str, Any]:
        ttl = timedelta(seconds=self.config.token_ttl)
        access = self._mint(user, refresh=False, ttl=ttl)
        return {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": self._mint(user, refresh=True, ttl=REFRESH_TTL),
            "expires_in": self.config.token_ttl,
            "scope": "read write",
            "jti": str(uuid.uuid4()),
        }

    # -- the loop that drives the terminals ---------------------------------------------------

    def kick(self) -> None:
        if self._kick is not None:
            self._kick.set()

    async def run(self) -> None:
        self._kick = asyncio.Event()
        while True:
            now = self.clock.now()
            for terminal in self.terminals.values():
                for delivery in terminal.tick(now):
                    task = asyncio.create_task(self._post(terminal, delivery))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            deadlines = [d for t in self.terminals.values() if (d := t.next_deadline())]
            wait = 0.25
            if deadlines and not isinstance(self.clock, ManualClock):
                wait = min(max((min(deadlines) - now).total_seconds(), 0.0), 0.25)
            # Await even when something is already due: the posts and the HTTP routes run on
            # this event loop, and a loop that never yields starves them all.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), wait)
            self._kick.clear()

    async def _post(self, terminal: Terminal, delivery: Delivery) -> None:
        assert self._client is not None
        ok, detail, status = False, "", None
        try:
            answer = await self._client.post(
                delivery.url,
                content=delivery.body,
                headers={"content-type": "application/json; charset=utf-8"},
                timeout=terminal.config.delivery_timeout,
            )
            status = answer.status_code
            code = None
            with contextlib.suppress(ValueError, AttributeError):
                code = answer.json().get("code")
            ok = 200 <= status < 300 and code == "00"
            detail = f"HTTP {status}, code {code!r}"
        except Exception as exc:  # any failure is a failed delivery, never a stuck terminal
            detail = f"{type(exc).__name__}: {exc}"
        self.deliveries.append(
            {
                "serial": terminal.serial,
                "status": status,
                "ok": ok,
                "detail": detail,
                "attempt": delivery.attempt,
                "probe": delivery.probe,
                "at": self.clock.now().isoformat(),
                "body": json.loads(delivery.body),
            }
        )
        terminal.delivered(delivery, ok, self.clock.now(), detail)
        self.kick()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._client = httpx.AsyncClient()
        loop_task = asyncio.create_task(self.run())
        try:
            await asyncio.sleep(0)
            if self.webhook_url:
                now = self.clock.now()
                for terminal in self.terminals.values():
                    terminal.set_response_url(self.webhook_url, now, probe="documented")
                self.kick()
            yield
        finally:
            loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop_task
            for task in list(self._tasks):
                task.cancel()
            await self._client.aclose()


# -- HTTP ---------------------------------------------------------------------------------------


def _spring_error(status: int, error: str, message: str, path: str, now: datetime) -> Response:
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}"
    return JSONResponse(
        {
            "timestamp": stamp + "+0000",
            "status": status,
            "error": error,
            "message": message,
            "path": path,
        },
        status,
    )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status)


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def _routes(sandbox: Sandbox) -> list[Any]:
    config = sandbox.config

    async def token(request: Request) -> Response:
        sandbox.token_requests += 1
        now = sandbox.clock.now()
        credential = _basic(request)
        if credential is None or not (
            secrets.compare_digest(credential[0], config.client_id)
            and secrets.compare_digest(credential[1], config.client_secret)
        ):
            return _spring_error(401, "Unauthorized", "Unauthorized", TOKEN_PATH, now)
        params: dict[str, str] = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        if "boundary=" in content_type and not content_type.startswith("multipart/"):
            # The docs' curl sends --form with a urlencoded Content-Type header: curl keeps the
            # header and adds the boundary, so the body is multipart whatever it says.
            boundary = content_type.split("boundary=", 1)[1]
            request = _with_content_type(request, f"multipart/form-data; boundary={boundary}")
            content_type = "multipart/form-data"
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            async with request.form() as form:
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        grant_type = params.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_request", "Missing grant type")
        if grant_type == "implicit":
            return _oauth_error(
                400, "invalid_grant", "Implicit grant type not supported from token endpoint"
            )
        if grant_type == "password":
            user, password = params.get("username", ""), params.get("password", "")
            expected = config.users.get(user)
            if expected is None or not secrets.compare_digest(password, expected):
                return _oauth_error(400, "invalid_grant", "Bad credentials")
            return JSONResponse(sandbox.issue(user))
        if grant_type == "refresh_token":
            refresh = params.get("refresh_token", "")
            grant = sandbox.tokens.get(refresh)
            if grant is None or not grant.refresh:
                return _oauth_error(401, "invalid_token", "Cannot convert access token to JSON")
            if grant.expires_at <= now:
                return _oauth_error(
                    401, "invalid_token", f"Invalid refresh token (expired): {refresh}"
                )
            return JSONResponse(sandbox.issue(grant.user))
        return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")

    def push_endpoint(kind: str) -> Callable[[Request], Any]:
        required = {
            "sale": ("serialNumber", "amount", "storeId"),
            "reprint": ("serialNumber", "storeId", "orderId"),
            "cancel": ("serialNumber", "storeId", "orderId"),
        }[kind]

        async def push(request: Request) -> Response:
            now = sandbox.clock.now()
            path = request.url.path
            scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not bearer.strip():
                return _oauth_error(
                    401, "unauthorized", "Full authentication is required to access this resource"
                )
            grant = sandbox.tokens.get(bearer.strip())
            if grant is None or grant.refresh:
                return _oauth_error(401, "invalid_token", "Cannot convert access token to JSON")
            if grant.expires_at <= now:
                return _oauth_error(401, "invalid_token", f"Access token expired: {bearer.strip()}")
            try:
                body = json.loads(await request.body())
            except (ValueError, UnicodeDecodeError):
                return _spring_error(400, "Bad Request", "JSON parse error", path, now)
            if not isinstance(body, dict):
                return _spring_error(400, "Bad Request", "a JSON object is required", path, now)
            missing = [f for f in required if f not in body or body[f] is None]
            if kind == "reprint" and "orderId" in missing and body.get("folioId"):
                missing.remove("orderId")  # reprint by folio still needs orderId: "" present
                return _spring_error(
                    400,
                    "Bad Request",
                    'reprint by folio needs "orderId": "" alongside folioId',
                    path,
                    now,
                )
            if missing:
                return _spring_error(
                    400, "Bad Request", f"missing field(s): {', '.join(missing)}", path, now
                )
            if kind == "reprint" and body.get("orderId") == "" and not body.get("folioId"):
                return _spring_error(
                    400, "Bad Request", "orderId or folioId is required", path, now
                )
            if kind == "sale":
                problem = _check_sale(body)
                if problem:
                    return _spring_error(400, "Bad Request", problem, path, now)
            traceability = body.get("traceability", {})
            if traceability is not None and not isinstance(traceability, dict):
                return _spring_error(
                    400, "Bad Request", "traceability must be a JSON object", path, now
                )
            terminal = sandbox.terminals.get(str(body["serialNumber"]))
            if terminal is None:
                return JSONResponse({"code": "19", "message": "No se encontró la terminal"})
            faults = None
            if isinstance(traceability, dict) and SANDBOX_FAULTS_KEY in traceability:
                try:
                    faults = Faults.from_json(traceability[SANDBOX_FAULTS_KEY])
                except (ValueError, TypeError) as exc:
                    return _spring_error(400, "Bad Request", f"npsSandbox: {exc}", path, now)
            terminal.push(kind, body, now, faults=faults)  # type: ignore[arg-type]
            sandbox.kick()
            return JSONResponse({"code": "00", "message": "Mensaje enviado exitosamente"})

        return push

    gateway = [
        Route(TOKEN_PATH, token, methods=["POST"]),
        *[
            Route(
                f"/integration-service/transactions/{kind}", push_endpoint(kind), methods=["POST"]
            )
            for kind in ("sale", "reprint", "cancel")
        ],
    ]
    return [
        *gateway,
        Mount("/gateway", routes=gateway),
        Mount("/sandbox", routes=_control(sandbox)),
    ]


def _with_content_type(request: Request, content_type: str) -> Request:
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
    headers.append((b"content-type", content_type.encode("latin-1")))
    return Request({**request.scope, "headers": headers}, request.receive)


def _check_sale(body: dict[str, Any]) -> str | None:
    try:
        amount = Decimal(str(body["amount"]))
    except (InvalidOperation, ValueError):
        return "amount must be a number"
    if not amount.is_finite() or amount <= 0:
        return "amount must be greater than 0"
    if amount.adjusted() >= 13:
        return "amount is too large"
    if amount != amount.quantize(Decimal("0.01")):
        return "amount must have at most two decimals"
    msi = body.get("msi")
    if msi not in (None, "", 0) and str(msi) not in ("3", "6", "9", "12", "18"):
        return "msi must be 3, 6, 9, 12 or 18"
    folio = body.get("folioNumber")
    if folio is not None and len(str(folio)) > 250:
        return "folioNumber is longer than 250 characters"
    return None


def _control(sandbox: Sandbox) -> list[Route | Mount]:
    """``/sandbox/...``: what a test or a demo needs to see and drive the terminals."""

    def terminal_or_404(request: Request) -> Terminal:
        terminal = sandbox.terminals.get(request.path_params["serial"])
        if terminal is None:
            raise LookupError(request.path_params["serial"])
        return terminal

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise ValueError("the body must be JSON") from exc
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    def handler(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def wrapped(request: Request) -> Response:
            try:
                result = await fn(request)
            except LookupError as exc:
                return JSONResponse({"error": "not_found", "message": f"no terminal {exc}"}, 404)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": "bad_request", "message": str(exc)}, 400)
            sandbox.kick()
            return result if isinstance(result, Response) else JSONResponse(result)

        return wrapped

    async def terminals(_request: Request) -> Any:
        return [t.snapshot() for t in sandbox.terminals.values()]

    async def terminal(request: Request) -> Any:
        return terminal_or_404(request).snapshot()

    async def response_url(request: Request) -> Any:
        found = terminal_or_404(request)
        data = await body_of(request)
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        try:
            httpx.URL(url).port  # noqa: B018 - parsing is the check
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError(f"url is not valid: {exc}") from exc
        probe = data.get("probe", "documented")
        if probe not in ("documented", "list_of_pays"):
            raise ValueError("probe must be documented or list_of_pays")
        found.set_response_url(url, sandbox.clock.now(), probe=probe)
        return found.snapshot()

    async def mode(request: Request) -> Any:
        found = terminal_or_404(request)
        value = (await body_of(request)).get("mode")
        if value not in ("auto", "manual"):
            raise ValueError("mode must be auto or manual")
        found.set_mode(value, sandbox.clock.now())
        return found.snapshot()

    async def action(request: Request) -> Any:
        found = terminal_or_404(request)
        data = await body_of(request)
        name = data.pop("action", None)
        if not isinstance(name, str):
            raise ValueError("action is required")
        found.act(name, sandbox.clock.now(), **data)
        return found.snapshot()

    async def faults(request: Request) -> Any:
        found = terminal_or_404(request)
        data = await body_of(request)
        once = bool(data.pop("once", False))
        found.faults = Faults.from_json(data)
        found.faults_once = once
        return found.snapshot()

    async def clock(request: Request) -> Any:
        if request.method == "POST":
            if not isinstance(sandbox.clock, ManualClock):
                return JSONResponse(
                    {"error": "not_manual", "message": "start the sandbox with --manual-clock"},
                    409,
                )
            data = await body_of(request)
            if "advance" in data:
                sandbox.clock.advance(float(data["advance"]))
            elif "set" in data:
                sandbox.clock.set(datetime.fromisoformat(str(data["set"])))
            else:
                raise ValueError("advance (seconds) or set (ISO time) is required")
        return {
            "now": sandbox.clock.now().isoformat(),
            "manual": isinstance(sandbox.clock, ManualClock),
        }

    async def deliveries(_request: Request) -> Any:
        return list(sandbox.deliveries)

    async def page(_request: Request) -> Response:
        """The virtual terminals a person can use in a browser."""
        html = resources.files("netpay_smart.sandbox").joinpath("static/index.html")
        return HTMLResponse(html.read_text("utf-8"))

    return [
        Route("/terminals", handler(terminals)),
        Route("/terminals/{serial}", handler(terminal)),
        Route("/terminals/{serial}/response-url", handler(response_url), methods=["PUT"]),
        Route("/terminals/{serial}/mode", handler(mode), methods=["PUT"]),
        Route("/terminals/{serial}/actions", handler(action), methods=["POST"]),
        Route("/terminals/{serial}/faults", handler(faults), methods=["PUT"]),
        Route("/clock", handler(clock), methods=["GET", "POST"]),
        Route("/deliveries", handler(deliveries)),
        Route("/", page),
        Mount("/static", StaticFiles(packages=[("netpay_smart.sandbox", "static")])),
    ]


def create_sandbox_app(
    config: SandboxConfig | None = None,
    *,
    clock: Clock | None = None,
    webhook_url: str | None = None,
) -> Starlette:
    """The sandbox as an ASGI app; ``app.state.sandbox`` is the :class:`Sandbox` (for tests)."""
    sandbox = Sandbox(config or SandboxConfig(), clock=clock, webhook_url=webhook_url)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with sandbox.running():
            yield

    app = Starlette(routes=_routes(sandbox), lifespan=lifespan)
    app.state.sandbox = sandbox
    return app
