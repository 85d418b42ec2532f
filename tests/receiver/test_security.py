"""What another web page, or a client that only wants to tie the receiver up, cannot do:
sign in (or spend the address's failed attempts) from another origin, make a signed-in
browser change state, send bodies the API would hold in memory, frame the dashboard."""

from __future__ import annotations

import logging
import socket

import pytest

from netpay_smart.receiver.ops import RedactWebhookSecret

from .helpers import SECRET, TOKEN, Live, live_receiver, sale_body

OTHER_PORT = "http://127.0.0.1:1"  # another port on the same host: same site, not same origin
PUSH = {"kind": "sale", "terminal_id": "SEC0000001", "amount": "1.00"}


def _session(live: Live) -> dict[str, str]:
    """A dashboard session's cookie, as the browser sends it (httpx keeps Secure ones to https)."""
    signed_in = live.bare.post("/session", json={"token": TOKEN})
    assert signed_in.status_code == 204, signed_in.text
    return {"cookie": f"nps_session={signed_in.cookies['nps_session']}"}


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": OTHER_PORT},
        {"origin": "null"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "cross-site", "origin": "http://evil.example"},
    ],
    ids=["other-port", "null-origin", "same-site", "cross-site"],
)
def test_sign_in_from_another_origin_is_refused_and_not_counted(
    database_url: str, headers: dict[str, str]
) -> None:
    """A page elsewhere posting to /session gets 403, however many times: the address is never
    locked out by it, and the POS's token still works."""
    with live_receiver(database_url, auth_failure_limit=3) as small:
        for n in range(6):
            answer = small.bare.post("/session", data={"token": f"guess-{n}"}, headers=headers)
            assert answer.status_code == 403
            assert answer.json()["error"] == "cross_origin"
        assert small.api.get("/api/transactions").status_code == 200
        own = {"origin": small.base, "sec-fetch-site": "same-origin"}
        assert small.bare.post("/session", json={"token": TOKEN}, headers=own).status_code == 204


def test_sign_in_from_the_dashboard_itself_works_with_json_and_a_form(live: Live) -> None:
    """The dashboard's own page (same origin, or a browser too old to say) signs in."""
    own = {"origin": live.base}
    assert live.bare.post("/session", json={"token": TOKEN}, headers=own).status_code == 204
    form = live.bare.post("/session", data={"token": f" {TOKEN} "}, headers=own)
    assert form.status_code == 204
    assert form.cookies["nps_session"]


def test_sign_in_checks_the_lockout_before_reading_the_body(database_url: str) -> None:
    """A locked-out address gets 429 at once, even for a body it announces as huge."""
    with live_receiver(database_url, auth_failure_limit=2) as small:
        for n in range(2):
            assert small.bare.post("/session", json={"token": f"no-{n}"}).status_code == 401
        host, port = small.base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(
                b"POST /session HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b"content-length: 500000000\r\n\r\n{"
            )
            assert raw.recv(4096).startswith(b"HTTP/1.1 429 ")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"token":"' + b"x" * 10_000 + b'"}', "application/json"),
        (b"[" * 200_000 + b"]" * 200_000, "application/json"),
        (b"token=" + b"x" * 10_000, "application/x-www-form-urlencoded"),
    ],
    ids=["long-json", "deep-json", "long-form"],
)
def test_sign_in_refuses_a_body_longer_than_a_token(
    live: Live, content: bytes, content_type: str
) -> None:
    """Sign-in bodies past 4 KiB get 413 unread; nothing else in it is decoded."""
    answer = live.bare.post("/session", content=content, headers={"content-type": content_type})
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"


def test_sign_in_refuses_a_chunked_body_past_the_limit(live: Live) -> None:
    """Without a Content-Length the limit still holds: the body is counted as it comes."""

    def chunks() -> object:
        for _ in range(100):
            yield b"x" * 1024

    answer = live.bare.post(
        "/session", content=chunks(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413


def test_sign_in_takes_no_multipart_body(live: Live) -> None:
    """A multipart body (files would be spooled to disk) is refused with 415."""
    answer = live.bare.post("/session", files={"token": ("t.txt", TOKEN.encode())})
    assert answer.status_code == 415
    assert answer.json()["error"] == "unsupported_media_type"


def test_deeply_nested_json_in_sign_in_is_a_wrong_token_not_a_500(live: Live) -> None:
    """JSON nested past any recursion limit but under the size limit is read as no token."""
    answer = live.bare.post(
        "/session", content=b"[" * 2000 + b"]" * 2000, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 401


def test_a_dashboard_session_cannot_register_or_change_a_push(live: Live) -> None:
    """A signed-in browser reads the API but cannot POST or PATCH (another page on the same
    site could make it): 401 with a hint, no failed attempt counted, no push registered."""
    browser = _session(live)
    assert live.bare.get("/api/transactions", headers=browser).status_code == 200
    for _ in range(70):  # more than the lockout limit: none of them is a failed attempt
        posted = live.bare.post("/api/pushes", content=str(PUSH).replace("'", '"'), headers=browser)
        assert posted.status_code == 401
        assert "Bearer" in posted.json()["message"]
    patched = live.bare.patch("/api/pushes/nope", json={"state": "failed"}, headers=browser)
    assert patched.status_code == 401
    assert live.api.get("/api/transactions").status_code == 200  # not locked out
    registered = live.api.post("/api/pushes", json=PUSH)  # the terminal is not busy
    assert registered.status_code == 201, registered.text


def test_push_bodies_past_64_kib_are_refused(live: Live) -> None:
    """POST and PATCH on pushes refuse bodies past 64 KiB with 413."""
    big = b'{"kind":"sale","terminal_id":"SEC0000002","note":"' + b"x" * 70_000 + b'"}'
    headers = {"content-type": "application/json"}
    assert live.api.post("/api/pushes", content=big, headers=headers).status_code == 413
    assert live.api.patch("/api/pushes/x", content=big, headers=headers).status_code == 413


def test_sign_out_from_another_origin_is_refused(live: Live) -> None:
    """Another page cannot sign the merchant out (403); the dashboard itself can (204)."""
    refused = live.bare.post("/session/logout", headers={"sec-fetch-site": "cross-site"})
    assert refused.status_code == 403
    signed_out = live.bare.post("/session/logout", headers={"sec-fetch-site": "same-origin"})
    assert signed_out.status_code == 204


def test_pages_and_api_answers_carry_the_browser_protections(live: Live) -> None:
    """The dashboard forbids framing and foreign scripts; API answers are not cached."""
    page = live.bare.get("/")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    answer = live.api.get("/api/transactions")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert live.bare.get("/static/app.js").headers["x-content-type-options"] == "nosniff"


def test_an_encoded_slash_is_no_webhook_address(live: Live) -> None:
    """``/webhook%2F<secret>`` is refused (404) and stores nothing; terminals send the slash."""
    answer = live.bare.post(f"/webhook%2F{SECRET}", content=sale_body("enc-1"))
    assert answer.status_code == 404
    assert live.post(sale_body("enc-2")).status_code == 200
    live.processed_deliveries(1)
    assert [t["order_id"] for t in live.transactions()] == ["enc-2"]


def test_log_redaction_hides_a_secret_after_an_encoded_slash() -> None:
    """Access-log lines hide what follows ``/webhook%2F`` (either case) as well."""
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1", "POST", f"/webhook%2f{SECRET}?x=1", "1.1", 404), None,
    )  # fmt: skip
    RedactWebhookSecret().filter(record)
    assert SECRET not in record.getMessage()
    assert "/webhook%2f***?x=1" in record.getMessage()


def test_signing_out_ends_the_session_for_a_copy_of_the_cookie_too(live: Live) -> None:
    """After sign-out, the same cookie (copied from the browser, say) no longer opens the API;
    another session signed in meanwhile goes on."""
    copied = _session(live)
    other = _session(live)
    assert live.bare.get("/api/session", headers=copied).status_code == 200
    signed_out = live.bare.post(
        "/session/logout", headers={**copied, "sec-fetch-site": "same-origin"}
    )
    assert signed_out.status_code == 204
    assert live.bare.get("/api/session", headers=copied).status_code == 401
    assert live.bare.get("/api/transactions", headers=copied).status_code == 401
    assert live.bare.get("/api/session", headers=other).status_code == 200


def test_session_cookies_are_random_and_not_made_from_the_token(live: Live) -> None:
    """Two sign-ins in the same second get different cookies, neither holding the token or
    anything signed with it (a stolen cookie is no way to test guesses of the token)."""
    import hashlib
    import hmac

    first, second = (_session(live)["cookie"].split("=", 1)[1] for _ in range(2))
    assert first != second
    for value in (first, second):
        assert TOKEN not in value
        for part in value.split("."):
            for payload in (part, f"session:{part}"):
                signed = hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha256).hexdigest()
                assert signed not in value


def test_a_card_number_in_a_logged_address_is_masked() -> None:
    """An access-log line whose address carries a card number (``?card=…``) shows only its
    last four digits; other numbers (order ids, dates) are left as they are."""
    path = "/api/transactions?folio=4111111111111111&order_id=240305131447-1494113052"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1", "GET", path, "1.1", 400), None,
    )  # fmt: skip
    RedactWebhookSecret().filter(record)
    line = record.getMessage()
    assert "4111111111111111" not in line
    assert "folio=************1111&" in line
    assert "order_id=240305131447-1494113052" in line
