"""Registered pushes: results complete them, and a terminal takes one push at a time."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from netpay_smart import wire
from netpay_smart.errors import TerminalBusyError
from netpay_smart.store import PushRequest, Store

from .helpers import (
    NOW,
    TERMINAL,
    deliver,
    deliver_together,
    encode,
    real_sale,
    reprint_of,
    sale,
    tx_rows,
)

ORDER = "240305131447-1494113052"


def _register(store: Store, *, now: datetime = NOW, **changes: Any) -> str:
    """Register a push (by default: a 200.00 sale, folio F1, on TERMINAL); returns its id."""
    fields: dict[str, Any] = {
        "kind": "sale",
        "terminal_id": TERMINAL,
        "folio_number": "F1",
        "amount": Decimal("200.00"),
    }
    fields.update(changes)
    pushed = store.register_push(PushRequest(**fields), now=now)
    assert pushed["state"] == "registered"
    return str(pushed["id"])


def test_register_push_records_what_will_be_sent(store: Store) -> None:
    """A registered push shows its kind, terminal, amount as a string, folio and expiry."""
    pushed = store.register_push(
        PushRequest(kind="sale", terminal_id=TERMINAL, folio_number="F1", amount=Decimal("200.00")),
        now=NOW,
    )

    assert pushed["kind"] == "sale"
    assert pushed["terminal_id"] == TERMINAL
    assert pushed["amount"] == "200.00"
    assert pushed["folio_number"] == "F1"
    assert pushed["state"] == "registered"
    assert pushed["created_at"] == "2024-03-05T13:20:00-06:00"
    assert pushed["expires_at"] == "2024-03-05T13:22:00-06:00"
    assert len(pushed["id"]) == 32
    again = store.get_push(pushed["id"], now=NOW)
    assert again is not None
    assert again["result"] is None
    assert {k: again[k] for k in pushed} == pushed


def test_result_carrying_push_id_completes_the_push(store: Store) -> None:
    """A result whose traceability carries our push id completes that push with its transaction."""
    push_id = _register(store)
    applied = deliver(store, real_sale(traceability={wire.TRACE_KEY: push_id, "caja": "3"}))

    assert applied.push_ids == [push_id]
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert found["state"] == "completed"
    assert found["result_status"] == "approved"
    assert found["completed_at"] == "2024-03-05T13:20:00-06:00"
    assert found["transaction_key"] == f"sale:{ORDER}"
    result = found["result"]
    assert (result["delivery_id"], result["status"], result["kind"]) == (
        applied.delivery_id,
        "approved",
        "sale",
    )
    assert result["transaction"]["amount"] == "200.00"
    assert result["transaction"]["push_id"] == push_id
    assert result["body"]["traceability"] == {wire.TRACE_KEY: push_id, "caja": "3"}


def test_declined_result_completes_the_push_as_declined(store: Store) -> None:
    """A decline carrying the push id completes the push with result_status "declined"."""
    push_id = _register(store)
    applied = deliver(
        store,
        {
            "responseCode": "51",
            "message": "FONDOS INSUFICIENTES",
            "folioNumber": "F1",
            "traceability": {wire.TRACE_KEY: push_id},
        },
    )

    assert applied.push_ids == [push_id]
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert (found["state"], found["result_status"]) == ("completed", "declined")
    assert found["result"]["transaction"]["response_code"] == "51"


def test_result_matches_push_by_folio_without_the_id(store: Store) -> None:
    """Without our id, a sale result with the push's folio and terminal completes it."""
    # Registered 30 minutes ago, so only the folio can match it (not terminal + time).
    push_id = _register(store, now=NOW - timedelta(minutes=30), ttl_seconds=3600, folio_number="F9")
    applied = deliver(store, real_sale(folioNumber="F9"))

    assert applied.push_ids == [push_id]
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert found["state"] == "completed"
    assert found["result"]["transaction"]["folio_number"] == "F9"


def test_result_matches_push_by_terminal_and_time(store: Store) -> None:
    """Without id or folio, a sale result completes the terminal's sale push of the last 15 min."""
    push_id = _register(store, now=NOW - timedelta(minutes=14), folio_number=None, ttl_seconds=3600)
    applied = deliver(store, real_sale(folioNumber="OTHER"))

    assert applied.push_ids == [push_id]
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert (found["state"], found["result_status"]) == ("completed", "approved")
    [row] = tx_rows(store)
    assert row.push_id == push_id


def test_terminal_and_time_match_needs_the_pushs_amount(store: Store) -> None:
    """A late result for another amount is another sale's: it does not complete the push open
    on its terminal, which would tell that cashier a sale was approved that was never made."""
    push_id = _register(store, folio_number=None, amount=Decimal("20.00"))
    applied = deliver(store, real_sale(folioNumber=None, amount="10.0", tipLessAmount="10.0"))

    assert applied.push_ids == []
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert (found["state"], found["result"]) == ("registered", None)


def test_terminal_and_time_match_counts_a_tip_added_at_the_terminal(store: Store) -> None:
    """A result whose amount is the push's plus a tip (``tipLessAmount`` the push's) matches."""
    push_id = _register(store, folio_number=None, amount=Decimal("200.00"))
    applied = deliver(
        store,
        real_sale(folioNumber=None, amount="230.0", tipAmount="30.0", tipLessAmount="200.0"),
    )

    assert applied.push_ids == [push_id]


def test_terminal_and_time_match_needs_the_pushs_folio(store: Store) -> None:
    """A result with another folio does not complete, by terminal and time, a push that
    named its own folio (same amount, same terminal, a minute before)."""
    push_id = _register(store, now=NOW - timedelta(minutes=1), folio_number="F2")
    applied = deliver(store, real_sale(folioNumber="F3"))

    assert applied.push_ids == []
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert (found["state"], found["result"]) == ("registered", None)


def test_result_naming_another_push_is_not_matched_by_time(store: Store) -> None:
    """A result carrying the id of a push of ours that is no longer open (given up on) answers
    that push only: it does not complete the next push on its terminal."""
    given_up = _register(store, folio_number=None)
    assert store.update_push_state(given_up, "failed", now=NOW)
    latest = _register(store, folio_number=None)
    applied = deliver(store, real_sale(folioNumber=None, traceability={"npsPushId": given_up}))

    assert applied.push_ids == []
    found = store.get_push(latest, now=NOW)
    assert found is not None
    assert (found["state"], found["result"]) == ("registered", None)


def test_a_result_without_a_store_takes_the_store_of_the_push_it_answers(store: Store) -> None:
    """An approved result without ``storeId`` (older apps send none) is counted under the
    store its push named; a result that names its store keeps it."""
    push_id = _register(store, store_id="455312")
    body = real_sale()
    del body["traceability"]["store_id_netpay"]  # not a key the receiver reads; no storeId
    deliver(store, {**body, "traceability": {"npsPushId": push_id}})
    named = _register(store, terminal_id="0800000001", store_id="455312", folio_number="F2")
    deliver(store, sale("other-1", terminalId="0800000001", folioNumber="F2", storeId="1"))

    [first, second] = sorted(tx_rows(store), key=lambda row: row.order_id)
    assert (first.order_id, first.store_id, first.push_id) == (ORDER, "455312", push_id)
    assert (second.order_id, second.store_id, second.push_id) == ("other-1", "1", named)
    assert store.daily_report(NOW.date())["by_store"][0]["id"] == "1"


def test_terminal_and_time_match_stops_after_fifteen_minutes(store: Store) -> None:
    """A push registered more than 15 minutes before the result is not matched by time."""
    push_id = _register(store, now=NOW - timedelta(minutes=16), folio_number=None, ttl_seconds=3600)
    applied = deliver(store, real_sale(folioNumber="OTHER"))

    assert applied.push_ids == []
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert found["state"] == "registered"


def test_terminal_and_time_match_needs_the_same_kind(store: Store) -> None:
    """A sale result does not complete a reprint push open on the same terminal."""
    push_id = _register(store, kind="reprint", folio_number=None, amount=None)
    applied = deliver(store, real_sale(folioNumber="OTHER"))

    assert applied.push_ids == []
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert found["state"] == "registered"


def test_unsolicited_result_leaves_pushes_alone(store: Store) -> None:
    """A result from another terminal with another folio completes nothing and has no push id."""
    push_id = _register(store)
    applied = deliver(store, real_sale(terminalId="0800000000", folioNumber="X"))

    assert (applied.outcome, applied.push_ids) == ("new", [])
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert (found["state"], found["result"]) == ("registered", None)
    [row] = tx_rows(store)
    assert row.push_id is None
    transaction = store.get_transaction(ORDER)
    assert transaction is not None
    assert transaction["push_id"] is None


def test_second_exclusive_push_on_busy_terminal_is_refused(store: Store) -> None:
    """A second exclusive push on a terminal with an open push raises TerminalBusyError."""
    first = _register(store)

    with pytest.raises(TerminalBusyError) as caught:
        _register(store, folio_number="F2")

    assert caught.value.code == "terminal_busy"
    assert caught.value.description == first
    assert TERMINAL in str(caught.value)


def test_other_terminal_is_not_busy(store: Store) -> None:
    """An open push on one terminal does not block another terminal."""
    _register(store)
    other = _register(store, terminal_id="0800000000")
    assert other


def test_non_exclusive_push_is_accepted_on_busy_terminal(store: Store) -> None:
    """exclusive=False registers even while the terminal is busy."""
    _register(store)
    second = _register(store, exclusive=False, folio_number="F2")
    assert second


def test_completed_push_frees_the_terminal(store: Store) -> None:
    """Once its result completes the push, the terminal takes a new one."""
    first = _register(store)
    deliver(store, real_sale(traceability={wire.TRACE_KEY: first}))

    second = _register(store, folio_number="F2")
    assert second != first


def test_expired_push_frees_the_terminal(store: Store) -> None:
    """A push past its ttl no longer blocks the terminal and shows as expired."""
    first = _register(store, ttl_seconds=1)
    later = NOW + timedelta(seconds=2)

    found = store.get_push(first, now=later)
    assert found is not None
    assert found["state"] == "expired"
    second = _register(store, now=later, folio_number="F2")
    assert second != first


def test_failed_push_frees_the_terminal(store: Store) -> None:
    """update_push_state "failed" frees the terminal; a second update of a closed push is False."""
    first = _register(store)

    assert store.update_push_state(first, "failed", now=NOW) is True
    found = store.get_push(first, now=NOW)
    assert found is not None
    assert found["state"] == "failed"
    assert _register(store, folio_number="F2") != first
    assert store.update_push_state(first, "sent", now=NOW) is False


def test_sent_push_keeps_the_terminal_busy(store: Store) -> None:
    """A push marked sent is still open: the terminal stays busy."""
    first = _register(store)
    assert store.update_push_state(first, "sent", now=NOW) is True

    with pytest.raises(TerminalBusyError):
        _register(store, folio_number="F2")


def test_registering_same_id_twice_is_harmless(store: Store) -> None:
    """Registering a push id again returns the same push instead of raising busy."""
    first = store.register_push(
        PushRequest(id="push-1", kind="sale", terminal_id=TERMINAL, amount=Decimal("5.00")),
        now=NOW,
    )
    again = store.register_push(
        PushRequest(id="push-1", kind="sale", terminal_id=TERMINAL, amount=Decimal("5.00")),
        now=NOW + timedelta(seconds=3),
    )

    assert first["id"] == again["id"] == "push-1"
    assert again["created_at"] == first["created_at"]
    assert again["state"] == "registered"


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"kind": "refund", "terminal_id": TERMINAL}, "kind must be one of"),
        ({"kind": "sale", "terminal_id": "  "}, "terminal_id is required"),
        ({"kind": "sale", "terminal_id": TERMINAL, "ttl_seconds": 0.5}, "ttl_seconds"),
        ({"kind": "sale", "terminal_id": TERMINAL, "amount": Decimal("0")}, "amount must"),
        ({"kind": "sale", "terminal_id": TERMINAL, "amount": Decimal("1.005")}, "amount must"),
    ],
)
def test_bad_push_request_is_refused(
    store: Store, request_fields: dict[str, Any], message: str
) -> None:
    """Unknown kind, blank terminal, ttl below 1 s, non-positive or 3-decimal amount: ValueError."""
    with pytest.raises(ValueError, match=message):
        store.register_push(PushRequest(**request_fields), now=NOW)
    assert _register(store)  # nothing was registered: the terminal is still free


def test_reprint_by_folio_completes_lost_sale_push(store: Store) -> None:
    """A reprint by folio (isRePrint true) completes the open sale push whose result was lost."""
    sale_push = _register(store, folio_number="24LNA_TNP_33", amount=Decimal("75.00"))
    later = NOW + timedelta(minutes=20)  # past the sale push's ttl, beyond the time window
    reprint = reprint_of(sale("O-LOST", "75.0", folioNumber="24LNA_TNP_33"))

    applied = deliver(store, reprint, now=later)

    assert applied.outcome == "reprint"
    assert applied.push_ids == [sale_push]
    found = store.get_push(sale_push, now=later)
    assert found is not None
    assert (found["state"], found["result_status"]) == ("completed", "approved")
    transaction = found["result"]["transaction"]
    assert (transaction["order_id"], transaction["amount"], transaction["source"]) == (
        "O-LOST",
        "75.00",
        "reprint",
    )


def test_reprint_by_folio_completes_its_own_push_and_the_lost_sale_push(store: Store) -> None:
    """The reprint push (by our id) and the expired sale push (by folio) both complete."""
    sale_push = _register(store, folio_number="F5", amount=Decimal("75.00"))
    later = NOW + timedelta(minutes=5)
    reprint_push = _register(store, now=later, kind="reprint", folio_number="F5", amount=None)
    reprint = reprint_of(
        sale("O-LOST", "75.0", folioNumber="F5"), traceability={wire.TRACE_KEY: reprint_push}
    )

    applied = deliver(store, reprint, now=later)

    assert applied.push_ids == sorted([sale_push, reprint_push])
    for push_id in (sale_push, reprint_push):
        found = store.get_push(push_id, now=later)
        assert found is not None
        assert (found["state"], found["transaction_key"]) == ("completed", "sale:O-LOST")


def test_reprint_naming_the_sale_push_completes_the_reprint_push_by_folio(store: Store) -> None:
    """A reprint whose traceability names its sale's push (completed long ago, as when a
    terminal echoes the original's JSON) completes the open reprint push for its folio on
    its terminal; one for another folio or terminal stays open."""
    sale_push = _register(store, folio_number="F6", amount=Decimal("75.00"))
    declined = sale("O-05", "75.0", folioNumber="F6", responseCode="05", message="Error")
    declined["traceability"] = {wire.TRACE_KEY: sale_push}
    deliver(store, declined)
    later = NOW + timedelta(minutes=1)
    reprint = {"kind": "reprint", "amount": None, "exclusive": False, "now": later}
    reprint_push = _register(store, folio_number="F6", **reprint)
    other_folio = _register(store, folio_number="F7", **reprint)
    other_terminal = _register(store, folio_number="F6", terminal_id="9999999999", **reprint)
    result = reprint_of(sale("O-05", "75.0", folioNumber="F6"), module="RV")
    result["traceability"] = {wire.TRACE_KEY: sale_push}

    applied = deliver(store, result, now=later)

    assert applied.push_ids == [reprint_push]
    found = store.get_push(reprint_push, now=later)
    assert found is not None
    assert (found["state"], found["result_status"]) == ("completed", "reversed")
    for push_id in (other_folio, other_terminal):
        still = store.get_push(push_id, now=later)
        assert still is not None
        assert still["state"] != "completed"


def test_a_sale_push_answered_05_follows_its_sale_to_the_bank_order_id(store: Store) -> None:
    """The sale push a 05 completed points at the sale once a reprint reports the bank's
    approval reversed: its result is the reversed sale under the bank's orderId."""
    sale_push = _register(store, folio_number="F8", amount=Decimal("0.70"))
    declined = {"responseCode": "05", "message": "Error de conexión", "folioNumber": "F8",
                "terminalId": TERMINAL, "traceability": {wire.TRACE_KEY: sale_push}}  # fmt: skip
    deliver(store, declined)
    reprint = reprint_of(sale("O-8", "0.70", folioNumber="F8"), module="RV")

    deliver(store, reprint, now=NOW + timedelta(seconds=5))

    found = store.get_push(sale_push, now=NOW)
    assert found is not None
    assert found["transaction_key"] == "sale:O-8"
    transaction = found["result"]["transaction"]
    assert (transaction["order_id"], transaction["status"]) == ("O-8", "reversed")


def test_cancellation_completes_cancel_push_by_order_id(store: Store) -> None:
    """An approved cancellation completes the open cancel push registered for its orderId."""
    deliver(store, real_sale())
    push_id = _register(
        store,
        kind="cancel",
        order_id=ORDER,
        folio_number=None,
        amount=None,
        now=NOW - timedelta(minutes=30),
        ttl_seconds=3600,
    )
    applied = deliver(store, {**real_sale(), "transType": "V", "folioNumber": "Z"})

    assert applied.push_ids == [push_id]
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert found["state"] == "completed"
    assert found["transaction_key"] == f"cancellation:{ORDER}"


def test_conflicting_result_completes_no_push(store: Store) -> None:
    """A conflicting body for a known order does not complete a push."""
    deliver(store, real_sale())
    push_id = _register(store)
    applied = deliver(store, real_sale(amount="1.0", traceability={wire.TRACE_KEY: push_id}))

    assert (applied.outcome, applied.push_ids) == ("conflict", [])
    found = store.get_push(push_id, now=NOW)
    assert found is not None
    assert found["state"] == "registered"


def test_unknown_push_is_none(store: Store) -> None:
    """get_push of an id never registered is None."""
    assert store.get_push("nope", now=NOW) is None


def test_a_chunk_of_results_completes_each_push_it_answers(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Three results processed in one chunk, each answering its own push: every push ends
    completed with its result, and the chunk needs no second, one-by-one pass (on PostgreSQL
    the matching reads come after writes sent without waiting for their answers)."""
    push_ids = [
        _register(store, terminal_id=f"14941130{n}", folio_number=f"F{n}") for n in range(3)
    ]
    bodies = [
        encode(sale(f"{ORDER}-{n}", traceability={wire.TRACE_KEY: push_id}))
        for n, push_id in enumerate(push_ids)
    ]
    caplog.set_level("WARNING", logger="netpay_smart.store")
    ids, applied = deliver_together(store, bodies)

    assert [(a.outcome, a.push_ids) for a in applied] == [("new", [p]) for p in push_ids]
    for n, push_id in enumerate(push_ids):
        found = store.get_push(push_id, now=NOW)
        assert found is not None
        assert (found["state"], found["transaction_key"]) == ("completed", f"sale:{ORDER}-{n}")
        assert found["result"]["delivery_id"] == ids[n]
    assert "one by one" not in caplog.text
