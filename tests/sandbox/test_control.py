"""The control API under /sandbox/: terminals, response URLs, manual mode, the clock."""

from __future__ import annotations

import pytest

from .conftest import MakeSandbox
from .harness import OTHER_SERIAL, SAVED, SERIAL, STORE, Live

DOCUMENTED_PROBE = (
    b'{"folioNumber":"","hasPin":false,"internalNumber":"","isQps":0.0,"preStatus":0.0,'
    b'"tableId":""}'
)
LIST_OF_PAYS_PROBE = (
    b'{"folioNumber":"","internalNumber":"","tableId":"","listOfPays":[],'
    b'"tipTotalAmount":"","totalAmount":""}'
)


def test_list_terminals(live: Live) -> None:
    """GET /sandbox/terminals lists every terminal, idle, with its store and response URL."""
    answer = live.control("GET", "/terminals")
    assert answer.status_code == 200
    terminals = {t["serial"]: t for t in answer.json()}
    assert set(terminals) == {SERIAL, OTHER_SERIAL}
    mine = terminals[SERIAL]
    assert (mine["store_id"], mine["smart_accounts"]) == (STORE, [STORE, "455312"])
    assert (mine["state"], mine["busy"], mine["mode"]) == ("idle", False, "auto")
    assert mine["response_url"] == live.recorder.url
    assert mine["screen"] == SAVED
    assert mine["operation"] is None


def test_startup_probe_is_the_documented_one(live: Live) -> None:
    """With a webhook URL, every terminal posts the documented probe when the sandbox starts."""
    assert live.recorder.raw() == [DOCUMENTED_PROBE, DOCUMENTED_PROBE]


@pytest.mark.parametrize(
    ("probe", "body"),
    [
        (None, DOCUMENTED_PROBE),
        ("documented", DOCUMENTED_PROBE),
        ("list_of_pays", LIST_OF_PAYS_PROBE),
    ],
)
def test_put_response_url_sends_the_probe(live: Live, probe: str | None, body: bytes) -> None:
    """Saving a response URL posts the probe to it; the screen says "Datos guardados"."""
    live.sold("1.00")
    assert live.terminal()["screen"] != SAVED
    url = f"{live.recorder.url}?caja=2"
    request = {"url": url} if probe is None else {"url": url, "probe": probe}
    answer = live.control("PUT", f"/terminals/{SERIAL}/response-url", request)
    assert answer.status_code == 200
    assert answer.json()["response_url"] == url
    live.wait_terminal(lambda t: t["screen"] == SAVED)
    assert live.recorder.raw()[-1] == body


def test_probe_to_a_failing_service(live: Live) -> None:
    """A probe the service answers with 500: the terminal says it could not save."""
    live.recorder.status = 500
    live.control("PUT", f"/terminals/{SERIAL}/response-url", {"url": live.recorder.url})
    snapshot = live.wait_terminal(lambda t: "No se pudo guardar" in t["screen"])
    assert snapshot["state"] == "idle"


@pytest.mark.parametrize(
    "body",
    [{"url": "ftp://example.com/x"}, {}, {"url": "http://x", "probe": "other"}],
)
def test_bad_response_url_is_400(shared: Live, body: dict[str, str]) -> None:
    """A response URL that is not http(s), or an unknown probe shape: 400."""
    answer = shared.control("PUT", f"/terminals/{SERIAL}/response-url", body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert shared.terminal()["response_url"] == shared.recorder.url


def test_without_a_response_url_nothing_is_posted(make_sandbox: MakeSandbox) -> None:
    """A terminal with no response URL finishes the sale and says it has nowhere to post."""
    with make_sandbox(webhook=False) as live:
        assert live.terminal()["response_url"] is None
        live.sale("1.00")
        live.wait_terminal(lambda t: "Sin URL de respuesta" in t["screen"] and t["state"] == "idle")
        assert live.recorder.raw() == []


def manual(live: Live) -> None:
    answer = live.control("PUT", f"/terminals/{SERIAL}/mode", {"mode": "manual"})
    assert answer.status_code == 200
    assert answer.json()["mode"] == "manual"


def acted(live: Live, action: str, **options: str) -> dict[str, object]:
    answer = live.act(action, **options)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_manual_signature_sale(live: Live) -> None:
    """Manual mode: present_card, sign, approve; the approved result is posted then."""
    manual(live)
    live.sale("12.34", folioNumber="M-1")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    assert acted(live, "present_card")["screen"] == "Ingrese su firma"
    snapshot = acted(live, "sign")
    assert snapshot["state"] == "authorising"
    live.settle()
    assert live.recorder.results() == []
    result = live.expect(lambda: acted(live, "approve"))
    assert (result["responseCode"], result["folioNumber"], result["amount"]) == (
        "00",
        "M-1",
        "12.34",
    )
    assert result["hasPin"] is False


def test_manual_pin_sale_declined(live: Live) -> None:
    """Manual mode with a PIN card: "Ingrese su NIP", pin, decline with code 51."""
    manual(live)
    live.sale("12.34")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    assert acted(live, "present_card", card="visa_debit_pin")["screen"] == "Ingrese su NIP"
    assert acted(live, "pin")["state"] == "authorising"
    result = live.expect(lambda: acted(live, "decline", code="51"))
    assert result["responseCode"] == "51"
    assert result["cardTypeName"] == "VISA"


def test_manual_verification_override(live: Live) -> None:
    """present_card with verification "pin" asks for the PIN even on a signature card."""
    manual(live)
    live.sale("1.00")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    snapshot = acted(live, "present_card", verification="pin")
    assert (snapshot["state"], snapshot["screen"]) == ("pin", "Ingrese su NIP")


def test_manual_cancel(live: Live) -> None:
    """Manual mode: the cancel action posts 02 "Cancelado por el Usuario"."""
    manual(live)
    live.sale("1.00")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    result = live.expect(lambda: acted(live, "cancel"))
    assert (result["responseCode"], result["message"]) == ("02", "Cancelado por el Usuario")


def test_manual_mode_times_out_without_a_card(live: Live) -> None:
    """Manual mode: with nobody at the terminal the sale times out after 60 s with 02."""
    manual(live)
    live.sale("1.00")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    result = live.expect(lambda: live.advance(60))
    assert result["responseCode"] == "02"


def test_cancel_action_in_auto_mode_while_waiting(live: Live) -> None:
    """In auto mode a person can still cancel a sale that waits for its card."""
    live.sale("0.02")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    assert live.expect(lambda: acted(live, "cancel"))["responseCode"] == "02"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "dance"}, "no sale in progress to dance"),
        ({"action": "approve"}, "no sale in progress to approve"),
        ({}, "action is required"),
        ({"action": "retry"}, "nothing to retry"),
    ],
)
def test_bad_action_on_an_idle_terminal_is_400(
    shared: Live, body: dict[str, str], message: str
) -> None:
    """Actions that make no sense on an idle terminal: 400 saying why."""
    answer = shared.control("POST", f"/terminals/{SERIAL}/actions", body)
    assert answer.status_code == 400
    assert answer.json() == {"error": "bad_request", "message": message}


def test_bad_action_during_a_sale_is_400(live: Live) -> None:
    """Out-of-turn actions and unknown cards during a manual sale: 400, the sale goes on."""
    manual(live)
    live.sale("1.00")
    live.wait_terminal(lambda t: t["state"] == "waiting_card")
    assert live.act("approve").status_code == 400
    assert live.act("dance").status_code == 400
    unknown = live.act("present_card", card="amex_gold")
    assert unknown.status_code == 400
    assert "unknown card" in unknown.json()["message"]
    assert live.terminal()["state"] == "waiting_card"


def test_bad_mode_is_400(shared: Live) -> None:
    """A mode other than auto or manual: 400."""
    answer = shared.control("PUT", f"/terminals/{SERIAL}/mode", {"mode": "turbo"})
    assert answer.status_code == 400
    assert shared.terminal()["mode"] == "auto"


def test_body_that_is_not_json_is_400(shared: Live) -> None:
    """A control body that is not JSON: 400."""
    answer = shared.http.put(f"{shared.url}/sandbox/terminals/{SERIAL}/mode", content=b"manual")
    assert answer.status_code == 400
    assert answer.json()["message"] == "the body must be JSON"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/terminals/1234567890", None),
        ("PUT", "/terminals/1234567890/mode", {"mode": "manual"}),
        ("PUT", "/terminals/1234567890/response-url", {"url": "http://x"}),
        ("POST", "/terminals/1234567890/actions", {"action": "cancel"}),
    ],
)
def test_unknown_serial_is_404(shared: Live, method: str, path: str, body: object) -> None:
    """Control calls on a serial the sandbox does not have: 404."""
    answer = shared.control(method, path, body)
    assert answer.status_code == 404
    assert answer.json() == {"error": "not_found", "message": "no terminal 1234567890"}


def test_clock_on_a_manual_clock(live: Live) -> None:
    """GET /sandbox/clock shows the time; POST moves it by seconds or sets it."""
    assert live.control("GET", "/clock").json() == {
        "now": "2024-03-05T18:00:00+00:00",
        "manual": True,
    }
    moved = live.control("POST", "/clock", {"advance": 90})
    assert moved.json()["now"] == "2024-03-05T18:01:30+00:00"
    set_to = live.control("POST", "/clock", {"set": "2024-03-05T20:01:00-06:00"})
    assert set_to.json()["now"] == "2024-03-05T20:01:00-06:00"
    assert live.control("POST", "/clock", {}).status_code == 400


def test_clock_on_the_system_clock_is_409(live_system: Live) -> None:
    """POST /sandbox/clock on a sandbox running on the real clock: 409."""
    answer = live_system.control("POST", "/clock", {"advance": 61})
    assert answer.status_code == 409
    assert answer.json()["error"] == "not_manual"
    assert live_system.control("GET", "/clock").json()["manual"] is False


def test_system_clock_sale(live_system: Live) -> None:
    """On the real clock a sale with zero delays is posted straight away."""
    result = live_system.sold("1.00")
    assert result["responseCode"] == "00"


def test_deliveries_log(live: Live) -> None:
    """GET /sandbox/deliveries lists every post with its answer and body."""
    result = live.sold("1.00")
    logged = live.control("GET", "/deliveries").json()
    *probes, delivery = logged
    assert sorted((d["serial"], d["probe"], d["ok"]) for d in probes) == [
        (SERIAL, True, True),
        (OTHER_SERIAL, True, True),
    ]
    assert (delivery["serial"], delivery["probe"]) == (SERIAL, False)
    assert (delivery["ok"], delivery["status"], delivery["attempt"]) == (True, 200, 1)
    assert delivery["detail"] == "HTTP 200, code '00'"
    assert delivery["body"] == result


def test_unparseable_response_url_does_not_brick_the_terminal(live: Live) -> None:
    """After a response URL with a bad port, saving a good one sends the probe again."""
    bad = live.control(
        "PUT", f"/terminals/{SERIAL}/response-url", {"url": "http://localhost:80a/x"}
    )
    assert bad.status_code in (200, 400)
    if bad.status_code == 200:
        live.wait_terminal(lambda t: "No se pudo guardar" in t["screen"], timeout=2)
    live.control("PUT", f"/terminals/{SERIAL}/response-url", {"url": live.recorder.url})
    live.wait_terminal(lambda t: t["screen"] == SAVED and len(live.recorder.raw()) == 3, timeout=2)
    assert live.sold("1.00")["responseCode"] == "00"
