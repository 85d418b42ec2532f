"""The token lifecycle: one login for many pushes, renewal before expiry, one re-login on
``invalid_token``, one login however many threads or tasks push, refresh grant, token store."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from rich.pretty import pretty_repr

from netpay_smart.client import FileTokenStore, Push
from netpay_smart.errors import AuthenticationError
from netpay_smart.sandbox import ManualClock
from netpay_smart.wire import Token, parse_gateway_answer

from .fakes import (
    API_TOKEN,
    AUTH_STRING,
    BASE_URL,
    INVALID_TOKEN,
    PASSWORD,
    TOKEN_PATH,
    USERNAME,
    FakeGateway,
    FakeReceiver,
    async_client,
    client,
    reply,
    sale_kwargs,
)

START = datetime(2024, 3, 5, 18, 0, tzinfo=UTC)


def test_first_push_costs_one_token_request_and_one_push() -> None:
    """The first sale logs in once, then pushes once, with the Bearer token it got."""
    gateway = FakeGateway()
    with client(gateway) as sdk:
        push = sdk.sale(**sale_kwargs())
    assert isinstance(push, Push)
    assert gateway.kinds() == ["token", "sale"]
    assert gateway.pushes[0].headers["authorization"] == "Bearer token-1"
    assert gateway.pushes[0].headers["content-type"] == "application/json"


def test_n_pushes_cost_n_plus_one_requests() -> None:
    """Five pushes of all kinds cost one token request and five pushes."""
    gateway = FakeGateway()
    clock = ManualClock(datetime(2024, 3, 5, 12, 0, tzinfo=UTC))  # 06:00 in Mexico City
    with client(gateway, clock=clock.now) as sdk:
        for serial in ("1", "2", "3"):
            sdk.sale(**sale_kwargs(serial=serial))
        sdk.reprint(serial_number="1", store_id="455311", order_id="240305060000-1")
        sdk.cancel(serial_number="1", store_id="455311", order_id="240305060000-1")
    assert gateway.kinds() == ["token", "sale", "sale", "sale", "reprint", "cancel"]
    assert {gateway.bearer(r) for r in gateway.pushes} == {"token-1"}


def test_token_is_reused_until_shortly_before_expiry_then_renewed() -> None:
    """With expires_in 100 s the token serves for 90 s (10 % margin), then a new one is fetched."""
    gateway = FakeGateway(expires_in=100)
    clock = ManualClock(START)
    with client(gateway, clock=clock.now) as sdk:
        sdk.sale(**sale_kwargs())
        clock.advance(89)
        sdk.sale(**sale_kwargs())
        assert gateway.kinds() == ["token", "sale", "sale"]
        clock.advance(2)
        sdk.sale(**sale_kwargs())
    assert gateway.kinds() == ["token", "sale", "sale", "token", "sale"]
    assert [gateway.bearer(r) for r in gateway.pushes] == ["token-1", "token-1", "token-2"]


def test_a_twelve_hour_token_is_used_until_a_minute_before_it_expires() -> None:
    """NetPay's 43199 s token expires for the SDK 60 s early; token() reports that moment."""
    gateway = FakeGateway(expires_in=43199)
    clock = ManualClock(START)
    with client(gateway, clock=clock.now) as sdk:
        assert sdk.token() == START + timedelta(seconds=43139)
        clock.advance(43138)
        assert sdk.token() == START + timedelta(seconds=43139)
        assert len(gateway.token_requests) == 1
        clock.advance(1)
        assert sdk.token() == START + timedelta(seconds=43139 * 2)
    assert len(gateway.token_requests) == 2


def test_invalid_token_logs_in_again_once_and_retries_the_push_once() -> None:
    """A push answered invalid_token costs one more login and one identical retry."""
    gateway = FakeGateway()
    with client(gateway) as sdk:
        sdk.sale(**sale_kwargs())
        gateway.revoke()
        sdk.sale(**sale_kwargs(amount="2.00"))
    assert gateway.kinds() == ["token", "sale", "sale", "token", "sale"]
    refused, retried = gateway.pushes[1:]
    assert gateway.bearer(refused) == "token-1"
    assert gateway.bearer(retried) == "token-2"
    assert retried.content == refused.content


@pytest.mark.parametrize("status", [200, 400, 403])
def test_invalid_token_in_the_body_under_another_status_logs_in_again(status: int) -> None:
    """``{"error": "invalid_token"}`` answered under a status other than 401 still costs one
    more login and one retry, not an AuthenticationError: the body says what happened."""
    gateway = FakeGateway()
    gateway.push_answers.append(reply(status, INVALID_TOKEN))
    with client(gateway) as sdk:
        sdk.sale(**sale_kwargs())
    assert gateway.kinds() == ["token", "sale", "token", "sale"]
    assert [gateway.bearer(r) for r in gateway.pushes] == ["token-1", "token-2"]


def test_ten_threads_pushing_at_once_fetch_one_token() -> None:
    """Ten threads pushing to ten terminals at the same moment share a single login."""
    gateway = FakeGateway(token_delay=0.05)
    start = threading.Barrier(10)

    def push(serial: str) -> Any:
        start.wait()
        return sdk.sale(**sale_kwargs(serial=serial))

    with client(gateway) as sdk, ThreadPoolExecutor(10) as pool:
        pushes = list(pool.map(push, [f"10000000{n:02d}" for n in range(10)]))
    assert all(isinstance(p, Push) for p in pushes)
    assert len(gateway.token_requests) == 1
    assert len(gateway.pushes) == 10
    assert {gateway.bearer(r) for r in gateway.pushes} == {"token-1"}


def test_ten_threads_hitting_invalid_token_log_in_again_once() -> None:
    """Ten threads whose token the gateway revoked share a single re-login."""
    gateway = FakeGateway(token_delay=0.05)
    start = threading.Barrier(10)

    def push(serial: str) -> Any:
        start.wait()
        return sdk.sale(**sale_kwargs(serial=serial))

    with client(gateway) as sdk:
        sdk.token()
        gateway.revoke()
        with ThreadPoolExecutor(10) as pool:
            pushes = list(pool.map(push, [f"10000000{n:02d}" for n in range(10)]))
    assert all(isinstance(p, Push) for p in pushes)
    assert len(gateway.token_requests) == 2
    accepted = [r for r in gateway.pushes if gateway.bearer(r) == "token-2"]
    assert len(accepted) == 10


def test_ten_tasks_pushing_at_once_fetch_one_token() -> None:
    """Ten asyncio tasks pushing to ten terminals at once share a single login."""
    gateway = FakeGateway(token_delay=0.05)
    pushes: list[Any] = []

    async def main() -> None:
        async with async_client(gateway) as sdk:

            async def push(serial: str) -> None:
                pushes.append(await sdk.sale(**sale_kwargs(serial=serial)))

            async with anyio.create_task_group() as tasks:
                for n in range(10):
                    tasks.start_soon(push, f"10000000{n:02d}")

    anyio.run(main)
    assert len(pushes) == 10
    assert len(gateway.token_requests) == 1
    assert {gateway.bearer(r) for r in gateway.pushes} == {"token-1"}


def test_ten_tasks_hitting_invalid_token_log_in_again_once() -> None:
    """Ten asyncio tasks whose token the gateway revoked share a single re-login."""
    gateway = FakeGateway(token_delay=0.05)

    async def main() -> None:
        async with async_client(gateway) as sdk:
            await sdk.token()
            gateway.revoke()
            async with anyio.create_task_group() as tasks:
                for n in range(10):
                    tasks.start_soon(lambda s: sdk.sale(**sale_kwargs(serial=s)), f"2{n:09d}")

    anyio.run(main)
    assert len(gateway.token_requests) == 2
    assert len([r for r in gateway.pushes if gateway.bearer(r) == "token-2"]) == 10


def test_async_invalid_token_logs_in_again_once_and_retries_once() -> None:
    """The async twin: invalid_token costs one more login and one identical retry."""
    gateway = FakeGateway()

    async def main() -> None:
        async with async_client(gateway) as sdk:
            await sdk.sale(**sale_kwargs())
            gateway.revoke()
            await sdk.sale(**sale_kwargs())

    anyio.run(main)
    assert gateway.kinds() == ["token", "sale", "sale", "token", "sale"]
    assert gateway.pushes[2].content == gateway.pushes[1].content


def test_refresh_grant_is_used_when_the_access_token_expired() -> None:
    """With refresh_grant=True an expired token is renewed with grant_type=refresh_token."""
    gateway = FakeGateway(expires_in=100)
    clock = ManualClock(START)
    with client(gateway, clock=clock.now, refresh_grant=True) as sdk:
        sdk.sale(**sale_kwargs())
        clock.advance(95)
        sdk.sale(**sale_kwargs())
    assert gateway.kinds() == ["token", "sale", "token", "sale"]
    first, renewal = gateway.token_requests
    assert gateway.form(first)["grant_type"] == "password"
    assert gateway.form(renewal) == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}
    assert renewal.headers["authorization"] == f"Basic {AUTH_STRING}"
    assert gateway.bearer(gateway.pushes[1]) == "token-2"


def test_a_refused_refresh_falls_back_to_the_password_grant() -> None:
    """When the gateway refuses the refresh token, the SDK logs in with the password."""
    gateway = FakeGateway(expires_in=100)
    clock = ManualClock(START)
    with client(gateway, clock=clock.now, refresh_grant=True) as sdk:
        sdk.sale(**sale_kwargs())
        gateway.refresh_tokens.clear()
        clock.advance(95)
        sdk.sale(**sale_kwargs())
    assert gateway.kinds() == ["token", "sale", "token", "token", "sale"]
    grants = [gateway.form(r)["grant_type"] for r in gateway.token_requests]
    assert grants == ["password", "refresh_token", "password"]
    assert gateway.bearer(gateway.pushes[1]) == "token-2"


def test_async_refused_refresh_falls_back_to_the_password_grant() -> None:
    """The async twin: a refused refresh token falls back to the password grant."""
    gateway = FakeGateway(expires_in=100)
    clock = ManualClock(START)

    async def main() -> None:
        async with async_client(gateway, clock=clock.now, refresh_grant=True) as sdk:
            await sdk.sale(**sale_kwargs())
            gateway.refresh_tokens.clear()
            clock.advance(95)
            await sdk.sale(**sale_kwargs())

    anyio.run(main)
    grants = [gateway.form(r)["grant_type"] for r in gateway.token_requests]
    assert grants == ["password", "refresh_token", "password"]
    assert gateway.kinds()[-1] == "sale"


def test_without_refresh_grant_an_expired_token_is_replaced_by_logging_in() -> None:
    """By default (NetPay's current advice) an expired token means a new password login."""
    gateway = FakeGateway(expires_in=100)
    clock = ManualClock(START)
    with client(gateway, clock=clock.now) as sdk:
        sdk.sale(**sale_kwargs())
        clock.advance(95)
        sdk.sale(**sale_kwargs())
    grants = [gateway.form(r)["grant_type"] for r in gateway.token_requests]
    assert grants == ["password", "password"]


def test_a_file_token_store_shares_the_token_between_clients(tmp_path: Path) -> None:
    """A second client reading the same token file pushes without logging in."""
    gateway = FakeGateway()
    path = tmp_path / "netpay-token.json"
    with client(gateway, token_store=FileTokenStore(path)) as first:
        first.sale(**sale_kwargs())
    with client(gateway, token_store=FileTokenStore(path)) as second:
        second.sale(**sale_kwargs())
    assert gateway.kinds() == ["token", "sale", "sale"]
    assert gateway.bearer(gateway.pushes[1]) == "token-1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_file_token_store_renews_an_expired_token(tmp_path: Path) -> None:
    """A stored token past its expiry is replaced by a new login, and the file updated."""
    gateway = FakeGateway(expires_in=100)
    clock = ManualClock(START)
    store = FileTokenStore(tmp_path / "token.json")
    with client(gateway, token_store=store, clock=clock.now) as sdk:
        sdk.sale(**sale_kwargs())
    clock.advance(95)
    with client(
        gateway, token_store=FileTokenStore(tmp_path / "token.json"), clock=clock.now
    ) as sdk:
        sdk.sale(**sale_kwargs())
    assert gateway.kinds() == ["token", "sale", "token", "sale"]
    stored = store.load()
    assert stored is not None
    assert stored.access_token == "token-2"
    assert stored.expires_at == START + timedelta(seconds=95 + 90)


def test_the_token_file_is_private_even_over_a_stale_temporary_file(tmp_path: Path) -> None:
    """The token file is 0600 even when an earlier crash left a world-readable temporary."""
    path = tmp_path / "token.json"
    stale = path.with_suffix(".tmp")
    stale.write_text("{}")
    stale.chmod(0o644)
    gateway = FakeGateway()
    with client(gateway, token_store=FileTokenStore(path)) as sdk:
        sdk.token()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_repr_shows_the_password_or_a_token(tmp_path: Path) -> None:
    """repr and rich's pretty repr of the client, its auth, settings and tokens hide secrets."""
    gateway = FakeGateway()
    store = FileTokenStore(tmp_path / "token.json")
    with client(gateway, FakeReceiver(), token_store=store) as sdk:
        push = sdk.sale(**sale_kwargs())
        stored = store.load()
        token = parse_gateway_answer(
            b'{"access_token":"token-1","refresh_token":"refresh-1","expires_in":43199}'
        )
        assert isinstance(token, Token)
        shown = [
            f(obj)
            for obj in (sdk, sdk.auth, sdk.settings, stored, token, push)
            for f in (repr, str, pretty_repr)
        ]
    for text in shown:
        for secret in (PASSWORD, "token-1", "refresh-1", API_TOKEN, AUTH_STRING):
            assert secret not in text, (secret, text)
    assert "Client(base_url='http://gateway.test')" in shown


def test_an_expired_token_refusal_does_not_put_the_token_in_the_error_text() -> None:
    """str(AuthenticationError) for 'Access token expired: <token>' does not show the token."""
    gateway = FakeGateway()

    def expired(request: httpx.Request) -> httpx.Response:
        description = f"Access token expired: {gateway.bearer(request)}"
        return reply(401, {"error": "invalid_token", "error_description": description})

    gateway.push_answers.extend([expired, expired])
    with client(gateway) as sdk, pytest.raises(AuthenticationError) as caught:
        sdk.sale(**sale_kwargs())
    assert "token-2" not in str(caught.value)


def test_the_token_request_is_the_documented_form() -> None:
    """POST form-urlencoded grant_type=password&username=&password= with Basic <auth_string>."""
    gateway = FakeGateway()
    password = "p&ss=wörd +1"
    with client(gateway, password=password) as sdk:
        sdk.token()
    [request] = gateway.requests
    assert request.method == "POST"
    assert str(request.url) == BASE_URL + TOKEN_PATH
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == f"Basic {AUTH_STRING}"
    assert request.content.decode().startswith("grant_type=password&username=Nacional&password=")
    assert gateway.form(request) == {
        "grant_type": "password",
        "username": USERNAME,
        "password": password,
    }


def test_a_custom_auth_string_is_sent_as_the_basic_credential() -> None:
    """auth_string= replaces the documented trusted-app:secret credential."""
    gateway = FakeGateway()
    with client(gateway, auth_string="Zm9vOmJhcg==") as sdk:
        sdk.token()
    assert gateway.requests[0].headers["authorization"] == "Basic Zm9vOmJhcg=="


def test_token_falls_back_to_the_password_grant_when_the_refresh_is_refused() -> None:
    """client.token() with a refused refresh token logs in with the password, like a push."""
    gateway = FakeGateway(expires_in=100)
    clock = ManualClock(START)
    with client(gateway, clock=clock.now, refresh_grant=True) as sdk:
        sdk.token()
        gateway.refresh_tokens.clear()
        clock.advance(95)
        renewed = sdk.token()
    assert renewed == START + timedelta(seconds=95 + 90)
    grants = [gateway.form(r)["grant_type"] for r in gateway.token_requests]
    assert grants == ["password", "refresh_token", "password"]


def test_async_token_falls_back_to_the_password_grant_when_the_refresh_is_refused() -> None:
    """The async twin: await client.token() falls back to the password grant."""
    gateway = FakeGateway(expires_in=100)
    clock = ManualClock(START)

    async def main() -> datetime:
        async with async_client(gateway, clock=clock.now, refresh_grant=True) as sdk:
            await sdk.token()
            gateway.refresh_tokens.clear()
            clock.advance(95)
            return await sdk.token()

    assert anyio.run(main) == START + timedelta(seconds=95 + 90)


def test_token_uses_the_refresh_grant_when_enabled() -> None:
    """client.token() after expiry with refresh_grant=True renews with the refresh token."""
    gateway = FakeGateway(expires_in=100)
    clock = ManualClock(START)
    with client(gateway, clock=clock.now, refresh_grant=True) as sdk:
        sdk.token()
        clock.advance(95)
        assert sdk.token() == START + timedelta(seconds=95 + 90)
    grants = [gateway.form(r)["grant_type"] for r in gateway.token_requests]
    assert grants == ["password", "refresh_token"]
