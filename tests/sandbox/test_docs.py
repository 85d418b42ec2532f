"""NetPay's own examples (seeds/000) against the sandbox, with only the base URL changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from typing import Any

import httpx
import pytest

from tests.wire.vectors import (
    SEED000_CANCEL_REQUEST,
    SEED000_REPRINT_REQUEST,
    SEED000_SALE_REQUEST,
)

from .harness import BASIC, PUSHED, SERIAL, STORE, Live

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")
PREFIXES = pytest.mark.parametrize("prefix", ["", "/gateway"], ids=["root", "gateway"])

TOKEN_KEYS = {"access_token", "token_type", "refresh_token", "expires_in", "scope", "jti"}


def curl(*args: str) -> tuple[int, dict[str, Any]]:
    """Run curl as the docs do (plus -s and a status line); return (status, JSON body)."""
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-s", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def documented_token_curl(base: str) -> list[str]:
    """The seed's first token request, word for word."""
    return [
        "--location",
        "--request",
        "POST",
        f"{base}/oauth-service/oauth/token",
        "--header",
        "Content-Type: application/x-www-form-urlencoded",
        "--header",
        "Authorization: Basic dHJ1c3RlZC1hcHA6c2VjcmV0",
        "--form",
        "grant_type=password",
        "--form",
        "username=Nacional",
        "--form",
        "password=netpay",
    ]


def assert_documented_token(body: dict[str, Any]) -> None:
    assert set(body) == TOKEN_KEYS
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 43199
    assert body["scope"] == "read write"
    assert str(uuid.UUID(body["jti"])) == body["jti"]
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert isinstance(body["refresh_token"], str) and body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]


def assert_token_works(live: Live, token: str) -> None:
    answer = live.push(
        "sale", {"amount": 1, "serialNumber": "0", "storeId": "1"}, token=token
    )  # an unknown terminal: the gateway accepted the token, then looked for the terminal
    assert answer.status_code == 200
    assert answer.json() == {"code": "19", "message": "No se encontró la terminal"}


@needs_curl
@PREFIXES
def test_documented_token_curl_word_for_word(shared: Live, prefix: str) -> None:
    """The seed's token curl, header and --form fields unchanged, gets the documented token."""
    status, body = curl(*documented_token_curl(f"{shared.url}{prefix}"))
    assert status == 200, body
    assert_documented_token(body)


@needs_curl
@PREFIXES
def test_token_curl_with_form_fields(shared: Live, prefix: str) -> None:
    """The seed's --form fields sent as multipart/form-data get the documented token."""
    args = documented_token_curl(f"{shared.url}{prefix}")
    del args[4:6]  # curl's own multipart Content-Type instead of the docs' override
    status, body = curl(*args)
    assert status == 200, body
    assert_documented_token(body)
    assert_token_works(shared, body["access_token"])


@needs_curl
@PREFIXES
def test_token_curl_urlencoded(shared: Live, prefix: str) -> None:
    """The documented request structure (form-urlencoded body) gets the documented token."""
    status, body = curl(
        "--location",
        "--request",
        "POST",
        f"{shared.url}{prefix}/oauth-service/oauth/token",
        "--header",
        "Content-Type: application/x-www-form-urlencoded",
        "--header",
        f"Authorization: Basic {BASIC}",
        "--data-urlencode",
        "grant_type=password",
        "--data-urlencode",
        "username=Nacional",
        "--data-urlencode",
        "password=netpay",
    )
    assert status == 200, body
    assert_documented_token(body)
    assert_token_works(shared, body["access_token"])


@PREFIXES
def test_token_with_httpx_multipart_and_urlencoded(shared: Live, prefix: str) -> None:
    """httpx with the same two encodings (multipart, urlencoded) gets the documented token."""
    url = f"{shared.url}{prefix}/oauth-service/oauth/token"
    fields = {"grant_type": "password", "username": "Nacional", "password": "netpay"}
    headers = {"Authorization": f"Basic {BASIC}"}
    multipart = httpx.post(
        url, files={k: (None, v) for k, v in fields.items()}, headers=headers, timeout=10
    )
    assert multipart.request.headers["content-type"].startswith("multipart/form-data")
    urlencoded = httpx.post(url, data=fields, headers=headers, timeout=10)
    assert urlencoded.request.headers["content-type"] == "application/x-www-form-urlencoded"
    for answer in (multipart, urlencoded):
        assert answer.status_code == 200, answer.text
        assert_documented_token(answer.json())


@needs_curl
@PREFIXES
def test_documented_refresh_curl(shared: Live, prefix: str) -> None:
    """The seed's refresh curl (--data-urlencode) trades a refresh token for new tokens."""
    first = shared.token_response(
        {"grant_type": "password", "username": "Nacional", "password": "netpay"}
    ).json()
    status, body = curl(
        "-L",
        "-X",
        "POST",
        f"{shared.url}{prefix}/oauth-service/oauth/token",
        "-H",
        "Content-Type: application/x-www-form-urlencoded",
        "-H",
        f"Authorization: Basic {BASIC}",
        "--data-urlencode",
        "grant_type=refresh_token",
        "--data-urlencode",
        f"refresh_token={first['refresh_token']}",
    )
    assert status == 200, body
    assert_documented_token(body)
    assert body["access_token"] != first["access_token"]
    assert_token_works(shared, body["access_token"])


def post_raw(live: Live, prefix: str, kind: str, text: str) -> httpx.Response:
    return live.http.post(
        f"{live.url}{prefix}/integration-service/transactions/{kind}",
        content=text.encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {live.token()}"},
    )


@PREFIXES
def test_seed_sale_reprint_and_cancel_bodies(live: Live, prefix: str) -> None:
    """The seed's sale, reprint and cancel bodies are answered 00 and their results posted."""

    def push(kind: str, text: str) -> None:
        answer = post_raw(live, prefix, kind, text)
        assert (answer.status_code, answer.json()) == (200, PUSHED)

    sale = live.expect(lambda: push("sale", SEED000_SALE_REQUEST))
    assert (sale["responseCode"], sale["amount"], sale["storeId"]) == ("00", "1.01", STORE)
    assert sale["terminalId"] == SERIAL
    order_id = sale["orderId"]

    reprint_body = SEED000_REPRINT_REQUEST.replace("200624084826-0821000119", order_id)
    reprint = live.expect(lambda: push("reprint", reprint_body))
    assert (reprint["isRePrint"], reprint["orderId"]) == (True, order_id)

    cancel_body = SEED000_CANCEL_REQUEST.replace("200623160129-0821000119", order_id)
    cancel = live.expect(lambda: push("cancel", cancel_body))
    assert (cancel["responseCode"], cancel["transType"], cancel["orderId"]) == ("00", "V", order_id)


@PREFIXES
def test_seed_reprint_and_cancel_of_unknown_orders(live: Live, prefix: str) -> None:
    """The seeds' own order ids are unknown here: pushes answer 00, the cancel posts a 13."""
    pushed = post_raw(live, prefix, "reprint", SEED000_REPRINT_REQUEST)
    assert (pushed.status_code, pushed.json()) == (200, PUSHED)
    live.wait_terminal(lambda t: "no encontrada" in t["screen"] and t["state"] == "idle")
    pushed = post_raw(live, prefix, "cancel", SEED000_CANCEL_REQUEST)
    assert (pushed.status_code, pushed.json()) == (200, PUSHED)
    (declined,) = live.recorder.wait_results(1)
    assert declined["responseCode"] == "13"
    assert declined["message"] == "TRANSACCION NO PERMITIDA"
    assert declined["orderId"] == "200623160129-0821000119"
    assert declined["transType"] == "V"
