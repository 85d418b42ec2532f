"""Fixtures of the CLI tests: the sandbox and the receiver wired together, on real servers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.client.world import MAIN_SERIAL, MAIN_STORE, World, running_world, terminal

#: Terminals of their own for tests that must see a quiet terminal.
NO_WAIT = "0821000124"
NO_RECEIVER = "0821000125"
#: Terminals left reserved by an unanswered push (amount 0.80: the terminal stays silent).
HELD_SALE = "0821000126"
HELD_REPRINT = "0821000127"
BUSY = "0821000128"


@pytest.fixture(autouse=True)
def _no_netpay_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands see only the NETPAY_* variables a test gives them."""
    for name in list(os.environ):
        if name.startswith("NETPAY_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A receiver and a sandbox on the real clock, zero delays."""
    terminals = (
        terminal(MAIN_SERIAL, smart_accounts=(MAIN_STORE, "455312")),
        terminal(NO_WAIT),
        terminal(NO_RECEIVER),
        terminal(HELD_SALE),
        terminal(HELD_REPRINT),
        terminal(BUSY),
    )
    with running_world(tmp_path_factory.mktemp("cli"), terminals) as running:
        yield running
