"""The relay process: mirror the Postgres outbox to NATS JetStream, exactly once per event, in order per run.

Exactly one relay is active at a time. Every relay opens a Postgres connection and tries a
session-level advisory lock on it; the holder is active, the others retry every `standby_interval`.
When the active relay dies its connection drops, the server releases the lock and a standby takes
over. The lock connection is also the work connection: every fetch and delete goes through it, so a
relay that can still fetch still holds the lock, and the moment the connection is lost the relay
stops publishing (in-flight publishes are cancelled).

The active relay LISTENs on `duragraph_outbox` and also sweeps every `sweep_interval`, so a missed
notification delays rows by at most one sweep. Each cycle: fetch the oldest unpublished rows in id
order (each with its message, built from the event it refers to), publish them (relay/publish.py),
await the acks, then delete the acked rows and fetch the next batch in one statement (one round trip
per cycle while rows keep coming). A row whose event is gone (its thread was deleted) is skipped and
deleted with them. NATS failures back off (capped exponential) and leave the rows in place. A crash
between publishing and deleting republishes those rows; JetStream drops them by `Nats-Msg-Id`
(relay/stream.py). Even two relays publishing at once (a partitioned zombie) keep the first copy of
every event in per-run order, as each publishes a run's rows strictly in order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client as NATS

from relay import metrics, outbox
from relay.config import RelayConfig
from relay.publish import PUBLISH_ERRORS, BatchOutcome, publish_batch
from relay.stream import ensure_stream

log = logging.getLogger("duragraph.relay")


class LockLost(Exception):
    """The lock connection is gone: this relay is no longer the active one."""


class PublishFailed(Exception):
    """A batch could not be fully published to JetStream (the cause is chained)."""


# Postgres unreachable, restarting, or the session killed: reconnect and compete for the lock again
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, LockLost,
)


@dataclass
class RelayStats:
    published: int = 0  # rows acked by JetStream and deleted (duplicates dropped by JetStream included)
    batches: int = 0
    publish_failures: int = 0
    terms: int = 0  # times this relay became the active one
    skipped: int = 0  # rows whose event was gone (a deleted thread's): deleted, nothing published
    deleted: int = 0  # rows a relay of the previous version had marked published, removed by the cleanup
    in_flight: int = 0  # rows of the batch being published right now


class Backoff:
    """Capped exponential backoff with jitter."""

    def __init__(self, initial: float, cap: float) -> None:
        self._initial, self._cap = initial, cap
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._cap, self._next * 2)
        return delay * random.uniform(0.75, 1.0)

    def reset(self) -> None:
        self._next = self._initial


async def wait_any(*events: asyncio.Event, within: float) -> None:
    """Return when any event is set or `within` seconds passed."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


class Relay:
    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.stats = RelayStats()
        self._active = False
        self._nc: Any = None
        self._js: Any = None
        self._stream_ready = False
        self._publishing: asyncio.Future[BatchOutcome] | None = None  # the batch being published, if any
        self._fetched_at = 0.0  # monotonic time of the last fetch (for the publish lag)
        # done (acked by JetStream, or skipped) but not yet deleted (the delete failed): deleted first when
        # active again
        self._undeleted: set[int] = set()

    @property
    def active(self) -> bool:
        """True while this relay holds the lock and publishes."""
        return self._active

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until `stop` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        self._nc = NATS()
        connecting = asyncio.create_task(self._connect_nats())
        backoff = Backoff(self.config.standby_interval, self.config.backoff_max)
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await self._session(stop)
                except DB_ERRORS as e:
                    if time.monotonic() - started > 10 * self.config.backoff_max:
                        backoff.reset()  # a long healthy session ended: retry quickly
                    delay = backoff.next()
                    log.warning("relay: Postgres session ended (%s: %s); retrying in %.1fs",
                                type(e).__name__, e, delay)
                    await wait_any(stop, within=delay)
        finally:
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
            await self._close_nats()

    # -- Postgres: the lock session ----------------------------------------------------------------

    async def _session(self, stop: asyncio.Event) -> None:
        cfg = self.config
        conn = await asyncpg.connect(
            cfg.database_url,
            timeout=10,
            command_timeout=cfg.command_timeout,
            server_settings={
                "application_name": "duragraph-relay",
                "tcp_keepalives_idle": str(cfg.tcp_keepalives_idle),
                "tcp_keepalives_interval": "5",
                "tcp_keepalives_count": "3",
            },
        )
        try:
            while not stop.is_set():
                if await outbox.try_lock(conn, cfg.lock_key):
                    await self._lead(conn, stop)
                    return
                await wait_any(stop, within=cfg.standby_interval)
        finally:
            await _close_pg(conn)

    async def _lead(self, conn: Any, stop: asyncio.Event) -> None:
        cfg = self.config
        lost = asyncio.Event()
        wake = asyncio.Event()  # a NOTIFY, the lock connection lost, or `stop`: end the idle wait

        def on_terminate(_conn: Any) -> None:
            lost.set()
            wake.set()
            if self._publishing is not None:
                self._publishing.cancel()  # stop at once; _cycle turns the cancellation into LockLost

        def on_notify(*_args: Any) -> None:
            wake.set()

        conn.add_termination_listener(on_terminate)
        await conn.add_listener(outbox.CHANNEL, on_notify)
        self._active = True
        metrics.ACTIVE.set(1)
        self.stats.terms += 1
        log.info("relay: active (advisory lock %d held); publishing to stream %s", cfg.lock_key, cfg.stream)
        backoff = Backoff(cfg.backoff_initial, cfg.backoff_max)
        next_cleanup = time.monotonic()
        stopping = asyncio.create_task(_set_when(stop, wake))  # one task per term, not one per idle wait
        batch = outbox.Batch([], [])  # fetched by the last cycle's delete: published next without a fetch
        try:
            await self._delete_undeleted(conn)
            while True:
                wake.clear()  # before the checks and the fetch: a NOTIFY during this cycle triggers the next at once
                if stop.is_set():
                    break
                if lost.is_set() or conn.is_closed():
                    raise LockLost("lock connection lost")
                if not await self._nats_ready():
                    await wait_any(stop, lost, within=backoff.next())
                    continue
                try:
                    batch = await self._cycle(conn, lost, batch if len(batch) else await self._fetch(conn, []))
                except PublishFailed as e:
                    batch = outbox.Batch([], [])
                    self.stats.publish_failures += 1
                    metrics.PUBLISH_FAILURES.inc()
                    self._stream_ready = False  # re-check the stream (NATS may have restarted empty)
                    delay = backoff.next()
                    log.warning("relay: publish failed (%r); retrying in %.2fs", e.__cause__, delay)
                    await wait_any(stop, lost, within=delay)
                    continue
                backoff.reset()
                more_marked = False
                if time.monotonic() >= next_cleanup:
                    more_marked = await self._cleanup(conn)
                    next_cleanup = time.monotonic() + (0 if more_marked else cfg.cleanup_interval)
                if not len(batch) and not more_marked:
                    with suppress(TimeoutError):
                        async with asyncio.timeout(cfg.sweep_interval):
                            await wake.wait()
        finally:
            stopping.cancel()
            self._active = False
            metrics.ACTIVE.set(0)
            conn.remove_termination_listener(on_terminate)
            if not conn.is_closed():
                with suppress(*DB_ERRORS):
                    await conn.remove_listener(outbox.CHANNEL, on_notify)
            log.info("relay: no longer active")

    async def _fetch(self, conn: Any, done: list[int]) -> outbox.Batch:
        """Delete the rows `done` and fetch the next batch, in one statement."""
        cfg = self.config
        batch = await outbox.delete_and_fetch(conn, done, cfg.batch_size)
        self._fetched_at = time.monotonic()
        metrics.OUTBOX_BACKLOG.set(len(batch) if len(batch) < cfg.batch_size else await outbox.count_unpublished(conn))
        return batch

    async def _cycle(self, conn: Any, lost: asyncio.Event, batch: outbox.Batch) -> outbox.Batch:
        """Publish the batch's rows, then delete the acked ones (and the orphans) while fetching the next
        batch. Returns that batch."""
        cfg = self.config
        if not len(batch):
            return batch
        if lost.is_set():
            raise LockLost("lock connection lost")
        rows, orphans = batch.rows, batch.orphans
        publishing = self._publishing = asyncio.ensure_future(
            publish_batch(self._js, rows, stream=cfg.stream, publish_timeout=cfg.publish_timeout))
        self.stats.in_flight = len(rows)
        try:
            outcome: BatchOutcome = await publishing
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if lost.is_set() and task is not None and not task.cancelling():  # cancelled by on_terminate
                raise LockLost("lock connection lost while publishing; in-flight publishes cancelled") from None
            raise
        finally:
            self._publishing = None
            self.stats.in_flight = 0
        elapsed = time.monotonic() - self._fetched_at
        self.stats.batches += 1
        following = outbox.Batch([], [])
        done = sorted(outcome.acked + orphans)
        if done:
            self._undeleted.update(done)
            if outcome.error is None:
                following = await self._fetch(conn, done)
            else:  # the batch is retried from its first unacked row after a backoff: delete only
                await outbox.delete_published(conn, done)
            self._undeleted.difference_update(done)
            if orphans:
                self.stats.skipped += len(orphans)
                metrics.SKIPPED.inc(len(orphans))
                log.warning("relay: skipped %d outbox rows whose events no longer exist (deleted threads)",
                            len(orphans))
            self.stats.published += len(outcome.acked)
            metrics.PUBLISHED.inc(len(outcome.acked))
            acked = set(outcome.acked)
            for row in rows:
                if row.id in acked:
                    metrics.PUBLISH_LAG.observe(row.age + elapsed)
        if outcome.error is not None:
            raise PublishFailed(f"{len(rows) - len(outcome.acked)} of {len(rows)} rows") from outcome.error
        return following

    async def _delete_undeleted(self, conn: Any) -> None:
        if self._undeleted:
            ids = sorted(self._undeleted)
            await outbox.delete_published(conn, ids)
            self._undeleted.difference_update(ids)
            log.info("relay: deleted %d rows that were done before the connection was lost", len(ids))

    async def _cleanup(self, conn: Any) -> bool:
        """Delete one bounded batch of rows a previous relay version marked published. Returns whether more
        may remain."""
        cfg = self.config
        n = await outbox.delete_marked(conn, cfg.cleanup_batch)
        self.stats.deleted += n
        if n:
            log.info("relay: deleted %d outbox rows marked published by a relay of the previous version", n)
        return n == cfg.cleanup_batch

    # -- NATS --------------------------------------------------------------------------------------

    async def _connect_nats(self) -> None:
        nc = self._nc
        failed_attempts = 0

        async def on_error(e: Exception) -> None:
            nonlocal failed_attempts
            if nc.is_connected:
                log.warning("relay: NATS error: %r", e)
                return
            failed_attempts += 1  # (re)connect attempts every 0.5s: say so now and then, not each time
            level = logging.WARNING if failed_attempts % 60 == 1 else logging.DEBUG
            log.log(level, "relay: cannot reach NATS at %s (attempt %d): %r", self.config.nats_url, failed_attempts, e)

        async def on_disconnected() -> None:
            if not nc.is_closed:  # not our own close()
                log.warning("relay: NATS disconnected; reconnecting")

        async def on_reconnected() -> None:
            nonlocal failed_attempts
            failed_attempts = 0
            log.info("relay: NATS reconnected to %s", nc.connected_url.netloc if nc.connected_url else "?")

        # reconnects forever (including the first connect): an outage only delays publishing
        await nc.connect(
            servers=[self.config.nats_url], name="duragraph-relay", allow_reconnect=True,
            max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2,
            error_cb=on_error, disconnected_cb=on_disconnected, reconnected_cb=on_reconnected,
        )
        log.info("relay: connected to NATS at %s", nc.connected_url.netloc if nc.connected_url else "?")

    async def _nats_ready(self) -> bool:
        if self._nc is None or not self._nc.is_connected:
            return False
        if self._js is None:
            # a wave is sent whole before its acks are awaited: room for a full batch of pending acks
            self._js = self._nc.jetstream(timeout=self.config.publish_timeout,
                                          publish_async_max_pending=max(4000, self.config.batch_size))
        if not self._stream_ready:
            try:
                await ensure_stream(self._js, self.config)
            except PUBLISH_ERRORS as e:
                log.warning("relay: cannot ensure JetStream stream %s: %r", self.config.stream, e)
                return False
            self._stream_ready = True
        return True

    async def _close_nats(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with suppress(nats.errors.Error, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(nc.close(), timeout=5)


async def _set_when(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


async def _close_pg(conn: Any) -> None:
    if conn.is_closed():
        return
    try:
        await asyncio.wait_for(conn.close(), timeout=5)
    except DB_ERRORS:
        conn.terminate()
    except BaseException:
        conn.terminate()
        raise


async def run_relay(config: RelayConfig, *, stop: asyncio.Event | None = None) -> None:
    """Entry point of `duragraph relay`: run one relay (active or standby) until `stop` is set."""
    await Relay(config).run(stop)
