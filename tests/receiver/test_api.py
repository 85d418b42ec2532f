"""The query API, pushes with long-poll, the event stream and the open operations routes."""

from __future__ import annotations

import csv
import gc
import io
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from netpay_smart import __version__
from netpay_smart._personal import without_personal
from netpay_smart.store import Incoming, Store
from netpay_smart.store.ingest import insert_deliveries
from tests.store.helpers import NOW, fail_like_a_busy_database, stop_failing
from tests.wire.vectors import ALL_RESULTS

from .helpers import ACK, TOKEN, Live, live_receiver, sale_body, wait_until

WRONG_CREDENTIALS: list[dict[str, str]] = [
    {},
    {"authorization": "Bearer " + "x" * 20},
    {"authorization": f"Bearer {TOKEN}x"},
    {"authorization": f"Bearer {TOKEN[:-1]}"},
    {"authorization": f"Basic {TOKEN}"},
    {"authorization": TOKEN},
    {"x-api-token": TOKEN},
    {"cookie": "nps_session=9999999999.forged"},
    {"cookie": f"nps_session={TOKEN}"},
]

#: The API routes DESIGN.md promises (the app may have more; every one is walked).
DOCUMENTED_API_PATHS = {
    "/api/transactions",
    "/api/transactions/dummy-1",
    "/api/deliveries",
    "/api/reports/daily",
    "/api/pushes",
    "/api/pushes/dummy-1",
    "/api/events",
}


def _api_requests(live: Live) -> Iterator[tuple[str, str]]:
    """(method, url) for every method of every route under /api, path params filled in."""
    for route in live.receiver.app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api"):
            continue
        url = re.sub(r"\{[^}]+\}", "dummy-1", path)
        for method in sorted(getattr(route, "methods", None) or ()):
            yield method, url


def _api_paths(live: Live) -> set[str]:
    return {url for _, url in _api_requests(live)}


# --------------------------------------------------------------------------------------------
# Authorisation
# --------------------------------------------------------------------------------------------


@pytest.fixture
def unlimited(database_url: str) -> Iterator[Live]:
    """The receiver without the failed-authentication limit, to try every wrong credential."""
    with live_receiver(database_url, auth_failure_limit=0) as running:
        yield running


def test_every_api_route_answers_401_without_the_right_token(unlimited: Live) -> None:
    """No token, a wrong one, or the right one in the wrong form: 401 on every /api route."""
    live = unlimited
    requests = list(_api_requests(live))
    assert _api_paths(live) >= DOCUMENTED_API_PATHS
    assert ("PATCH", "/api/pushes/dummy-1") in requests
    assert ("POST", "/api/pushes") in requests
    for method, url in requests:
        for headers in WRONG_CREDENTIALS:
            answer = live.bare.request(method, url, headers=headers, content=b"{}")
            assert answer.status_code == 401, (method, url, headers)
            if method != "HEAD":
                assert answer.json()["error"] == "unauthorized"
    assert live.deliveries() == []  # nothing the refused requests asked for happened


def test_too_many_failed_attempts_get_429_until_the_window_passes(database_url: str) -> None:
    """After the limit of wrong tokens, the client gets 429 even with the right token; the
    API and the dashboard sign-in count together (they guess the same token)."""
    with live_receiver(database_url, auth_failure_limit=5) as small:
        for n in range(3):
            wrong = {"authorization": f"Bearer wrong-{n}"}
            assert small.bare.get("/api/transactions", headers=wrong).status_code == 401
        assert small.bare.post("/session", json={"token": "nope"}).status_code == 401
        assert (
            small.bare.get("/api/deliveries", headers={"authorization": "Bearer x"}).status_code
            == 401
        )
        refused = small.api.get("/api/transactions")
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many_failures"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert small.bare.post("/session", json={"token": TOKEN}).status_code == 429
        # Terminals are not locked out: wrong webhook addresses count apart, and the right
        # one still stores results.
        assert small.bare.post("/webhook/not-the-secret-at-all", content=b"{}").status_code == 404
        assert small.post(sale_body("limited-1")).status_code == 200


def test_wrong_webhook_addresses_lock_the_webhook_not_the_api(database_url: str) -> None:
    """A terminal posting to a wrong (say, retired) webhook address gets 429 after the limit;
    the POS behind the same address still reaches the API with its token, and the right
    address still stores results."""
    with live_receiver(database_url, auth_failure_limit=5) as small:
        for n in range(5):
            answer = small.bare.post(f"/webhook/old-secret-{n}", content=b"{}")
            assert answer.status_code == 404
        assert small.bare.post("/webhook/old-secret", content=b"{}").status_code == 429
        assert small.api.get("/api/transactions").status_code == 200
        assert small.post(sale_body("limited-2")).status_code == 200
        assert 'netpay_webhook_requests_total{status="429"} 1' in small.bare.get("/metrics").text


def test_the_right_token_opens_every_api_route(live: Live) -> None:
    """The same walk with the token: no route says 401 (so the walk above means something)."""
    for method, url in _api_requests(live):
        if url == "/api/events":
            with live.api.stream(method, url) as events:
                assert events.status_code == 200
            continue
        answer = live.api.request(method, url, content=b"{}")
        assert answer.status_code != 401, (method, url, answer.text)
    assert live.api.get("/api/transactions").json() == {"items": [], "next_cursor": None}
    lower = live.bare.get("/api/deliveries", headers={"authorization": f"bearer {TOKEN}"})
    assert lower.status_code == 200


def test_without_a_token_configured_the_api_is_closed(database_url: str) -> None:
    """``api_token=None``: every /api route says 401, "the API is closed", whatever is sent."""
    with live_receiver(database_url, api_token=None) as closed:
        for method, url in _api_requests(closed):
            for headers in ({}, {"authorization": f"Bearer {TOKEN}"}, {"authorization": "Bearer"}):
                answer = closed.bare.request(method, url, headers=headers, content=b"{}")
                assert answer.status_code == 401, (method, url, headers)
                if method != "HEAD":
                    assert "the API is closed" in answer.json()["message"]
        # the webhook itself still works: terminals never send the API token
        assert closed.post(sale_body("closed-1")).content == ACK


# --------------------------------------------------------------------------------------------
# Open routes
# --------------------------------------------------------------------------------------------


def test_health_and_readiness_are_open(live: Live) -> None:
    """/healthz and /readyz answer without a token; ready names the database and, on
    PostgreSQL, the spool standing by."""
    health = live.bare.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok", "version": __version__})
    ready = live.bare.get("/readyz")
    assert ready.status_code == 200
    dialect = live.receiver.store.dialect
    expected: dict[str, Any] = {"status": "ready", "database": dialect, "database_reachable": True}
    if dialect == "postgresql":
        path = live.receiver.settings.spool_path
        expected["spool"] = {"path": path, "writable": True, "depth": 0}
    assert ready.json() == expected


def test_metrics_are_open_prometheus_text_that_counts(live: Live) -> None:
    """/metrics is Prometheus text; a delivery shows in the request, outcome and ack series."""
    empty = live.bare.get("/metrics")
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("text/plain")
    assert "# TYPE netpay_deliveries_total counter" in empty.text
    assert 'netpay_ack_seconds_bucket{le="+Inf"} 0\n' in empty.text
    assert live.post(sale_body("m-1")).content == ACK
    assert live.post(b"nope").status_code == 400
    text = wait_until(
        lambda: live.bare.get("/metrics").text,
        lambda t: 'netpay_deliveries_total{outcome="invalid"} 1\n' in t,
        what="both deliveries in the metrics",
    )
    assert 'netpay_deliveries_total{outcome="new"} 1\n' in text
    assert 'netpay_webhook_requests_total{status="200"} 1\n' in text
    assert 'netpay_webhook_requests_total{status="400"} 1\n' in text
    assert 'netpay_ack_seconds_bucket{le="+Inf"} 1\n' in text
    assert "netpay_ack_seconds_count 1\n" in text
    assert "netpay_deliveries_committed_total 2\n" in text  # both stored, the bad one too
    backlog = wait_until(
        lambda: live.bare.get("/metrics").text,
        lambda t: "netpay_processing_backlog 0\n" in t,
        what="an empty processing backlog",
    )
    assert "# TYPE netpay_processing_backlog gauge" in backlog
    buckets = [int(n) for n in re.findall(r"^netpay_ack_seconds_bucket\{.*\} (\d+)$", text, re.M)]
    assert buckets == sorted(buckets)  # cumulative, as Prometheus histograms are


def test_metrics_count_what_waits_in_the_database_after_a_restart(database_url: str) -> None:
    """Deliveries a restart left unprocessed show in ``netpay_deliveries_pending`` (this
    replica's backlog counts only what it stored itself) until processing takes them."""
    store = Store.open(database_url, migrate=True)
    try:
        with store.engines.write.begin() as conn:
            insert_deliveries(
                conn, [Incoming(body=sale_body(f"left-{n}"), received_at=NOW) for n in range(3)]
            )
        fail_like_a_busy_database(store)  # processing cannot take them for now
    finally:
        store.close()
    with live_receiver(database_url) as live:
        text = live.bare.get("/metrics").text
        assert "# TYPE netpay_deliveries_pending gauge" in text
        assert "netpay_deliveries_pending 3\n" in text
        assert "netpay_processing_backlog 0\n" in text
        stop_failing(live.receiver.store)
        wait_until(
            lambda: live.bare.get("/metrics").text,
            lambda t: "netpay_deliveries_pending 0\n" in t,
            timeout=15,
            what="the deliveries left pending processed",
        )


def test_openapi_document_is_open_and_describes_the_webhook(live: Live) -> None:
    """/openapi.json is JSON, OpenAPI 3.1.0, with the webhook and every API path."""
    answer = live.bare.get("/openapi.json")
    assert answer.status_code == 200
    document = json.loads(answer.content)
    assert document["openapi"] == "3.1.0"
    assert "post" in document["paths"]["/webhook/{secret}"]
    paths = {re.sub(r"\{[^}]+\}", "dummy-1", p) for p in document["paths"]}
    assert paths >= DOCUMENTED_API_PATHS


def test_dashboard_page_is_open(live: Live) -> None:
    """``GET /`` serves the dashboard's HTML page without a token."""
    page = live.bare.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()


# --------------------------------------------------------------------------------------------
# Pushes
# --------------------------------------------------------------------------------------------

PUSH = {"kind": "sale", "terminal_id": "1494113052", "folio_number": "F-1", "amount": "200.00"}


def _register(live: Live, **changes: Any) -> dict[str, Any]:
    answer = live.api.post("/api/pushes", json={**PUSH, **changes})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_register_push_then_the_terminal_is_busy(live: Live) -> None:
    """A push is registered (201); a second one on the same terminal is 409 terminal_busy."""
    push = _register(live)
    assert (push["kind"], push["terminal_id"], push["state"]) == (
        "sale",
        "1494113052",
        "registered",
    )
    assert (push["amount"], push["folio_number"]) == ("200.00", "F-1")
    busy = live.api.post("/api/pushes", json={**PUSH, "folio_number": "F-2"})
    assert busy.status_code == 409
    assert busy.json()["error"] == "terminal_busy"
    assert busy.json()["push_id"] == push["id"]
    other = live.api.post("/api/pushes", json={**PUSH, "terminal_id": "0821000119"})
    assert other.status_code == 201


def test_bad_push_bodies_are_400(live: Live) -> None:
    """Unknown kind, unknown field, three decimals, not JSON: 400 bad_request each."""
    for body in (
        {**PUSH, "kind": "refund"},
        {**PUSH, "colour": "red"},
        {**PUSH, "amount": "1.005"},
        {"kind": "sale"},
    ):
        answer = live.api.post("/api/pushes", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["error"] == "bad_request"
    assert live.api.post("/api/pushes", content=b"{").status_code == 400


def test_long_poll_returns_the_result_as_soon_as_it_is_in(live: Live) -> None:
    """``?wait=5`` returns "completed" with the result soon after the terminal posts it."""
    push = _register(live)
    result = sale_body(
        "lp-1", terminalId="1494113052", folioNumber="F-1", traceability={"npsPushId": push["id"]}
    )
    with (
        httpx.Client(base_url=live.base, headers=live.api.headers, timeout=10) as poller,
        ThreadPoolExecutor(1) as pool,
    ):

        def long_poll() -> tuple[float, httpx.Response]:
            started = time.monotonic()
            answer = poller.get(f"/api/pushes/{push['id']}", params={"wait": 5})
            return time.monotonic() - started, answer

        waiting = pool.submit(long_poll)
        # Not a wait for processing: it gives the long-poll time to start waiting, so the
        # result below arrives during the wait and the wake-up is what is tested.
        time.sleep(0.3)
        assert live.post(result).content == ACK
        took, answer = waiting.result(timeout=10)
    assert answer.status_code == 200
    found = answer.json()
    assert took < 4, f"the long-poll took {took:.2f}s: it was not woken by the result"
    assert (found["id"], found["state"], found["result_status"]) == (
        push["id"],
        "completed",
        "approved",
    )
    assert found["result"]["kind"] == "sale"
    assert found["result"]["body"] == without_personal(json.loads(result))
    assert found["result"]["transaction"]["order_id"] == "lp-1"
    assert found["result"]["transaction"]["amount"] == "200.00"
    assert live.transaction("lp-1")["push_id"] == push["id"]
    # completed frees the terminal
    assert live.api.post("/api/pushes", json=PUSH).status_code == 201


def test_short_long_poll_returns_the_open_push(live: Live) -> None:
    """``?wait=0.2`` with no result returns the push still open, after about 0.2 s."""
    push = _register(live)
    started = time.monotonic()
    answer = live.api.get(f"/api/pushes/{push['id']}", params={"wait": 0.2})
    took = time.monotonic() - started
    assert answer.status_code == 200
    assert (answer.json()["state"], answer.json()["result"]) == ("registered", None)
    assert 0.19 <= took < 3
    plain = live.api.get(f"/api/pushes/{push['id']}")
    assert plain.json()["state"] == "registered"
    assert live.api.get(f"/api/pushes/{push['id']}", params={"wait": "soon"}).status_code == 400


# The crash also leaves an un-awaited coroutine behind; its warning is part of this bug.
@pytest.mark.filterwarnings("ignore:coroutine 'Queue.get' was never awaited:RuntimeWarning")
def test_wait_that_is_not_a_number_is_400(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    """``?wait=nan`` is refused like ``?wait=soon``: 400 bad_request, not a server error."""
    push = _register(live)
    answer = live.api.get(f"/api/pushes/{push['id']}", params={"wait": "nan"})
    # Let the server finish that request, then drop the logged traceback (it holds the
    # coroutine) and collect now, so nothing of it reaches a later test.
    assert live.bare.get("/healthz").status_code == 200
    for record in caplog.records:
        record.exc_info = None
    gc.collect()
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"


def test_unknown_push_is_404(live: Live) -> None:
    """An unknown push id is 404, with or without waiting, and does not wait."""
    started = time.monotonic()
    for params in ({}, {"wait": 3}):
        answer = live.api.get("/api/pushes/no-such-push", params=params)
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"
    assert time.monotonic() - started < 2
    patched = live.api.patch("/api/pushes/no-such-push", json={"state": "failed"})
    assert patched.status_code == 409


def test_failed_push_frees_the_terminal(live: Live) -> None:
    """PATCH ``{"state":"failed"}`` closes the push; the terminal takes a new one."""
    push = _register(live)
    failed = live.api.patch(f"/api/pushes/{push['id']}", json={"state": "failed"})
    assert failed.status_code == 200
    assert failed.json()["state"] == "failed"
    again = live.api.patch(f"/api/pushes/{push['id']}", json={"state": "sent"})
    assert (again.status_code, again.json()["error"]) == (409, "not_open")
    assert live.api.patch(f"/api/pushes/{push['id']}", json={"state": "done"}).status_code == 400
    second = _register(live, folio_number="F-2")
    assert second["id"] != push["id"]
    assert second["state"] == "registered"


# --------------------------------------------------------------------------------------------
# Live events
# --------------------------------------------------------------------------------------------


def test_event_stream_sends_each_delivery_with_its_transaction(live: Live) -> None:
    """``GET /api/events`` (SSE) sends ``event: delivery`` with the transaction after a POST."""
    with live.api.stream("GET", "/api/events", timeout=5) as events:
        assert events.status_code == 200
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.iter_lines()
        assert next(lines) == ": connected"  # subscribed: what follows will be seen
        assert live.post(sale_body("sse-1")).content == ACK
        event: dict[str, str] = {}
        for line in lines:
            if not line:
                if event.get("event") == "delivery":
                    break
                event = {}
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(": ")
            event[field] = value
    data = json.loads(event["data"])
    assert int(event["id"]) == data["delivery_id"]
    assert (data["outcome"], data["kind"]) == ("new", "sale")
    tx = data["transaction"]
    assert (tx["order_id"], tx["amount"], tx["status"]) == ("sse-1", "200.00", "approved")
    assert "raw" not in tx
    (delivery,) = live.deliveries()
    assert delivery["id"] == data["delivery_id"]


def test_filters_paging_and_daily_report_over_the_documented_results(live: Live) -> None:
    """Filters by date, status and terminal, keyset paging, and the day's totals per terminal."""
    for _, body, _ in ALL_RESULTS:
        assert live.post(body).content == ACK
    live.processed_deliveries(len(ALL_RESULTS))
    assert [tx["order_id"] for tx in live.transactions(date="2024-03-05")] == [
        "240305131447-1494113052"
    ]
    assert [tx["order_id"] for tx in live.transactions(status="cancelled")] == [
        "210304142730-1490293930"
    ]
    on_terminal = live.transactions(terminal_id="1490293930")
    assert sorted((tx["order_id"], tx["kind"]) for tx in on_terminal) == [
        ("210304142730-1490293930", "cancellation"),
        ("210304142730-1490293930", "sale"),
        ("210304143337-1490293930", "sale"),
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 5} if cursor is None else {"limit": 5, "cursor": cursor}
        page = live.api.get("/api/transactions", params=params).json()
        assert len(page["items"]) <= 5
        seen += [tx["key"] for tx in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 19
    report = live.api.get("/api/reports/daily", params={"date": "2021-03-04"}).json()
    totals = report["totals"]
    assert totals["approved"] == {"count": 1, "amount": "2.00"}
    assert totals["cancelled"] == {"count": 1, "amount": "1.00"}  # the cancelled sale, once
    assert totals["net"] == "2.00"
    (terminal,) = report["by_terminal"]
    assert (terminal["id"], terminal["net"]) == ("1490293930", "2.00")


def test_bad_query_parameters_are_400(live: Live) -> None:
    """Out-of-range paging and malformed dates are 400 bad_request, not 500."""
    for query in ("limit=0", "limit=501", "limit=abc", "cursor=-1", "date=yesterday"):
        answer = live.api.get(f"/api/transactions?{query}")
        assert answer.status_code == 400, query
        assert answer.json()["error"] == "bad_request"
    assert live.api.get("/api/reports/daily?date=2024-13-01").status_code == 400


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/api/transactions?status=aproved", "status"),
        ("/api/transactions?status=cancelled_by_user", "status"),
        ("/api/transactions?kind=reprint", "kind"),
        ("/api/transactions?format=xml", "format"),
        ("/api/deliveries?outcome=bogus", "outcome"),
        ("/api/deliveries?kind=refund", "kind"),
    ],
)
def test_a_filter_value_that_does_not_exist_is_400_naming_the_choices(
    live: Live, url: str, named: str
) -> None:
    """A filter value outside its choices (a typo) is a 400 that lists them, not an empty
    page that reads as "nothing today"."""
    answer = live.api.get(url)

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert answer.json()["message"].startswith(f"{named} must be one of: ")
    assert live.api.get(url.split("=")[0] + "=").status_code == 200  # empty: no filter


def test_csv_cells_that_begin_like_a_formula_are_kept_as_text(live: Live) -> None:
    """A folio or message that begins like a spreadsheet formula is exported with a leading
    apostrophe (Excel shows it, never runs it); amounts stay numbers."""
    body = json.loads(sale_body("csv-1"))
    body.update(folioNumber='=HYPERLINK("http://x","y")', message="@SUM(1+1)")
    assert live.post(json.dumps(body).encode()).content == ACK
    wait_until(live.transactions, lambda found: len(found) == 1, what="the sale processed")

    answer = live.api.get("/api/transactions", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))

    assert [row["folio_number"] for row in rows] == ['\'=HYPERLINK("http://x","y")']
    assert [row["message"] for row in rows] == ["'@SUM(1+1)"]
    assert [row["amount"] for row in rows] == ["200.00"]


def test_the_documented_push_amount_is_what_the_receiver_accepts(live: Live) -> None:
    """The OpenAPI pattern for a push's amount accepts exactly the amounts the receiver
    registers (greater than zero, two decimals at most) and refuses the ones it answers 400."""
    document = live.bare.get("/openapi.json").json()
    schema = document["paths"]["/api/pushes"]["post"]["requestBody"]["content"]
    pattern = re.compile(schema["application/json"]["schema"]["properties"]["amount"]["pattern"])
    for n, amount in enumerate(["0", "0.00", "1.005", "-1", "0.01", "0.10", "150.5", "00.5"]):
        # A terminal of its own each time: a registered push keeps its terminal busy.
        answer = live.api.post(
            "/api/pushes", json={**PUSH, "terminal_id": f"AMT{n}", "amount": amount}
        )
        assert (answer.status_code == 201) is bool(pattern.match(amount)), (amount, answer.text)


def test_asking_without_a_token_is_no_failed_attempt(database_url: str) -> None:
    """Requests that offer no token at all (every visit to the dashboard asks whether it is
    signed in) are 401 but never lead to 429: they guess nothing."""
    with live_receiver(database_url, auth_failure_limit=5) as small:
        for _ in range(12):
            assert small.bare.get("/api/session").status_code == 401
        assert small.api.get("/api/transactions").status_code == 200


def test_a_signed_in_dashboard_is_let_through_a_lockout(database_url: str) -> None:
    """Wrong tokens from the same address lock out guesses, not a dashboard already signed in
    (its session cookie is signed: nothing to guess)."""
    with live_receiver(database_url, auth_failure_limit=5) as small:
        signed_in = small.bare.post("/session", json={"token": TOKEN})
        assert signed_in.status_code == 204
        # The cookie is Secure (httpx keeps it to https): the browser's header, by hand.
        browser = {"cookie": f"nps_session={signed_in.cookies['nps_session']}"}
        for n in range(5):
            wrong = {"authorization": f"Bearer wrong-{n}"}
            assert small.bare.get("/api/transactions", headers=wrong).status_code == 401
        assert small.bare.get("/api/transactions", headers=wrong).status_code == 429
        assert small.bare.get("/api/session", headers=browser).json()["signed_in"] is True
        assert small.bare.get("/api/transactions", headers=browser).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "unknown"),
    [
        ("/api/transactions", {"store": "455311"}, "store"),
        ("/api/transactions", {"date": "2024-03-05", "estado": "approved"}, "estado"),
        ("/api/deliveries", {"status": "new"}, "status"),
        ("/api/reports/daily", {"day": "2024-03-05"}, "day"),
        ("/api/exceptions", {"fecha": "2024-03-05"}, "fecha"),
        ("/api/pushes/nope", {"timeout": "5"}, "timeout"),
    ],
    ids=["store", "estado", "status", "day", "fecha", "timeout"],
)
def test_an_unknown_query_parameter_is_a_400_naming_the_right_ones(
    live: Live, path: str, params: dict[str, str], unknown: str
) -> None:
    """A misspelt filter is refused with the parameters the route takes, never answered with
    every row as if there were no filter."""
    answer = live.api.get(path, params=params)
    assert answer.status_code == 400, answer.text
    message = answer.json()["message"]
    assert message.startswith(f"unknown parameter {unknown};")
    assert "this route takes" in message


def test_openapi_declares_every_field_a_transaction_and_a_push_carry(live: Live) -> None:
    """A client generated from /openapi.json sees every field the API returns: each key of a
    real transaction (and its card) and of a real push is a declared property."""
    document = live.bare.get("/openapi.json").json()
    declared = document["components"]["schemas"]["Transaction"]["properties"]
    assert live.post(sale_body("schema-1")).content == ACK
    live.processed_deliveries(1)
    transaction = live.transaction("schema-1")
    assert set(transaction) <= set(declared), set(transaction) - set(declared)
    assert set(transaction["card"]) <= set(declared["card"]["properties"])
    pushed = _register(live, terminal_id="SCHEMA0001")
    schema = document["paths"]["/api/pushes"]["post"]["responses"]["201"]["content"]
    properties = schema["application/json"]["schema"]["properties"]
    fetched = live.api.get(f"/api/pushes/{pushed['id']}").json()
    assert set(pushed) | set(fetched) <= set(properties), (set(pushed) | set(fetched)) - set(
        properties
    )


def test_many_event_streams_read_each_transaction_once(live: Live) -> None:
    """Five open streams all get the delivery event, and its transaction is read from the
    database once for all of them, not once per stream."""
    from contextlib import ExitStack

    from sqlalchemy import event

    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if (
            re.search(r'WHERE transactions\."?key"? =', statement)
            and "JOIN deliveries" in statement
        ):
            reads.append(statement)

    engine = live.receiver.store.engines.read
    with ExitStack() as stack:
        streams = [
            stack.enter_context(live.api.stream("GET", "/api/events", timeout=5)) for _ in range(5)
        ]
        lines = [stream.iter_lines() for stream in streams]
        for each in lines:
            assert next(each) == ": connected"
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert live.post(sale_body("fan-1")).content == ACK
            for each in lines:
                data = next(line for line in each if line.startswith("data: "))
                assert json.loads(data[6:])["transaction"]["order_id"] == "fan-1"
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(reads) == 1, reads
