"""The SDK commands of ``netpay-smart`` against the sandbox and the receiver.

Most run in-process with Typer's CliRunner (``NETPAY_*`` variables passed as its env); two run
the installed command as a real process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from netpay_smart.cli import app
from netpay_smart.wire import MEXICO_CITY
from tests.client.world import MAIN_SERIAL, MAIN_STORE, World

from .conftest import BUSY, HELD_REPRINT, HELD_SALE, NO_RECEIVER, NO_WAIT

runner = CliRunner()


def run(world: World, *args: str, **env: str | None) -> Result:
    """Invoke ``netpay-smart ARGS`` in-process with the world's NETPAY_* variables."""
    return runner.invoke(app, list(args), env={**world.env(), **env}, catch_exceptions=False)


def flat(text: str) -> str:
    """Rich wraps long lines; compare messages with whitespace collapsed."""
    return " ".join(text.split())


def sale_args(amount: str, serial: str = MAIN_SERIAL, *extra: str) -> list[str]:
    return ["sale", "--amount", amount, "--serial", serial, "--store", MAIN_STORE, *extra]


def issued_tokens(world: World) -> list[str]:
    return list(world.sandbox.tokens)


# -- sale -------------------------------------------------------------------------------------


def test_sale_wait_json_prints_one_approved_object(world: World) -> None:
    """sale --wait --json prints exactly one JSON object, approved, and exits 0."""
    result = run(world, *sale_args("1.01", MAIN_SERIAL, "--wait", "--json"))
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    outcome = json.loads(line)
    assert outcome["approved"] is True
    assert outcome["status"] == "approved"
    assert outcome["kind"] == "sale"
    assert outcome["amount"] == "1.01"
    assert outcome["response_code"] == "00"
    assert re.fullmatch(r"\d{12}-0821000119", outcome["order_id"])
    assert outcome["card"] == {"brand": "VISA", "type": "C", "last4": "8425"}
    assert outcome["recovered"] is False


def test_declined_sale_exits_1(world: World) -> None:
    """sale --amount 0.51 --wait --json reports the 51 decline and exits 1."""
    result = run(world, *sale_args("0.51", MAIN_SERIAL, "--wait", "--json"))
    assert result.exit_code == 1, result.output
    outcome = json.loads(result.stdout)
    assert (outcome["approved"], outcome["status"], outcome["response_code"]) == (
        False,
        "declined",
        "51",
    )
    assert outcome["message"] == "Rechazada: fondos insuficientes"


def test_sale_wait_without_json_shows_the_outcome_table(world: World) -> None:
    """sale --wait prints a table with the cashier's message and the order id, exit 0."""
    result = run(world, *sale_args("1.00", MAIN_SERIAL, "--wait"))
    assert result.exit_code == 0, result.output
    assert "Aprobada" in result.stdout
    assert re.search(r"\d{12}-0821000119", result.stdout)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "invalid amount 'abc'"),
        ("1,50", "invalid amount '1,50'"),
        ("0", "amount must be greater than 0"),
        ("-5", "amount must be greater than 0"),
        ("1.001", "amount 1.001 has more than two decimals"),
    ],
)
def test_a_bad_amount_exits_2_with_a_clear_message(world: World, amount: str, message: str) -> None:
    """An amount that is not a positive number of cents exits 2 saying why, sending nothing."""
    before = world.sandbox.token_requests
    result = run(world, *sale_args(amount))
    assert result.exit_code == 2, result.output
    assert message in flat(result.stderr)
    assert result.stdout == ""
    assert world.sandbox.token_requests == before


def test_a_huge_amount_exits_2(world: World) -> None:
    """sale --amount 1e30 exits 2 with a message, not 1 (declined) with a traceback."""
    result = runner.invoke(app, sale_args("1e30"), env=world.env())
    assert result.exit_code == 2, result.output
    assert "amount" in flat(result.stderr)


def test_a_wrong_api_token_exits_2_before_anything_reaches_the_terminal(world: World) -> None:
    """sale with a NETPAY_API_TOKEN the receiver refuses exits 2; no login, no push."""
    before = world.sandbox.token_requests
    log = list(world.terminal(NO_RECEIVER).log)
    result = run(world, *sale_args("1.00", NO_RECEIVER, "--wait"), NETPAY_API_TOKEN="x" * 20)
    assert result.exit_code == 2, result.output
    assert "the receiver refused the push (HTTP 401)" in flat(result.stderr)
    assert world.sandbox.token_requests == before
    assert list(world.terminal(NO_RECEIVER).log) == log


def test_sale_without_wait_prints_the_push_id_and_folio(world: World) -> None:
    """sale without --wait says it was sent, with the push id and the folio."""
    result = run(world, *sale_args("1.00", NO_WAIT))
    assert result.exit_code == 0, result.output
    said = flat(result.stderr)
    found = re.search(r"push ([0-9a-f]{32}), folio (\S+)\)", said)
    assert found, said
    assert "Sent to the terminal" in said
    push = world.push_record(found[1], wait=10)
    assert push["folio_number"] == found[2]
    assert (push["state"], push["result_status"]) == ("completed", "approved")


def test_sale_without_wait_json_prints_push_id_and_folio(world: World) -> None:
    """sale --json without --wait prints {"push_id", "folio_number"} for a registered push."""
    result = run(world, *sale_args("1.00", NO_WAIT, "--json", "--folio", "CLI-FOLIO-A"))
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert set(printed) == {"push_id", "folio_number"}
    assert printed["folio_number"] == "CLI-FOLIO-A"
    push = world.push_record(printed["push_id"], wait=10)
    assert (push["folio_number"], push["state"]) == ("CLI-FOLIO-A", "completed")


def test_sale_wait_without_the_receiver_exits_2_before_sending(world: World) -> None:
    """sale --wait with no NETPAY_RECEIVER_URL / _API_TOKEN exits 2; no login, no push."""
    before = world.sandbox.token_requests
    log = list(world.terminal(NO_RECEIVER).log)
    result = run(
        world,
        *sale_args("1.00", NO_RECEIVER, "--wait"),
        NETPAY_RECEIVER_URL=None,
        NETPAY_API_TOKEN=None,
    )
    assert result.exit_code == 2, result.output
    assert "NETPAY_RECEIVER_URL" in flat(result.stderr)
    assert world.sandbox.token_requests == before
    assert list(world.terminal(NO_RECEIVER).log) == log
    assert world.terminal(NO_RECEIVER).journal == []


def test_missing_credentials_exit_2_naming_the_variables(world: World) -> None:
    """Without NETPAY_USERNAME / NETPAY_PASSWORD the command exits 2 with the hint."""
    result = run(world, *sale_args("1.00"), NETPAY_USERNAME=None, NETPAY_PASSWORD=None)
    assert result.exit_code == 2, result.output
    assert "NETPAY_USERNAME and NETPAY_PASSWORD" in flat(result.stderr)


def test_an_unknown_terminal_exits_2(world: World) -> None:
    """A serial the gateway does not know (code 19) exits 2 saying so."""
    result = run(world, *sale_args("1.00", "9999999999"))
    assert result.exit_code == 2, result.output
    assert "code 19" in flat(result.stderr)


@pytest.mark.parametrize(
    ("command", "serial"),
    [
        (["sale", "--amount", "0.80"], HELD_SALE),
        (["reprint", "--folio", "CLI-HELD-1"], HELD_REPRINT),
    ],
)
def test_timeout_is_how_long_the_push_holds_the_terminal(
    world: World, command: list[str], serial: str
) -> None:
    """--timeout 5 reaches the SDK: the push is registered for 5 + 30 s, not the default 120."""
    result = run(
        world, *command, "--serial", serial, "--store", MAIN_STORE, "--timeout", "5", "--json"
    )
    assert result.exit_code == 0, result.output
    push = world.push_record(json.loads(result.stdout)["push_id"])
    held = datetime.fromisoformat(push["expires_at"]) - datetime.fromisoformat(push["created_at"])
    assert held.total_seconds() == pytest.approx(35, abs=1)


# -- errors the cashier reads -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "lead", "detail"),
    [
        (
            sale_args("0"),
            {},
            "Operación rechazada antes de enviarla / Refused before sending",
            "amount must be greater than 0, got 0",
        ),
        (
            sale_args("1.00", "9999999999"),
            {},
            "NetPay no conoce esta terminal / NetPay does not know this terminal",
            "code 19",
        ),
        (
            ["token"],
            {"NETPAY_PASSWORD": "wrong"},
            "NetPay rechazó las credenciales / NetPay refused the credentials",
            "wrong NetPay username or password",
        ),
        (
            ["token"],
            {"NETPAY_USERNAME": None},
            "Configuración incompleta o inválida / Missing or invalid settings",
            "NETPAY_USERNAME and NETPAY_PASSWORD",
        ),
        (
            ["token"],
            {"NETPAY_ENVIRONMENT": "http://127.0.0.1:18503"},
            "No se pudo comunicar con NetPay o el receptor / "
            "Could not reach NetPay or the receiver",
            "cannot reach NetPay",
        ),
    ],
    ids=["rule", "unknown-terminal", "credentials", "settings", "unreachable"],
)
def test_an_error_opens_with_a_spanish_and_english_line_by_its_kind(
    world: World, args: list[str], env: dict[str, str | None], lead: str, detail: str
) -> None:
    """An error starts with a bilingual line saying what kind it is, then the detail; exit 2."""
    result = run(world, *args, **env)
    assert result.exit_code == 2, result.output
    said = flat(result.stderr)
    assert said.startswith(f"Error: {lead} ")
    assert detail in said


def test_a_busy_terminal_is_named_so_in_spanish_and_english(world: World) -> None:
    """A sale on a terminal whose push has no result yet says the terminal is busy, exit 2."""
    first = run(world, *sale_args("0.80", BUSY, "--timeout", "5", "--json"))
    assert first.exit_code == 0, first.output
    result = run(world, *sale_args("1.00", BUSY))
    assert result.exit_code == 2, result.output
    said = flat(result.stderr)
    assert said.startswith(
        "Error: La terminal está ocupada con otra operación / "
        "The terminal is busy with another operation "
    )
    assert f"terminal {BUSY} is waiting for another result" in said


def test_a_refused_api_token_points_to_netpay_api_token(world: World) -> None:
    """The receiver's 401 is explained: check NETPAY_API_TOKEN, in Spanish and English."""
    result = run(world, *sale_args("1.00", NO_RECEIVER, "--wait"), NETPAY_API_TOKEN="x" * 20)
    assert result.exit_code == 2, result.output
    said = flat(result.stderr)
    assert said.startswith("Error: La solicitud fue rechazada / The request was refused ")
    assert "the receiver refused the push (HTTP 401)" in said
    assert (
        "Revise NETPAY_API_TOKEN: el receptor no lo acepta / "
        "Check NETPAY_API_TOKEN: the receiver does not accept it"
    ) in said


# -- token ------------------------------------------------------------------------------------


def test_token_prints_the_expiry_and_not_the_token(world: World) -> None:
    """token prints when the token stops being used, never the token itself."""
    before = set(issued_tokens(world))
    result = run(world, "token")
    assert result.exit_code == 0, result.output
    new = [t for t in issued_tokens(world) if t not in before]
    assert len(new) == 2  # the access token and its refresh token
    said = flat(result.output)
    assert "valid until" in said
    expiry = datetime.fromisoformat(re.search(r"valid until (\S+)", said)[1])  # type: ignore[index]
    assert timedelta(hours=11) < expiry - datetime.now(UTC) < timedelta(hours=12)
    assert result.stdout == ""
    for token in new:
        assert token not in result.output
        assert token[:40] not in result.output


def test_token_show_prints_the_access_token(world: World) -> None:
    """token --show prints the access token (and only it) on stdout."""
    result = run(world, "token", "--show")
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip()
    grant = world.sandbox.tokens[printed]
    assert grant.refresh is False
    assert grant.user == "Nacional"
    assert result.stdout == printed + "\n"


def test_token_with_a_wrong_password_exits_2(world: World) -> None:
    """token with a wrong NETPAY_PASSWORD exits 2 saying the username or password is wrong."""
    result = run(world, "token", NETPAY_PASSWORD="wrong")
    assert result.exit_code == 2, result.output
    assert "wrong NetPay username or password" in flat(result.stderr)
    assert "wrong" not in result.stdout


# -- reprint and cancel -----------------------------------------------------------------------


def test_reprint_by_order_id_wait_json(world: World) -> None:
    """reprint --order-id --wait --json returns the sale again as an approved reprint."""
    sold = json.loads(run(world, *sale_args("7.00", MAIN_SERIAL, "--wait", "--json")).stdout)
    result = run(
        world, "reprint", "--serial", MAIN_SERIAL, "--store", MAIN_STORE,
        "--order-id", sold["order_id"], "--wait", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert (again["kind"], again["approved"], again["order_id"]) == (
        "reprint",
        True,
        sold["order_id"],
    )
    assert again["amount"] == "7.00"


def test_cancel_of_an_old_order_exits_2_mentioning_a_refund(world: World) -> None:
    """cancel of last week's order exits 2 before sending, pointing to a refund."""
    old = datetime.now(MEXICO_CITY) - timedelta(days=7)
    order_id = f"{old:%y%m%d%H%M%S}-{MAIN_SERIAL}"
    before = world.sandbox.token_requests
    result = run(
        world, "cancel", "--serial", MAIN_SERIAL, "--store", MAIN_STORE, "--order-id", order_id
    )
    assert result.exit_code == 2, result.output
    assert "refund" in flat(result.stderr)
    assert world.sandbox.token_requests == before


# -- the installed command, as a real process -------------------------------------------------


def _command() -> list[str]:
    script = Path(sys.executable).with_name("netpay-smart")
    return [str(script)] if script.exists() else [sys.executable, "-m", "netpay_smart"]


@pytest.mark.slow
def test_help_lists_the_commands() -> None:
    """netpay-smart --help lists every command."""
    done = subprocess.run(
        [*_command(), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    # Rows look like "│ sale   Cobra en la terminal / ..." (or "|" without UTF-8 boxes).
    listed = set(re.findall(r"^[│|] (\w+) {2,}\S", done.stdout, flags=re.MULTILINE))
    assert {"token", "sale", "reprint", "cancel", "dev", "serve", "sandbox", "db"} <= listed


@pytest.mark.slow
def test_python_m_sale_in_a_real_process(world: World) -> None:
    """python -m netpay_smart sale --wait --json works from the environment alone, exit 0."""
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("NETPAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "netpay_smart", *sale_args("1.01", MAIN_SERIAL, "--wait", "--json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, **world.env()},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["approved"] is True


def test_the_spinner_asks_for_the_screen_only_where_there_is_one() -> None:
    """The ``--wait`` spinner reads a virtual terminal's screen from netpay-smart's sandbox on
    every turn, but asks a gateway without that page once only (not twice a second for the
    whole wait)."""
    from types import SimpleNamespace

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from netpay_smart.cli import _screen_reader
    from tests.conftest import serve_in_thread

    asked: list[str] = []

    async def screen(request: Request) -> JSONResponse:
        asked.append(request.path_params["serial"])
        if request.path_params["serial"] == "SANDBOX":
            return JSONResponse({"screen": "Inserte tarjeta"})
        return JSONResponse({"error": "not_found"}, 404)

    app = Starlette(routes=[Route("/sandbox/terminals/{serial}", screen)])
    with serve_in_thread(app) as base:
        client = SimpleNamespace(settings=SimpleNamespace(base_url=base))
        sandbox, gateway = _screen_reader(client, "SANDBOX"), _screen_reader(client, "GATEWAY")
        assert [sandbox() for _ in range(3)] == ["Inserte tarjeta"] * 3
        assert [gateway() for _ in range(3)] == [None] * 3
    assert asked == ["SANDBOX"] * 3 + ["GATEWAY"]


def test_an_error_with_json_prints_a_json_object_on_stdout(world: World) -> None:
    """With ``--json`` an error is an object on stdout too (a script reads stdout), its class,
    the bilingual lead and the detail; the human lines stay on stderr; exit 2."""
    result = run(world, *sale_args("0", MAIN_SERIAL, "--json"))

    assert result.exit_code == 2, result.output
    said = json.loads(result.stdout)
    assert said["error"] == "RuleError"
    assert said["lead"] == "Operación rechazada antes de enviarla / Refused before sending"
    assert "amount" in said["message"]
    assert flat(result.stderr).startswith(f"Error: {said['lead']} ")


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "{port}"],
        ["sandbox", "--port", "{port}"],
        ["dev", "--port", "{port}", "--sandbox-port", "0"],
    ],
    ids=["serve", "sandbox", "dev"],
)
def test_a_port_in_use_is_said_before_anything_starts(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve``, ``sandbox`` and ``dev`` on a port another process holds stop at once with
    a bilingual message and exit 2: no panel, no generated secret printed, no database file."""
    import socket

    monkeypatch.chdir(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = runner.invoke(app, [a.format(port=port) for a in args], env={})
    assert result.exit_code == 2, result.output
    assert f"port {port} is in use" in flat(result.stderr)
    assert "Webhook" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--token-ttl", "0"], "--token-ttl"),
        (["--webhook-url", "notaurl"], "--webhook-url"),
    ],
)
def test_the_sandbox_refuses_bad_settings(args: list[str], said: str) -> None:
    """A token lifetime of 0 or a response URL that is not http(s) is refused, exit 2."""
    result = runner.invoke(app, ["sandbox", "--port", "0", *args], env={})
    assert result.exit_code == 2, result.output
    assert flat(result.stderr).startswith(f"Error: {said}")


# -- what the help says -----------------------------------------------------------------------


def option_help(command: str, option: str) -> str:
    """The help text of ``option`` of ``netpay-smart COMMAND``."""
    from typer.main import get_command

    found = get_command(app).commands[command]  # type: ignore[attr-defined]
    return next(str(p.help) for p in found.params if option in p.opts)


def test_without_wait_exit_0_means_sent_as_the_help_says(world: World) -> None:
    """A sale the card declines (0.51) exits 0 without --wait; sale --help says that 0 then
    only means the sale was sent, in Spanish and English, and the codes hold with --wait."""
    result = run(world, *sale_args("0.51", NO_WAIT, "--json"))
    assert result.exit_code == 0, result.output
    push = world.push_record(json.loads(result.stdout)["push_id"], wait=10)
    assert (push["state"], push["result_status"]) == ("completed", "declined")

    shown = flat(runner.invoke(app, ["sale", "--help"]).output)
    assert "Sin --wait, 0 solo dice que la venta se envió a la terminal, no que se aprobó." in (
        shown
    )
    assert (
        "Without --wait, 0 only says that the sale was sent to the terminal, not that it was "
        "approved." in shown
    )
    assert "With --wait, the exit code is 0 approved, 1 not approved" in shown
    assert "Exit 0 approved" not in shown


@pytest.mark.parametrize("command", ["reprint", "cancel"])
def test_reprint_and_cancel_help_say_what_exit_0_means_without_wait(command: str) -> None:
    """reprint and cancel --help: exit codes with --wait; without it 0 only says sent."""
    shown = flat(runner.invoke(app, [command, "--help"]).output)
    assert "Con --wait, el código de salida es 0" in shown
    assert "With --wait, the exit code is 0" in shown
    assert "Sin --wait, 0 solo dice que la" in shown
    assert "Without --wait, 0 only says that the" in shown


@pytest.mark.parametrize("command", ["reprint", "cancel"])
def test_reprint_and_cancel_timeout_help_promises_no_recovery(command: str) -> None:
    """Only a sale is recovered by a reprint by folio: reprint and cancel --timeout say that
    past it the result is unknown."""
    said = option_help(command, "--timeout")
    assert "recovered" not in said
    assert "then it is unknown (exit 2)" in said
    assert "recovered by a reprint by folio" in option_help("sale", "--timeout")


@pytest.mark.parametrize("command", ["token", "sale", "reprint", "cancel"])
def test_environment_help_says_sandbox_is_netpay_s_hosted_server(command: str) -> None:
    """--environment sandbox is NetPay's hosted test server, not this sandbox: the help says
    so and names the local sandbox's URL."""
    from netpay_smart.client import ENVIRONMENTS

    said = option_help(command, "--environment")
    assert "sandbox (NetPay's hosted test server, not netpay-smart sandbox)" in said
    assert "http://127.0.0.1:3334 for netpay-smart sandbox or dev" in said
    assert "netpay.com.mx" in ENVIRONMENTS["sandbox"]


@pytest.mark.parametrize("command", ["sale", "reprint", "cancel"])
def test_smart_accounts_help_says_the_group_is_not_checked(command: str) -> None:
    """The CLI cannot know a terminal's Smart Accounts group: --smart-accounts says the
    terminal, not the command, refuses a store outside it."""
    said = option_help(command, "--smart-accounts")
    assert "Smart Accounts group is not checked here" in said
    assert "the terminal refuses one that is not" in said


def test_max_body_size_help_gives_the_range_the_receiver_accepts() -> None:
    """serve --max-body-size names the limits, and they are the ones the settings enforce."""
    from netpay_smart.errors import ConfigurationError
    from netpay_smart.settings import ReceiverSettings

    said = option_help("serve", "--max-body-size")
    assert "from 1024 (1 KiB) to 16777216 (16 MiB)" in said

    def check(size: int) -> None:
        ReceiverSettings(
            webhook_secrets=("s" * 20,), api_token="t" * 20, max_body_size=size
        ).check()

    for accepted in (1024, 16777216):
        check(accepted)
    for refused in (1023, 16777217):
        with pytest.raises(ConfigurationError):
            check(refused)
