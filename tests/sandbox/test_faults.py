"""Faults on the terminal → webhook leg, per push (traceability.npsSandbox) and per terminal."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import MakeSandbox
from .harness import OTHER_SERIAL, OTHER_STORE, SERIAL, Live, terminal_config, wait_for

FAILED_SCREEN = "No se pudo enviar"


def faulty(**faults: Any) -> dict[str, Any]:
    return {"traceability": {"npsSandbox": faults}}


def deliveries(live: Live, serial: str = SERIAL) -> list[dict[str, Any]]:
    """What the sandbox says it posted for ``serial``'s results (probes left out)."""
    answer = live.control("GET", "/deliveries")
    assert answer.status_code == 200
    return [d for d in answer.json() if d["serial"] == serial and not d["probe"]]


def wait_deliveries(live: Live, count: int) -> list[dict[str, Any]]:
    """Wait until the sandbox has heard the answers to ``count`` posts of results."""

    def done() -> list[dict[str, Any]] | None:
        found = deliveries(live)
        return found if len(found) >= count else None

    return wait_for(done, what=f"{count} deliveries")


def put_faults(live: Live, serial: str = SERIAL, **faults: Any) -> dict[str, Any]:
    answer = live.control("PUT", f"/terminals/{serial}/faults", faults)
    assert answer.status_code == 200, answer.text
    return answer.json()


def assert_held_until_the_clock_passes(live: Live, folio: str, seconds: int) -> None:
    live.wait_terminal(lambda t: t["state"] == "delivering")
    live.advance(seconds - 1)
    live.settle()
    assert live.recorder.results() == []
    assert live.terminal()["state"] == "delivering"
    result = live.expect(lambda: live.advance(1))
    assert (result["folioNumber"], result["responseCode"]) == (folio, "00")


def test_delay_per_push(live: Live) -> None:
    """npsSandbox delay 30: the result arrives only once the clock has moved 30 s."""
    live.sale("1.00", folioNumber="LATE", **faulty(delay=30))
    assert_held_until_the_clock_passes(live, "LATE", 30)


def test_delay_per_terminal(live: Live) -> None:
    """A terminal's delay fault holds every result, until it is cleared."""
    snapshot = put_faults(live, delay=30)
    assert snapshot["serial"] == SERIAL
    live.sale("1.00", folioNumber="LATE")
    assert_held_until_the_clock_passes(live, "LATE", 30)
    put_faults(live)
    assert live.sold("1.00", folioNumber="ON-TIME")["folioNumber"] == "ON-TIME"


def test_duplicate(live: Live) -> None:
    """duplicate: the recorder receives the very same body twice."""
    live.sale("1.00", folioNumber="TWICE", **faulty(duplicate=True))
    live.recorder.wait_results(2)
    live.wait_idle()
    first, second = [raw for raw in live.recorder.raw() if b'"TWICE"' in raw]
    assert first == second
    assert [d["ok"] for d in deliveries(live)] == [True, True]


def test_duplicate_on_the_real_clock_waits_for_the_first_answer(live_system: Live) -> None:
    """duplicate on the real clock: the copy waits for the first post's answer, then goes."""
    live = live_system
    live.recorder.hang = 30  # until released: the copy is due while the first is in flight
    live.sale("1.00", folioNumber="TWICE", **faulty(duplicate=True))
    live.recorder.wait_results(1)
    snapshot = live.terminal()  # the sandbox still answers while a post is in flight
    assert (snapshot["state"], snapshot["retry_pending"]) == ("delivering", False)
    assert len(live.recorder.results()) == 1
    live.recorder.released.set()
    first, second = live.recorder.wait_results(2)
    assert first == second
    assert first["folioNumber"] == "TWICE"
    live.wait_idle()
    assert [d["ok"] for d in deliveries(live)] == [True, True]


def test_out_of_order(live: Live) -> None:
    """out_of_order: result A is held until result B is posted, so B arrives first."""
    live.sale("1.00", folioNumber="A", **faulty(out_of_order=True))
    live.wait_terminal(lambda t: t["journal"] == 1 and t["state"] == "idle")
    assert live.recorder.results() == []
    live.sale("2.00", folioNumber="B")
    live.recorder.wait_results(2)
    assert [r["folioNumber"] for r in live.recorder.results()] == ["B", "A"]


def test_drop(live: Live) -> None:
    """drop: the result is never posted and the terminal says it could not send it."""

    def push() -> None:
        live.sale("1.00", folioNumber="LOST", **faulty(drop=True))
        live.wait_terminal(lambda t: FAILED_SCREEN in t["screen"] and t["state"] == "idle")

    live.posts_nothing(push)
    assert "LOST" not in [d["body"].get("folioNumber") for d in deliveries(live)]


def test_faults_once(live: Live) -> None:
    """A terminal fault with once: true applies to the next push only."""
    put_faults(live, duplicate=True, once=True)
    live.sale("1.00", folioNumber="DUP")
    live.recorder.wait_results(2)
    live.wait_idle()
    assert live.sold("2.00", folioNumber="SINGLE")["folioNumber"] == "SINGLE"
    live.settle()
    assert [r["folioNumber"] for r in live.recorder.results()] == ["DUP", "DUP", "SINGLE"]


def test_per_push_faults_replace_the_terminals(live: Live) -> None:
    """A push's own npsSandbox faults are used instead of the terminal's."""
    put_faults(live, drop=True)
    result = live.sold("1.00", folioNumber="DELIVERED", **faulty())
    assert result["folioNumber"] == "DELIVERED"


def test_recorder_answering_500_then_retry_action(live: Live) -> None:
    """A 500 from the response service is a failed delivery; the retry action posts again."""
    live.recorder.status = 500
    result = live.sold("1.00", folioNumber="RETRY")
    snapshot = live.terminal()
    assert FAILED_SCREEN in snapshot["screen"]
    (failed,) = deliveries(live)
    assert (failed["ok"], failed["status"], failed["attempt"]) == (False, 500, 1)

    live.recorder.status = 200
    again = live.expect(lambda: live.act("retry"))
    assert again == result
    assert [(d["ok"], d["attempt"]) for d in deliveries(live)] == [(False, 1), (True, 2)]
    assert live.act("retry").status_code == 400  # nothing left to retry


def test_retry_is_refused_once_another_sale_has_started(live: Live) -> None:
    """Reintentar during the next sale: 400 and the sale goes on; after it, the retry posts."""
    live.recorder.status = 500
    failed = live.sold("1.00", folioNumber="FAILED")
    live.recorder.status = 200
    assert live.control("PUT", f"/terminals/{SERIAL}/mode", {"mode": "manual"}).status_code == 200
    live.sale("2.00", folioNumber="NEXT")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    refused = live.act("retry")
    assert refused.status_code == 400
    assert refused.json()["message"] == "cannot retry: another sale has started on the terminal"
    assert live.terminal()["operation"]["folio"] == "NEXT"
    cancelled = live.expect(lambda: live.act("cancel"))
    assert (cancelled["folioNumber"], cancelled["responseCode"]) == ("NEXT", "02")
    assert live.expect(lambda: live.act("retry")) == failed


def test_recorder_answering_wrong_code_is_a_failure(live: Live) -> None:
    """A 200 whose body is not code "00" is a failed delivery too."""
    live.recorder.status = 202  # answers {"error": "boom"}: no code "00"
    live.sold("1.00")
    (failed,) = deliveries(live)
    assert (failed["ok"], failed["status"]) == (False, 202)
    assert FAILED_SCREEN in live.terminal()["screen"]


def test_retry_after_reposts_when_the_clock_moves(live: Live) -> None:
    """retry_after 10: after a failure the terminal posts again once 10 s have passed."""
    live.recorder.status = 500
    live.sale("1.00", folioNumber="AGAIN", **faulty(retry_after=10))
    live.recorder.wait_results(1)
    live.wait_terminal(lambda t: FAILED_SCREEN in t["screen"])
    live.recorder.status = 200
    live.advance(9)
    live.settle()
    assert len(live.recorder.results()) == 1
    assert live.terminal()["busy"] is True  # still holding the result to send
    live.advance(1)
    live.recorder.wait_results(2)
    live.wait_idle()
    first, second = [raw for raw in live.recorder.raw() if b'"AGAIN"' in raw]
    assert first == second
    assert [(d["ok"], d["attempt"]) for d in deliveries(live)] == [(False, 1), (True, 2)]


def test_retry_after_gives_up_after_its_retries(live: Live) -> None:
    """With retries 2, a service that keeps failing gets three attempts, then the cashier's."""
    live.recorder.status = 500
    live.sale("1.00", **faulty(retry_after=5, retries=2))
    wait_deliveries(live, 1)
    live.advance(5)
    wait_deliveries(live, 2)
    live.advance(5)
    wait_deliveries(live, 3)
    live.wait_idle()
    live.advance(3600)
    live.settle()
    assert len(live.recorder.results()) == 3
    assert [d["attempt"] for d in deliveries(live)] == [1, 2, 3]
    live.recorder.status = 200
    live.expect(lambda: live.act("retry"))
    assert deliveries(live)[-1]["ok"] is True


def test_hanging_service_counts_as_failed(make_sandbox: MakeSandbox) -> None:
    """A service that answers later than delivery_timeout (0.5 s) is a failed delivery."""
    terminals = (
        terminal_config(delivery_timeout=0.5),
        terminal_config(OTHER_SERIAL, OTHER_STORE),
    )
    with make_sandbox(terminals=terminals) as live:
        live.recorder.hang = 30
        live.sale("1.00", folioNumber="SLOW")
        live.recorder.wait_results(1)
        live.wait_terminal(lambda t: FAILED_SCREEN in t["screen"] and t["state"] == "idle")
        (failed,) = deliveries(live)
        assert (failed["ok"], failed["status"]) == (False, None)
        assert "Timeout" in failed["detail"]
        live.recorder.hang = 0
        live.expect(lambda: live.act("retry"))
        assert deliveries(live)[-1]["ok"] is True


@pytest.mark.parametrize(
    "faults",
    [{"explode": True}, {"delay": -1}, {"retry_after": -5}, ["delay"]],
)
def test_bad_terminal_faults_are_400(shared: Live, faults: Any) -> None:
    """Unknown or negative faults are refused with 400 and change nothing."""
    answer = shared.control("PUT", f"/terminals/{SERIAL}/faults", faults)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    before = len(shared.recorder.results())
    assert shared.sold("1.00")["responseCode"] == "00"
    shared.settle()
    assert len(shared.recorder.results()) == before + 1


def test_faults_of_an_unknown_terminal_is_404(shared: Live) -> None:
    """PUT faults on a serial the sandbox does not have: 404."""
    answer = shared.control("PUT", "/terminals/1234567890/faults", {"drop": True})
    assert answer.status_code == 404


def test_non_integer_retries_is_400(live: Live) -> None:
    """A retries fault that is not a whole number is refused with 400."""
    faults = {"retry_after": 1, "retries": "x"}
    answer = live.control("PUT", f"/terminals/{SERIAL}/faults", faults)
    assert answer.status_code == 400
    body = {"traceability": {"npsSandbox": faults}, "amount": 1, "storeId": "1"}
    pushed = live.push("sale", {**body, "serialNumber": SERIAL})
    assert pushed.status_code == 400
