"""``netpay-smart``: the command line. Thin: parse flags, call the library, render with rich.

Messages a merchant reads are in Spanish and English.
"""

from __future__ import annotations

import calendar
import contextlib
import gc
import json
import os
import re
import sys
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from . import __version__
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
from .settings import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT,
    ReceiverSettings,
    database_url_from_env,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="netpay-smart",
    help="Cobros con terminales NetPay Smart / Card payments on NetPay Smart terminals.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Base de datos / Database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console(stderr=True)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///FILE or postgresql://USER@HOST/DB (default: NETPAY_DATABASE_URL, "
        "else netpay-smart.sqlite3 here).",
    ),
]


#: The first line of an error, by its class (the most specific first): what it means for the
#: cashier, in Spanish and English. The library's own text follows as the detail.
_LEADS: tuple[tuple[type[NetPayError], str], ...] = (
    (ConfigurationError, "Configuración incompleta o inválida / Missing or invalid settings"),
    (RuleError, "Operación rechazada antes de enviarla / Refused before sending"),
    (AuthenticationError, "NetPay rechazó las credenciales / NetPay refused the credentials"),
    (TerminalNotFoundError, "NetPay no conoce esta terminal / NetPay does not know this terminal"),
    (
        TerminalBusyError,
        "La terminal está ocupada con otra operación / The terminal is busy with another operation",
    ),
    (
        TransportError,
        "No se pudo comunicar con NetPay o el receptor / Could not reach NetPay or the receiver",
    ),
    (APIError, "La solicitud fue rechazada / The request was refused"),
    (PayloadError, "Respuesta ilegible / Unreadable answer"),
)


def _require_free_port(host: str, port: int, *, hint: str = "--port") -> None:
    """Stop with a clear message, before anything is printed or opened, if ``port`` is taken
    (uvicorn would say so only after the panel, in English)."""
    if not _port_free(host, port):
        console.print(
            f"[bold red]Error:[/] el puerto {port} está ocupado / port {port} is in use "
            f"(another netpay-smart?). Use {hint}."
        )
        raise typer.Exit(2)


def _fail(exc: NetPayError, *, as_json: bool = False) -> typer.Exit:
    lead = next((text for cls, text in _LEADS if isinstance(exc, cls)), "Error")
    if as_json:
        # A script asked for JSON: it gets an object on stdout for an error too (the lines
        # below go to stderr).
        typer.echo(json.dumps({"error": type(exc).__name__, "lead": lead, "message": str(exc)},
                              ensure_ascii=False))  # fmt: skip
    console.print(f"[bold red]Error:[/] {lead}")
    console.print(f"  {escape(str(exc))}", highlight=False)
    if isinstance(exc, APIError) and not isinstance(exc, AuthenticationError) and exc.status == 401:
        # NetPay's own refusals are AuthenticationErrors: a bare 401 is the receiver's.
        console.print(
            "  Revise NETPAY_API_TOKEN: el receptor no lo acepta / "
            "Check NETPAY_API_TOKEN: the receiver does not accept it"
        )
    return typer.Exit(2)


@app.command()
def version() -> None:
    """Versión / Version."""
    typer.echo(__version__)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database_url: DatabaseOption = None,
    max_body_size: Annotated[
        int | None,
        typer.Option(
            help="Largest webhook body in bytes, from 1024 (1 KiB) to 16777216 (16 MiB) "
            "(default: NETPAY_MAX_BODY_SIZE, else 65536)."
        ),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request (secrets redacted).")] = True,
    request_timeout: Annotated[
        float,
        typer.Option(help="Seconds a client has to send a whole request; slower ones are cut."),
    ] = DEFAULT_REQUEST_TIMEOUT,
    max_connections: Annotated[
        int,
        typer.Option(help="Open connections (or running requests) past which new ones get 503."),
    ] = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Recibe los resultados de las terminales / Receive the terminals' results."""
    from .receiver import create_app
    from .receiver.serving import server_config

    if request_timeout <= 0 or max_connections < 1:
        console.print("[bold red]Error:[/] --request-timeout > 0 y / and --max-connections >= 1")
        raise typer.Exit(2)
    _require_free_port(host, port)
    try:
        settings = ReceiverSettings.from_env(
            database_url=database_url, max_body_size=max_body_size
        ).for_host(host)
        receiver = create_app(settings)
    except NetPayError as exc:
        raise _fail(exc) from exc
    base = f"http://{host}:{port}"
    # A secret the operator chose stays out of the output (logs collect it); a generated one
    # must be shown, or nobody could configure the terminal.
    secret = (
        settings.webhook_secrets[0]
        if "NETPAY_WEBHOOK_SECRET" in settings.generated
        else "$NETPAY_WEBHOOK_SECRET"
    )
    lines = [
        f"Webhook (configúrelo en la terminal / set it on the terminal): {base}/webhook/{secret}",
        f"Panel / Dashboard: {base}/",
        f"Base de datos / Database: {receiver.store.engines.write.url.render_as_string()}",
    ]
    if receiver.store.spool is not None:
        lines.append(
            "Respaldo local si la base de datos cae / Local spool while the database is down: "
            f"{receiver.store.spool.path}"
        )
    if "NETPAY_API_TOKEN" in settings.generated:
        lines.append(f"Token de la API (generado) / API token (generated): {settings.api_token}")
    if settings.generated:
        lines.append(
            "[yellow]Secretos generados para esta ejecución: defina "
            f"{' y '.join(settings.generated)} para conservarlos. / Generated for this run only.[/]"
        )
    console.print(Panel("\n".join(lines), title=f"netpay-smart {__version__}", expand=False))
    # What is loaded by now (modules, the app, SQLAlchemy's metadata: about 80,000 objects)
    # lives as long as the process: out of the collector's sight, a full collection no longer
    # stops every request for about 40 ms to walk it again.
    gc.collect()
    gc.freeze()
    _draining_server(
        server_config(
            receiver,
            host=host,
            port=port,
            request_timeout=request_timeout,
            max_connections=max_connections,
            log_level="info",
            access_log=access_log,
            timeout_graceful_shutdown=5,
            timeout_keep_alive=30,
        ),
        receiver,
    ).run()


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (NetPay's sandbox: 3334).")] = 3334,
    config: Annotated[
        str | None, typer.Option("--config", help="TOML file with terminals and credentials.")
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(help="Response URL every terminal posts its results to (sends the probe)."),
    ] = None,
    token_ttl: Annotated[
        int | None, typer.Option(help="Token lifetime in seconds (NetPay: 43199).")
    ] = None,
    manual_clock: Annotated[
        bool, typer.Option(help="Time moves only through POST /sandbox/clock (for tests).")
    ] = False,
) -> None:
    """Pasarela NetPay y terminales virtuales / Offline NetPay gateway and virtual terminals."""
    import uvicorn

    from .sandbox import ManualClock, SandboxConfig, create_sandbox_app

    if token_ttl is not None and token_ttl <= 0:
        console.print("[bold red]Error:[/] --token-ttl: segundos > 0 / seconds > 0")
        raise typer.Exit(2)
    if webhook_url is not None and not re.match(r"^https?://[^/\s]+", webhook_url):
        console.print(
            "[bold red]Error:[/] --webhook-url: una URL http(s):// / an http(s):// URL "
            f"({escape(webhook_url)!r})"
        )
        raise typer.Exit(2)
    _require_free_port(host, port)
    try:
        settings = SandboxConfig.load(config, token_ttl=token_ttl)
    except NetPayError as exc:
        raise _fail(exc) from exc
    application = create_sandbox_app(
        settings, clock=ManualClock() if manual_clock else None, webhook_url=webhook_url
    )
    base = f"http://{host}:{port}"
    terminals = ", ".join(
        f"{t.serial} (store {t.store_id}{', Smart Accounts' if t.smart_accounts else ''})"
        for t in settings.terminals
    )
    console.print(
        Panel(
            "\n".join(
                [
                    f"Base URL: {base}   (también / also {base}/gateway)",
                    f"Basic: {settings.client_id}:{settings.client_secret}   "
                    f"usuario / user: {', '.join(settings.users)}",
                    f"Terminales / Terminals: {terminals}",
                    f"Respuestas a / Results to: {_response_urls(settings, webhook_url)}",
                    f"Control: {base}/sandbox/terminals",
                ]
            ),
            title="netpay-smart sandbox",
            expand=False,
        )
    )
    uvicorn.run(application, host=host, port=port, log_level="info", timeout_graceful_shutdown=3)


def _response_urls(settings: Any, webhook_url: str | None) -> str:
    """Where the terminals post their results: ``--webhook-url`` for all, else each one's
    ``response_url`` from ``--config``."""
    if webhook_url:
        return webhook_url
    urls: list[tuple[str, str]] = [
        (t.serial, t.response_url) for t in settings.terminals if t.response_url
    ]
    if not urls:
        return "(sin URL / none yet)"
    if len(urls) == len(settings.terminals) and len({url for _, url in urls}) == 1:
        return urls[0][1]
    shown = ", ".join(f"{serial} -> {url}" for serial, url in urls)
    if len(urls) < len(settings.terminals):
        shown += "; las demás sin URL / the others none yet"
    return shown


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Receiver and dashboard port.")] = 8000,
    sandbox_port: Annotated[int, typer.Option(help="Sandbox gateway port.")] = 3334,
    database_url: DatabaseOption = None,
) -> None:
    """Sandbox y receptor juntos / Sandbox and receiver together, wired, on 127.0.0.1."""
    import asyncio

    import uvicorn

    from .receiver import create_app
    from .receiver.serving import server_config
    from .sandbox import SandboxConfig, create_sandbox_app

    host = "127.0.0.1"
    for wanted in (port, sandbox_port):
        _require_free_port(host, wanted, hint="--port / --sandbox-port")
    try:
        settings = ReceiverSettings.from_env(database_url=database_url).for_host(host)
        receiver = create_app(settings)
        world = SandboxConfig.load(None)
    except NetPayError as exc:
        raise _fail(exc) from exc
    base = f"http://{host}:{port}"
    gateway = f"http://{host}:{sandbox_port}"
    webhook = f"{base}/webhook/{settings.webhook_secrets[0]}"
    sandbox_app = create_sandbox_app(world, webhook_url=webhook)
    terminal = world.terminals[0]
    exports = (
        f"export NETPAY_ENVIRONMENT={gateway} NETPAY_USERNAME={next(iter(world.users))} "
        f"NETPAY_PASSWORD={next(iter(world.users.values()))} "
        f"NETPAY_RECEIVER_URL={base} NETPAY_API_TOKEN={settings.api_token}"
    )
    console.print(
        Panel(
            "\n".join(
                [
                    f"Panel / Dashboard:  {base}/",
                    # A line of its own: at 80 columns it would be cut in two, and the token
                    # is what a person copies from here.
                    f"Token de la API / API token: {settings.api_token}",
                    f"Sandbox NetPay:     {gateway}   Basic {world.client_id}:"
                    f"{world.client_secret}, {next(iter(world.users))} / "
                    f"{next(iter(world.users.values()))}",
                    f"Terminales / Terminals: {', '.join(t.serial for t in world.terminals)}"
                    f" -> {base}/webhook/…",
                    f"Terminal virtual / Virtual terminal: {gateway}/sandbox/",
                    "Ctrl-C detiene todo / stops everything.",
                ]
            ),
            title="netpay-smart dev",
            expand=False,
        )
    )
    # Outside the panel, unwrapped, so that the lines can be copied and pasted as they are.
    console.print("Pruebe en otra terminal / Try in another terminal:")
    console.print(f"  {exports}", soft_wrap=True, highlight=False)
    console.print(
        f"  {_this_command()} sale --amount 1.01 --serial {terminal.serial} "
        f"--store {terminal.store_id} --wait",
        soft_wrap=True,
        highlight=False,
    )

    async def both() -> None:
        servers = [
            _draining_server(
                server_config(
                    receiver, host=host, port=port, log_level="warning",
                    timeout_graceful_shutdown=3,
                ),
                receiver,
            ),
            uvicorn.Server(
                uvicorn.Config(
                    sandbox_app, host=host, port=sandbox_port, log_level="warning",
                    timeout_graceful_shutdown=3,
                )
            ),
        ]  # fmt: skip
        # The receiver first: the sandbox's terminals post their configuration probe as soon
        # as it starts, and a probe to a receiver not yet listening fails on every screen.
        tasks = [asyncio.create_task(servers[0].serve())]
        while not servers[0].started and not tasks[0].done():  # noqa: ASYNC110 - uvicorn has only the flag
            await asyncio.sleep(0.02)
        if not tasks[0].done():
            tasks.append(asyncio.create_task(servers[1].serve()))
        # If one stops (Ctrl-C, or a failure), stop the other too.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(both())
    console.print("Detenido / Stopped.")


def _this_command() -> str:
    """How another terminal runs this same netpay-smart: by its name when the shell finds it,
    else by the path it was started with (``make run`` starts ``.venv/bin/netpay-smart``,
    which is not on PATH unless the virtual environment is active)."""
    import shlex
    import shutil

    if shutil.which("netpay-smart"):
        return "netpay-smart"
    started = sys.argv[0]
    if Path(started).name == "__main__.py" or not (os.sep in started or "/" in started):
        # ``python -m netpay_smart``, or a name the shell no longer finds.
        command = [sys.executable, "-m", "netpay_smart"]
    else:
        command = [os.path.abspath(started)]  # pasted in another directory too
    # POSIX shells need quotes around a path with spaces; Windows shells quote otherwise.
    return " ".join(shlex.quote(part) if os.name != "nt" else part for part in command)


def _draining_server(config: Any, receiver: Any) -> Any:
    """A uvicorn server that, on SIGTERM or Ctrl-C, first tells the receiver to end its event
    streams and long-polls, so shutdown does not wait for them to time out."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            receiver.drain()
            super().handle_exit(sig, frame)

    return Server(config)


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


# -- the SDK from the command line -------------------------------------------------------------

EnvironmentOption = Annotated[
    str | None,
    typer.Option(
        "--environment",
        "-e",
        help="A base URL, e.g. http://127.0.0.1:3334 for netpay-smart sandbox or dev; or "
        "NetPay's own: sandbox (NetPay's hosted test server, not netpay-smart sandbox), "
        "production, api-154 (default: NETPAY_ENVIRONMENT).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Wait for the terminal's result (needs the receiver). Without it the command "
        "ends once the push is sent, before anything happens on the terminal.",
    ),
]
SaleTimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Seconds to wait for the result; then the sale is recovered by a reprint by folio "
        "(up to 30 s more), as is the real state of a sale answered 05. The terminal stays "
        "reserved for the push this long plus 30 s.",
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Seconds to wait for the result; then it is unknown (exit 2). The terminal "
        "stays reserved for the push this long plus 30 s.",
    ),
]
NoTicketOption = Annotated[
    bool, typer.Option("--no-ticket", help="Do not print NetPay's ticket on the terminal.")
]
SmartOption = Annotated[
    bool,
    typer.Option(
        "--smart-accounts",
        help="Switch the terminal to this store first. Whether the store is in the terminal's "
        "Smart Accounts group is not checked here: the terminal refuses one that is not "
        "(a session error on its screen, no result; --wait then ends unknown).",
    ),
]


def _client(environment: str | None) -> Any:
    from .client import Client

    return Client(environment=environment)


def _outcome_json(outcome: Any) -> dict[str, Any]:
    return {
        "status": str(outcome.status),
        "approved": outcome.approved,
        "kind": outcome.kind,
        "order_id": outcome.order_id,
        "response_code": outcome.response_code,
        "message": outcome.message,
        "message_en": outcome.message_en,
        "terminal_message": outcome.terminal_message,
        "amount": None if outcome.amount is None else f"{outcome.amount:.2f}",
        "card": None
        if outcome.card is None
        else {"brand": outcome.card.brand, "type": outcome.card.type, "last4": outcome.card.last4},
        "folio_number": outcome.folio_number,
        "push_id": outcome.push_id,
        "recovered": outcome.recovered,
    }


def _exit_code(outcome: Any) -> int:
    if outcome.approved:
        return 0
    return 2 if str(outcome.status) == "unknown" else 1


def _show_outcome(outcome: Any, as_json: bool) -> None:
    from rich.table import Table

    data = _outcome_json(outcome)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    colour = "green" if outcome.approved else ("yellow" if data["status"] == "unknown" else "red")
    table = Table(show_header=False, title=f"[bold {colour}]{outcome.message}[/]")
    for key, value in data.items():
        if value not in (None, "", False) or key == "approved":
            shown = (
                value
                if not isinstance(value, dict)
                else " ".join(str(v) for v in value.values() if v)
            )
            table.add_row(key, str(shown))
    Console().print(table)


def _screen_reader(client: Any, serial: str) -> Any:
    """On netpay-smart's sandbox, read the virtual terminal's screen for the spinner.

    Never asked of NetPay's own environments, and given up at the first answer that is not a
    screen: a gateway without it would be asked twice a second for as long as a sale waits."""
    import httpx

    from .client import ENVIRONMENTS

    base = client.settings.base_url.rstrip("/")
    asking = base not in {url.rstrip("/") for url in ENVIRONMENTS.values()}

    def read() -> str | None:
        nonlocal asking
        if not asking:
            return None
        try:
            answer = httpx.get(f"{base}/sandbox/terminals/{serial}", timeout=1)
            if answer.status_code == 200:
                return str(answer.json()["screen"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
        asking = False
        return None

    return read


def _run_push(
    action: Any, *, serial: str, environment: str | None, wait: bool, timeout: float,
    as_json: bool,
) -> None:  # fmt: skip
    import threading
    import time

    try:
        with _client(environment) as client:
            if wait:
                client.settings.require_receiver()  # before anything reaches the terminal
            push = action(client)
            if not wait:
                if as_json:
                    typer.echo(json.dumps({"push_id": push.id, "folio_number": push.folio_number}))
                else:
                    console.print(
                        f"[green]Enviado a la terminal / Sent to the terminal[/] "
                        f"(push {push.id}, folio {push.folio_number})"
                    )
                return
            done: dict[str, Any] = {}

            def waiter() -> None:
                try:
                    done["outcome"] = push.wait(timeout)
                except BaseException as exc:  # re-raised on the main thread
                    done["error"] = exc

            thread = threading.Thread(target=waiter, daemon=True)
            thread.start()
            screen = _screen_reader(client, serial)
            started = time.monotonic()
            with console.status("Esperando a la terminal / Waiting for the terminal…") as status:
                while thread.is_alive():
                    thread.join(0.4)
                    text = screen() or "Esperando a la terminal / Waiting for the terminal"
                    status.update(f"{text}…  {time.monotonic() - started:.0f}s")
            if "error" in done:
                raise done["error"]
            outcome = done["outcome"]
    except NetPayError as exc:
        raise _fail(exc, as_json=as_json) from exc
    _show_outcome(outcome, as_json)
    raise typer.Exit(_exit_code(outcome))


@app.command()
def token(
    environment: EnvironmentOption = None,
    show: Annotated[bool, typer.Option("--show", help="Print the token itself.")] = False,
) -> None:
    """Obtiene un token / Get an access token (shows its expiry, not the token)."""
    try:
        with _client(environment) as client:
            expires = client.token()
            stored = client.auth._token
    except NetPayError as exc:
        raise _fail(exc) from exc
    console.print(f"[green]Token válido hasta / valid until[/] {expires.isoformat()}")
    if show and stored is not None:
        typer.echo(stored.access_token)


#: The exit codes hold with --wait only; without it the command ends when the push is sent.
#: One line a paragraph: Typer keeps line breaks, and wraps each line to the terminal.
_SALE_HELP = (
    "Cobra en la terminal / Charge on the terminal.\n\n"
    "Con --wait, el código de salida es 0 aprobada, 1 no aprobada (rechazada, cancelada, "
    "tiempo agotado), 2 error o resultado desconocido. Sin --wait, 0 solo dice que la venta "
    "se envió a la terminal, no que se aprobó.\n\n"
    "With --wait, the exit code is 0 approved, 1 not approved (declined, cancelled, timed "
    "out), 2 error or unknown result. Without --wait, 0 only says that the sale was sent to "
    "the terminal, not that it was approved."
)
_REPRINT_HELP = (
    "Reimprime / Reprint by order id, or recover a result by folio.\n\n"
    "Con --wait, el código de salida es 0 si la venta sigue aprobada, 1 si no (rechazada, "
    "cancelada, revertida), 2 error o resultado desconocido. Sin --wait, 0 solo dice que la "
    "reimpresión se envió a la terminal.\n\n"
    "With --wait, the exit code is 0 if the sale still stands approved, 1 if not (declined, "
    "cancelled, reversed), 2 error or unknown result. Without --wait, 0 only says that the "
    "reprint was sent to the terminal."
)
_CANCEL_HELP = (
    "Cancela una venta del día (antes de las 20:00) / Cancel today's sale (before 20:00).\n\n"
    "Con --wait, el código de salida es 0 cancelación aprobada, 1 rechazada, 2 error o "
    "resultado desconocido. Sin --wait, 0 solo dice que la cancelación se envió a la "
    "terminal, no que se aprobó.\n\n"
    "With --wait, the exit code is 0 cancellation approved, 1 declined, 2 error or unknown "
    "result. Without --wait, 0 only says that the cancellation was sent to the terminal, not "
    "that it was approved."
)


@app.command(help=_SALE_HELP)
def sale(
    amount: Annotated[str, typer.Option(help="Amount in pesos, e.g. 1.01.")],
    serial: Annotated[str, typer.Option(help="Terminal serial number (10 digits).")],
    store: Annotated[str, typer.Option(help="storeId.")],
    folio: Annotated[str | None, typer.Option(help="Unique folio (generated if absent).")] = None,
    msi: Annotated[int | None, typer.Option(help="Months without interest: 3/6/9/12/18.")] = None,
    smart_accounts: SmartOption = False,
    no_ticket: NoTicketOption = False,
    wait: WaitOption = False,
    timeout: SaleTimeoutOption = 90.0,
    as_json: JsonOption = False,
    environment: EnvironmentOption = None,
) -> None:
    """``netpay-smart sale``; its help is ``_SALE_HELP``."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(amount)
    except InvalidOperation:
        console.print(f"[bold red]Error:[/] monto inválido / invalid amount {amount!r}")
        raise typer.Exit(2) from None
    _run_push(
        lambda client: client.sale(
            serial_number=serial, store_id=store, amount=value, folio_number=folio, msi=msi,
            print_ticket=not no_ticket, smart_accounts=smart_accounts, timeout=timeout,
        ),
        serial=serial, environment=environment, wait=wait, timeout=timeout, as_json=as_json,
    )  # fmt: skip


@app.command(help=_REPRINT_HELP)
def reprint(
    serial: Annotated[str, typer.Option(help="Terminal serial number.")],
    store: Annotated[str, typer.Option(help="storeId.")],
    order_id: Annotated[str | None, typer.Option(help="orderId of the sale.")] = None,
    folio: Annotated[str | None, typer.Option(help="Folio of the sale (status recovery).")] = None,
    smart_accounts: SmartOption = False,
    no_ticket: NoTicketOption = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = 90.0,
    as_json: JsonOption = False,
    environment: EnvironmentOption = None,
) -> None:
    """``netpay-smart reprint``; its help is ``_REPRINT_HELP``."""
    _run_push(
        lambda client: client.reprint(
            serial_number=serial, store_id=store, order_id=order_id, folio_number=folio,
            print_ticket=not no_ticket, smart_accounts=smart_accounts, timeout=timeout,
        ),
        serial=serial, environment=environment, wait=wait, timeout=timeout, as_json=as_json,
    )  # fmt: skip


@app.command(help=_CANCEL_HELP)
def cancel(
    serial: Annotated[str, typer.Option(help="Terminal serial number.")],
    store: Annotated[str, typer.Option(help="storeId.")],
    order_id: Annotated[str, typer.Option(help="orderId of the sale to cancel.")],
    smart_accounts: SmartOption = False,
    no_ticket: NoTicketOption = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = 90.0,
    as_json: JsonOption = False,
    environment: EnvironmentOption = None,
) -> None:
    """``netpay-smart cancel``; its help is ``_CANCEL_HELP``."""
    _run_push(
        lambda client: client.cancel(
            serial_number=serial, store_id=store, order_id=order_id,
            print_ticket=not no_ticket, smart_accounts=smart_accounts, timeout=timeout,
        ),
        serial=serial, environment=environment, wait=wait, timeout=timeout, as_json=as_json,
    )  # fmt: skip


# -- reports from the database ----------------------------------------------------------------

FormatOption = Annotated[str, typer.Option("--format", help="table, csv or json.")]
DateFilter = Annotated[str | None, typer.Option("--date", help="Business day YYYY-MM-DD.")]
StoreFilter = Annotated[str | None, typer.Option("--store", help="storeId.")]
TerminalFilter = Annotated[str | None, typer.Option("--terminal", help="Terminal serial.")]
StatusFilter = Annotated[
    str | None,
    typer.Option(
        help="approved, declined, user_cancelled (also as sale --json says it: "
        "cancelled_by_user, timed_out), cancelled, reversed or pending_reversal."
    ),
]
FolioFilter = Annotated[str | None, typer.Option(help="Folio number.")]

_CREATE_IT = (
    "  Inicie el receptor (netpay-smart serve) o ejecute / Start the receiver or run: "
    "netpay-smart db upgrade"
)
#: The SDK's names for a 02 (``sale --json`` prints them); the store keeps ``user_cancelled``.
_STATUS_ALIASES = {"cancelled_by_user": "user_cancelled", "timed_out": "user_cancelled"}


def _store(database_url: str | None) -> Any:
    """The database of a command that reads (or purges) what a receiver stored.

    Never created here: a mistyped SQLite path would leave an empty file behind, its
    directories too, and an empty report that reads as "no sales"."""
    from sqlalchemy.engine import make_url

    from .store import Store
    from .store.engine import normalise_url

    try:
        url = normalise_url(database_url_from_env(database_url))
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database)
            if not path.is_file():
                console.print(
                    f"[bold red]Error:[/] no existe la base de datos / no database at "
                    f"{escape(str(path.absolute()))} (¿ruta correcta? / right path?)",
                    highlight=False,
                )
                console.print(_CREATE_IT)
                raise typer.Exit(2)
        return Store.open(url)
    except ConfigurationError as exc:
        raise _fail(exc) from exc
    except ImportError as exc:  # PostgreSQL without its driver
        console.print(
            f"[bold red]Error:[/] falta el controlador / missing driver ({escape(str(exc))}): "
            "pip install 'netpay-smart[postgres]'"
        )
        raise typer.Exit(2) from exc


@contextlib.contextmanager
def _database(database_url: str | None) -> Iterator[Any]:
    """The store of a reading command; a database that fails is a message and exit 2."""
    from sqlalchemy.exc import SQLAlchemyError

    store = _store(database_url)
    try:
        yield store
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        text = str(reason).strip()
        if "no such table" in text or type(reason).__name__ == "UndefinedTable":
            console.print(
                "[bold red]Error:[/] la base de datos no tiene las tablas de netpay-smart / "
                "the database has no netpay-smart tables"
            )
            console.print(_CREATE_IT)
        else:
            console.print(
                "[bold red]Error:[/] no se pudo usar la base de datos / "
                "the database could not be used"
            )
            console.print(f"  {escape(text)}", highlight=False)
        raise typer.Exit(2) from exc
    finally:
        store.close()


def _check_format(value: str, allowed: Sequence[str] = ("table", "csv", "json")) -> str:
    if value not in allowed:
        console.print(f"[bold red]Error:[/] --format: {', '.join(allowed[:-1])} o/or {allowed[-1]}")
        raise typer.Exit(2)
    return value


def _parse_day(value: str | None) -> Any:
    from datetime import date, datetime

    from .wire import MEXICO_CITY

    if value is None:
        return datetime.now(MEXICO_CITY).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        console.print(f"[bold red]Error:[/] fecha inválida / invalid date {value!r} (AAAA-MM-DD)")
        raise typer.Exit(2) from None


def _filters(
    date_: str | None, store_id: str | None, terminal: str | None, status: str | None,
    folio: str | None,
) -> Any:  # fmt: skip
    """The filters of ``transactions`` and ``export``; an unknown status is refused (it would
    match nothing, an empty list that reads as "none today")."""
    from .receiver.api import TX_STATUSES as known
    from .store import TransactionFilter

    if status is not None:
        wanted = _STATUS_ALIASES.get(status.strip().lower(), status.strip().lower())
        if wanted not in known:
            console.print(
                f"[bold red]Error:[/] --status: estado desconocido / unknown status "
                f"{escape(repr(status))}; use / valid: {', '.join(known)}",
                highlight=False,
            )
            raise typer.Exit(2)
        status = wanted
    day = _parse_day(date_) if date_ else None
    return TransactionFilter(
        store_id=store_id, terminal_id=terminal, date=day, status=status, folio=folio
    )


def _print_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], *,
    whole: Collection[str], right: Collection[str] = (),
) -> None:  # fmt: skip
    """Print a table whose ``whole`` columns (amounts, counts, ids) are never cut.

    Rich squeezes a table into the terminal by cutting what does not fit (``1234…`` reads as
    $1,234) and its squeezing ignores a column's minimum width. So the widths are chosen here:
    a ``whole`` column as wide as its widest value, another as its longest word, headers
    wrapped; the room left goes to the columns that want more. If even that does not fit, the
    table is printed wider than the terminal (which wraps the lines) rather than cut.
    """
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    def least(name: str, value: str) -> int:
        return cell_len(value) if name in whole else max(map(cell_len, value.split()), default=1)

    labels = [name.replace("_", " ") for name in header]
    wanted = [
        max([cell_len(label), *(cell_len(row[i]) for row in rows)])
        for i, label in enumerate(labels)
    ]
    out = Console()
    frame = 3 * len(header) + 1  # a space either side of every cell, and the borders
    widths: list[int] | None = None
    if sum(wanted) + frame > out.width:
        widths = [max([1, *(least(name, row[i]) for row in rows)]) for i, name in enumerate(header)]
        room = out.width - frame - sum(widths)
        # First whole header words, as many as the room allows (the cheapest first)...
        words = [
            min(most, max(map(cell_len, label.split())))
            for most, label in zip(wanted, labels, strict=True)
        ]
        for i in sorted(range(len(widths)), key=lambda i: words[i] - widths[i]):
            grow = max(min(room, words[i] - widths[i]), 0)
            widths[i] += grow
            room -= grow
        # ... then a character at a time to each column that wants more.
        while room > 0 and widths != wanted:
            for i, width in enumerate(widths):
                if room > 0 and width < wanted[i]:
                    widths[i] += 1
                    room -= 1
        if room < 0:
            out = Console(width=sum(widths) + frame)
    table = Table(title=title)
    for i, (name, label) in enumerate(zip(header, labels, strict=True)):
        table.add_column(
            label,
            justify="right" if name in right else "left",
            overflow="fold",
            width=None if widths is None else widths[i],
        )
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    out.print(table)


@app.command()
def report(
    date_: Annotated[
        str | None, typer.Option("--date", help="Business day YYYY-MM-DD (default: today, CDMX).")
    ] = None,
    output: FormatOption = "table",
    database_url: DatabaseOption = None,
) -> None:
    """Totales del día por store y terminal / The day's totals per store and terminal."""
    import csv

    fmt = _check_format(output)
    day = _parse_day(date_)
    with _database(database_url) as store:
        data = store.daily_report(day)
    if fmt == "json":
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    groups = [("total", "", data["totals"])]
    groups += [("store", str(g["id"]), g) for g in data["by_store"]]
    groups += [("terminal", str(g["id"]), g) for g in data["by_terminal"]]
    header = ["group", "id", "approved", "approved_amount", "cancelled", "cancelled_amount",
              "declined", "reversed", "tips", "net"]  # fmt: skip

    def row(group: str, key: str, g: dict[str, Any]) -> list[str]:
        return [
            group, key, str(g["approved"]["count"]), g["approved"]["amount"],
            str(g["cancelled"]["count"]), g["cancelled"]["amount"], str(g["declined"]["count"]),
            str(g["reversed"]["count"]), g["tips"], g["net"],
        ]  # fmt: skip

    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(header)
        for group in groups:
            writer.writerow(row(*group))
        return
    _print_table(
        f"Reporte del día / Daily report {data['date']}",
        header,
        [row(*group) for group in groups],
        whole=header[1:],
        right=header[2:],
    )


@app.command()
def transactions(
    date_: DateFilter = None,
    store_id: StoreFilter = None,
    terminal: TerminalFilter = None,
    status: StatusFilter = None,
    folio: FolioFilter = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 100,
    output: Annotated[
        str, typer.Option("--format", help="table, csv (UTF-8 with a BOM, as the API's) or json.")
    ] = "table",
    database_url: DatabaseOption = None,
) -> None:
    """Lista transacciones / List transactions."""
    import itertools

    from .receiver.api import csv_bytes

    fmt = _check_format(output)
    filters = _filters(date_, store_id, terminal, status, folio)
    with _database(database_url) as store:
        rows = list(itertools.islice(store.iter_transactions(filters), max(limit, 0)))
    if fmt == "json":
        for item in rows:
            item.pop("raw", None)
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if fmt == "csv":
        # The API's CSV, BOM and all, written as bytes: the console's encoding cannot change it.
        stdout = typer.get_binary_stream("stdout")
        stdout.write(csv_bytes(rows))
        stdout.flush()
        return
    shown = ("transaction_at", "terminal_id", "store_id", "folio_number", "order_id", "status",
             "amount")  # fmt: skip

    def cell(item: dict[str, Any], name: str) -> str:
        value = "" if item.get(name) is None else str(item[name])
        # A space between date and time lets a narrow column wrap there.
        return value.replace("T", " ", 1) if name == "transaction_at" else value

    _print_table(
        f"Transacciones / Transactions ({len(rows)})",
        shown,
        [[cell(item, name) for name in shown] for item in rows],
        whole=("terminal_id", "store_id", "folio_number", "order_id", "amount"),
        right=("amount",),
    )


@app.command()
def export(
    date_: DateFilter = None,
    store_id: StoreFilter = None,
    terminal: TerminalFilter = None,
    status: StatusFilter = None,
    folio: FolioFilter = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format", help="csv (UTF-8 with a BOM, for Excel) or jsonl (one JSON object a line)."
        ),
    ] = "csv",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (default, here: transacciones-DATE.csv, or .jsonl with "
            "--format jsonl; without --date, every day's transactions to "
            "transacciones-todas.csv or .jsonl).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Exporta transacciones a un archivo / Export transactions to a file (CSV or JSON lines)."""
    fmt = _check_format(output_format, ("csv", "jsonl"))
    filters = _filters(date_, store_id, terminal, status, folio)
    target = output or Path(
        f"transacciones-{filters.date.isoformat() if filters.date else 'todas'}.{fmt}"
    )
    if target.exists() and not force:
        console.print(
            f"[bold red]Error:[/] el archivo ya existe / the file exists: {escape(str(target))} "
            "(--force lo reemplaza / replaces it)",
            highlight=False,
        )
        raise typer.Exit(2)
    try:
        with _database(database_url) as store:
            count = _write_export(store.iter_transactions(filters), target, fmt)
    except OSError as exc:
        console.print(
            f"[bold red]Error:[/] no se pudo escribir / could not write {escape(str(target))}: "
            f"{escape(exc.strerror or str(exc))}",
            highlight=False,
        )
        raise typer.Exit(2) from exc
    console.print(
        f"[green]{count} transacciones escritas en / transactions written to[/] "
        f"{escape(str(target))}",
        highlight=False,
    )


def _write_export(items: Iterator[dict[str, Any]], target: Path, fmt: str) -> int:
    """Write ``items`` as they come (a page at a time from the database) to ``target``.

    Into a file beside it first, moved into place once complete: a failure halfway leaves no
    half export, nor destroys the file ``--force`` was to replace."""
    import csv

    from .receiver.api import CSV_COLUMNS, csv_row

    part = target.with_name(f".{target.name}.part")
    count = 0
    try:
        # utf-8-sig: the byte-order mark the API's CSV has, so that Excel shows the accents.
        encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
        with part.open("w", encoding=encoding, newline="") as handle:
            if fmt == "csv":
                writer = csv.writer(handle)
                writer.writerow(CSV_COLUMNS)
                for item in items:
                    writer.writerow(csv_row(item))
                    count += 1
            else:
                for item in items:
                    item.pop("raw", None)
                    handle.write(json.dumps(item, ensure_ascii=False) + "\n")
                    count += 1
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return count


def _before(period: str, now: datetime) -> datetime:
    """``18m`` (months), ``540d`` (days) or ``2y`` (years) before ``now``."""
    match = re.fullmatch(r"\s*(\d+)\s*([dmy])\s*", period.lower())
    if match is None:
        raise ValueError(period)
    amount, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return now - timedelta(days=amount)
    months = amount * (12 if unit == "y" else 1)
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day)


@app.command()
def purge(
    older_than: Annotated[
        str,
        typer.Option(
            help="Retention: 18m (months), 540d (days) or 2y (years). What was received "
            "before now minus this is blanked (0d: everything received until now)."
        ),
    ] = "18m",
    database_url: DatabaseOption = None,
) -> None:
    """Borra nombres y firmas viejos / Blank cardholder names and signatures past retention."""
    try:
        before = _before(older_than, datetime.now(UTC))
    except (ValueError, OverflowError):
        console.print(
            f"[bold red]Error:[/] periodo inválido / invalid period {older_than!r} (18m, 540d, 2y)"
        )
        raise typer.Exit(2) from None
    with _database(database_url) as store:
        changed = store.purge_personal(before)
    from .wire import MEXICO_CITY

    # The whole moment, in the merchant's time: the cut-off is now minus the period, not a
    # midnight, so a date alone would misstate what was blanked on that day.
    cutoff = before.astimezone(MEXICO_CITY).isoformat(sep=" ", timespec="seconds")
    console.print(
        f"[green]{changed} cuerpos depurados / bodies purged[/] "
        f"(recibidos antes de / received before {cutoff})"
    )


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOption = None) -> None:
    """Aplica las migraciones / Apply the migrations."""
    from .store.engine import normalise_url
    from .store.migrate import upgrade

    try:
        upgrade(normalise_url(database_url_from_env(database_url)))
    except ConfigurationError as exc:
        raise _fail(exc) from exc
    except Exception as exc:  # the database said no: show why, not a traceback
        console.print(f"[bold red]No se pudo migrar / Migration failed:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print("[green]Base de datos al día / Database up to date.[/]")


@db_app.command("reprocess")
def db_reprocess(database_url: DatabaseOption = None) -> None:
    """Procesa otra vez los resultados que fallaron / Process again results that failed."""
    store = _store(database_url)
    try:
        outcomes = store.reprocess_failed(now=datetime.now(UTC))
    except Exception as exc:  # the database said no: show why, not a traceback
        console.print(f"[bold red]No se pudo reprocesar / Could not reprocess:[/] {exc}")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    if not outcomes:
        console.print("[green]Ningún resultado con error / No results in error.[/]")
        return
    counts = ", ".join(f"{outcome} {n}" for outcome, n in sorted(outcomes.items()))
    total = sum(outcomes.values())
    console.print(
        f"[green]{total} resultados procesados otra vez / results processed again:[/] {counts}"
    )
    if outcomes.get("error"):
        console.print(
            f"[yellow]{outcomes['error']} siguen con error / still in error[/] "
            "(GET /api/deliveries?outcome=error)"
        )
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``netpay-smart`` command."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - Ctrl-C outside a server
        sys.exit(130)
