"""The servers under test, each a subprocess pinned to CPU 0 (when ``taskset`` exists and there
are two CPUs or more), started, waited for and stopped cleanly.

- ``noop``: raw ASGI no-op (bench/noop.py) on uvicorn with the receiver's options: the ceiling.
- ``starlette-noop``: the same on Starlette (the cost of a framework).
- ``receiver``: ``python -m netpay_smart serve --no-access-log`` on SQLite (a temporary file) or
  PostgreSQL (a fresh schema in ``netpay_bench``, migrated with ``db upgrade``).
- ``naive``: bench/naive.py, FastAPI + pydantic + SQLAlchemy ORM (what integrators write).

Every server listens on 127.0.0.1 only. Its output goes to a log file, shown if it fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret-0123456789"
TOKEN = "bench-api-token-0123456789abcdef"
WEBHOOK_PATH = f"/webhook/{SECRET}"
SERVER_CPU = 0
LOAD_CPU = 1
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/netpay_bench"
#: The options ``netpay-smart serve`` gives uvicorn (cli.py), for the apps bench/ serves itself.
#: The receiver's HTTP protocol also times out slow requests (receiver/serving.py): its cost is
#: the receiver's, so the no-op runs on uvicorn's own.
UVICORN_OPTIONS = [
    "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    "--timeout-keep-alive", "30", "--timeout-graceful-shutdown", "5", "--limit-concurrency", "1000",
]  # fmt: skip


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(cpu: int) -> list[str]:
    """The ``taskset`` prefix that pins a command to ``cpu``, or nothing if it cannot."""
    return ["taskset", "-c", str(cpu)] if can_pin() else []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server: its base URL, process and log."""

    name: str
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path
    has_metrics: bool = False
    database_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def webhook_url(self) -> str:
        return self.base + WEBHOOK_PATH

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        """Resident memory of the server process (VmRSS), in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def usage(self) -> dict[str, float] | None:
        """CPU seconds (user, system) and write calls and bytes of the server process so far
        (``/proc/PID/stat`` and ``/proc/PID/io``, all its threads); None where there is none."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            io = dict(
                line.split(": ") for line in Path(f"/proc/{self.pid}/io").read_text().splitlines()
            )
        except (OSError, ValueError):
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return {
            "user_s": int(stat[11]) / ticks,
            "system_s": int(stat[12]) / ticks,
            "write_calls": float(io["syscw"]),
            "written_bytes": float(io["wchar"]),
        }

    @staticmethod
    def usage_per(
        before: dict[str, float] | None, after: dict[str, float] | None, count: int
    ) -> dict[str, float] | None:
        """What :meth:`usage` grew by between ``before`` and ``after``, per one of ``count``
        requests: CPU µs (user, system), write calls and KB written; None without both."""
        if not (before and after and count):
            return None
        return {
            "user_us": (after["user_s"] - before["user_s"]) / count * 1e6,
            "system_us": (after["system_s"] - before["system_s"]) / count * 1e6,
            "write_calls": (after["write_calls"] - before["write_calls"]) / count,
            "written_kb": (after["written_bytes"] - before["written_bytes"]) / count / 1000,
        }

    def metrics(self) -> dict[str, dict[str, float]]:
        """``/metrics`` as {metric: {label value: number}} (one label per metric here)."""
        answer = httpx.get(self.base + "/metrics", timeout=10)
        answer.raise_for_status()
        found: dict[str, dict[str, float]] = {}
        for line in answer.text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            label = ""
            if "{" in name:
                name, _, rest = name.partition("{")
                label = rest.rstrip("}").partition("=")[2].strip('"')
            found.setdefault(name, {})[label] = float(value)
        return found

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None


def _wait_ready(server: Server, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            if httpx.get(server.base + path, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f}s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextlib.contextmanager
def _spawn(
    name: str,
    command: list[str],
    *,
    port: int,
    ready_path: str,
    env: dict[str, str] | None = None,
    cpu: int | None = SERVER_CPU,
    ready_timeout: float = 60,
    **server_kw: Any,
) -> Iterator[Server]:
    log_dir = Path(tempfile.mkdtemp(prefix="netpay-bench-log-"))
    log_path = log_dir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), full_env.get("PYTHONPATH", "")) if p
    )
    log: IO[bytes]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*(pinned(cpu) if cpu is not None else []), *command],
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path, **server_kw)
    try:
        _wait_ready(server, ready_path, ready_timeout)
        yield server
    finally:
        _stop(process)
        shutil.rmtree(log_dir, ignore_errors=True)


def _uvicorn(app: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            *UVICORN_OPTIONS]  # fmt: skip


@contextlib.contextmanager
def noop(kind: str = "raw") -> Iterator[Server]:
    """The raw ASGI no-op (``kind="raw"``) or the Starlette one (``kind="starlette"``)."""
    port = free_port()
    app = "bench.noop:app" if kind == "raw" else "bench.noop:starlette_app"
    name = "noop" if kind == "raw" else "starlette-noop"
    with _spawn(name, _uvicorn(app, port), port=port, ready_path="/healthz") as server:
        yield server


@contextlib.contextmanager
def naive() -> Iterator[Server]:
    """The FastAPI + pydantic + ORM baseline on a temporary SQLite file."""
    with tempfile.TemporaryDirectory(prefix="netpay-bench-naive-") as tmp:
        port = free_port()
        url = f"sqlite:///{tmp}/naive.sqlite3"
        env = {"NAIVE_DATABASE_URL": url, "NETPAY_WEBHOOK_SECRET": SECRET}
        with _spawn(
            "naive", _uvicorn("bench.naive:app", port), port=port, ready_path="/healthz",
            env=env, database_url=url,
        ) as server:  # fmt: skip
            yield server


def migrate(url: str) -> None:
    """``python -m netpay_smart db upgrade`` (how PostgreSQL is migrated in production)."""
    done = subprocess.run(
        [sys.executable, "-m", "netpay_smart", "db", "upgrade", "--database-url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"db upgrade failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def receiver(
    database_url: str, *, name: str | None = None, cpu: int | None = SERVER_CPU
) -> Iterator[Server]:
    """``netpay-smart serve --no-access-log`` on ``database_url`` (already migrated if PG)."""
    port = free_port()
    env = {"NETPAY_WEBHOOK_SECRET": SECRET, "NETPAY_API_TOKEN": TOKEN}
    command = [sys.executable, "-m", "netpay_smart", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--database-url", database_url, "--no-access-log"]  # fmt: skip
    dialect = "postgresql" if database_url.startswith("postgres") else "sqlite"
    with _spawn(
        name or f"receiver-{dialect}", command, port=port, ready_path="/readyz", env=env,
        cpu=cpu, has_metrics=True, database_url=database_url,
    ) as server:  # fmt: skip
        yield server


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    """A temporary SQLite database file (on the same disk as /tmp)."""
    with tempfile.TemporaryDirectory(prefix="netpay-bench-") as tmp:
        yield f"sqlite:///{tmp}/receiver.sqlite3"


# -- PostgreSQL ---------------------------------------------------------------------------------


def postgres_base_url() -> str:
    return (
        os.environ.get("NETPAY_BENCH_DATABASE_URL")
        or os.environ.get("NETPAY_TEST_DATABASE_URL")
        or DEFAULT_PG_URL
    )


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def postgres_available() -> str | None:
    """The PostgreSQL URL to use, creating ``netpay_bench`` if needed; None if unreachable."""
    try:
        import psycopg
    except ImportError:
        return None
    url = _plain(postgres_base_url())
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True):
            return url
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc) or url != DEFAULT_PG_URL:
            return None
    try:
        admin = DEFAULT_PG_URL.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, connect_timeout=3, autocommit=True) as conn:
            conn.execute("CREATE DATABASE netpay_bench")
        return url
    except psycopg.Error:
        return None


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(_plain(url), connect_timeout=3) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"


@contextlib.contextmanager
def postgres_schema(base_url: str, *, migrated: bool = True) -> Iterator[str]:
    """A fresh schema (dropped afterwards); yields a URL whose connections use it."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    plain = _plain(base_url)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in plain else "?"
    url = f"{plain}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
