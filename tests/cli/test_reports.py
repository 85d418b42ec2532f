"""``netpay-smart report``, ``transactions``, ``db upgrade`` and ``dev``, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

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
            if " sale --amount" in line:  # the command's name depends on PATH
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


# -- a database that is missing, empty or unreachable -----------------------------------------

READERS = [
    ["report"],
    ["transactions"],
    ["purge"],
    ["export", "--output", "out.csv"],
]


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_missing_sqlite_file_is_an_error_and_is_not_created(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped SQLite path exits 2 saying to run the receiver or db upgrade; no file,
    no directory is created."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'typo' / 'dir' / 'x.db'}"
    result = CliRunner().invoke(app, [*command, "--database-url", url])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"no existe la base de datos / no database at {tmp_path / 'typo' / 'dir' / 'x.db'}" in (
        said
    )
    assert "netpay-smart db upgrade" in said
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_database_without_tables_exits_2_saying_to_run_db_upgrade(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SQLite file with no schema exits 2 with a bilingual message, not a traceback."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fresh.sqlite3").write_bytes(b"")
    result = CliRunner().invoke(app, [*command, "--database-url", "sqlite:///fresh.sqlite3"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "la base de datos no tiene las tablas de netpay-smart / the database has no " in said
    assert "netpay-smart db upgrade" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.sqlite3"]  # no export left


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_an_unreachable_postgresql_exits_2_saying_why(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL that does not answer exits 2 with the driver's reason, not a traceback."""
    pytest.importorskip("psycopg")
    monkeypatch.chdir(tmp_path)
    url = "postgresql://nobody@127.0.0.1:18509/netpay"
    result = CliRunner().invoke(app, [*command, "--database-url", url])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "no se pudo usar la base de datos / the database could not be used" in said
    assert "18509" in said
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_an_unsupported_database_url_exits_2(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mysql://`` exits 2 naming the databases it takes, not a traceback."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*command, "--database-url", "mysql://x@y/z"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "Missing or invalid settings unsupported database 'mysql'" in said
    assert "sqlite:///FILE or postgresql://USER@HOST/DB" in said


# -- --status ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["transactions"], ["export"]])
@pytest.mark.parametrize("status", ["bogus", "none", "Aproved"])
def test_an_unknown_status_is_refused_listing_the_valid_ones(
    command: list[str], status: str, database: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """--status with a status no transaction has exits 2 listing the valid ones."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*command, "--status", status, "--database-url", database])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"estado desconocido / unknown status {status!r}" in said
    assert said.endswith(
        "valid: approved, declined, user_cancelled, cancelled, reversed, pending_reversal"
    )
    assert result.stdout == ""
    assert [p.name for p in tmp_path.iterdir()] == ["r.sqlite3"]  # no export file


@pytest.mark.parametrize("status", ["user_cancelled", "cancelled_by_user", "timed_out"])
def test_the_sdk_names_of_a_02_find_it(database: str, status: str) -> None:
    """--status cancelled_by_user / timed_out (what sale --json says) find the stored 02."""
    store = Store.open(database)
    now = datetime(2024, 3, 5, 13, 0, tzinfo=MEXICO_CITY)
    body = _result("C02", "30.0", code="02")
    with store.engines.write.begin() as connection:
        [delivery] = insert_deliveries(connection, [Incoming(body=body, received_at=now)])
    with store.engines.write.begin() as connection:
        process(connection, delivery, body, now=now)
    store.close()
    result = CliRunner().invoke(
        app, ["transactions", "--status", status, "--format", "json", "--database-url", database]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [(t["status"], t["response_code"], t["amount"]) for t in found] == [
        ("user_cancelled", "02", "30.00")
    ]


# -- CSV, export ------------------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"


def test_transactions_csv_starts_with_a_byte_order_mark(database: str) -> None:
    """``transactions --format csv`` is UTF-8 with a BOM, as the API's CSV, once."""
    result = CliRunner().invoke(
        app, ["transactions", "--format", "csv", "--database-url", database]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(BOM + b"transaction_at,business_date,")
    assert result.stdout_bytes.count(BOM) == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert sorted(r["amount"] for r in rows) == ["150.50", "200.00", "80.00"]


def test_export_writes_the_filtered_transactions_as_csv(database: str, tmp_path: Path) -> None:
    """``export --output F`` writes what ``transactions --format csv`` prints for the same
    filters, byte for byte, and says how many rows went where."""
    target = tmp_path / "ventas.csv"
    filters = ["--date", DAY, "--status", "approved", "--database-url", database]
    runner = CliRunner()
    result = runner.invoke(app, ["export", *filters, "--output", str(target)])
    listed = runner.invoke(app, ["transactions", *filters, "--format", "csv"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert said == f"2 transacciones escritas en / transactions written to {target}"
    assert target.read_bytes().startswith(BOM)
    assert target.read_bytes() == listed.stdout_bytes
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [(r["order_id"], r["amount"]) for r in rows] == [
        ("240305120100-0821000119", "150.50"),
        ("240305120000-0821000119", "200.00"),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite3", "ventas.csv"]


def test_export_jsonl_to_the_default_file_name(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``export --format jsonl`` writes one JSON object a line, without ``raw``, to
    transacciones-DATE.jsonl (transacciones-todas.csv with no date) in the working directory."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    dated = runner.invoke(
        app, ["export", "--date", DAY, "--format", "jsonl", "--database-url", database]
    )
    everything = runner.invoke(app, ["export", "--store", "9194", "--database-url", database])
    assert dated.exit_code == 0, dated.output
    assert " ".join(dated.output.split()) == (
        "3 transacciones escritas en / transactions written to transacciones-2024-03-05.jsonl"
    )
    lines = (tmp_path / "transacciones-2024-03-05.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines]
    assert sorted(i["amount"] for i in items) == ["150.50", "200.00", "80.00"]
    assert all("raw" not in i for i in items)
    assert everything.exit_code == 0, everything.output
    rows = list(csv.DictReader(io.StringIO(
        (tmp_path / "transacciones-todas.csv").read_text(encoding="utf-8-sig")
    )))  # fmt: skip
    assert [r["store_id"] for r in rows] == ["9194"]


def test_export_help_names_the_default_files_it_writes() -> None:
    """export --help gives the default names the test above sees written: the date's, .jsonl
    with --format jsonl, and transacciones-todas with no --date (every day)."""
    result = CliRunner().invoke(app, ["export", "--help"])
    said = " ".join(result.output.replace("│", " ").split())
    assert "transacciones-DATE.csv, or .jsonl with --format jsonl" in said
    assert "without --date, every day's transactions to transacciones-todas.csv or .jsonl" in (said)


def test_purge_says_the_moment_it_cut_at(database: str) -> None:
    """purge prints the cut-off as a whole moment in Mexico City time (now minus the period),
    not a bare date that reads as "before that day"."""
    before = datetime.now(MEXICO_CITY).replace(microsecond=0)
    result = CliRunner().invoke(app, ["purge", "--older-than", "0d", "--database-url", database])
    after = datetime.now(MEXICO_CITY)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    found = re.search(r"received before (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[-+]\d\d:\d\d)\)", said)
    assert found, said
    cutoff = datetime.fromisoformat(found[1])
    assert cutoff.utcoffset() == after.utcoffset()
    assert before <= cutoff <= after


def test_export_does_not_overwrite_a_file_without_force(database: str, tmp_path: Path) -> None:
    """An existing file is left alone (exit 2, naming --force); with --force it is replaced."""
    target = tmp_path / "out.csv"
    target.write_text("keep me", encoding="utf-8")
    runner = CliRunner()
    refused = runner.invoke(app, ["export", "--output", str(target), "--database-url", database])
    assert refused.exit_code == 2, refused.output
    assert "--force" in refused.output
    assert target.read_text(encoding="utf-8") == "keep me"
    forced = runner.invoke(
        app, ["export", "--output", str(target), "--force", "--database-url", database]
    )
    assert forced.exit_code == 0, forced.output
    assert len(list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))) == 3


def test_an_export_that_fails_halfway_leaves_the_old_file(tmp_path: Path) -> None:
    """Rows are written as they come; a failure halfway keeps the file --force was to replace
    and leaves no partial file."""
    from netpay_smart.cli import _write_export

    target = tmp_path / "out.jsonl"
    target.write_text("old", encoding="utf-8")

    def items() -> Iterator[dict[str, Any]]:
        yield {"order_id": "A"}
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        _write_export(items(), target, "jsonl")
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    assert target.read_text(encoding="utf-8") == "old"


# -- tables in a narrow terminal --------------------------------------------------------------


@pytest.fixture
def large_amounts(tmp_path: Path) -> str:
    """A database with sales in the thousands, SDK-sized folios and two stores."""
    url = f"sqlite:///{tmp_path / 'large.sqlite3'}"
    store = Store.open(url, migrate=True)
    now = datetime(2024, 3, 5, 13, 0, tzinfo=MEXICO_CITY)
    for n, (amount, shop) in enumerate([("12345.67", "455311"), ("98765.43", "9194")]):
        body = json.loads(_result(f"24030512000{n}-0821000119", amount, store=shop))
        body["folioNumber"] = f"NPS240305120000-ABCD123{n}"
        raw = json.dumps(body).encode()
        with store.engines.write.begin() as connection:
            [delivery] = insert_deliveries(connection, [Incoming(body=raw, received_at=now)])
        with store.engines.write.begin() as connection:
            process(connection, delivery, raw, now=now)
    store.close()
    return url


def test_report_table_in_80_columns_keeps_amounts_and_ids_whole(large_amounts: str) -> None:
    """In an 80-column terminal every amount, count and id of the report shows whole."""
    result = CliRunner().invoke(
        app, ["report", "--date", DAY, "--database-url", large_amounts], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in result.stdout.splitlines()
             if line.startswith("│")]  # fmt: skip
    assert cells == [
        ["total", "", "2", "111111.10", "0", "0.00", "0", "0", "2.00", "111111.10"],
        ["store", "455311", "1", "12345.67", "0", "0.00", "0", "0", "1.00", "12345.67"],
        ["store", "9194", "1", "98765.43", "0", "0.00", "0", "0", "1.00", "98765.43"],
        ["terminal", "0821000119", "2", "111111.10", "0", "0.00", "0", "0", "2.00", "111111.10"],
    ]


def test_transactions_table_in_80_columns_keeps_ids_and_amounts_whole(large_amounts: str) -> None:
    """In an 80-column terminal order ids, folios and amounts show whole, on one line each."""
    result = CliRunner().invoke(
        app, ["transactions", "--database-url", large_amounts], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    for order, folio, amount in (
        ("240305120000-0821000119", "NPS240305120000-ABCD1230", "12345.67"),
        ("240305120001-0821000119", "NPS240305120000-ABCD1231", "98765.43"),
    ):
        [line] = [line for line in result.stdout.splitlines() if order in line]
        assert folio in line
        assert amount in line
