"""An offline NetPay gateway and virtual Smart terminals that speak the real wire format.

Never imports the client or the receiver: it only speaks NetPay's wire format, so it can stand
in for the real gateway and terminals.
"""

from __future__ import annotations

from .clock import ManualClock, SystemClock
from .config import SandboxConfig, TerminalConfig
from .gateway import Sandbox, create_sandbox_app
from .scenarios import SCENARIOS, scenario_for

__all__ = [
    "SCENARIOS",
    "ManualClock",
    "Sandbox",
    "SandboxConfig",
    "SystemClock",
    "TerminalConfig",
    "create_sandbox_app",
    "scenario_for",
]
