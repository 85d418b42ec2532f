"""The receiver: the ASGI service Smart terminals post their results to."""

from __future__ import annotations

from .app import Receiver, create_app

__all__ = ["Receiver", "create_app"]
