"""Fixtures of the SDK tests: no ``NETPAY_*`` variable of the developer's shell leaks in."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_netpay_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees only the settings it passes (or sets itself)."""
    for name in list(os.environ):
        if name.startswith("NETPAY_"):
            monkeypatch.delenv(name)
