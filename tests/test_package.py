"""The public surface: sorted and complete ``__all__`` lists, and the one error tree."""

from __future__ import annotations

import ast
import doctest
import inspect
import re
from types import ModuleType

import pytest

import netpay_smart
from netpay_smart import codes, errors, wire
from netpay_smart.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    NetPayError,
    PayloadError,
    RuleError,
    TerminalBusyError,
    TerminalNotFoundError,
    TransportError,
)

PUBLIC_MODULES = [errors, codes, wire]


def _isort_key(name: str) -> tuple[int, list[object]]:
    """Ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest; natural within."""
    if name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return group, natural


def _defined_public_names(module: ModuleType) -> set[str]:
    """Top-level names a module defines itself (not imports) and does not mark private."""
    tree = ast.parse(inspect.getsource(module))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


# --------------------------------------------------------------------------------------------
# __all__
# --------------------------------------------------------------------------------------------


def test_package_all_is_sorted() -> None:
    """``netpay_smart.__all__`` is sorted (ruff's order, which is also plain ``sorted`` here)."""
    names = list(netpay_smart.__all__)
    assert names == sorted(names, key=_isort_key)
    assert names == sorted(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", netpay_smart.__all__)
def test_every_package_name_is_importable(name: str) -> None:
    """Every name in ``netpay_smart.__all__`` can be imported from ``netpay_smart``."""
    namespace: dict[str, object] = {}
    exec(f"from netpay_smart import {name}", namespace)  # noqa: S102 - the import is the test
    assert namespace[name] is getattr(netpay_smart, name)


def test_package_reexports_the_originals() -> None:
    """The package surface is the same objects as in the modules, not copies."""
    assert netpay_smart.normalise is wire.normalise
    assert netpay_smart.parse_result is wire.parse_result
    assert netpay_smart.describe is codes.describe
    assert netpay_smart.PayloadError is errors.PayloadError
    assert netpay_smart.__version__ == "0.1.0"


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_module_all_is_sorted(module: ModuleType) -> None:
    """Each public module's ``__all__`` is in ruff's RUF022 order without duplicates."""
    names = list(module.__all__)
    assert names == sorted(names, key=_isort_key)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_module_all_names_exist(module: ModuleType) -> None:
    """Every name a module exports exists in it."""
    assert [n for n in module.__all__ if not hasattr(module, n)] == []


@pytest.mark.parametrize(
    "module",
    [
        errors,
        codes,
        wire,
    ],
    ids=lambda m: m.__name__,
)
def test_module_all_is_complete(module: ModuleType) -> None:
    """Every public name a module defines itself is listed in its ``__all__``."""
    assert _defined_public_names(module) - set(module.__all__) == set()


@pytest.mark.parametrize("module", [*PUBLIC_MODULES, netpay_smart], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module: ModuleType) -> None:
    """The ``>>>`` examples in the public modules' docstrings run and give what they show."""
    result = doctest.testmod(module)
    assert result.failed == 0


# --------------------------------------------------------------------------------------------
# The error tree
# --------------------------------------------------------------------------------------------


def _drawn_tree() -> dict[str, str]:
    """Child -> parent as the outline in the errors.py docstring draws it."""
    assert errors.__doc__ is not None
    outline = errors.__doc__.split("```")[1]
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in outline.strip("\n").splitlines():
        match = re.match(r"^(\s*(?:[├└]\s)?)(\w+)", line)
        assert match is not None, line
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_error_tree_matches_the_docstring_outline() -> None:
    """Each error's direct base is the parent drawn for it in the errors.py docstring."""
    drawn = _drawn_tree()
    assert drawn == {
        "ConfigurationError": "NetPayError",
        "PayloadError": "NetPayError",
        "RuleError": "NetPayError",
        "TransportError": "NetPayError",
        "APIError": "NetPayError",
        "AuthenticationError": "APIError",
        "TerminalNotFoundError": "APIError",
        "TerminalBusyError": "APIError",
    }
    actual = {name: getattr(errors, name).__bases__[0].__name__ for name in drawn}
    assert actual == drawn
    assert set(errors.__all__) == set(drawn) | {"NetPayError"}


@pytest.mark.parametrize(
    ("error", "ancestors"),
    [
        (TerminalNotFoundError, (APIError, NetPayError, Exception)),
        (TerminalBusyError, (APIError, NetPayError)),
        (AuthenticationError, (APIError, NetPayError)),
        (APIError, (NetPayError,)),
        (PayloadError, (NetPayError,)),
        (RuleError, (NetPayError,)),
        (TransportError, (NetPayError,)),
        (ConfigurationError, (NetPayError,)),
        (NetPayError, (Exception,)),
    ],
)
def test_error_ancestry(error: type[Exception], ancestors: tuple[type[Exception], ...]) -> None:
    """``except NetPayError`` catches everything; API errors are also ``APIError``."""
    assert all(issubclass(error, a) for a in ancestors)


@pytest.mark.parametrize(
    "error", [PayloadError, RuleError, TransportError, ConfigurationError, NetPayError]
)
def test_non_api_errors_are_not_api_errors(error: type[Exception]) -> None:
    """Errors raised before or without an answer from NetPay are not ``APIError``."""
    assert not issubclass(error, APIError)


def test_transport_error_is_retryable_unless_told_otherwise() -> None:
    """``TransportError.retryable`` defaults to True and can be turned off."""
    assert TransportError("timed out").retryable is True
    assert TransportError("TLS failure", retryable=False).retryable is False
    assert str(TransportError("timed out")) == "timed out"


def test_api_error_carries_the_answer() -> None:
    """``APIError`` and its subclasses keep status, code, description and body."""
    exc = TerminalNotFoundError(
        "terminal not found",
        status=200,
        code="19",
        description="No se encontró la terminal",
        body={"code": "19"},
    )
    assert (exc.status, exc.code, exc.description, exc.body) == (
        200,
        "19",
        "No se encontró la terminal",
        {"code": "19"},
    )
    bare = APIError("boom")
    assert (bare.status, bare.code, bare.description, bare.body) == (None, None, None, None)


def test_payload_error_has_a_reason() -> None:
    """``PayloadError.reason`` is the machine tag; the message is for people."""
    exc = PayloadError("not_json", "the body is not valid JSON")
    assert exc.reason == "not_json"
    assert str(exc) == "the body is not valid JSON"


def test_configuration_error_shows_its_hint() -> None:
    """``ConfigurationError`` puts the hint in its message and keeps it as ``.hint``."""
    exc = ConfigurationError("NETPAY_STORE_ID is missing", hint="set it to your store id")
    assert exc.hint == "set it to your store id"
    assert str(exc) == "NETPAY_STORE_ID is missing (set it to your store id)"
    assert ConfigurationError("bad").hint is None
    assert str(ConfigurationError("bad")) == "bad"
