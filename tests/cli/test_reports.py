"""``netpay-smart report``, ``transactions``, ``db upgrade`` and ``dev``, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from netpay_smart.cli import app
from netpay_smart.store import Store, TransactionFilter
from netpay_smart.store.ingest import Incoming, insert_deliveries, process
from netpay_smart.wire import MEXICO_CITY
from tests.conftest import free_port

DAY = "2024-03-05"


def _result(order: str, amount: str, *, code: str = "00", store: str = "455311") -> bytes:
    return json.dumps(
        {
            "responseCode": code,
            "amount": amount,
            "orderId": order if code == "00" else "",
            "folioNumber": f"F-{order}",
            "terminalId": "0821000119",
            "storeId": store,
            "message": "Transacción exitosa" if code == "00" else "FONDOS INSUFICIENTES",
            "transDate": f"{DAY} 12:00:00.CST",
            "transType": "A",
            "tipAmount": "1.0" if code == "00" else "0.0",
        }
    ).encode()


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A SQLite database with two approved sales and a decline on 2024-03-05."""
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    store = Store.open(url, migrate=True)
    now = datetime(2024, 3, 5, 13, 0, tzinfo=MEXICO_CITY)
    for body in (
        _result("240305120000-0821000119", "200.0"),
        _result("240305120100-0821000119", "150.5", store="9194"),
        _result("D1", "80.0", code="51"),
    ):
        with store.engines.write.begin() as connection:
            [delivery] = insert_deliveries(connection, [Incoming(body=body, received_at=now)])
        with store.engines.write.begin() as connection:
            process(connection, delivery, body, now=now)
    store.close()
    return url


def test_report_as_json_has_the_day_totals(database: str) -> None:
    """``report --format json`` prints the daily report: approved count, sum, tips, declines."""
    result = CliRunner().invoke(
        app, ["report", "--date", DAY, "--format", "json", "--database-url", database]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["totals"]["approved"] == {"count": 2, "amount": "350.50"}
    assert report["totals"]["declined"] == {"count": 1, "amount": "80.00"}
    assert report["totals"]["tips"] == "2.00"
    assert [group["id"] for group in report["by_store"]] == ["455311", "9194"]


def test_report_as_csv_has_a_row_per_group(database: str) -> None:
    """``report --format csv`` has the total, each store and each terminal as rows."""
    result = CliRunner().invoke(
        app, ["report", "--date", DAY, "--format", "csv", "--database-url", database]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["group"], r["id"]) for r in rows] == [
        ("total", ""),
        ("store", "455311"),
        ("store", "9194"),
        ("terminal", "0821000119"),
    ]
    assert rows[0]["approved"] == "2"
    assert rows[0]["net"] == "350.50"


def test_report_table_and_bad_input(database: str) -> None:
    """The table names the day; a bad date or format exits 2 with a clear message."""
    runner = CliRunner()
    table = runner.invoke(app, ["report", "--date", DAY, "--database-url", database])
    assert table.exit_code == 0
    assert DAY in table.output
    bad_date = runner.invoke(app, ["report", "--date", "05/03/2024", "--database-url", database])
    assert bad_date.exit_code == 2
    assert "fecha inválida / invalid date" in bad_date.output
    bad_format = runner.invoke(app, ["report", "--format", "xml", "--database-url", database])
    assert bad_format.exit_code == 2


def test_transactions_filters_and_formats(database: str) -> None:
    """``transactions --status declined --format json`` lists only the decline, without raw."""
    runner = CliRunner()
    declined = runner.invoke(
        app,
        ["transactions", "--date", DAY, "--status", "declined", "--format", "json",
         "--database-url", database],
    )  # fmt: skip
    assert declined.exit_code == 0, declined.output
    items = json.loads(declined.stdout)
    assert [(i["status"], i["amount"], i["response_code"]) for i in items] == [
        ("declined", "80.00", "51")
    ]
    assert "raw" not in items[0]
    as_csv = runner.invoke(
        app, ["transactions", "--store", "9194", "--format", "csv", "--database-url", database]
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["order_id"], r["amount"], r["status"]) for r in rows] == [
        ("240305120100-0821000119", "150.50", "approved")
    ]
    table = runner.invoke(app, ["transactions", "--database-url", database])
    assert table.exit_code == 0
    assert "(3)" in table.output


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    """``db upgrade`` migrates a new database and says so; running it again is harmless."""
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade", "--database-url", url])
        assert result.exit_code == 0, result.output
        assert "Database up to date" in result.output
    store = Store.open(url)
    try:
        assert store.list_transactions(TransactionFilter())["items"] == []
    finally:
        store.close()
    refused = runner.invoke(app, ["db", "upgrade", "--database-url", "mysql://x@y/z"])
    assert refused.exit_code == 2
    assert "unsupported database" in refused.output


def test_db_reprocess_processes_failed_results_again(database: str) -> None:
    """``db reprocess`` processes again the results processing failed on and says how they
    ended; with none left it says so. A result still failing exits 1 and says where to look."""
    store = Store.open(database)
    body = _result("240305130000-0821000119", "99.0")
    with store.engines.write.begin() as connection:
        [failed] = insert_deliveries(
            connection, [Incoming(body=body, received_at=datetime.now(MEXICO_CITY))]
        )
        connection.exec_driver_sql(
            "UPDATE deliveries SET outcome = 'error', error = 'processing failed: x' WHERE id = ?",
            (failed,),
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON transactions "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    runner = CliRunner()
    still = runner.invoke(app, ["db", "reprocess", "--database-url", database])
    assert still.exit_code == 1, still.output
    assert "results processed again: error 1" in still.output
    assert "still in error" in still.output
    with store.engines.write.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse")

    done = runner.invoke(app, ["db", "reprocess", "--database-url", database])
    again = runner.invoke(app, ["db", "reprocess", "--database-url", database])

    assert done.exit_code == 0, done.output
    assert "results processed again: new 1" in done.output
    assert again.exit_code == 0
    assert "No results in error" in again.output
    found = store.get_transaction("240305130000-0821000119")
    store.close()
    assert found is not None and found["amount"] == "99.00"


def test_database_commands_ignore_receiver_settings_they_do_not_use(
    database: str, tmp_path: Path
) -> None:
    """``db upgrade``, ``db reprocess`` and ``report`` need only the database: a bad API
    token or webhook secret in the environment (there for the receiver) does not stop them,
    and ``NETPAY_DATABASE_URL`` is the database they use without a flag."""
    env = {"NETPAY_API_TOKEN": "short", "NETPAY_WEBHOOK_SECRET": "x/y"}
    runner = CliRunner()
    fresh = f"sqlite:///{tmp_path / 'env.sqlite3'}"
    upgraded = runner.invoke(app, ["db", "upgrade"], env={**env, "NETPAY_DATABASE_URL": fresh})
    reprocessed = runner.invoke(app, ["db", "reprocess", "--database-url", database], env=env)
    report = runner.invoke(
        app,
        ["report", "--date", DAY, "--format", "json"],
        env={**env, "NETPAY_DATABASE_URL": database},
    )

    assert upgraded.exit_code == 0, upgraded.output
    assert (tmp_path / "env.sqlite3").exists()
    assert reprocessed.exit_code == 0, reprocessed.output
    assert "No results in error" in reprocessed.output
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["totals"]["approved"]["count"] == 2


@pytest.mark.slow
def test_dev_wires_sandbox_and_receiver_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """``dev`` prints a working sale line; a sale through it lands; Ctrl-C stops both servers."""
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPAY_")}
    process_ = subprocess.Popen(
        [sys.executable, "-m", "netpay_smart", "dev", "--port", str(port),
         "--sandbox-port", str(sandbox_port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 20
        assert process_.stdout is not None
        while time.monotonic() < deadline:
            line = process_.stdout.readline()
            lines.append(line)
            if "netpay-smart sale" in line:
                break
        exports = next(line for line in lines if "export NETPAY_ENVIRONMENT=" in line)
        sale_env = dict(env)
        for pair in exports.split("export", 1)[1].split():
            name, _, value = pair.partition("=")
            sale_env[name] = value
        assert sale_env["NETPAY_RECEIVER_URL"] == f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # both servers answer
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz").raise_for_status()
                httpx.get(f"http://127.0.0.1:{sandbox_port}/sandbox/terminals").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        sale = subprocess.run(
            [sys.executable, "-m", "netpay_smart", "sale", "--amount", "1.01", "--serial",
             "0821000119", "--store", "455311", "--wait", "--json", "--timeout", "30"],
            env=sale_env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert sale.returncode == 0, sale.stderr
        assert json.loads(sale.stdout)["approved"] is True
        assert (tmp_path / "netpay-smart.sqlite3").exists()  # the working directory's SQLite
    finally:
        process_.send_signal(signal.SIGINT)
        try:
            process_.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process_.kill()
            raise
        finally:
            assert process_.stdout is not None
            process_.stdout.close()
    assert process_.returncode == 0
    for free in (port, sandbox_port):
        with httpx.Client() as probe, pytest.raises(httpx.ConnectError):
            probe.get(f"http://127.0.0.1:{free}/healthz")
