"""Schemathesis against the receiver's own ``/openapi.json``: generated requests for every
operation (the event stream excepted), with the API token; no 5xx, and every response the spec
describes conforms to it.

Schemathesis' pytest integration (``from_fixture``) does not run under pytest 9, so each
operation is a parametrized test that draws cases from ``operation.as_strategy()``. The
operations are listed from the spec in ``src`` at collection; the schema the cases come from is
the one the running receiver serves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from netpay_smart.receiver.openapi import openapi
from tests.receiver.helpers import TOKEN, Live
from tests.wire.vectors import ALL_RESULTS

#: ``GET /api/events`` is a server-sent event stream: it never ends, so it is not called.
EXCLUDED = {("GET", "/api/events")}
SPEC = openapi("0")["paths"]
OPERATIONS = [
    (method.upper(), path)
    for path, methods in SPEC.items()
    for method in methods
    if (method.upper(), path) not in EXCLUDED
]


def _negatable(method: str, path: str) -> bool:
    """Whether invalid requests can be generated: a query parameter or a body with a schema
    (a bare string in the path, or an empty schema, has no invalid value)."""
    definition = SPEC[path][method.lower()]
    queries = [p for p in definition.get("parameters", []) if p["in"] == "query"]
    bodies = definition.get("requestBody", {}).get("content", {}).values()
    return bool(queries) or any(media.get("schema") for media in bodies)


CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _negatable(method, path)
]


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def known_bug(case: schemathesis.Case, dialect: str) -> bool:
    """Requests left out of the generated run: none since the bugs they hit were fixed (the
    pinned tests below keep them fixed)."""
    del case, dialect
    return False


@pytest.fixture(scope="module")
def seeded(module_live: Live) -> list[str]:
    """Every documented terminal body posted once and processed, so that the list endpoints
    have transactions (of each kind and status) to answer with; returns their order ids."""
    for name, body, _ in ALL_RESULTS:
        assert module_live.post(body).status_code == 200, name
    module_live.processed_deliveries(len(ALL_RESULTS))
    push = module_live.api.post("/api/pushes", json={"kind": "sale", "terminal_id": "T1"})
    assert push.status_code == 201, push.text
    return [t["order_id"] for t in module_live.transactions() if t["order_id"]]


@pytest.fixture(scope="module")
def receiver_schema(module_live: Live, seeded: list[str]) -> schemathesis.BaseSchema:
    """The spec as the running receiver serves it (after the data is seeded)."""
    return schemathesis.openapi.from_url(f"{module_live.base}/openapi.json", timeout=10)


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_the_receiver_keeps_to_its_openapi_document(
    receiver_schema: schemathesis.BaseSchema,
    module_live: Live,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    """Generated requests (valid and invalid) never get a 5xx, and the responses the spec
    describes conform to it."""
    operation = receiver_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        assume(not known_bug(case, module_live.receiver.store.dialect))
        case.call_and_validate(
            base_url=module_live.base,
            headers={"Authorization": f"Bearer {TOKEN}"},
            checks=CHECKS,
            timeout=10,
        )

    check()


def test_each_stored_transaction_conforms_to_the_transaction_schema(
    receiver_schema: schemathesis.BaseSchema, module_live: Live, seeded: list[str]
) -> None:
    """``GET /api/transactions/{order_id}`` for every seeded sale answers 200 in the spec's
    Transaction shape (generated order ids only ever find a 404)."""
    operation = receiver_schema["/api/transactions/{order_id}"]["GET"]
    assert len(seeded) >= 5
    for order_id in seeded:
        case = operation.Case(path_parameters={"order_id": order_id})
        response = case.call_and_validate(
            base_url=module_live.base,
            headers={"Authorization": f"Bearer {TOKEN}"},
            checks=CHECKS,
            timeout=10,
        )
        assert response.status_code == 200, (order_id, response.text)


@pytest.fixture
def quiet_server_errors() -> Iterator[None]:
    """Silence uvicorn's "Exception in ASGI application" for a test that provokes a 500.

    On Python 3.11 before 3.11.8 the traceback it formats in the server thread can race with
    pytest formatting a report in the main thread (both build ASTs for the carets; CPython
    gh-106905) and pytest dies with INTERNALERROR "AST constructor recursion depth mismatch".
    """
    logger = logging.getLogger("uvicorn.error")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _json_error(answer: httpx.Response, status: int) -> dict[str, str]:
    assert (answer.status_code, answer.headers["content-type"]) == (status, "application/json"), (
        answer.text[:200]
    )
    body = answer.json()
    assert isinstance(body["error"], str)
    assert isinstance(body["message"], str)
    return dict(body)


@pytest.mark.parametrize(
    "amount", ["92233720368547758.08", "100000000000000000", "1" + "0" * 27], ids=len
)
@pytest.mark.usefixtures("quiet_server_errors")
def test_a_push_amount_too_large_to_store_is_refused_with_400(
    module_live: Live, amount: str
) -> None:
    """A push whose amount is too large to store gets 400 bad_request, not a 5xx."""
    with httpx.Client(base_url=module_live.base, timeout=10) as client:  # a 500 ends the link
        answer = client.post(
            "/api/pushes",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"kind": "sale", "terminal_id": f"HUGE-{len(amount)}", "amount": amount},
        )
    assert _json_error(answer, 400)["error"] == "bad_request"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/transactions/a%0Ab"),
        ("GET", "/api/pushes/a%2Fb"),
        ("PATCH", "/api/pushes/a%2Fb"),
    ],
)
def test_an_unroutable_id_gets_the_documented_json_404(
    module_live: Live, method: str, path: str
) -> None:
    """An id the router cannot match still gets the documented 404 with a JSON Error."""
    answer = module_live.api.request(method, path, json={"state": "sent"})
    assert _json_error(answer, 404)["error"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/transactions?terminal_id=a%00b", None),
        ("GET", "/api/deliveries?kind=a%00b", None),
        ("GET", "/api/transactions/a%00b", None),
        ("POST", "/api/pushes", {"kind": "sale", "terminal_id": "T\u0000NUL"}),
    ],
    ids=["transactions-filter", "deliveries-filter", "transaction-order-id", "push-terminal"],
)
@pytest.mark.usefixtures("quiet_server_errors")
def test_a_nul_in_a_filter_or_a_push_is_not_a_server_error(
    module_live: Live, request: pytest.FixtureRequest, method: str, path: str, body: Any
) -> None:
    """A NUL character in a query filter, an order id or a push field gets a documented
    answer (200, 201, 404 or 400), never a 5xx."""
    with httpx.Client(base_url=module_live.base, timeout=10) as client:  # a 500 ends the link
        answer = client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert answer.status_code in (200, 201, 400, 404), answer.text[:200]
    assert answer.headers["content-type"] == "application/json"
