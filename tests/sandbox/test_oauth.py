"""The gateway's OAuth answers, exactly as Spring Security OAuth2 gives them (FACTS §2.3, §3.5)."""

from __future__ import annotations

import base64
import json

import pytest

from .conftest import MakeSandbox
from .harness import BASIC, PUSHED, SERIAL, STORE, Live

PASSWORD = {"grant_type": "password", "username": "Nacional", "password": "netpay"}
SALE = {"traceability": {}, "amount": 1.01, "serialNumber": SERIAL, "storeId": STORE}
TOKEN_PATH = "/oauth-service/oauth/token"


@pytest.fixture
def live(shared: Live) -> Live:
    """Every test here leaves no state behind, so they share the module's sandbox."""
    return shared


@pytest.mark.parametrize(
    "basic",
    [
        base64.b64encode(b"trusted-app:wrong").decode(),
        base64.b64encode(b"someone:secret").decode(),
        "not base64!",
    ],
    ids=["wrong-secret", "wrong-client", "garbage"],
)
def test_bad_basic_credential_is_spring_401(live: Live, basic: str) -> None:
    """A wrong Basic credential gets Spring Boot's 401 error page, timestamp from the clock."""
    answer = live.token_response(PASSWORD, basic=basic)
    assert answer.status_code == 401
    assert answer.json() == {
        "timestamp": "2024-03-05T18:00:00.000+0000",
        "status": 401,
        "error": "Unauthorized",
        "message": "Unauthorized",
        "path": TOKEN_PATH,
    }


def test_missing_basic_credential_is_spring_401(live: Live) -> None:
    """A token request without an Authorization header gets the same 401 page."""
    answer = live.http.post(f"{live.url}{TOKEN_PATH}", data=PASSWORD)
    assert answer.status_code == 401
    assert answer.json()["error"] == "Unauthorized"
    assert answer.json()["path"] == TOKEN_PATH


def test_missing_grant_type(live: Live) -> None:
    """No grant_type: 400 invalid_request "Missing grant type"."""
    answer = live.token_response({"username": "Nacional", "password": "netpay"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request", "error_description": "Missing grant type"}


def test_json_token_request_has_no_grant_type(live: Live) -> None:
    """A JSON body is not a form: the token endpoint finds no grant_type in it."""
    answer = live.http.post(
        f"{live.url}{TOKEN_PATH}", json=PASSWORD, headers={"Authorization": f"Basic {BASIC}"}
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request", "error_description": "Missing grant type"}


def test_unsupported_grant_type(live: Live) -> None:
    """grant_type "foo": 400 unsupported_grant_type naming it."""
    answer = live.token_response({**PASSWORD, "grant_type": "foo"})
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "unsupported_grant_type",
        "error_description": "Unsupported grant type: foo",
    }


def test_implicit_grant_type(live: Live) -> None:
    """grant_type "implicit": Spring's own refusal from the token endpoint."""
    answer = live.token_response({**PASSWORD, "grant_type": "implicit"})
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Implicit grant type not supported from token endpoint",
    }


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "Nacional", "password": "wrong"},
        {"username": "Nadie", "password": "netpay"},
        {"username": "Nacional"},
    ],
    ids=["wrong-password", "unknown-user", "no-password"],
)
def test_bad_user_credentials(live: Live, credentials: dict[str, str]) -> None:
    """A wrong username or password: 400 invalid_grant "Bad credentials"."""
    answer = live.token_response({"grant_type": "password", **credentials})
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "Bad credentials"}


@pytest.mark.parametrize("prefix", ["", "/gateway"])
def test_bad_bearer_token_on_a_push(live: Live, prefix: str) -> None:
    """A token the gateway never issued: 401 invalid_token as NetPay documents it."""
    answer = live.push("sale", SALE, prefix=prefix, token="CI6IkpXVCJ9wianReyJhdWQiOlsib2F1")
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "invalid_token",
        "error_description": "Cannot convert access token to JSON",
    }


def test_refresh_token_is_not_an_access_token(live: Live) -> None:
    """A refresh token sent as the Bearer token is refused like any bad token."""
    refresh = live.token_response(PASSWORD).json()["refresh_token"]
    answer = live.push("sale", SALE, token=refresh)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


@pytest.mark.parametrize("header", [None, "Basic dHJ1c3RlZC1hcHA6c2VjcmV0", "Bearer"])
def test_push_without_bearer_token(live: Live, header: str | None) -> None:
    """No Bearer token at all: 401 unauthorized, full authentication required."""
    headers = {} if header is None else {"Authorization": header}
    answer = live.http.post(
        f"{live.url}/integration-service/transactions/sale", json=SALE, headers=headers
    )
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "unauthorized",
        "error_description": "Full authentication is required to access this resource",
    }


def test_access_token_expires_when_the_clock_passes_its_lifetime(make_sandbox: MakeSandbox) -> None:
    """With token_ttl 60, the token works at 59 s and is expired at 61 s."""
    with make_sandbox(token_ttl=60) as live:
        issued = live.token_response(PASSWORD).json()
        assert issued["expires_in"] == 60
        token = issued["access_token"]
        live.advance(59)
        assert live.push("sale", SALE, token=token).json() == PUSHED
        live.recorder.wait_results(1)
        live.advance(2)
        answer = live.push("sale", SALE, token=token)
        assert answer.status_code == 401
        assert answer.json() == {
            "error": "invalid_token",
            "error_description": f"Access token expired: {token}",
        }


def test_refresh_token_works_after_the_access_token_expired(make_sandbox: MakeSandbox) -> None:
    """After expiry, the refresh_token grant gives a new access token that pushes work with."""
    with make_sandbox(token_ttl=60) as live:
        issued = live.token_response(PASSWORD).json()
        live.advance(3600)
        assert live.push("sale", SALE, token=issued["access_token"]).status_code == 401
        refreshed = live.token_response(
            {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        fresh = refreshed.json()
        assert fresh["expires_in"] == 60
        assert fresh["access_token"] != issued["access_token"]
        answer = live.push("sale", SALE, token=fresh["access_token"])
        assert (answer.status_code, answer.json()) == (200, PUSHED)


def test_refresh_token_expires_after_thirty_days(make_sandbox: MakeSandbox) -> None:
    """A refresh token 30 days old: 401 invalid_token "Invalid refresh token (expired)"."""
    with make_sandbox() as live:
        refresh = live.token_response(PASSWORD).json()["refresh_token"]
        live.advance(30 * 24 * 3600)
        answer = live.token_response({"grant_type": "refresh_token", "refresh_token": refresh})
        assert answer.status_code == 401
        assert answer.json() == {
            "error": "invalid_token",
            "error_description": f"Invalid refresh token (expired): {refresh}",
        }


@pytest.mark.parametrize("refresh", ["garbage", "", None])
def test_bad_refresh_token(live: Live, refresh: str | None) -> None:
    """A refresh token the gateway never issued (or an access token) is refused with 401."""
    data = {"grant_type": "refresh_token"}
    if refresh is not None:
        data["refresh_token"] = refresh
    answer = live.token_response(data)
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "invalid_token",
        "error_description": "Cannot convert access token to JSON",
    }


def test_access_token_is_not_a_refresh_token(live: Live) -> None:
    """An access token sent as refresh_token is refused too."""
    answer = live.token_response({"grant_type": "refresh_token", "refresh_token": live.token()})
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


def test_tokens_look_like_netpay_jwts(live: Live) -> None:
    """Tokens are three-part RS256 JWTs with Spring's claims; the refresh one carries ati."""
    issued = live.token_response(PASSWORD).json()

    def claims(token: str) -> dict[str, object]:
        header, payload, signature = token.split(".")
        assert json.loads(base64.urlsafe_b64decode(header + "==")) == {
            "alg": "RS256",
            "typ": "JWT",
        }
        assert signature
        return json.loads(base64.urlsafe_b64decode(payload + "=="))

    access, refresh = claims(issued["access_token"]), claims(issued["refresh_token"])
    assert access["client_id"] == "trusted-app"
    assert access["scope"] == ["read", "write"]
    assert access["exp"] == int(live.clock.now().timestamp()) + 43199
    assert "ati" not in access
    assert "ati" in refresh
