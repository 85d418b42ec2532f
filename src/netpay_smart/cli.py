"""``netpay-smart``: the command line. Thin: parse flags, call the library, render with rich.

Messages a merchant reads are in Spanish and English.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel

from . import __version__
from .errors import ConfigurationError, NetPayError
from .settings import ReceiverSettings

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


def _fail(exc: NetPayError) -> typer.Exit:
    console.print(f"[bold red]Error:[/] {exc}")
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
        int | None, typer.Option(help="Largest webhook body in bytes (default 65536).")
    ] = None,
) -> None:
    """Recibe los resultados de las terminales / Receive the terminals' results."""
    import uvicorn

    from .receiver import create_app

    try:
        settings = ReceiverSettings.from_env(
            database_url=database_url, max_body_size=max_body_size
        ).for_host(host)
        receiver = create_app(settings)
    except NetPayError as exc:
        raise _fail(exc) from exc
    base = f"http://{host}:{port}"
    lines = [
        f"Webhook (configúrelo en la terminal / set it on the terminal): "
        f"{base}/webhook/{settings.webhook_secrets[0]}",
        f"Panel / Dashboard: {base}/",
        f"Base de datos / Database: {receiver.store.engines.write.url.render_as_string()}",
    ]
    if "NETPAY_API_TOKEN" in settings.generated:
        lines.append(f"Token de la API (generado) / API token (generated): {settings.api_token}")
    if settings.generated:
        lines.append(
            "[yellow]Secretos generados para esta ejecución: defina "
            f"{' y '.join(settings.generated)} para conservarlos. / Generated for this run only.[/]"
        )
    console.print(Panel("\n".join(lines), title=f"netpay-smart {__version__}", expand=False))
    uvicorn.run(
        receiver,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=5,
        timeout_keep_alive=30,
    )


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
                    f"Respuestas a / Results to: {webhook_url or '(sin URL / none yet)'}",
                    f"Control: {base}/sandbox/terminals",
                ]
            ),
            title="netpay-smart sandbox",
            expand=False,
        )
    )
    uvicorn.run(application, host=host, port=port, log_level="info", timeout_graceful_shutdown=3)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOption = None) -> None:
    """Aplica las migraciones / Apply the migrations."""
    from .store.engine import normalise_url
    from .store.migrate import upgrade

    try:
        settings = ReceiverSettings.from_env(database_url=database_url)
        url = normalise_url(settings.database_url)
        upgrade(url)
    except ConfigurationError as exc:
        raise _fail(exc) from exc
    except Exception as exc:  # the database said no: show why, not a traceback
        console.print(f"[bold red]No se pudo migrar / Migration failed:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print("[green]Base de datos al día / Database up to date.[/]")


def main() -> None:
    """Entry point of the ``netpay-smart`` command."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - Ctrl-C outside a server
        sys.exit(130)
