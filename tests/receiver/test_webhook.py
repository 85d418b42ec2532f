"""``POST /webhook/{secret}`` over real HTTP: the ack, what is stored, how it is normalised."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest

from netpay_smart._personal import hide, without_personal
from tests.wire import vectors as v
from tests.wire.vectors import ALL_RESULTS

from .helpers import ACK, SECRET, Live, live_receiver, sale_body

CST = timezone(timedelta(hours=-6))
#: The documented sale that is also reprinted and cancelled in the seed-002 examples.
REPRINTED_AND_CANCELLED = "210304142730-1490293930"


def _key(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def _documented_moment(trans_date: str) -> datetime:
    """``2021-03-04 14:27:31.CST`` read by hand: CST is UTC-6."""
    assert trans_date.endswith(".CST"), trans_date
    return datetime.strptime(trans_date[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)


def _ok(answer: Any, name: str = "") -> None:
    assert (answer.status_code, answer.content) == (200, ACK), name
    assert answer.headers["content-type"] == "application/json"


# --------------------------------------------------------------------------------------------
# Every documented body
# --------------------------------------------------------------------------------------------


def test_every_documented_body_gets_the_exact_ack_and_is_kept_as_sent(live: Live) -> None:
    """Each documented body is answered 200 with the exact ack bytes and stored unchanged."""
    for name, body, _ in ALL_RESULTS:
        _ok(live.post(body), name)
    deliveries = list(reversed(live.processed_deliveries(len(ALL_RESULTS))))
    for (name, body, expected), delivery in zip(ALL_RESULTS, deliveries, strict=True):
        assert delivery["body"] == hide(body).decode(), name  # lists hide name and signature
        assert delivery["size"] == len(body), name
        assert delivery["truncated"] is False, name
        assert delivery["kind"] == expected.kind, name
        outcome = {"probe": "probe", "reprint": "reprint"}.get(expected.kind, "new")
        assert delivery["outcome"] == outcome, name
        assert (delivery["transaction_key"] is None) == (expected.kind == "probe"), name


def test_every_documented_result_is_normalised_as_the_docs_say(live: Live) -> None:
    """Each result becomes a transaction with the documented kind, status, amount and time."""
    for name, body, _ in ALL_RESULTS:
        _ok(live.post(body), name)
    live.processed_deliveries(len(ALL_RESULTS))
    by_raw = {_key(tx["raw"]): tx for tx in live.transactions()}  # raw without personal data
    results = [(n, b, e) for n, b, e in ALL_RESULTS if e.kind not in ("probe", "reprint")]
    assert len(by_raw) == len(results) == 19
    for name, body, expected in results:
        raw = without_personal(json.loads(body))
        tx = by_raw[_key(raw)]
        cancelled = expected.kind == "sale" and expected.order_id == REPRINTED_AND_CANCELLED
        assert tx["kind"] == expected.kind, name
        assert tx["order_id"] == expected.order_id, name
        assert tx["response_code"] == expected.response_code, name
        assert tx["approved"] is expected.approved, name
        assert tx["status"] == ("cancelled" if cancelled else expected.status), name
        assert tx["cancelled"] is cancelled, name
        assert tx["amount"] == (None if expected.amount is None else f"{expected.amount:.2f}")
        assert tx["reprint_count"] == (1 if cancelled else 0), name
        assert tx["delivery_count"] == (2 if cancelled else 1), name
        assert tx["terminal_id"] == raw.get("terminalId"), name
        assert tx["folio_number"] == (raw.get("folioNumber") or None), name
        assert tx["message"] == raw["message"], name
        assert tx["traceability"] == raw["traceability"], name
        if "transDate" in raw:
            moment = datetime.fromisoformat(tx["transaction_at"])
            assert moment.utcoffset() == timedelta(hours=-6), name
            assert moment == _documented_moment(raw["transDate"]), name
        else:
            assert tx["transaction_at"] is None, name
        assert datetime.fromisoformat(tx["received_at"]).utcoffset() is not None, name


def test_real_2024_sale_reads_as_the_api_promises(live: Live) -> None:
    """The captured 2024 sale: "200.00", tip "0.00", -06:00 time, raw equal to what was sent."""
    _ok(live.post(v.FACTS_REAL_SALE_2024.encode()))
    live.processed_deliveries(1)
    tx = live.transaction("240305131447-1494113052")
    assert tx["amount"] == "200.00"
    assert tx["tip_amount"] == "0.00"
    assert tx["transaction_at"] == "2024-03-05T13:14:48-06:00"
    assert (tx["kind"], tx["status"], tx["approved"]) == ("sale", "approved", True)
    assert (tx["terminal_id"], tx["folio_number"]) == ("1494113052", "16")
    assert tx["raw"] == json.loads(v.FACTS_REAL_SALE_2024)
    assert tx["traceability"]["folio_venta"] == "23MAT99"


def test_reprint_and_cancellation_fold_into_their_sale(live: Live) -> None:
    """Sale, reprint, cancellation: one sale, reprinted once, cancelled, the cancellation kept."""
    for body in (v.SEED002_APPROVED_NO_PIN, v.SEED002_REPRINT, v.SEED002_CANCEL):
        _ok(live.post(body.encode()))
    live.processed_deliveries(3)
    found = live.transaction(REPRINTED_AND_CANCELLED)
    assert (found["kind"], found["status"], found["cancelled"]) == ("sale", "cancelled", True)
    assert (found["reprint_count"], found["delivery_count"]) == (1, 2)
    assert found["raw"] == json.loads(v.SEED002_APPROVED_NO_PIN)
    assert found["cancellation"]["kind"] == "cancellation"
    assert found["cancellation"]["approved"] is True
    assert found["cancellation"]["amount"] == "1.00"
    assert [d["outcome"] for d in found["deliveries"]] == ["new", "reprint", "new"]
    sales = live.transactions(kind="sale")
    assert [tx["order_id"] for tx in sales] == [REPRINTED_AND_CANCELLED]


def test_reprint_alone_stands_in_for_the_sale_until_it_arrives(live: Live) -> None:
    """The sale is still approved after its reprint, never a second sale; the original fills in."""
    _ok(live.post(v.SEED002_REPRINT.encode()))
    live.processed_deliveries(1)
    recovered = live.transaction(REPRINTED_AND_CANCELLED)
    assert (recovered["kind"], recovered["status"]) == ("sale", "approved")
    assert recovered["reprint_count"] == 1
    _ok(live.post(v.SEED002_APPROVED_NO_PIN.encode()))
    live.processed_deliveries(2)
    filled = live.transaction(REPRINTED_AND_CANCELLED)
    assert (filled["status"], filled["reprint_count"], filled["delivery_count"]) == (
        "approved",
        1,
        2,
    )
    assert filled["raw"] == json.loads(v.SEED002_APPROVED_NO_PIN)
    assert len(live.transactions()) == 1


def test_cancellation_before_its_sale_still_cancels_it(live: Live) -> None:
    """A cancellation that arrives before its sale marks the sale cancelled when it comes."""
    _ok(live.post(v.SEED002_CANCEL.encode()))
    _ok(live.post(v.SEED002_APPROVED_NO_PIN.encode()))
    live.processed_deliveries(2)
    sale = live.transaction(REPRINTED_AND_CANCELLED)
    assert (sale["kind"], sale["status"], sale["cancelled"]) == ("sale", "cancelled", True)
    assert sale["amount"] == "1.00"
    assert sale["cancellation"]["kind"] == "cancellation"
    assert sorted(tx["kind"] for tx in live.transactions()) == ["cancellation", "sale"]


def test_redelivered_result_counts_once(live: Live) -> None:
    """The same result sent again, even re-spaced, is one transaction with three deliveries."""
    body = v.FACTS_REAL_SALE_2024.encode()
    respaced = json.dumps(json.loads(body), indent=3, ensure_ascii=False).encode()
    for each in (body, body, respaced):
        _ok(live.post(each))
    deliveries = list(reversed(live.processed_deliveries(3)))
    assert [d["outcome"] for d in deliveries] == ["new", "duplicate", "duplicate"]
    assert {d["transaction_key"] for d in deliveries} == {"sale:240305131447-1494113052"}
    assert deliveries[2]["body"] == hide(respaced).decode()
    (tx,) = live.transactions()
    assert (tx["delivery_count"], tx["conflict_count"]) == (3, 0)
    assert tx["raw"] == without_personal(json.loads(body))
    metrics = live.bare.get("/metrics").text
    assert "netpay_duplicates_total 2\n" in metrics


def test_same_order_id_with_another_body_keeps_the_first(live: Live) -> None:
    """A second, different body for the same sale is a conflict; the first one stays."""
    _ok(live.post(sale_body("c-1")))
    _ok(live.post(sale_body("c-1", amount="999.0")))
    deliveries = list(reversed(live.processed_deliveries(2)))
    assert [d["outcome"] for d in deliveries] == ["new", "conflict"]
    tx = live.transaction("c-1")
    assert (tx["amount"], tx["conflict_count"], tx["delivery_count"]) == ("200.00", 1, 2)


def test_declines_without_order_id_are_found_by_folio(live: Live) -> None:
    """Declines carry no orderId; ``?folio=`` finds the three sent with folio "prueba"."""
    bodies = [
        v.SEED002_DECLINED_34_NEW_APP,
        v.SEED002_CONNECTION_ERROR_05,
        v.SEED002_TIMEOUT_02_NEW_APP,
        v.SEED002_DECLINED_34,  # same code, no folio: must not be found
    ]
    for body in bodies:
        _ok(live.post(body.encode()))
    live.processed_deliveries(len(bodies))
    found = live.transactions(folio="prueba")
    assert sorted(tx["response_code"] for tx in found) == ["02", "05", "34"]
    for tx in found:
        assert (tx["kind"], tx["order_id"], tx["approved"]) == ("sale", None, False)
        assert tx["folio_number"] == "prueba"
    statuses = {tx["response_code"]: tx["status"] for tx in found}
    assert statuses == {"02": "user_cancelled", "05": "declined", "34": "declined"}
    assert live.transactions(folio="nothing") == []


def test_both_probes_are_acknowledged_and_kept_without_a_transaction(live: Live) -> None:
    """The documented probe and the newer ``listOfPays`` one: 200, probe deliveries, no sale."""
    for body in (v.SEED001_PROBE, v.PROBE_LIST_OF_PAYS):
        _ok(live.post(body.encode()))
    deliveries = list(reversed(live.processed_deliveries(2)))
    assert [(d["outcome"], d["kind"]) for d in deliveries] == [("probe", "probe")] * 2
    assert [d["body"] for d in deliveries] == [v.SEED001_PROBE, v.PROBE_LIST_OF_PAYS]
    assert [d["transaction_key"] for d in deliveries] == [None, None]
    assert live.transactions() == []
    assert len(live.deliveries(outcome="probe")) == 2


# --------------------------------------------------------------------------------------------
# Addresses and methods
# --------------------------------------------------------------------------------------------


def test_wrong_secret_is_404_and_writes_nothing(live: Live) -> None:
    """A wrong, truncated, extended or empty secret answers 404 and stores nothing."""
    body = sale_body("w-1")
    for wrong in ("x" * 20, SECRET[:-1], SECRET + "x", SECRET.upper(), ""):
        answer = live.post(body, secret=wrong)
        assert answer.status_code == 404, wrong
        assert answer.json()["error"] == "not_found"
    # A good post after them: once it is processed, anything written before would show too.
    _ok(live.post(sale_body("w-2")))
    (only,) = live.processed_deliveries(1)
    assert json.loads(only["body"])["orderId"] == "w-2"
    assert [tx["order_id"] for tx in live.transactions()] == ["w-2"]


def test_get_on_the_webhook_is_405(live: Live) -> None:
    """GET, PUT and DELETE on the right address answer 405 with ``Allow: POST``; nothing kept."""
    for method in ("GET", "PUT", "DELETE"):
        answer = live.bare.request(method, f"/webhook/{SECRET}")
        assert answer.status_code == 405, method
        assert answer.headers["allow"] == "POST"
        assert answer.json()["error"] == "method_not_allowed"
    assert live.bare.get("/webhook/" + "x" * 20).status_code == 404
    assert live.deliveries() == []
    assert 'netpay_webhook_requests_total{status="405"} 3' in live.bare.get("/metrics").text


def test_two_secrets_during_a_rotation_are_both_accepted(database_url: str) -> None:
    """With the old and the new secret configured, both addresses take results; others 404."""
    old, new = "o" * 24, "n" * 24
    with live_receiver(database_url, webhook_secrets=(old, new)) as rotating:
        _ok(rotating.post(sale_body("r-1"), secret=old))
        _ok(rotating.post(sale_body("r-2"), secret=new))
        assert rotating.post(sale_body("r-3"), secret=SECRET).status_code == 404
        rotating.processed_deliveries(2)
        assert sorted(tx["order_id"] for tx in rotating.transactions()) == ["r-1", "r-2"]


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_body_that_is_not_json_is_400_and_kept(live: Live) -> None:
    """Not JSON: 400 ``not_json`` with a message, and the body is stored as ``invalid``."""
    answer = live.post(b"responseCode=00&orderId=1")
    assert answer.status_code == 400
    problem = answer.json()
    assert problem["error"] == "not_json"
    assert problem["message"]
    (delivery,) = live.processed_deliveries(1)
    assert (delivery["outcome"], delivery["body"]) == ("invalid", "responseCode=00&orderId=1")
    assert delivery["error"]
    assert live.transactions() == []


def test_json_array_is_400_not_object_and_kept(live: Live) -> None:
    """A JSON array: 400 ``not_object``, stored as ``invalid``."""
    answer = live.post(b'[{"responseCode":"00"}]')
    assert answer.status_code == 400
    assert answer.json()["error"] == "not_object"
    (delivery,) = live.processed_deliveries(1)
    assert (delivery["outcome"], delivery["body"]) == ("invalid", '[{"responseCode":"00"}]')


def test_empty_body_is_400_and_kept(live: Live) -> None:
    """An empty body: 400 ``empty``, and an empty delivery is recorded."""
    answer = live.post(b"")
    assert answer.status_code == 400
    assert answer.json()["error"] == "empty"
    (delivery,) = live.processed_deliveries(1)
    assert (delivery["outcome"], delivery["size"], delivery["body"]) == ("invalid", 0, "")


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbf" + sale_body("x-1"),
        b'{"responseCode":"00","message":"Transacci\xf3n exitosa","orderId":"x-1"}',
    ],
    ids=["utf8-bom", "latin-1"],
)
def test_bom_and_latin1_bodies_are_accepted(live: Live, body: bytes) -> None:
    """A UTF-8 BOM and a Latin-1 body (older terminals) are read and acknowledged."""
    _ok(live.post(body))
    (delivery,) = live.processed_deliveries(1)
    assert delivery["outcome"] == "new"
    assert delivery["size"] == len(body)
    tx = live.transaction("x-1")
    assert tx["message"] == "Transacción exitosa"
    assert tx["response_code"] == "00"


def test_body_at_the_limit_is_accepted(database_url: str) -> None:
    """A body of exactly ``max_body_size`` bytes is a normal result."""
    body = sale_body("l-1")
    body = body[:-1] + b" " * (2048 - len(body)) + b"}"
    assert len(body) == 2048
    with live_receiver(database_url, max_body_size=2048) as small:
        _ok(small.post(body))
        (delivery,) = small.processed_deliveries(1)
        assert (delivery["outcome"], delivery["size"]) == ("new", 2048)


def test_body_over_the_limit_with_content_length_is_413(database_url: str) -> None:
    """Content-Length over the limit: 413 ``too_large``, recorded as truncated, no transaction."""
    body = sale_body("big-1", customerName="X" * 3000)
    with live_receiver(database_url, max_body_size=2048) as small:
        answer = small.post(body)
        assert answer.status_code == 413
        assert answer.json()["error"] == "too_large"
        (delivery,) = small.processed_deliveries(1)
        assert (delivery["outcome"], delivery["truncated"]) == ("too_large", True)
        assert delivery["size"] <= 2048
        assert small.transactions() == []


def test_chunked_body_over_the_limit_is_413(database_url: str) -> None:
    """A chunked body (no Content-Length) over the limit: 413, only the first 2048 bytes kept."""
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(64):
            sent.append(i)
            yield b"[" + b"1," * 511 + b"1]"  # 1 KiB each

    with live_receiver(database_url, max_body_size=2048) as small:
        answer = small.bare.post(f"/webhook/{SECRET}", content=chunks())
        assert answer.request.headers.get("transfer-encoding") == "chunked"
        assert answer.status_code == 413
        assert answer.json()["error"] == "too_large"
        (delivery,) = small.processed_deliveries(1)
        assert (delivery["outcome"], delivery["truncated"], delivery["size"]) == (
            "too_large",
            True,
            2048,
        )
        assert delivery["body"] == (b"[" + b"1," * 511 + b"1]" + b"[" + b"1," * 511)[:2048].decode()


def test_chunked_body_over_the_limit_is_refused_before_it_ends(database_url: str) -> None:
    """The 413 comes while the client is still sending: the receiver does not read it all."""
    with live_receiver(database_url, max_body_size=2048) as small:
        where = urlsplit(small.base)
        assert where.hostname is not None and where.port is not None
        head = (
            f"POST /webhook/{SECRET} HTTP/1.1\r\nHost: {where.hostname}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        chunk = b"{" + b" " * 2999
        with socket.create_connection((where.hostname, where.port), timeout=5) as conn:
            # 3000 bytes of a body that never ends: no terminating zero-length chunk.
            conn.sendall(head + b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                data = conn.recv(4096)
                assert data, "connection closed without an answer"
                answer += data
        assert answer.startswith(b"HTTP/1.1 413 ")
        (delivery,) = small.processed_deliveries(1)
        assert (delivery["outcome"], delivery["size"]) == ("too_large", 2048)


# --------------------------------------------------------------------------------------------
# Card numbers
# --------------------------------------------------------------------------------------------


def test_luhn_valid_card_number_is_masked_everywhere_it_is_shown(live: Live) -> None:
    """A full card number in traceability is masked to its last four; other digits stay."""
    traceability = {"tarjeta": "4111111111111111", "referencia": "1234567890123456"}
    _ok(live.post(sale_body("pan-1", traceability=traceability)))
    (delivery,) = live.processed_deliveries(1)
    assert "4111111111111111" not in delivery["body"]
    assert '"tarjeta": "************1111"' in delivery["body"]
    assert '"referencia": "1234567890123456"' in delivery["body"]
    expected = {"tarjeta": "************1111", "referencia": "1234567890123456"}
    (listed,) = live.transactions()
    assert listed["traceability"] == expected
    assert listed["raw"]["traceability"] == expected
    tx = live.transaction("pan-1")
    assert tx["traceability"] == expected
    assert "4111111111111111" not in json.dumps(tx)
    assert "netpay_pans_masked_total 1\n" in live.bare.get("/metrics").text


def test_luhn_valid_json_number_keeps_the_result_readable(live: Live) -> None:
    """A Luhn-valid JSON number in traceability (a ms timestamp) does not break the result."""
    traceability = {"ts": 1709665488008, "tarjeta": 4111111111111111}
    answer = live.post(sale_body("num-1", traceability=traceability))
    assert (answer.status_code, answer.content) == (200, ACK), answer.text
    (delivery,) = live.processed_deliveries(1)
    assert delivery["outcome"] == "new"
    assert "4111111111111111" not in delivery["body"]
    tx = live.transaction("num-1")
    assert set(tx["traceability"]) == {"ts", "tarjeta"}
    assert "4111111111111111" not in json.dumps(tx)


def test_card_number_cut_at_the_size_limit_is_not_kept_in_clear(database_url: str) -> None:
    """A chunked body over the limit whose cut falls inside a card number keeps no 13+ digits."""
    head, tail = b'{"traceability":{"pad":"', b'","tarjeta":"'
    padding = b"x" * (2048 - len(head) - len(tail) - 15)
    body = head + padding + tail + b'4111111111111111"}}'  # the limit falls after 15 digits
    with live_receiver(database_url, max_body_size=2048) as small:
        answer = small.bare.post(f"/webhook/{SECRET}", content=iter([body]))
        assert answer.status_code == 413
        (delivery,) = small.processed_deliveries(1)
        assert delivery["size"] <= 2048  # the cut digits are dropped, not kept
        assert "4111111111111" not in delivery["body"]
        assert delivery["body"].endswith('"tarjeta":"')


def test_deliveries_endpoint_never_shows_a_masked_number_in_clear(live: Live) -> None:
    """A card number in the folio and in a non-JSON body is masked in the stored body too."""
    _ok(live.post(sale_body("pan-2", folioNumber="5555555555554444")))
    assert live.post(b"card=4111111111111111").status_code == 400
    deliveries = live.processed_deliveries(2)
    bodies = " ".join(d["body"] for d in deliveries)
    assert "5555555555554444" not in bodies
    assert "4111111111111111" not in bodies
    assert "card=************1111" in bodies
    assert live.transaction("pan-2")["folio_number"] == "************4444"


def test_readyz_says_unavailable_while_results_cannot_be_stored(tmp_path: Any) -> None:
    """SQLite that can no longer be written (read-only file, full disk): results get 503 and
    so does /readyz, until a write goes through again; then both recover by themselves."""
    from sqlalchemy import event

    with live_receiver(f"sqlite:///{tmp_path / 'ro.sqlite3'}") as live:
        assert live.post(sale_body("ro-1")).content == ACK
        live.processed_deliveries(1)
        engine = live.receiver.store.engines.write

        def read_only(dbapi: Any, _record: Any) -> None:
            dbapi.execute("PRAGMA query_only=ON")

        event.listen(engine, "connect", read_only)
        engine.pool.dispose()  # idle connections reopen read-only
        writer = live.receiver.store.writer
        assert writer is not None
        for connection in list(writer._connections.values()):
            connection.exec_driver_sql("PRAGMA query_only=ON")
        assert live.post(sale_body("ro-2")).status_code == 503
        refused = live.bare.get("/readyz")
        assert refused.status_code == 503
        assert refused.json()["status"] == "unavailable"
        assert refused.json()["database_reachable"] is False
        event.remove(engine, "connect", read_only)
        engine.pool.dispose()
        ready = live.bare.get("/readyz")
        assert (ready.status_code, ready.json()["status"]) == (200, "ready")
        assert live.post(sale_body("ro-3")).content == ACK


def test_a_write_cut_short_by_shutdown_is_answered_503_not_500() -> None:
    """When the server stops waiting for a commit (shutdown while the database hangs), the
    terminal gets 503 with Retry-After (send again), not uvicorn's bare 500."""
    import asyncio

    from netpay_smart.receiver.ops import AuthFailures, Metrics
    from netpay_smart.receiver.webhook import Webhook

    class HangingStore:
        """A database that never answers."""

        async def write(self, _item: Any) -> int:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def main() -> None:
        webhook = Webhook(
            HangingStore(),  # type: ignore[arg-type]
            secrets=(SECRET,), max_body_size=65536, metrics=Metrics(),
            clock=lambda: datetime.now(UTC), failures=AuthFailures(),
        )  # fmt: skip
        body = sale_body("hang-1")

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": f"/webhook/{SECRET}",
                 "client": ("127.0.0.1", 5000)}  # fmt: skip
        task = asyncio.create_task(webhook(scope, receive, send))
        await asyncio.sleep(0.05)  # waiting on the commit now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"1") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["error"] == "unavailable"
