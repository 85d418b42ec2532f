"""The in-process hub: who hears about processed deliveries, and what it costs when nobody does."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from netpay_smart.store import Applied, Store
from netpay_smart.store.notify import Hub, _others, announce, listen

from .helpers import deliver, real_sale


class _RecordingLoop:
    """Stands in for the event loop: records what the writer thread asks it to run."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def is_closed(self) -> bool:
        return False

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> None:
        self.calls.append((callback, *args))


def test_nobody_subscribed_means_no_wake_up() -> None:
    """With no subscriber, publishing from the writer thread does not wake the loop."""
    loop = _RecordingLoop()
    hub = Hub(loop)  # type: ignore[arg-type]
    hub.publish_threadsafe([Applied(7, "new")])
    assert loop.calls == []


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


def test_a_payload_says_whose_it_is() -> None:
    """A store skips its own announcements and reads another's ids (none: query again); a
    payload without an origin (an older replica's) is another's."""
    assert _others("me:4,5", "me") is None
    assert _others("other:4,5", "me") == [4, 5]
    assert _others("other:", "me") == []
    assert _others("4,5", "me") == [4, 5]


def test_a_listener_republishes_other_stores_work_and_skips_its_own(store: Store) -> None:
    """PostgreSQL: the same delivery announced by this store and by another reaches this
    store's subscribers once, from the other's NOTIFY, read back from the database."""
    if store.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    stored = deliver(store, real_sale())

    async def scenario() -> list[list[Applied] | None]:
        hub = Hub(asyncio.get_running_loop())
        with hub.subscribe() as queue:
            listener = asyncio.create_task(listen(store.engines, hub, origin="me"))
            try:
                assert await asyncio.wait_for(queue.get(), 10) == []  # connected: query again
                with store.engines.write.begin() as conn:
                    announce(conn, [stored], origin="me")
                with store.engines.write.begin() as conn:
                    announce(conn, [stored], origin="someone-else")
                heard = [await asyncio.wait_for(queue.get(), 10)]
                await asyncio.sleep(0.3)  # anything more would have arrived by now
                while not queue.empty():
                    heard.append(queue.get_nowait())
                return heard
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    heard = asyncio.run(scenario())
    assert len(heard) == 1 and heard[0] is not None
    assert [(a.delivery_id, a.outcome) for a in heard[0]] == [(stored.delivery_id, "new")]
