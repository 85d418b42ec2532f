"""Fixtures of the sandbox tests: a running sandbox whose terminals post to a recorder."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from netpay_smart.sandbox import ManualClock, SystemClock
from tests.conftest import serve_in_thread

from .harness import NOON_CDMX, Live, RecorderHub, running_sandbox

MakeSandbox = Callable[..., contextlib.AbstractContextManager[Live]]


@pytest.fixture(scope="session")
def hub() -> Iterator[RecorderHub]:
    """The merchants' response services of every test, on one real server."""
    recorders = RecorderHub()
    with serve_in_thread(recorders.app) as url:
        recorders.base_url = url
        yield recorders


@pytest.fixture
def clock() -> ManualClock:
    """Tuesday 2024-03-05 12:00 in Mexico City; moves only when a test says so."""
    return ManualClock(NOON_CDMX)


@pytest.fixture
def make_sandbox(hub: RecorderHub) -> MakeSandbox:
    """Start a sandbox of one's own: ``with make_sandbox(token_ttl=60) as live: ...``."""

    def make(**options: Any) -> contextlib.AbstractContextManager[Live]:
        return running_sandbox(hub, **options)

    return make


@pytest.fixture
def live(hub: RecorderHub, clock: ManualClock) -> Iterator[Live]:
    """A fresh sandbox on a ManualClock, two terminals with zero delays, probes answered."""
    with running_sandbox(hub, clock=clock) as running:
        yield running


@pytest.fixture
def live_system(hub: RecorderHub) -> Iterator[Live]:
    """A fresh sandbox on the real clock."""
    with running_sandbox(hub, clock=SystemClock()) as running:
        yield running


@pytest.fixture(scope="module")
def shared(hub: RecorderHub) -> Iterator[Live]:
    """One sandbox for a whole module of tests that leave no state behind (clock never moved)."""
    with running_sandbox(hub, clock=ManualClock(NOON_CDMX)) as running:
        yield running
