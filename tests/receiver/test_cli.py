"""``netpay-smart serve`` as a user runs it: refusals, generated secrets, redacted access logs."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .helpers import ACK, SECRET, TOKEN, sale_body, serve_env, serve_process, wait_until

SERVE = [sys.executable, "-m", "netpay_smart", "serve"]


def _run_to_exit(
    tmp_path: Path, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SERVE, *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, "NETPAY_WEBHOOK_SECRET and NETPAY_API_TOKEN"),
        ({"NETPAY_WEBHOOK_SECRET": SECRET}, "NETPAY_API_TOKEN"),
        ({"NETPAY_API_TOKEN": TOKEN}, "NETPAY_WEBHOOK_SECRET"),
    ],
    ids=["neither", "no-token", "no-secret"],
)
def test_serve_refuses_a_public_address_without_secrets(
    tmp_path: Path, given: dict[str, str], missing: str
) -> None:
    """On 0.0.0.0 without the secret or the token, serve exits 2 naming what is missing."""
    database = tmp_path / "refused.sqlite3"
    done = _run_to_exit(
        tmp_path,
        "--host",
        "0.0.0.0",  # noqa: S104 - the point of the test
        "--port",
        "1",
        "--database-url",
        f"sqlite:///{database}",
        env=serve_env(**given),
    )
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert f"refusing to listen on 0.0.0.0 without {missing}" in message
    assert "listen on 127.0.0.1" in message  # the hint says how to try it anyway
    assert "Traceback" not in done.stderr
    assert not database.exists()  # refused before touching anything


def test_serve_on_loopback_generates_secrets_and_prints_the_webhook_url(tmp_path: Path) -> None:
    """On 127.0.0.1 with no secrets, serve starts, prints the URL and token, and both work."""
    database = tmp_path / "loopback.sqlite3"
    with serve_process(tmp_path, "--database-url", f"sqlite:///{database}", env=serve_env()) as s:
        s.wait_ready()
        banner = s.stderr()
        urls = re.findall(r"(http://127\.0\.0\.1:\d+/webhook/[A-Za-z0-9_-]+)", banner)
        tokens = re.findall(r"API token \(generated\): (\S+)", banner)
        assert len(urls) == 1, banner
        assert len(tokens) == 1, banner
        assert "NETPAY_WEBHOOK_SECRET" in banner  # tells the user how to keep them
        assert urls[0].startswith(s.base + "/webhook/")
        assert len(urls[0].rsplit("/", 1)[1]) >= 16
        with httpx.Client(timeout=10) as client:
            answer = client.post(urls[0], content=sale_body("cli-1"))
            assert (answer.status_code, answer.content) == (200, ACK)
            api = {"authorization": f"Bearer {tokens[0]}"}
            assert client.get(f"{s.base}/api/transactions").status_code == 401
            found = wait_until(
                lambda: client.get(f"{s.base}/api/transactions/cli-1", headers=api),
                lambda answer: answer.status_code == 200,
                what="the result behind the generated token",
            )
            assert found.json()["amount"] == "200.00"
        s.stop()


# --------------------------------------------------------------------------------------------
# Access-log redaction
# --------------------------------------------------------------------------------------------

NEAR_MISS = SECRET[:-1] + "X"


@pytest.fixture(scope="module")
def access_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One ``serve`` run that receives every kind of webhook request; (stdout, stderr)."""
    tmp_path = tmp_path_factory.mktemp("access-log")
    env = serve_env(NETPAY_WEBHOOK_SECRET=SECRET, NETPAY_API_TOKEN=TOKEN)
    database = f"sqlite:///{tmp_path / 'logs.sqlite3'}"
    with serve_process(tmp_path, "--database-url", database, env=env) as served:
        served.wait_ready()
        with httpx.Client(base_url=served.base, timeout=10) as client:
            statuses = [
                client.post(f"/webhook/{SECRET}", content=sale_body("log-1")).status_code,
                client.post(f"/webhook/{SECRET}/", content=sale_body("log-2")).status_code,
                client.post(f"/webhook/{SECRET}?retry=1", content=sale_body("log-3")).status_code,
                client.post(f"/webhook/{SECRET}", content=b"not json").status_code,
                client.get(f"/webhook/{SECRET}").status_code,
                client.post(f"/webhook/{NEAR_MISS}", content=b"{}").status_code,
                # a terminal configured with a doubled slash in its response URL
                client.post(f"/webhook//{SECRET}", content=b"{}").status_code,
            ]
        assert statuses == [200, 200, 200, 400, 405, 404, 404]
        served.stop()
        yield served.stdout(), served.stderr()


def _access_lines(logs: tuple[str, str]) -> list[str]:
    return [line for text in logs for line in text.splitlines() if " /webhook/" in line]


def _after_startup(stderr: str) -> str:
    """What the server logged once running: the start-up banner prints the URL on purpose."""
    marker = "Application startup complete."
    assert marker in stderr
    return stderr.split(marker, 1)[1]


def test_access_log_never_shows_the_webhook_secret(access_logs: tuple[str, str]) -> None:
    """Access-log lines show ``/webhook/***`` for good, bad, and wrong-secret requests alike."""
    stdout, stderr = access_logs
    lines = _access_lines(access_logs)
    assert len(lines) == 7, lines  # the doubled-slash request included
    for line in lines:
        assert "/webhook/***" in line
        assert SECRET not in line
        assert NEAR_MISS not in line
    statuses = sorted(int(m) for m in re.findall(r'HTTP/1\.1" (\d{3})', "\n".join(lines)))
    assert statuses == [200, 200, 200, 400, 404, 404, 405]
    assert SECRET not in _after_startup(stderr)
    assert "?retry=1" in stdout  # the query string is still logged


def test_access_log_hides_the_secret_after_a_doubled_slash(access_logs: tuple[str, str]) -> None:
    """``/webhook//<secret>`` (a doubled slash in the terminal's URL) is logged without it."""
    stdout, stderr = access_logs
    assert not [line for line in _access_lines(access_logs) if "/webhook//" in line]
    assert SECRET not in stdout
    assert SECRET not in _after_startup(stderr)


def test_sigterm_ends_streams_and_long_polls_and_exits_within_5_seconds(tmp_path: Path) -> None:
    """SIGTERM with an event stream and a long-poll open: both end, the server exits in < 5 s,
    and what was acknowledged before is stored."""
    import signal
    import threading
    import time

    database = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    env = serve_env(NETPAY_WEBHOOK_SECRET=SECRET, NETPAY_API_TOKEN=TOKEN)
    with serve_process(tmp_path, "--database-url", database, env=env) as s:
        s.wait_ready()
        auth = {"authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=s.base, timeout=30) as client:
            assert client.post(f"/webhook/{SECRET}", content=sale_body("term-1")).content == ACK
            push = {"kind": "sale", "terminal_id": "0821000119", "id": "term-push"}
            assert client.post("/api/pushes", json=push, headers=auth).status_code == 201
            ended: dict[str, object] = {}

            def stream() -> None:
                with (
                    httpx.Client(base_url=s.base, timeout=30) as own,
                    own.stream("GET", "/api/events", headers=auth) as events,
                ):
                    for _ in events.iter_lines():
                        pass
                ended["stream"] = time.monotonic()

            def long_poll() -> None:
                with httpx.Client(base_url=s.base, timeout=30) as own:
                    answer = own.get("/api/pushes/term-push", params={"wait": 60}, headers=auth)
                ended["poll"] = answer.json()["state"]

            threads = [threading.Thread(target=f) for f in (stream, long_poll)]
            for thread in threads:
                thread.start()
            time.sleep(0.5)  # both are waiting on the server now
            started = time.monotonic()
            s.process.send_signal(signal.SIGTERM)
            s.process.wait(10)
            took = time.monotonic() - started
            for thread in threads:
                thread.join(10)
        assert took < 5, f"shutdown took {took:.1f}s"
        assert s.process.returncode in (0, -signal.SIGTERM)
        assert ended["poll"] == "registered"  # answered with the push as it stands
        assert "stream" in ended
        assert "Traceback" not in s.stderr()
    from netpay_smart.store import Store, TransactionFilter

    store = Store.open(database)
    try:
        [tx] = store.list_transactions(TransactionFilter())["items"]
        assert tx["order_id"] == "term-1"
    finally:
        store.close()


# --------------------------------------------------------------------------------------------
# Connections that hold the server without sending a request; too many connections
# --------------------------------------------------------------------------------------------


def _open(base: str, data: bytes = b"") -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    if data:
        connection.sendall(data)
    return connection


def _deliveries(client: httpx.Client) -> int:
    answer = client.get("/api/deliveries", headers={"authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    return len(answer.json()["items"])


def test_serve_closes_connections_that_never_finish_a_request(tmp_path: Path) -> None:
    """A connection silent, stuck in its headers or in its body past --request-timeout is
    closed (408 when no answer began); the half-sent result is not stored, others still are."""
    database = f"sqlite:///{tmp_path / 'slow.sqlite3'}"
    env = serve_env(NETPAY_WEBHOOK_SECRET=SECRET, NETPAY_API_TOKEN=TOKEN)
    with serve_process(tmp_path, "--database-url", database, "--request-timeout", "0.5",
                       env=env) as s:  # fmt: skip
        s.wait_ready()
        head = f"POST /webhook/{SECRET} HTTP/1.1\r\nhost: terminal\r\n".encode()
        silent = _open(s.base)
        in_headers = _open(s.base, head)
        in_body = _open(s.base, head + b"content-length: 2000\r\n\r\n" + sale_body("slow-1")[:40])
        with httpx.Client(base_url=s.base, timeout=10) as client:
            assert client.post(f"/webhook/{SECRET}", content=sale_body("fast-1")).content == ACK
            answers = [c.recv(4096) for c in (silent, in_headers, in_body)]
            assert answers[0].startswith(b"HTTP/1.1 408 Request Timeout\r\n")
            assert answers[1].startswith(b"HTTP/1.1 408 Request Timeout\r\n")
            assert b'"error":"request_timeout"' in answers[1]
            assert answers[2] == b""  # closed without an answer: nothing was acknowledged
            assert _deliveries(client) == 1
        for connection in (silent, in_headers, in_body):
            connection.close()
        assert s.stderr().count("no whole request in 0.5 s") == 3


def test_serve_answers_503_past_max_connections(tmp_path: Path) -> None:
    """With --max-connections open, one more request gets 503 at once and nothing is stored;
    once they close, results are acknowledged again."""
    database = f"sqlite:///{tmp_path / 'busy.sqlite3'}"
    env = serve_env(NETPAY_WEBHOOK_SECRET=SECRET, NETPAY_API_TOKEN=TOKEN)
    with serve_process(tmp_path, "--database-url", database, "--max-connections", "4",
                       env=env) as s:  # fmt: skip
        s.wait_ready()
        held = [_open(s.base) for _ in range(4)]
        with httpx.Client(base_url=s.base, timeout=10) as client:
            refused = client.post(f"/webhook/{SECRET}", content=sale_body("busy-1"))
            assert refused.status_code == 503
            for connection in held:
                connection.close()
            accepted = wait_until(
                lambda: client.post(f"/webhook/{SECRET}", content=sale_body("busy-2")),
                lambda answer: answer.status_code == 200,
                what="an acknowledgement once the connections closed",
            )
            assert accepted.content == ACK
            assert _deliveries(client) == 1


@pytest.mark.parametrize(
    "flags", [("--request-timeout", "0"), ("--max-connections", "0")], ids=["timeout", "max"]
)
def test_serve_refuses_limits_that_would_stop_every_request(
    tmp_path: Path, flags: tuple[str, str]
) -> None:
    """A request timeout of 0 or no connections allowed exits 2 naming both flags."""
    database = tmp_path / "limits.sqlite3"
    done = _run_to_exit(
        tmp_path, *flags, "--port", "1", "--database-url", f"sqlite:///{database}",
        env=serve_env(),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--request-timeout > 0" in done.stdout + done.stderr
    assert "--max-connections >= 1" in done.stdout + done.stderr
    assert not database.exists()
