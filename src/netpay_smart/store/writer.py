"""The single writer: group commit of deliveries, then processing, on one thread.

Every webhook request hands its body to :meth:`Writer.write` and awaits the commit. The thread
takes whatever has queued up (up to ``batch_max``), inserts it in one transaction, commits
(one fsync for the whole batch) and wakes the waiting requests so they can answer "Recibido".
Under load, batches grow and throughput follows; when idle, a lone body is committed at once.

Processing (normalising, deduplicating, matching pushes) comes second, in small chunks
between batches: each time ``process_max`` deliveries have been acknowledged the thread
processes a chunk of that many. At a steady rate processing keeps up, so a POS waiting for
a result is not kept waiting longer and longer; a body arriving meanwhile waits for one small
chunk at most. Whenever no body has come for ``idle`` seconds, what is left (after a burst)
goes in larger chunks of ``idle_max``, cheaper per delivery; a body arriving then waits for
one of those. A body that comes alone (none in the ``lone_after`` seconds before it, the
usual case at a shop's pace) is processed right after its acknowledgement rather than after
``idle`` seconds of quiet. Under a saturating burst the two share the CPU (processing a
delivery costs more than acknowledging it), so a burst leaves a backlog behind it. A crash in
between leaves deliveries ``pending``; after :meth:`Writer.start` the threads process them
while new results are acknowledged.

A result a POS is waiting for does not queue behind a backlog: one that answers a push made
through netpay-smart (the push id the SDK puts in ``traceability``, which terminals echo) is
processed right after its commit, ahead of whatever else waits. On SQLite the thread processes
all of them after each batch before it commits the next: if they come faster than that,
acknowledging slows down, not the outcome a cashier waits for.

On PostgreSQL a local :class:`~.spool.Spool` stands behind the database: a batch the database
refuses is committed to the spool and acknowledged all the same; later batches follow it there
(nothing overtakes what waits), and once a second the thread tries to move the spool back into
the database, oldest first, before it writes there again. Only when the spool refuses too does
a request get :class:`StoreUnavailableError` (the terminal is told 503, never 200).

One thread owns the write connection, so SQLite never sees two writers from this process and
the event loop never blocks on disk. On PostgreSQL, which takes concurrent writers, processing
runs on ``PROCESSORS`` threads of their own, each with its connection (16 deliveries per
transaction): an ack never waits for processing's round trips to the database, nor processing
for the acks, and the threads overlap their round trips (six a chunk, see ``process_many``).
What waits in the database (a spill, a restart, a spool moved back) is read by one of them at
a time, 64 a transaction (see ``_work``). On
SQLite copying the WAL back into the database file is SQLite's own doing, inside the commit that
takes the WAL past ``engine.CHECKPOINT_PAGES``: a small copy often (see there).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from ..errors import PayloadError
from ..wire import TRACE_KEY, decode_object
from .engine import Engines
from .ingest import (
    Applied,
    Incoming,
    Work,
    batches_commit_whole,
    count_pending,
    insert_deliveries,
    insert_spooled,
    pending_deliveries,
    process_many,
)
from .notify import announce, new_origin
from .spool import Spool, SpoolError

__all__ = ["StoreUnavailableError", "Writer"]

log = logging.getLogger("netpay_smart.store")


class StoreUnavailableError(Exception):
    """The database refused the write; the body was *not* stored and must not be acked."""


@dataclass(slots=True)
class _Job:
    item: Incoming
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[int]


@dataclass(slots=True)
class _Call:
    """Another thread's write, run on the writer's thread between its transactions."""

    fn: Callable[[], Any]
    future: concurrent.futures.Future[Any]

    def run(self) -> None:
        try:
            self.future.set_result(self.fn())
        except BaseException as exc:  # handed to the caller, who raises it
            self.future.set_exception(exc)


def _awaited(decoded: dict[str, Any] | None) -> bool:
    """Whether a POS may be waiting for this result: it answers a push made through
    netpay-smart, whose id the SDK put in ``traceability`` and the terminal echoes back."""
    trace = decoded.get("traceability") if decoded is not None else None
    return isinstance(trace, dict) and bool(trace.get(TRACE_KEY))


def _decoded(body: bytes) -> dict[str, Any] | None:
    """A spooled body as the webhook decoded it (the spool keeps only the bytes)."""
    try:
        return decode_object(body)
    except PayloadError:
        return None


def _settle(settled: list[tuple[asyncio.Future[int], int | BaseException]]) -> None:
    """Resolve a batch's futures on their loop: one wake-up per batch, not per request."""
    for future, value in settled:
        if future.done():  # the request went away (client disconnected); the row is stored
            continue
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)


#: Gives the CPU to another runnable thread (Windows has no sched_yield; Sleep(0) does it).
_step_aside: Callable[[], None] = getattr(os, "sched_yield", None) or (lambda: time.sleep(0))


def _wake(jobs: list[_Job], values: list[int] | BaseException) -> None:
    """Hand a batch's results to the requests waiting on them, then step aside.

    The event loop's thread was just woken to send the answers, but this thread holds the GIL
    and would go straight on to processing: on a busy CPU the answers waited for it. Yielding
    here lets them go first (at 1,000 results/s the median ack went from 1.2-1.3 ms to 1.0 ms
    and the p99 from 4.0-4.5 ms to 3.6-3.7 ms; at saturation the p99 from 7.0-7.2 to 6.2-6.3).
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], Any]]] = {}
    for index, job in enumerate(jobs):
        value = values if isinstance(values, BaseException) else values[index]
        by_loop.setdefault(job.loop, []).append((job.future, value))
    for loop, settled in by_loop.items():
        if not loop.is_closed():
            loop.call_soon_threadsafe(_settle, settled)
    _step_aside()


_STOP = object()

#: Processor threads on PostgreSQL (each holds a connection of the engine's write pool).
PROCESSORS = 4


class Writer:
    """Group-commit writer thread. ``on_applied`` is called (on the thread) after processing."""

    def __init__(
        self,
        engines: Engines,
        *,
        on_applied: Callable[[list[Applied]], None] | None = None,
        batch_max: int = 256,
        process_max: int | None = None,
        idle: float = 0.002,
        idle_max: int = 16,
        lone_after: float = 0.005,
        backlog_max: int = 1000,
        read_ahead: int = 64,
        fairness: int = 8,
        clock: Callable[[], datetime] | None = None,
        spool: Spool | None = None,
        retry_every: float = 1.0,
        drain_max: int = 500,
        processors: int | None = None,
        origin: str | None = None,
    ) -> None:
        self._engines = engines
        self._on_applied = on_applied
        self._origin = origin or new_origin()
        # Each row's key (see _commit): a prefix of this writer's own, not the store's origin,
        # which a store started again keeps. A key met again would let the spool's move skip
        # a body that is not in the database.
        self._key_prefix = uuid.uuid4().hex[:16]
        self._keys = itertools.count(1)
        self._batch_max = batch_max
        self._clock = clock or (lambda: datetime.now(UTC))
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._backlog: list[Work] = []
        # Results a POS may be waiting for (see _awaited): processed before anything else.
        self._awaited: list[Work] = []
        # Read back from the database past the backlog's limit, for the next chunks (see _work).
        self._ahead: list[Work] = []
        self._connections: dict[str, Connection] = {}
        self._durable = True  # SQLite: the connection's synchronous setting is FULL
        #: PostgreSQL: processing on threads of their own, each with its connection (SQLite
        #: has one writer at a time). Processing waits for the database six times a chunk,
        #: so several threads overlap those waits (with 2 or 3 threads, no more acks a second).
        self._processors_wanted = (
            (PROCESSORS if engines.dialect == "postgresql" else 0)
            if processors is None
            else processors
        )
        self._separate = self._processors_wanted > 0
        # Small chunks on the one thread: a body arriving meanwhile waits for the chunk (at
        # 1,000/s, chunks of 16 made the median ack three times slower than chunks of 4).
        self._process_max = process_max or (16 if self._separate else 4)
        self._processors: list[threading.Thread] = []
        self._inflight: set[int] = set()  # deliveries a processor thread has taken
        self._stopping = False
        # The backlog, the spilled flag and what is in flight are shared by the writer and the
        # processor threads on PostgreSQL; _spills counts every spill, so a reader that found
        # nothing pending knows whether a spill happened meanwhile.
        self._state = threading.Lock()
        # A commit wakes a processor thread only if none is at work or more than a chunk
        # waits: a thread at work takes what came meanwhile as its next chunk. Waking all four
        # for every commit made four chunks of one where one chunk of several does (at 500
        # results/s, over 1 ms of CPU per result). A spill, whose deliveries wait in the
        # database, wakes them all.
        self._has_work = threading.Condition(self._state)
        self._at_work = 0  # processor threads processing now
        self._spills = 0
        # PostgreSQL: a processor thread is working through what waits in the database.
        self._reading = False
        self._idle = idle
        # Catching up after a burst, larger chunks cost less per delivery: on SQLite 160-175
        # µs of CPU instead of about 205, 4,700-5,300 deliveries a second instead of 4,100.
        # A body arriving meanwhile waits for the chunk (at 200/s while catching up: median
        # ack 2.6-2.7 ms instead of 2.1; the p99 was 8-30 ms either way).
        self._idle_max = idle_max
        self._lone_after = lone_after
        self._backlog_max = backlog_max
        self._read_ahead = max(1, min(read_ahead, backlog_max))
        self._fairness = fairness
        self._spilled = False
        self._spool = spool
        self._retry_every = retry_every
        self._drain_max = drain_max
        #: True while batches go to the spool (the database failed, or the spool is not empty).
        self.spooling = False
        #: The last batch could not be stored and there is no spool: results get 503.
        self.refusing = False
        self._retry_at = 0.0  # no database work before this (monotonic) after a failure
        self.batches = 0
        self.committed = 0
        self.processed = 0
        self.spooled = 0
        self.drained = 0

    def start(self) -> None:
        """Start taking writes at once; what a stop or a crash left behind is caught up on by
        the threads meanwhile.

        Left behind are bodies still in the spool (moved into the database first, oldest
        first, while new ones queue behind them there) and deliveries committed but not
        processed (``pending``). Both are worked through while new results are acknowledged,
        and a result a POS waits for goes ahead of them (see :meth:`_committed`): a receiver
        that first worked through 20,000 pending deliveries did not listen for 3.4-3.8 s.

        If the database cannot be reached now, the writer starts anyway and acknowledges from
        the spool; without a spool, start() raises.
        """
        if self._spool is not None:
            try:
                self._spool.open()
            except SpoolError as exc:
                log.error("%s; without it, an unreachable database means 503s", exc)
            if self._spool.depth:
                log.warning("the spool holds %d deliveries; moving them first", self._spool.depth)
                self.spooling = True
        try:
            with self._engines.write.connect() as connection:
                left = count_pending(connection)
        except Exception as exc:
            if self._spool is None or self._spool.error is not None:
                raise
            log.error(
                "the database cannot be reached (%s); acknowledging from the spool at %s",
                type(exc).__name__,
                self._spool.path,
            )
            self.spooling = True
            self._retry_at = time.monotonic() + self._retry_every
        else:
            if left:
                log.warning(
                    "%d deliveries left pending by a restart; processing them meanwhile", left
                )
                self._spill()  # they wait in the database
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="netpay-writer", daemon=True)
        self._thread.start()
        self._processors = [
            threading.Thread(target=self._process_loop, name=f"netpay-processor-{n}", daemon=True)
            for n in range(self._processors_wanted)
        ]
        for processor in self._processors:
            processor.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None
        with self._state:
            self._stopping = True
            self._has_work.notify_all()
        for processor in self._processors:
            processor.join(timeout)
        self._processors = []

    async def write(self, item: Incoming) -> int:
        """Store ``item`` durably; returns its delivery id once the commit is on disk (the
        negative of its spool id when the spool took it)."""
        if self._thread is None:
            raise StoreUnavailableError("the writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._queue.put(_Job(item, loop, future))
        return await future

    def call(self, fn: Callable[[], Any], *, timeout: float = 30.0) -> Any:
        """Run ``fn`` (a write of the caller's: a push registered, its state) on SQLite on the
        writer's thread, between two of its transactions, and return what it returns.

        SQLite takes one writer at a time. Another connection that wants to write while the
        thread works through a backlog, one transaction after another, retries with waits
        that grow to 100 ms, and kept missing the gaps between them: registering a push
        during a catch-up took 16 ms at the median and up to 1 s. On PostgreSQL, and when
        the thread is not running, ``fn`` runs at once on the caller's thread.
        """
        thread = self._thread
        if self._separate or thread is None or threading.current_thread() is thread:
            return fn()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put(_Call(fn, future))
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise StoreUnavailableError("the writer did not take the write in time") from None

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        batches_since_background = 0
        last_ack = 0.0
        owed = 0  # deliveries acknowledged and not yet matched by a processed chunk
        while True:
            # Background work (moving the spool back, a full chunk of processing) runs once no
            # body has arrived for a moment, and every few batches under sustained load; after
            # each batch, processing also keeps pace with the acknowledgements (below).
            wait = self._background_in(time.monotonic() - last_ack)
            try:
                if wait is None:
                    first = self._queue.get()
                elif wait <= 0:
                    first = self._queue.get_nowait()
                else:
                    first = self._queue.get(timeout=wait)
            except queue.Empty:
                self._background(self._idle_max)
                batches_since_background = owed = 0
                continue
            if batches_since_background >= self._fairness:
                if self._background_in(self._idle) == 0:
                    self._background()
                batches_since_background = 0
            if first is _STOP:
                break
            if isinstance(first, _Call):
                first.run()
                continue
            jobs: list[_Job] = [first]
            calls: list[_Call] = []
            stopping = False
            while len(jobs) < self._batch_max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                if isinstance(nxt, _Call):
                    calls.append(nxt)
                else:
                    jobs.append(nxt)
            self._commit(jobs)
            for call in calls:
                call.run()
            now = time.monotonic()
            lone = now - last_ack > self._lone_after  # nothing came just before
            last_ack = now
            batches_since_background += 1
            if stopping:
                break
            if not self._separate:
                # Processing keeps pace with the acknowledgements instead of waiting for a
                # quiet moment: a chunk for every chunk's worth acknowledged, so the next
                # batch waits for one small chunk at the most. Whole chunks: a delivery
                # processed alone costs 40 % more than in a chunk of four, but one that came
                # alone would only wait for company (sale to outcome end to end, p50 11.0-11.3 →
                # 8.6-8.9 ms; at 1,000/s and in bursts nothing comes alone).
                owed = min(owed + len(jobs), self._process_max)
                if self._awaited:
                    # Results a POS may be waiting for are processed at once, all of them,
                    # ahead of any backlog: when they come faster than that, acknowledging
                    # slows down instead of cashiers waiting longer and longer.
                    while self._awaited and self._processing_due():
                        self._work(self._idle_max)
                    owed = 0
                elif (owed == self._process_max or lone) and self._processing_due():
                    self._work(self._process_max)
                    owed = 0
        if not self._separate:
            self._finish_processing()
        self._refuse_what_is_left()
        self._drop_connection("ack")
        self._drop_connection("drain")
        if self._spool is not None:
            self._spool.close()

    def _refuse_what_is_left(self) -> None:
        """Stopping: what was queued after the stop is not stored (503, the terminal sends it
        again); a write handed over by another thread still runs."""
        refused: list[_Job] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Call):
                item.run()
            elif isinstance(item, _Job):
                refused.append(item)
        if refused:
            _wake(refused, StoreUnavailableError("the receiver is stopping"))

    def _finish_processing(self) -> None:
        """Stopping: process what is held in memory (at most backlog_max, well under a
        second); what waits in the database or the spool stays there for the next start."""
        while (
            # Held in memory: not what waits in the database.
            (self._awaited or self._backlog or self._ahead)
            and not self.spooling
            and self._retry_at <= time.monotonic()
        ):
            self._work()
        self._drop_connection(_work_role())

    def _process_loop(self) -> None:
        """PostgreSQL: a processor thread, woken by a commit, a spill or a spool move, and
        every ``retry_every`` seconds (to try again after a failure)."""
        while not self._stopping:
            with self._state:
                if not (self._stopping or self._processing_due()):
                    self._has_work.wait(self._retry_every)
                self._at_work += 1
            try:
                while not self._stopping and self._processing_due():
                    self._work()
            finally:
                with self._state:
                    self._at_work -= 1
        self._finish_processing()

    def _processing_due(self) -> bool:
        """Whether there is processing to do right now (not while spooling or backing off)."""
        return self._unprocessed() and not self.spooling and self._retry_at <= time.monotonic()

    def _unprocessed(self) -> bool:
        """Whether deliveries wait to be processed: held in memory, or in the database (for
        one processor thread at a time, see ``_work``)."""
        held = bool(self._awaited or self._backlog or self._ahead)
        return held or (self._spilled and not self._reading)

    def _background_in(self, quiet_for: float) -> float | None:
        """Seconds until background work is due (0: now), ``None`` when there is none."""
        processing = not self._separate and self._unprocessed()
        if not (self.spooling or processing):
            return None
        return max(0.0, self._idle - quiet_for, self._retry_at - time.monotonic())

    def _background(self, size: int | None = None) -> None:
        if self.spooling:
            if not self._drain():
                self._retry_at = time.monotonic() + self._retry_every
        elif not self._separate:  # on PostgreSQL the processor threads do this
            self._work(size)

    def _drain(self) -> bool:
        """Move the oldest spooled bodies into the database; ``False`` if it cannot now."""
        assert self._spool is not None
        try:
            taken = self._spool.oldest(self._drain_max)
        except Exception as exc:
            # Refusing every result until the file heals would be worse than writing new ones
            # to the database ahead of what waits there (processing does not depend on order);
            # what waits is moved at the next start or the next outage.
            log.error(
                "cannot read the spool (%s); %d deliveries wait there; writing to the database",
                exc,
                self._spool.depth,
            )
            self.spooling = False
            return True
        if not taken:
            self.spooling = False
            self._spill()  # what was moved is pending in the database
            log.warning("the spool is empty; writing to the database again")
            return True
        try:
            # Not the acknowledging connection: on PostgreSQL each of its statements commits
            # on its own, and what is moved here goes in one transaction.
            connection = self._connection("drain")
            with connection.begin():
                ids = insert_spooled(
                    connection, [(item.key or self._spool.key(i), item) for i, item in taken]
                )
        except Exception as exc:
            self._drop_connection("drain", failed=True)
            log.debug("the database is still unreachable: %s", type(exc).__name__)
            return False
        # Processed ahead of the rest once the spool is empty: a POS waited through the outage.
        awaited = [
            (delivery_id, item.body, decoded, item.error)
            for (_, item), delivery_id in zip(taken, ids, strict=True)
            if delivery_id is not None and _awaited(decoded := _decoded(item.body))
        ]
        if awaited:
            with self._state:
                self._hold_awaited(awaited)
        try:
            self._spool.remove(taken[-1][0])
        except Exception as exc:
            # They are in the database; moving them again will insert nothing.
            log.error("could not clear moved deliveries from the spool: %s", exc)
            return False
        self.drained += len(taken)
        self._spill()
        return True

    def _work(self, size: int | None = None) -> None:
        """Process one chunk: from memory while the backlog is small, else from the database
        (the bodies are there, marked pending), so a long burst costs no memory.

        One read from the database brings back ``read_ahead`` deliveries, the next chunks'
        too: under a long burst a read transaction for every chunk of four made processing
        cost half as much again (on SQLite 250 µs of CPU per delivery, from memory 170). On
        PostgreSQL one processor thread at a time reads the database, and processes all it
        read as one chunk, while the others take what is held in memory (results a POS waits
        for first): catching up on 20,000 took 7.0-8.5 s with four threads reading chunks of
        16, 3.8 s with one reading 64 (half the CPU: four threads take turns at one
        interpreter lock, and a chunk's round trips cost the same for 16 or 64).
        """
        size = size or self._process_max
        wanted = max(size, self._read_ahead)  # from the database: this chunk and the next ones
        with self._state:
            # What a POS may be waiting for first; one another thread holds is its to process.
            taken = [item for item in self._awaited[:size] if item[0] not in self._inflight]
            del self._awaited[:size]
            self._inflight.update(item[0] for item in taken)
            if not taken:
                taken = self._ahead[:size]  # read before the backlog's: older, already in flight
                del self._ahead[:size]
            if not taken:
                taken = self._backlog[:size]
                del self._backlog[:size]
                self._inflight.update(item[0] for item in taken)
            spills = self._spills
            busy = len(self._inflight)
            if not taken and self._separate:
                if self._reading:
                    return  # another thread reads the database; nothing held for this one
                self._reading = True
                size = wanted
        if taken:
            self._process(taken)
            return
        try:
            self._read_and_process(size, wanted, busy=busy, spills=spills)
        finally:
            if self._separate:
                with self._state:
                    self._reading = False

    def _read_and_process(self, size: int, wanted: int, *, busy: int, spills: int) -> None:
        """Read ``wanted`` pending deliveries (past the ``busy`` other threads hold), process
        ``size`` of them now and hold the rest for the next chunks."""
        role = _work_role()
        try:
            connection = self._connection(role, durable=False)
            with connection.begin():
                # What other processor threads hold is still pending here: read past it.
                found: list[Work] = list(pending_deliveries(connection, limit=wanted + busy))
        except Exception:
            log.exception("cannot read pending deliveries; retrying later")
            self._drop_connection(role, failed=True)
            self._retry_at = time.monotonic() + self._retry_every
            return
        with self._state:
            fresh = [item for item in found if item[0] not in self._inflight][:wanted]
            self._inflight.update(item[0] for item in fresh)
            chunk = fresh[:size]
            self._ahead.extend(fresh[size:])
            if not found and self._spills == spills:  # no spill since: nothing is pending
                self._spilled = False
        if chunk:
            self._process(chunk)

    def _connection(self, role: str, *, durable: bool = True) -> Connection:
        """Each thread keeps its connections open (no pool round trip per batch).

        ``ack`` commits with the engine's full durability. ``work:…`` (one per thread that
        processes) does not wait for the disk (SQLite ``synchronous=NORMAL``; on PostgreSQL
        processing's own claim sets ``synchronous_commit`` off for its transaction): what it
        writes is derived from deliveries already on disk, so if a crash loses it the
        deliveries are simply ``pending`` again and processed at the next start. ``drain``
        moves the spool back in transactions of its own.

        On SQLite the writer thread processes on the connection it acknowledges on, switching
        ``synchronous`` between transactions (``durable``): each SQLite connection has its own
        page cache, emptied whenever another connection has written, so two connections taking
        turns would start every transaction cold.
        """
        role = self._role(role)
        connection = self._connections.get(role)
        if connection is None or connection.closed or connection.invalidated:
            connection = self._engines.write.connect()
            if role == "ack" and self._engines.dialect == "postgresql" and batches_commit_whole():
                # The insert is its own transaction, committed when it returns (all its rows
                # or none, see insert_deliveries): no BEGIN and no COMMIT round trip. With an
                # old libpq (no pipeline mode) rows would commit one by one: not then.
                connection.execution_options(isolation_level="AUTOCOMMIT")
            self._durable = True  # the engine opens connections synchronous=FULL
            self._connections[role] = connection
        if self._engines.dialect == "sqlite" and durable != self._durable:
            driver = connection.connection.driver_connection
            driver.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")  # type: ignore[union-attr]
            self._durable = durable
        return connection

    def _role(self, role: str) -> str:
        """SQLite: one connection for everything the writer thread does (see ``_connection``)."""
        return "ack" if self._engines.dialect == "sqlite" else role

    def _drop_connection(self, role: str, *, failed: bool = False) -> None:
        """Give the connection back; after a failure, close it for good: what failed may be
        the connection itself (SQLite opened read-only while the file was, say), and the pool
        would hand it out again and again."""
        connection = self._connections.pop(self._role(role), None)
        if connection is not None:
            with contextlib.suppress(Exception):
                if failed:
                    connection.invalidate()
                if self._engines.dialect == "sqlite" and not connection.invalidated:
                    # Back to the pool as the engine made it: durable.
                    driver = connection.connection.driver_connection
                    driver.execute("PRAGMA synchronous=FULL")  # type: ignore[union-attr]
                connection.close()

    def _commit(self, jobs: list[_Job]) -> None:
        """Store a batch in one transaction (or in the spool), then let every request answer."""
        items = [job.item for job in jobs]
        if self._spool is not None:
            # Keyed before the first attempt: if the database commits and goes away before it
            # answers, the batch is spooled too, and the key makes moving it back a no-op.
            for item in items:
                item.key = f"{self._key_prefix}:{next(self._keys):012d}"
        if not self.spooling:
            try:
                connection = self._connection("ack")
                with connection.begin():
                    ids = insert_deliveries(connection, items)
            except Exception as exc:
                log.error("could not store %d deliveries: %s", len(jobs), type(exc).__name__)
                self._drop_connection("ack", failed=True)  # a broken connection is not reused
                if self._spool is None:
                    self.refusing = True
                    _wake(jobs, StoreUnavailableError(str(exc)))
                    return
                log.warning("acknowledging from the spool at %s", self._spool.path)
                self.spooling = True
                self._retry_at = time.monotonic() + self._retry_every
            else:
                self.refusing = False
                self._committed(jobs, ids)
                return
        assert self._spool is not None
        try:
            spool_ids = self._spool.append(items)
        except SpoolError as exc:
            log.error("%s", exc)
            _wake(jobs, StoreUnavailableError(str(exc)))
            if not self._spool.depth:
                self.spooling = False  # nothing waits there: try the database first next time
            return
        self.batches += 1
        self.committed += len(jobs)
        self.spooled += len(jobs)
        _wake(jobs, [-spool_id for spool_id in spool_ids])

    def _committed(self, jobs: list[_Job], ids: list[int]) -> None:
        self.batches += 1
        self.committed += len(jobs)
        _wake(jobs, ids)
        work = [
            (delivery_id, job.item.body, job.item.decoded, job.item.error)
            for job, delivery_id in zip(jobs, ids, strict=True)
        ]
        awaited = [item for item in work if _awaited(item[2])]
        with self._state:
            awaited = self._hold_awaited(awaited)
            if awaited:
                first = {item[0] for item in awaited}
                work = [item for item in work if item[0] not in first]
            if self._spilled or len(self._backlog) + len(work) > self._backlog_max:
                # Too much to hold: leave it all in the database (pending), read it back there.
                self._spill_locked()
            else:
                self._backlog.extend(work)
            if self._separate:
                if self._spilled:  # what waits in the database is for every thread to read
                    self._has_work.notify_all()
                elif not self._at_work or awaited or len(self._backlog) > self._process_max:
                    self._has_work.notify()

    def _hold_awaited(self, awaited: list[Work]) -> list[Work]:
        """Hold results a POS may wait for, to be processed first (with ``_state`` held);
        returns those held. Up to backlog_max, like the backlog: past that they wait in the
        database with the rest."""
        held = awaited[: max(self._backlog_max - len(self._awaited), 0)]
        self._awaited.extend(held)
        return held

    def _spill(self) -> None:
        with self._state:
            self._spill_locked()
            if self._separate:
                self._has_work.notify_all()

    def _spill_locked(self) -> None:
        self._spilled = True
        self._spills += 1
        self._backlog.clear()

    def _process(self, work: list[Work]) -> None:
        """Apply committed deliveries; a failure leaves them pending for the next start."""
        role = _work_role()
        try:
            connection = self._connection(role, durable=False)
            with connection.begin():
                applied = process_many(connection, work, now=self._clock())
                announce(connection, applied, origin=self._origin)
        except Exception:
            log.exception("processing failed; deliveries stay pending")
            self._drop_connection(role, failed=True)
            # Read them back from the database once it answers again.
            self._retry_at = time.monotonic() + self._retry_every
            self._done(work)
            self._spill()
            return
        self._done(work)
        with self._state:
            self.processed += len(applied)
        self._notify(applied)

    def _done(self, work: list[Work]) -> None:
        with self._state:
            self._inflight.difference_update(item[0] for item in work)

    def _notify(self, applied: list[Applied]) -> None:
        if self._on_applied is not None and applied:
            try:
                self._on_applied(applied)
            except Exception:
                log.exception("on_applied callback failed")


def _work_role() -> str:
    """The processing connection of the calling thread (each thread processes on its own)."""
    return f"work:{threading.current_thread().name}"
