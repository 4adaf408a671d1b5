"""What a node streams while it runs (`get_stream_writer()(chunk)`): durable `custom` events.

The writer only buffers (it may be called from a sync node's thread); a flusher appends the buffered
chunks as `custom` events — `{"chunk", "task_id", "name", "step"}` — every `interval` seconds in a small
transaction holding the run row lock, and once more before the step's result commits, so chunks come
before the task's `task_result` and in the order they were written. Like every event they reach the
outbox and JetStream, are replayed after a reconnect, and survive restarts.

Not exactly-once: a node that runs again (retry policy, a crashed worker's step picked up again) streams
its chunks again. Chunks still buffered when a worker dies are lost with the step's attempt; chunks of an
execution whose task already completed (a duplicate delivery) or whose run ended are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import sql
from engine.durable import events
from engine.durable.lifecycle import Q as RUNS_Q
from engine.durable.runtime import Runtime

Q = sql.queries("node_stream.sql")
log = logging.getLogger("duragraph.stream")

FLUSH_INTERVAL = 0.03


class StepStreamWriter:
    def __init__(self, rt: Runtime, run_id: uuid.UUID, thread_id: uuid.UUID, task_id: str, name: str, step: int,
                 *, interval: float = FLUSH_INTERVAL) -> None:
        self.rt = rt
        self.run_id = run_id
        self.thread_id = thread_id
        self.task_id = task_id
        self.name = name
        self.step = step
        self.interval = interval
        self._buffer: list[Any] = []
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self.written = 0

    def __call__(self, chunk: Any) -> None:
        """The node's writer: never blocks, safe from any thread."""
        self._buffer.append(chunk)
        self._loop.call_soon_threadsafe(self._ensure_flusher)

    def _ensure_flusher(self) -> None:
        if self._task is None and not self._closing:
            self._task = self._loop.create_task(self._run(), name=f"stream-{self.task_id}")

    async def _run(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass
            if self._closing:
                return  # close() flushes the rest itself
            try:
                await self.flush()
            except Exception:  # retried by the next flush / close; the step must not fail for it
                log.warning("flushing streamed chunks of %s failed", self.task_id, exc_info=True)

    async def flush(self) -> None:
        if not self._buffer:
            return
        chunks, self._buffer = self._buffer, []
        try:
            async with self.rt.pool.acquire() as conn, conn.transaction():
                run = await conn.fetchrow(RUNS_Q["lock_run"], self.run_id)
                if run is None or await conn.fetchval(Q["task_still_open"], self.run_id, self.task_id) is None:
                    return  # the task completed (duplicate execution) or the run ended: drop
                evs = [events.Event("custom", {"chunk": c, "task_id": self.task_id, "name": self.name,
                                               "step": self.step}) for c in chunks]
                await events.append(conn, run_id=self.run_id, thread_id=self.thread_id, events=evs,
                                    subject_prefix=self.rt.subject_prefix)
                self.written += len(evs)
        except BaseException:
            self._buffer[:0] = chunks  # keep them (in order) for the next attempt
            raise

    async def close(self) -> None:
        """Stop the flusher and flush what is left: call before the step's result commits."""
        # chunks written from a thread schedule the flusher through the loop: let those callbacks run
        await asyncio.sleep(0)
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task  # lets a flush in progress finish (never cancelled half-way)
        if self._buffer:
            await self.flush()
