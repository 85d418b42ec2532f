"""The in-process hub: who hears about processed deliveries, and what it costs when nobody does."""

from __future__ import annotations

import asyncio
from typing import Any

from netpay_smart.store import Applied
from netpay_smart.store.notify import Hub


class _RecordingLoop:
    """Stands in for the event loop: records what the writer thread asks it to run."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def is_closed(self) -> bool:
        return False

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> None:
        self.calls.append((callback, *args))


def test_nobody_subscribed_means_no_wake_up() -> None:
    """With no subscriber, publishing from the writer thread does not wake the loop, and the
    ids are still remembered (NOTIFY echoes of them are skipped)."""
    loop = _RecordingLoop()
    hub = Hub(loop)  # type: ignore[arg-type]
    hub.publish_threadsafe([Applied(7, "new")])
    assert loop.calls == []
    assert hub.is_local(7)


def test_a_subscriber_hears_what_the_writer_thread_publishes() -> None:
    """A subscriber gets the batch the writer thread published, on the hub's loop."""

    async def scenario() -> list[Applied] | None:
        hub = Hub(asyncio.get_running_loop())
        with hub.subscribe() as queue:
            await asyncio.to_thread(hub.publish_threadsafe, [Applied(8, "new", order_id="o-8")])
            return await asyncio.wait_for(queue.get(), 5)

    batch = asyncio.run(scenario())
    assert batch is not None
    assert [(a.delivery_id, a.order_id) for a in batch] == [(8, "o-8")]
