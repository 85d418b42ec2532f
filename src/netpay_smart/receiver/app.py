"""``create_app(settings, *, store=None, clock=None)``: the receiver as one ASGI app.

The webhook route is dispatched before the framework sees the request (it is the hot path);
everything else is a small Starlette app. Resources live in the lifespan: the store's writer
thread, the event hub, and on PostgreSQL the LISTEN connection that hears other replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, MutableMapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import msgspec
from sqlalchemy import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..errors import ConfigurationError
from ..settings import ReceiverSettings
from ..store import Spool, Store
from ..store.migrate import missing_migrations
from ..store.notify import Hub, listen
from .api import (
    DELIVERY_PARAMS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    TRANSACTION_PARAMS,
    Api,
    BodyTooLargeError,
    json_response,
    problem,
    read_body,
    too_large,
    too_many,
)
from .openapi import openapi
from .ops import AuthFailures, Metrics, install_log_redaction
from .webhook import PREFIX, Webhook

__all__ = ["Receiver", "create_app"]

log = logging.getLogger("netpay_smart.receiver")

Scope = dict[str, Any]

SIGN_IN_BODY_MAX = 4096  # the body of a sign-in is one token
_RAW_PREFIX = PREFIX.encode()

# Every asset is the package's own and no script is inline, so the strictest policy costs
# nothing: no other site can frame the dashboard, run a script in it or take its referrer.
_PAGE_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
     b"form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]  # fmt: skip
_API_HEADERS = [*_PAGE_HEADERS[1:], (b"cache-control", b"no-store")]


class Receiver:
    """The ASGI callable ``create_app`` returns; ``store`` and ``metrics`` are for tests."""

    def __init__(
        self, settings: ReceiverSettings, store: Store, clock: Callable[[], datetime]
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = Metrics()
        # A wrong API token and a wrong dashboard token guess the same secret: they count
        # together. Wrong webhook addresses count apart: in a shop the terminals and the POS
        # share one public address, and a terminal still posting to an address retired by a
        # rotation must not lock the POS out of the API while a cashier waits for a result.
        limit = settings.auth_failure_limit or 10**9
        self.failures = AuthFailures(limit=limit)
        self.webhook_failures = AuthFailures(limit=limit)
        self._hub: Hub | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._probes = anyio.CapacityLimiter(2)  # threads /readyz and /metrics may hold
        self.webhook = Webhook(
            store,
            secrets=settings.webhook_secrets,
            max_body_size=settings.max_body_size,
            metrics=self.metrics,
            clock=clock,
            failures=self.webhook_failures,
            sealer=settings.sealer(),
        )
        api = Api(
            store,
            self.hub,
            api_token=settings.api_token,
            clock=clock,
            long_poll_max=settings.long_poll_max,
            failures=self.failures,
        )
        guard = api.authorised
        routes = [
            Route("/api/transactions", guard(api.transactions, params=TRANSACTION_PARAMS)),
            Route("/api/transactions/{order_id:path}", guard(api.transaction)),
            Route("/api/deliveries", guard(api.deliveries, params=DELIVERY_PARAMS)),
            Route("/api/reports/daily", guard(api.daily_report, params=("date",))),
            Route("/api/pushes", guard(api.register_push), methods=["POST"]),
            Route("/api/pushes/{push_id}", guard(api.push, params=("wait",)), methods=["GET"]),
            Route("/api/pushes/{push_id}", guard(api.update_push), methods=["PATCH"]),
            Route("/api/events", guard(api.events)),
            Route("/api/exceptions", guard(api.exceptions, params=("date",))),
            Route("/api/session", guard(self.session_info)),
            Route("/session", self.sign_in, methods=["POST"]),
            Route("/session/logout", self.sign_out, methods=["POST"]),
            Mount("/static", StaticFiles(packages=[("netpay_smart.dashboard", "static")])),
            Route("/healthz", self.healthz),
            Route("/readyz", self.readyz),
            Route("/metrics", self.metrics_page),
            Route("/openapi.json", self.openapi_json),
            Route("/", self.dashboard),
        ]
        self.api = api
        self.app = Starlette(
            routes=routes,
            lifespan=self._lifespan,
            exception_handlers={
                404: _not_found,
                405: _not_allowed,
                OperationalError: _database_down,
                InterfaceError: _database_down,
            },
        )

    def drain(self) -> None:
        """Shutting down: end event streams and long-polls now, not at the server's timeout.

        Safe from a signal handler or another thread.
        """
        hub, loop = self._hub, self._loop
        if hub is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(hub.close)

    def hub(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("the receiver is not started (lifespan did not run)")
        return self._hub

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        hub = Hub(loop)
        self._hub = hub
        self._loop = loop
        metrics = self.metrics

        def on_applied(applied: list[Any]) -> None:
            metrics.record(applied)
            hub.publish_threadsafe(applied)

        await anyio.to_thread.run_sync(lambda: self.store.start(on_applied=on_applied))
        listener = None
        if self.store.dialect == "postgresql":
            listener = asyncio.create_task(
                listen(self.store.engines, hub, origin=self.store.origin)
            )
        try:
            yield
        finally:
            hub.close()
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            await anyio.to_thread.run_sync(self.store.stop)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # "/webhook%2F<secret>" is no webhook address (terminals send the slash as it is).
        if scope["path"].startswith(PREFIX) and scope.get("raw_path", b"").startswith(_RAW_PREFIX):
            await self.webhook(scope, receive, send)
            return
        headers = _API_HEADERS if scope["path"].startswith("/api/") else _PAGE_HEADERS

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, with_headers)

    # -- operations -------------------------------------------------------------------------

    async def healthz(self, _request: Request) -> Response:
        return json_response({"status": "ok", "version": __version__})

    async def readyz(self, _request: Request) -> Response:
        """Ready (200) when results can be acknowledged: into the database, or into the spool
        while the database is down (``status: spooling``); 503 when neither can take them."""
        body: dict[str, Any] = {"database": self.store.dialect}
        try:
            with anyio.fail_after(2):
                # A database that hangs keeps the thread: the answer does not wait for it, and
                # the API's threads are not the ones held.
                await anyio.to_thread.run_sync(
                    self.store.ping, abandon_on_cancel=True, limiter=self._probes
                )
            body["database_reachable"] = True
        except Exception as exc:
            body["database_reachable"] = False
            # Open to anyone: the kind of failure, not the driver's text (host, port, database
            # name, user). The operator reads that in the log.
            body["detail"] = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.info("readyz: the database did not answer: %s", str(exc)[:500])
        spool, problem = self.store.spool, None
        if spool is not None:
            problem = await anyio.to_thread.run_sync(spool.probe)
            body["spool"] = {"path": str(spool.path), "writable": problem is None,
                             "depth": spool.depth}  # fmt: skip
            if problem is not None:
                body["spool"]["problem"] = problem[:200]
        writer = self.store.writer
        if writer is None:
            status = "starting"
        elif body["database_reachable"] and not writer.spooling:
            status = "ready"
        elif spool is not None and problem is None:
            status = "spooling"
        else:
            status = "unavailable"
        body = {"status": status, **body}
        return json_response(body, 200 if status in ("ready", "spooling") else 503)

    async def metrics_page(self, _request: Request) -> Response:
        writer = self.store.writer
        extra = ""
        if writer is not None:
            extra = (
                "# HELP netpay_deliveries_committed_total Deliveries stored (each acked after).\n"
                "# TYPE netpay_deliveries_committed_total counter\n"
                f"netpay_deliveries_committed_total {writer.committed}\n"
                "# HELP netpay_processing_backlog Deliveries stored here since the start and "
                "not yet processed here.\n"
                "# TYPE netpay_processing_backlog gauge\n"
                f"netpay_processing_backlog {max(writer.committed - writer.processed, 0)}\n"
            )
        pending = await self._pending()
        if pending is not None:
            # What a restart left, other replicas' too: the backlog above counts neither.
            extra += (
                "# HELP netpay_deliveries_pending Deliveries in the database waiting to be "
                "processed, whichever replica stored them.\n"
                "# TYPE netpay_deliveries_pending gauge\n"
                f"netpay_deliveries_pending {pending}\n"
            )
        spool = self.store.spool
        if writer is not None and spool is not None:
            extra += (
                "# HELP netpay_spooled_total Deliveries acknowledged from the local spool.\n"
                "# TYPE netpay_spooled_total counter\n"
                f"netpay_spooled_total {writer.spooled}\n"
                "# HELP netpay_spool_moved_total Spooled deliveries moved into the database.\n"
                "# TYPE netpay_spool_moved_total counter\n"
                f"netpay_spool_moved_total {writer.drained}\n"
                "# HELP netpay_spool_depth Deliveries waiting in the spool.\n"
                "# TYPE netpay_spool_depth gauge\n"
                f"netpay_spool_depth {spool.depth}\n"
                "# HELP netpay_spooling 1 while results go to the spool.\n"
                "# TYPE netpay_spooling gauge\n"
                f"netpay_spooling {int(writer.spooling)}\n"
            )
        return PlainTextResponse(
            self.metrics.render() + extra, media_type="text/plain; version=0.0.4"
        )

    async def _pending(self) -> int | None:
        """How many deliveries wait to be processed; ``None`` while the database does not
        answer (the spool's figures tell the rest)."""
        try:
            with anyio.fail_after(2):
                return await anyio.to_thread.run_sync(
                    self.store.count_pending, abandon_on_cancel=True, limiter=self._probes
                )
        except Exception:
            return None

    async def openapi_json(self, _request: Request) -> Response:
        return json_response(openapi(__version__))

    async def dashboard(self, request: Request) -> Response:
        """The dashboard's page, in the reader's language (``?lang=``, cookie, Accept-Language)."""
        lang = _language(request)
        page = resources.files("netpay_smart.dashboard").joinpath("index.html").read_text("utf-8")
        response = HTMLResponse(page.replace("{{lang}}", lang))
        if request.query_params.get("lang") in ("es", "en"):
            response.set_cookie("nps_lang", lang, max_age=365 * 86400, samesite="strict")
        return response

    # -- dashboard sessions -----------------------------------------------------------------

    async def sign_in(self, request: Request) -> Response:
        """Trade the API token for an http-only session cookie (JSON or form body).

        Only the dashboard's own page may sign in (another site's page must not be able to
        spend the address's failed attempts), the limit is checked before the body is read,
        and the body is one short token: anything larger is refused unread.
        """
        if not _same_origin(request):
            return _cross_origin()
        client = request.client.host if request.client else "-"
        wait = self.failures.retry_after(client)
        if wait:
            return too_many(wait)
        try:
            body = await read_body(request, SIGN_IN_BODY_MAX)
        except BodyTooLargeError:
            return too_large(SIGN_IN_BODY_MAX)
        content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        token: Any = ""
        if content_type == "application/json":
            with contextlib.suppress(msgspec.DecodeError, RecursionError):
                decoded = msgspec.json.decode(body)
                token = decoded.get("token", "") if isinstance(decoded, dict) else ""
        elif content_type in ("application/x-www-form-urlencoded", ""):
            token = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0]
        else:
            return problem(415, "unsupported_media_type", "send the token as JSON or as a form")
        token = token.strip() if isinstance(token, str) else ""
        if not token or not self.api.token_matches(token):
            self.failures.failed(client)
            return json_response(
                {"error": "unauthorized", "message": "token incorrecto / wrong token"}, 401
            )
        wants_html = "text/html" in request.headers.get("accept", "")
        response: Response = (
            RedirectResponse("/", status_code=303) if wants_html else Response(status_code=204)
        )
        response.set_cookie(
            SESSION_COOKIE,
            await self.api.open_session(),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https" or _is_local(request),
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        """End the session for good, on every replica (a copy of the cookie no longer works)."""
        if not _same_origin(request):
            return _cross_origin()
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie is not None:
            await self.api.close_session(cookie)
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
        return response

    async def session_info(self, _request: Request) -> Response:
        return json_response({"signed_in": True, "version": __version__})


async def _not_found(request: Request, _exc: Exception) -> Response:
    """A path that matches no route gets the API's JSON error, as the OpenAPI says."""
    return json_response({"error": "not_found", "message": f"no such path {request.url.path}"}, 404)


async def _database_down(_request: Request, exc: Exception) -> Response:
    """The API reads the database; while it is down, say so (webhooks still go to the spool)."""
    log.error("the database cannot be reached: %s", type(exc).__name__)
    return json_response(
        {
            "error": "database_unavailable",
            "message": "the database cannot be reached; try again shortly",
        },
        503,
        {"retry-after": "5"},
    )


async def _not_allowed(request: Request, _exc: Exception) -> Response:
    return json_response(
        {"error": "method_not_allowed", "message": f"{request.method} is not allowed here"}, 405
    )


def _language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get("nps_lang")
    if asked in ("es", "en"):
        return asked
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("es"):
            return "es"
    return "es"


def _same_origin(request: Request) -> bool:
    """Whether a browser sent this from the receiver's own pages. Browsers say where a POST
    comes from (``Sec-Fetch-Site``, ``Origin``); a client that is no browser says neither."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:  # every current browser; a proxy in front does not change it
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    return urlsplit(origin).netloc in hosts


def _cross_origin() -> Response:
    return problem(
        403, "cross_origin", "sign in from the dashboard's own page / inicie sesión desde el panel"
    )


def _is_local(request: Request) -> bool:
    """Browsers keep Secure cookies on http://localhost and 127.0.0.1, not elsewhere."""
    host = (request.url.hostname or "").strip("[]")
    return host in ("localhost", "127.0.0.1", "::1")


def _require_migrated(store: Store, url: str) -> None:
    """Refuse a PostgreSQL database this version has migrations for: every result would fail
    to insert and go to the local spool, out of sight of the API and the other replicas. A
    database that cannot be reached now is checked by nobody: the spool takes the results,
    which is what it is for."""
    try:
        missing = missing_migrations(store.engines.write, url)
    except (OperationalError, InterfaceError) as exc:
        log.warning("could not check the database's migrations: %s", type(exc).__name__)
        return
    if missing:
        store.close()
        raise ConfigurationError(
            f"the database lacks migrations {', '.join(missing)} of netpay-smart {__version__}",
            hint="run: netpay-smart db upgrade --database-url "
            + make_url(url).render_as_string(hide_password=True),
        )


def create_app(
    settings: ReceiverSettings,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Receiver:
    """Build the receiver. Without ``store`` it opens ``settings.database_url`` (a SQLite
    database is brought up to date; PostgreSQL must be migrated with ``netpay-smart db upgrade``).
    """
    settings.check()
    install_log_redaction()
    if store is None:
        store = Store.open(
            settings.database_url,
            migrate=settings.database_url.startswith("sqlite")
            or "://" not in settings.database_url,
            batch_max=settings.batch_max,
        )
        if store.dialect == "postgresql":
            _require_migrated(store, settings.database_url)
        if store.dialect == "postgresql" and settings.spool_path:
            # A spool for SQLite would sit on the same disk as the database: nothing gained.
            store.spool = Spool(settings.spool_path, max_bytes=settings.spool_max_bytes)
    store.sealer = settings.sealer()
    return Receiver(settings, store, clock or (lambda: datetime.now(UTC)))
