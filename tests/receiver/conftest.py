"""Fixtures of the receiver's HTTP tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import Live, live_receiver


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    """The receiver with the test secret and token, on SQLite and on PostgreSQL."""
    with live_receiver(database_url) as running:
        yield running
