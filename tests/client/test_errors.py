"""Every error shape NetPay's gateway sends becomes the right exception (NETPAY-FACTS §2.3, §3.5).

The gateway is a fake behind ``httpx.MockTransport``; statuses and bodies are the real ones.
"""

from __future__ import annotations

import socket

import anyio
import httpx
import pytest

from netpay_smart.client import Push
from netpay_smart.errors import (
    APIError,
    AuthenticationError,
    TerminalNotFoundError,
    TransportError,
)

from .fakes import (
    API_TOKEN,
    BASE_URL,
    INVALID_TOKEN,
    PASSWORD,
    RECEIVER_URL,
    USERNAME,
    FakeGateway,
    FakeReceiver,
    async_client,
    client,
    reply,
    sale_kwargs,
)

SPRING_401 = {
    "timestamp": "2024-03-05T18:14:45.123+0000",
    "status": 401,
    "error": "Unauthorized",
    "message": "Unauthorized",
    "path": "/oauth-service/oauth/token",
}
BAD_CREDENTIALS = {"error": "invalid_grant", "error_description": "Bad credentials"}
NOT_FOUND_19 = {"code": "19", "message": "No se encontró la terminal"}
SPRING_400 = {
    "timestamp": "2024-03-05T18:14:45.123+0000",
    "status": 400,
    "error": "Bad Request",
    "message": "missing field(s): amount",
    "path": "/integration-service/transactions/sale",
}
BAD_GATEWAY_HTML = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


# -- the token endpoint -----------------------------------------------------------------------


def test_bad_basic_credential_is_an_authentication_error() -> None:
    """Spring's 401 page for a wrong Basic credential raises AuthenticationError naming it."""
    gateway = FakeGateway()
    gateway.token_answers.append(reply(401, SPRING_401))
    with client(gateway) as sdk, pytest.raises(AuthenticationError) as caught:
        sdk.token()
    assert caught.value.status == 401
    assert caught.value.code == "Unauthorized"
    assert caught.value.description == "Unauthorized"
    assert caught.value.body == SPRING_401
    assert "NETPAY_AUTH_STRING" in str(caught.value)


def test_bad_username_or_password_is_an_authentication_error() -> None:
    """400 invalid_grant "Bad credentials" raises AuthenticationError: wrong user or password."""
    gateway = FakeGateway()
    gateway.token_answers.append(reply(400, BAD_CREDENTIALS))
    with client(gateway) as sdk, pytest.raises(AuthenticationError) as caught:
        sdk.token()
    assert caught.value.status == 400
    assert caught.value.code == "invalid_grant"
    assert caught.value.description == "Bad credentials"
    assert str(caught.value) == "wrong NetPay username or password"


def test_bad_credentials_on_the_first_push_raise_before_any_push() -> None:
    """A sale whose login is refused raises AuthenticationError and pushes nothing."""
    gateway = FakeGateway()
    gateway.token_answers.append(reply(400, BAD_CREDENTIALS))
    with client(gateway) as sdk, pytest.raises(AuthenticationError) as caught:
        sdk.sale(**sale_kwargs())
    assert caught.value.code == "invalid_grant"
    assert gateway.kinds() == ["token"]


@pytest.mark.parametrize(
    ("error", "description"),
    [
        ("invalid_request", "Missing grant type"),
        ("unsupported_grant_type", "Unsupported grant type: client_credentials"),
    ],
)
def test_malformed_token_requests_are_authentication_errors_naming_the_error(
    error: str, description: str
) -> None:
    """invalid_request / unsupported_grant_type: AuthenticationError naming the OAuth error."""
    gateway = FakeGateway()
    gateway.token_answers.append(reply(400, {"error": error, "error_description": description}))
    with client(gateway) as sdk, pytest.raises(AuthenticationError) as caught:
        sdk.token()
    assert isinstance(caught.value, APIError)
    assert caught.value.status == 400
    assert caught.value.code == error
    assert caught.value.description == description
    assert str(caught.value) == f"token request refused: {error}"


def test_a_token_answer_of_an_unknown_shape_is_an_api_error() -> None:
    """A 200 JSON object that is no token raises APIError with the status and the body."""
    gateway = FakeGateway()
    gateway.token_answers.append(reply(200, {"hello": "world"}))
    with client(gateway) as sdk, pytest.raises(APIError) as caught:
        sdk.token()
    assert type(caught.value) is APIError
    assert caught.value.status == 200
    assert "hello" in str(caught.value.body)


def test_token_endpoint_html_503_is_a_retryable_transport_error() -> None:
    """An HTML 503 from a proxy in front of the token endpoint is a retryable TransportError."""
    gateway = FakeGateway()
    gateway.token_answers.append(reply(503, text="<html>Service Unavailable</html>"))
    with client(gateway) as sdk, pytest.raises(TransportError) as caught:
        sdk.token()
    assert caught.value.retryable is True
    assert "503" in str(caught.value)


# -- pushes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 404])
def test_code_19_is_terminal_not_found_whatever_the_status(status: int) -> None:
    """{"code":"19"} raises TerminalNotFoundError under HTTP 200 and under HTTP 404."""
    gateway = FakeGateway()
    gateway.push_answers.append(reply(status, NOT_FOUND_19))
    with client(gateway) as sdk, pytest.raises(TerminalNotFoundError) as caught:
        sdk.sale(**sale_kwargs(serial="9999999999"))
    assert caught.value.status == status
    assert caught.value.code == "19"
    assert caught.value.description == "No se encontró la terminal"
    assert caught.value.body == NOT_FOUND_19
    assert "serial" in str(caught.value)


def test_invalid_token_after_a_fresh_login_is_an_authentication_error() -> None:
    """invalid_token again after one re-login and one retry raises AuthenticationError."""
    gateway = FakeGateway()
    gateway.push_answers.extend([reply(401, INVALID_TOKEN), reply(401, INVALID_TOKEN)])
    with client(gateway) as sdk, pytest.raises(AuthenticationError) as caught:
        sdk.sale(**sale_kwargs())
    assert caught.value.status == 401
    assert caught.value.code == "invalid_token"
    assert caught.value.description == "Cannot convert access token to JSON"
    assert gateway.kinds() == ["token", "sale", "token", "sale"]


def test_invalid_token_then_refused_login_is_an_authentication_error() -> None:
    """A push answered invalid_token whose re-login is refused raises the login's error."""
    gateway = FakeGateway()
    gateway.push_answers.append(reply(401, INVALID_TOKEN))
    with client(gateway) as sdk:
        sdk.token()
        gateway.token_answers.append(reply(400, BAD_CREDENTIALS))
        with pytest.raises(AuthenticationError) as caught:
            sdk.sale(**sale_kwargs())
    assert caught.value.code == "invalid_grant"
    assert gateway.kinds() == ["token", "sale", "token"]


def test_missing_authentication_twice_is_an_authentication_error() -> None:
    """401 unauthorized ("Full authentication is required") twice raises AuthenticationError."""
    unauthorized = {
        "error": "unauthorized",
        "error_description": "Full authentication is required to access this resource",
    }
    gateway = FakeGateway()
    gateway.push_answers.extend([reply(401, unauthorized), reply(401, unauthorized)])
    with client(gateway) as sdk, pytest.raises(AuthenticationError) as caught:
        sdk.sale(**sale_kwargs())
    assert caught.value.code == "unauthorized"
    assert "Full authentication is required" in str(caught.value)
    assert gateway.kinds() == ["token", "sale", "token", "sale"]


def test_spring_validation_error_is_an_api_error_with_its_message() -> None:
    """A 400 Spring Boot error body raises APIError carrying the gateway's message."""
    gateway = FakeGateway()
    gateway.push_answers.append(reply(400, SPRING_400))
    with client(gateway) as sdk, pytest.raises(APIError) as caught:
        sdk.sale(**sale_kwargs())
    assert type(caught.value) is APIError
    assert caught.value.status == 400
    assert caught.value.code == "400"
    assert caught.value.description == "missing field(s): amount"
    assert "missing field(s): amount" in str(caught.value)


def test_html_502_on_a_push_is_a_retryable_transport_error() -> None:
    """A proxy's HTML 502 page on a push raises TransportError with retryable True."""
    gateway = FakeGateway()
    gateway.push_answers.append(reply(502, text=BAD_GATEWAY_HTML))
    with client(gateway) as sdk, pytest.raises(TransportError) as caught:
        sdk.sale(**sale_kwargs())
    assert caught.value.retryable is True
    assert "502" in str(caught.value)


def test_unknown_push_code_is_a_plain_api_error() -> None:
    """{"code":"99","message":"x"} raises APIError (no subclass) with code and description."""
    gateway = FakeGateway()
    gateway.push_answers.append(reply(200, {"code": "99", "message": "x"}))
    with client(gateway) as sdk, pytest.raises(APIError) as caught:
        sdk.sale(**sale_kwargs())
    assert type(caught.value) is APIError
    assert caught.value.status == 200
    assert caught.value.code == "99"
    assert caught.value.description == "x"
    assert str(caught.value) == "push refused: 99 x"


def test_a_push_answer_of_an_unknown_shape_is_an_api_error() -> None:
    """A 4xx body that is not JSON raises APIError keeping the start of the text."""
    gateway = FakeGateway()
    gateway.push_answers.append(reply(418, text="I'm a teapot"))
    with client(gateway) as sdk, pytest.raises(APIError) as caught:
        sdk.sale(**sale_kwargs())
    assert type(caught.value) is APIError
    assert caught.value.status == 418
    assert caught.value.body == "I'm a teapot"


# -- the network ------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_a_retryable_transport_error() -> None:
    """Nothing listening on the gateway's port raises TransportError (retryable: nothing sent)."""
    with (
        client(FakeGateway(), base_url=f"http://127.0.0.1:{_closed_port()}", transport=None) as sdk,
        pytest.raises(TransportError) as caught,
    ):
        sdk.sale(**sale_kwargs())
    assert caught.value.retryable is True
    assert "cannot reach NetPay" in str(caught.value)


def test_read_timeout_is_a_transport_error() -> None:
    """A push whose answer never comes raises TransportError saying NetPay did not answer."""
    gateway = FakeGateway()
    gateway.push_answers.append(httpx.ReadTimeout("timed out"))
    with client(gateway) as sdk, pytest.raises(TransportError) as caught:
        sdk.sale(**sale_kwargs())
    assert "did not answer in time" in str(caught.value)
    assert gateway.kinds() == ["token", "sale"]


def test_connect_timeout_is_a_retryable_transport_error() -> None:
    """A connect timeout (nothing was sent) is a TransportError with retryable True."""
    gateway = FakeGateway()
    gateway.token_answers.append(httpx.ConnectTimeout("connect timed out"))
    with client(gateway) as sdk, pytest.raises(TransportError) as caught:
        sdk.sale(**sale_kwargs())
    assert caught.value.retryable is True
    assert gateway.pushes == []


def test_read_timeout_after_the_push_was_sent_is_not_retryable() -> None:
    """A push whose answer timed out may have reached the terminal: retryable is False."""
    gateway = FakeGateway()
    gateway.push_answers.append(httpx.ReadTimeout("timed out"))
    with client(gateway) as sdk, pytest.raises(TransportError) as caught:
        sdk.sale(**sale_kwargs())
    assert caught.value.retryable is False


def test_a_dropped_connection_after_sending_is_not_retryable() -> None:
    """The gateway closing the connection without an answer is a non-retryable TransportError."""
    gateway = FakeGateway()
    gateway.push_answers.append(httpx.RemoteProtocolError("Server disconnected"))
    with client(gateway) as sdk, pytest.raises(TransportError) as caught:
        sdk.sale(**sale_kwargs())
    assert caught.value.retryable is False


def test_a_refused_push_frees_the_terminal_on_the_receiver() -> None:
    """When the gateway refuses a push, the SDK marks the registered push failed."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    gateway.push_answers.append(reply(200, NOT_FOUND_19))
    with client(gateway, receiver) as sdk, pytest.raises(TerminalNotFoundError):
        sdk.sale(**sale_kwargs(serial="9999999999"))
    [push_id] = receiver.registered
    assert receiver.patches == [(push_id, {"state": "failed"})]


def test_a_push_that_may_have_reached_the_terminal_stays_open_and_names_itself() -> None:
    """A read timeout leaves the push "sent" (terminal locked); the error names id and folio."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    gateway.push_answers.append(httpx.ReadTimeout("timed out"))
    with client(gateway, receiver) as sdk, pytest.raises(TransportError) as caught:
        sdk.sale(**sale_kwargs(folio_number="CAJA1-0042"))
    [push_id] = receiver.registered
    assert receiver.patches == [(push_id, {"state": "sent"})]
    error = caught.value
    assert (error.retryable, error.push_id, error.folio_number) == (False, push_id, "CAJA1-0042")
    assert push_id in str(error)
    assert "reprint by folio CAJA1-0042" in str(error)


def test_async_a_push_that_may_have_reached_the_terminal_stays_open_and_names_itself() -> None:
    """The AsyncClient twin: a read timeout leaves the push "sent", the error names it."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    gateway.push_answers.append(httpx.ReadTimeout("timed out"))

    async def main() -> TransportError:
        async with async_client(gateway, receiver) as sdk:
            with pytest.raises(TransportError) as caught:
                await sdk.sale(**sale_kwargs(folio_number="CAJA1-0043"))
        return caught.value

    error = anyio.run(main)
    [push_id] = receiver.registered
    assert receiver.patches == [(push_id, {"state": "sent"})]
    assert (error.retryable, error.push_id, error.folio_number) == (False, push_id, "CAJA1-0043")
    assert "folio CAJA1-0043" in str(error)


@pytest.mark.parametrize("answers", ["push_answers", "token_answers"])
def test_a_push_that_certainly_never_left_frees_the_terminal(answers: str) -> None:
    """A refused push or a failed token request marks the push failed; the error names it."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    refused = {"push_answers": httpx.ConnectError("connection refused")}
    getattr(gateway, answers).append(refused.get(answers, httpx.ReadTimeout("timed out")))
    with client(gateway, receiver) as sdk, pytest.raises(TransportError) as caught:
        sdk.sale(**sale_kwargs(folio_number="CAJA1-0044"))
    [push_id] = receiver.registered
    assert receiver.patches == [(push_id, {"state": "failed"})]
    assert (caught.value.retryable, caught.value.push_id) == (True, push_id)


def test_the_gateways_error_survives_an_unreachable_receiver() -> None:
    """If the receiver is down when the push is refused, the caller still sees code 19."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    gateway.push_answers.append(reply(200, NOT_FOUND_19))

    def receiver_then_down(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            raise httpx.ConnectError("connection refused")
        return receiver.handle(request)

    with (
        client(
            gateway, receiver, receiver_transport=httpx.MockTransport(receiver_then_down)
        ) as sdk,
        pytest.raises(TerminalNotFoundError),
    ):
        sdk.sale(**sale_kwargs(serial="9999999999"))


def test_errors_never_show_the_password() -> None:
    """A refused login's error text and body do not contain the password."""
    gateway = FakeGateway()
    gateway.token_answers.append(reply(400, BAD_CREDENTIALS))
    with (
        client(gateway, base_url=BASE_URL, username=USERNAME, password=PASSWORD) as sdk,
        pytest.raises(AuthenticationError) as caught,
    ):
        sdk.token()
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(caught.value.body)


APPROVED = {
    "status": "approved",
    "body": {"responseCode": "00", "message": "Aprobada", "amount": "1.01"},
    "transaction": {"order_id": "240305131447-0821000119", "amount": "1.01"},
}


def test_a_receiver_whose_database_is_down_is_asked_again_while_the_wait_lasts() -> None:
    """503 from the receiver (results wait in its spool) is not an error: the SDK asks again
    and returns the outcome once the receiver can tell."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    receiver.answer_with, receiver.unavailable = APPROVED, 2
    with client(gateway, receiver) as sdk:
        outcome = sdk.sale(**sale_kwargs(), wait=True, timeout=30)
    assert (outcome.approved, outcome.response_code) == (True, "00")
    asked = [r for r in receiver.requests if r.method == "GET"]
    assert len(asked) == 3  # two 503s, then the answer


def test_async_the_same_wait_through_503s() -> None:
    """The AsyncClient twin asks again after 503 too, and gets the outcome."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    receiver.answer_with, receiver.unavailable = APPROVED, 1

    async def main() -> None:
        async with async_client(
            gateway,
            receiver_url=RECEIVER_URL,
            api_token=API_TOKEN,
            receiver_transport=httpx.MockTransport(receiver.handle),
        ) as sdk:
            outcome = await sdk.sale(**sale_kwargs(), wait=True, timeout=30)
        assert (outcome.approved, outcome.response_code) == (True, "00")

    anyio.run(main)
    assert len([r for r in receiver.requests if r.method == "GET"]) == 2


def test_a_receiver_that_never_answers_ends_the_wait_as_unknown_not_as_an_error() -> None:
    """When the receiver cannot tell for the whole wait, the outcome is "unknown" (check the
    terminal before charging again), never an exception that reads like a failed sale."""
    gateway, receiver = FakeGateway(), FakeReceiver()
    receiver.unavailable = 10**6
    with client(gateway, receiver) as sdk:
        push = sdk.sale(**sale_kwargs())
        assert isinstance(push, Push)
        outcome = push.wait(timeout=1.5, recover=False)
    assert (outcome.status, outcome.approved) == ("unknown", False)
    assert "verifique en la terminal" in outcome.message
