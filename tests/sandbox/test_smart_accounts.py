"""Smart Accounts (seeds/000): the store switch, stores outside the group, blocked stores."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import MakeSandbox
from .harness import OTHER_SERIAL, OTHER_STORE, STORE, Live, terminal_config


@pytest.mark.parametrize("flag", ["true", True, "TRUE"])
def test_smart_accounts_switches_the_store(live: Live, flag: Any) -> None:
    """isSmartAccounts "true" (or true) with a store of the group switches the terminal to it."""
    result = live.sold("1.00", store="455312", isSmartAccounts=flag)
    assert (result["responseCode"], result["storeId"]) == ("00", "455312")
    assert live.terminal()["store_id"] == "455312"
    later = live.sold("2.00")  # the terminal stays on the store it switched to
    assert later["storeId"] == "455312"
    back = live.sold("3.00", store=STORE, isSmartAccounts="true")
    assert back["storeId"] == STORE
    assert live.terminal()["store_id"] == STORE


@pytest.mark.parametrize("flag", ["false", False, None])
def test_without_smart_accounts_the_store_stays(live: Live, flag: Any) -> None:
    """Without isSmartAccounts true the terminal keeps its configured store."""
    extra = {} if flag is None else {"isSmartAccounts": flag}
    result = live.sold("1.00", store="455312", **extra)
    assert result["storeId"] == STORE
    assert live.terminal()["store_id"] == STORE


def test_store_outside_the_group_posts_nothing(live: Live) -> None:
    """A store outside the Smart Accounts group: a session error on screen, nothing posted."""

    def push() -> None:
        live.sale("1.00", store="777777", isSmartAccounts="true")
        snapshot = live.wait_terminal(lambda t: "Smart Accounts" in t["screen"])
        assert snapshot["store_id"] == STORE
        assert snapshot["state"] == "idle"

    live.posts_nothing(push)


def test_smart_accounts_on_a_terminal_without_a_group(live: Live) -> None:
    """A terminal with no Smart Accounts group refuses any switch the same way."""

    def push() -> None:
        live.sale("1.00", OTHER_SERIAL, store=STORE, isSmartAccounts="true")
        live.wait_terminal(lambda t: "Smart Accounts" in t["screen"], OTHER_SERIAL)

    live.posts_nothing(push, OTHER_SERIAL)
    assert live.terminal(OTHER_SERIAL)["store_id"] == OTHER_STORE


@pytest.mark.parametrize("flag", ["true", None])
def test_blocked_store_posts_nothing(live: Live, flag: str | None) -> None:
    """The blocked store 455399: "Usuario no válido" on screen, nothing posted."""
    extra = {} if flag is None else {"isSmartAccounts": flag}

    def push() -> None:
        live.sale("1.00", store="455399", **extra)
        live.wait_terminal(lambda t: t["screen"] == "Usuario no válido")

    live.posts_nothing(push)
    assert live.terminal()["store_id"] == STORE


@pytest.mark.parametrize("kind", ["reprint", "cancel"])
def test_reprint_and_cancel_switch_the_store_too(live: Live, kind: str) -> None:
    """Reprints and cancellations with isSmartAccounts switch the store like sales."""
    order_id = live.sold("1.00")["orderId"]
    push = live.reprint if kind == "reprint" else live.cancel
    live.expect(lambda: push(order_id, storeId="455312", isSmartAccounts="true"))
    assert live.terminal()["store_id"] == "455312"


@pytest.mark.parametrize("flag", [True, "true"])
def test_disable_print_animation_skips_printing(make_sandbox: MakeSandbox, flag: Any) -> None:
    """With print_delay 5 s a sale waits in "printing"; with disablePrintAnimation it does not."""
    terminals = (terminal_config(print_delay=5), terminal_config(OTHER_SERIAL, OTHER_STORE))
    with make_sandbox(terminals=terminals) as live:
        live.sale("1.00", folioNumber="PRINTED")
        live.wait_terminal(lambda t: t["state"] == "printing")
        assert live.recorder.results() == []
        printed = live.expect(lambda: live.advance(5))
        assert printed["folioNumber"] == "PRINTED"
        moved = live.clock.now()

        quick = live.sold("1.00", folioNumber="QUICK", disablePrintAnimation=flag)
        assert (quick["folioNumber"], quick["responseCode"]) == ("QUICK", "00")
        assert live.clock.now() == moved  # posted without the 5 s of printing
