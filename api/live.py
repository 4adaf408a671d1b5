"""Where SSE streams get their events: Postgres for replay and gap-fill, NATS JetStream for live updates.

Postgres (`events`) is the record; JetStream only makes the stream fast. One `LiveHub` per API process
holds one NATS connection and, while some stream is watching, one ephemeral JetStream push consumer on
`<prefix>.events.>` (deliver policy NEW, no acks), and hands each message to the streams watching that
run or thread. With no stream open for `idle_unsubscribe` seconds the consumer is dropped, so an API
serving only `runs.wait` and reads receives no events at all; the next stream subscribes again (it
polls Postgres until then, and the subscription's RESYNC makes it re-read what it may have missed).

A run stream (`run_events`) is lossless and duplicate-free by construction:
1. it starts watching the run BEFORE reading Postgres, so an event is either already committed (the
   replay reads it) or published after the watch began (the live feed brings it), or both;
2. it replays `seq > last` from Postgres, then takes live events, dropping `seq <= last` and, on a gap
   (`seq > last + 1`; seq is gapless per run), reading the missing ones from Postgres first;
3. it polls Postgres whenever the live feed is quiet for `poll_interval` (1 s while NATS is healthy,
   0.2 s while it is not), so a dead relay or NATS costs latency, never events; after a NATS
   reconnect the hub re-subscribes and pokes every stream to re-read Postgres;
4. the run's `end` event ends it.
5. a PostgreSQL outage (restart, failover) does not end it: each read is retried with a capped backoff
   while the stream goes on yielding None (heartbeats), and the stream continues from its last id
   once the database is back; an outage longer than `outage_bound` seconds raises `DatabaseOutage`,
   which the SSE layer turns into an `error` frame (api/stream.py).

A thread stream (`thread_events`) reads Postgres by the events' global `pos`; JetStream messages for
the thread only wake it up (as do the same polls).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import nats
import orjson
from litestar import Litestar
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

import sql
from api.sse import StreamEvent
from engine.durable.outage import Backoff, is_transient

log = logging.getLogger("duragraph.live")
Q = sql.queries("stream.sql")

BATCH = 500
T = TypeVar("T")
RESYNC = object()  # "re-read Postgres": put in every watch's queue after a (re)subscribe


@dataclass(eq=False)
class Watch:
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)

    async def get(self, timeout: float) -> Any:
        """The next live item (a StreamEvent or RESYNC), or None after `timeout` seconds of quiet."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


@dataclass
class HubConfig:
    nats_url: str
    stream: str
    subject_prefix: str
    safety_poll: float = 1.0  # Postgres poll while NATS is healthy (covers a dead relay)
    degraded_poll: float = 0.2  # Postgres poll while NATS is down or not subscribed
    retry_interval: float = 0.5
    outage_bound: float = 60.0  # an open stream waits this long for an unreachable database, then ends
    outage_backoff_cap: float = 1.0  # the longest pause between two reads during an outage
    idle_unsubscribe: float = 10.0  # no stream watching for this long: stop consuming events


class LiveHub:
    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self._runs: dict[str, set[Watch]] = {}
        self._threads: dict[str, set[Watch]] = {}
        self._nc: NATS | None = None
        self._sub: Any = None
        self._healthy = False
        self._resubscribe = asyncio.Event()
        self._wanted = asyncio.Event()  # some stream is watching
        self._task: asyncio.Task[None] | None = None
        self.received = 0

    # -- watching ----------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def connected(self) -> bool:
        """The NATS connection is up (the live feed may still be waiting for the relay's stream)."""
        return self._nc is not None and self._nc.is_connected

    @property
    def poll_interval(self) -> float:
        return self.config.safety_poll if self._healthy else self.config.degraded_poll

    @contextlib.contextmanager
    def watch(self, *, run_id: uuid.UUID | None = None, thread_id: uuid.UUID | None = None) -> Iterator[Watch]:
        w = Watch()
        table, key = (self._runs, str(run_id)) if run_id is not None else (self._threads, str(thread_id))
        table.setdefault(key, set()).add(w)
        self._wanted.set()
        try:
            yield w
        finally:
            watches = table.get(key)
            if watches is not None:
                watches.discard(w)
                if not watches:
                    del table[key]
            if not self._runs and not self._threads:
                self._wanted.clear()

    def _broadcast(self, item: Any) -> None:
        for table in (self._runs, self._threads):
            for watches in table.values():
                for w in watches:
                    w.queue.put_nowait(item)

    async def _on_msg(self, msg: Msg) -> None:
        self.received += 1
        # subject: <prefix>.events.<thread_id>.<run_id>
        tokens = msg.subject.rsplit(".", 2)
        if len(tokens) != 3:
            return
        _, thread_id, run_id = tokens
        run_watches = self._runs.get(run_id)
        thread_watches = self._threads.get(thread_id)
        if not run_watches and not thread_watches:
            return
        try:
            p = orjson.loads(msg.data)
            ev = StreamEvent(seq=int(p["seq"]), event=str(p["event"]), data=p.get("data"), run_id=run_id)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignoring a malformed event message on %s", msg.subject)
            return
        for w in run_watches or ():
            w.queue.put_nowait(ev)
        for w in thread_watches or ():
            w.queue.put_nowait(ev)

    # -- connection --------------------------------------------------------------------------

    async def start(self) -> None:
        if self.config.nats_url:
            self._task = asyncio.create_task(self._supervise(), name="live-hub")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    async def _disconnected(self) -> None:
        self._healthy = False

    async def _reconnected(self) -> None:
        self._resubscribe.set()

    async def _error(self, exc: Exception) -> None:
        log.debug("nats: %s", exc)

    async def _supervise(self) -> None:
        cfg = self.config
        while self._nc is None:
            try:
                self._nc = await nats.connect(
                    cfg.nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2, connect_timeout=2,
                    disconnected_cb=self._disconnected, reconnected_cb=self._reconnected, error_cb=self._error,
                    allow_reconnect=True,
                )
            except Exception as exc:  # NATS not up yet: streams poll Postgres meanwhile
                log.info("live hub: NATS connect failed (%s); retrying", exc)
                await asyncio.sleep(cfg.retry_interval)
        while True:
            await self._wanted.wait()
            self._resubscribe.clear()
            await self._subscribe()
            while not self._resubscribe.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._resubscribe.wait(), cfg.idle_unsubscribe)
                if not self._wanted.is_set():  # nobody streamed for a while: stop receiving every event
                    await self._unsubscribe()
                    log.debug("live hub: no stream open; stopped following events")
                    break
            self._healthy = False

    async def _unsubscribe(self) -> None:
        self._healthy = False
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _subscribe(self) -> None:
        assert self._nc is not None
        cfg = self.config
        await self._unsubscribe()
        failures = 0
        while True:
            try:
                js = self._nc.jetstream()
                self._sub = await js.subscribe(
                    f"{cfg.subject_prefix}.events.>", stream=cfg.stream, cb=self._on_msg,
                    deliver_policy=DeliverPolicy.NEW,
                    config=ConsumerConfig(ack_policy=AckPolicy.NONE, mem_storage=True, inactive_threshold=60.0,
                                          max_deliver=1),
                    pending_msgs_limit=-1, pending_bytes_limit=-1,
                )
                self._healthy = True
                log.info("live hub: following %s.events.> on stream %s", cfg.subject_prefix, cfg.stream)
                self._broadcast(RESYNC)  # whatever was published while unsubscribed: read it from Postgres
                return
            except Exception as exc:  # stream not created yet (no relay so far), NATS restarting...
                (log.debug if failures else log.info)("live hub: subscribe failed (%s); retrying", exc)
                failures += 1
                await asyncio.sleep(cfg.retry_interval)


# -- riding out a database outage ---------------------------------------------------------------


class DatabaseOutage(Exception):
    """The database stayed unreachable longer than the stream's bound."""


class ReadRetry:
    """One stream's reads during a database outage: a capped backoff, one log line when the outage
    starts and one when it ends, and `DatabaseOutage` once it lasted longer than `bound` seconds."""

    def __init__(self, bound: float, cap: float, what: str) -> None:
        self.bound, self.what = bound, what
        self.backoff = Backoff(first=0.05, cap=cap)
        self.since: float | None = None

    def failed(self, exc: BaseException) -> float:
        now = time.monotonic()
        if self.since is None:
            self.since = now
            log.warning("%s: database unreachable (%r); retrying", self.what, exc)
        if now - self.since > self.bound:
            raise DatabaseOutage(f"the database has been unreachable for over {self.bound:g}s") from exc
        return self.backoff.next()

    def succeeded(self) -> None:
        if self.since is not None:
            log.info("%s: database back after %.1fs", self.what, time.monotonic() - self.since)
            self.since = None
            self.backoff.reset()


def hub_retry(hub: LiveHub, what: str) -> ReadRetry:
    return ReadRetry(hub.config.outage_bound, hub.config.outage_backoff_cap, what)


async def reading(read: Callable[[], Awaitable[T]], retry: ReadRetry) -> AsyncIterator[T | None]:
    """`read()` until it succeeds: yields None after each transient failure (the caller's chance to
    send a heartbeat), then the result, once."""
    while True:
        try:
            result = await read()
        except Exception as exc:
            if not is_transient(exc):
                raise
            delay = retry.failed(exc)
            yield None
            await asyncio.sleep(delay)
            continue
        retry.succeeded()
        yield result
        return


# -- event sources ---------------------------------------------------------------------------


def _event(row: asyncpg.Record, run_id: str | None = None) -> StreamEvent:
    return StreamEvent(seq=int(row["seq"]), event=row["event"], data=row["data"], created_at=row["created_at"],
                       run_id=run_id, pos=row.get("pos"))


async def fetch_run_events(pool: asyncpg.Pool, run_id: uuid.UUID, after: int) -> list[StreamEvent]:
    """Every committed event of the run with `seq > after`."""
    out: list[StreamEvent] = []
    while True:
        async with pool.acquire() as conn:
            rows = await conn.fetch(Q["run_events_after"], run_id, after, BATCH)
        out.extend(_event(r) for r in rows)
        if len(rows) < BATCH:
            return out
        after = out[-1].seq


async def run_events(
    pool: asyncpg.Pool, hub: LiveHub, run_id: uuid.UUID, after: int, *,
    on_idle: Callable[[], None] | None = None,
) -> AsyncIterator[StreamEvent | None]:
    """The run's events with `seq > after`, in order, each exactly once, until its `end` event.
    Yields None when nothing happened for a poll interval, or while the database is unreachable (the
    caller's chance to send a heartbeat)."""
    retry = hub_retry(hub, f"run stream {run_id}")
    with hub.watch(run_id=run_id) as w:
        last = after
        fetch_needed = True
        pending: list[StreamEvent] = []
        while True:
            if fetch_needed:
                async for got in reading(functools.partial(fetch_run_events, pool, run_id, last), retry):
                    if got is None:
                        yield None
                    else:
                        pending = got
            fetch_needed = False
            for ev in pending:
                if ev.seq <= last:
                    continue  # live and replay overlap
                if ev.seq != last + 1:  # cannot happen with gapless seqs read in order; be loud
                    raise RuntimeError(f"run {run_id}: event {ev.seq} after {last}")
                last = ev.seq
                yield ev
                if ev.event == "end":
                    return
            item = await w.get(hub.poll_interval)
            pending = []
            if item is None:
                yield None
                fetch_needed = True
            elif item is RESYNC:
                fetch_needed = True
            elif item.seq == last + 1:
                pending = [item]
            elif item.seq > last + 1:  # a gap: the missing events (and this one) are committed; read them
                fetch_needed = True


async def thread_events(
    pool: asyncpg.Pool, hub: LiveHub, thread_id: uuid.UUID, after_pos: int
) -> AsyncIterator[StreamEvent | None]:
    """Every event of every run on the thread with `pos > after_pos`, by `pos`; never ends. Yields
    None when idle, or while the database is unreachable."""
    retry = hub_retry(hub, f"thread stream {thread_id}")

    async def fetch() -> list[asyncpg.Record]:
        async with pool.acquire() as conn:
            return list(await conn.fetch(Q["thread_events_after"], thread_id, last, BATCH))

    with hub.watch(thread_id=thread_id) as w:
        last = after_pos
        while True:
            rows: list[asyncpg.Record] = []
            async for got in reading(fetch, retry):
                if got is None:
                    yield None
                else:
                    rows = got
            for r in rows:
                last = int(r["pos"])
                yield _event(r, str(r["run_id"]))
            if len(rows) == BATCH:
                continue
            if await w.get(hub.poll_interval) is None:
                yield None
            else:
                while not w.queue.empty():  # one Postgres read for a burst of wake-ups
                    w.queue.get_nowait()


# -- lifespan ----------------------------------------------------------------------------------


@asynccontextmanager
async def live_lifespan(app: Litestar) -> AsyncIterator[None]:
    """The process's LiveHub on `app.state.live` (without a NATS URL streams poll Postgres)."""
    settings = app.state.settings
    hub = LiveHub(HubConfig(nats_url=settings.nats_url, stream=settings.nats_stream,
                            subject_prefix=settings.subject_prefix, outage_bound=settings.stream_outage_seconds))
    await hub.start()
    app.state.live = hub
    try:
        yield
    finally:
        await hub.close()
