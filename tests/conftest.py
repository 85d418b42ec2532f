"""Fixtures shared by every part of the suite.

Databases: ``database_url`` runs a test on SQLite and, when ``NETPAY_TEST_DATABASE_URL`` points
at a PostgreSQL database, on PostgreSQL too (each test in a schema of its own, dropped after).
Servers: :func:`serve_in_thread` runs any ASGI app on a real uvicorn at ``127.0.0.1:0``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import uvicorn

from netpay_smart.store import Store

PG_URL = os.environ.get("NETPAY_TEST_DATABASE_URL")
_SKIP_PG = "PostgreSQL variant: set NETPAY_TEST_DATABASE_URL=postgresql://... to run it"


def _pg_schema_url(schema: str) -> str:
    assert PG_URL is not None
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields a URL whose connections use it."""
    import psycopg

    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _pg_schema_url(schema)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """The same test on SQLite (a temporary file) and on PostgreSQL (a temporary schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'netpay.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip(_SKIP_PG)
    with postgres_schema() as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store, not started (no writer thread)."""
    opened = Store.open(database_url, migrate=True)
    try:
        yield opened
    finally:
        opened.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Any, *, port: int = 0) -> Iterator[str]:
    """Run ``app`` on a real uvicorn server in a thread; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        thread.join(10)
