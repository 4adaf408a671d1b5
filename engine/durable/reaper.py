"""Crash recovery: re-queue the steps of dead workers.

procrastinate records a heartbeat per worker but does not rescue stalled jobs by itself. Every
`interval` seconds the reaper prunes workers whose heartbeat is older than `stalled_after` and puts
their in-flight step jobs back to `todo`. The step's completion is idempotent, so a step that had in
fact committed before its worker died is a no-op when delivered again.

A database outage silences every heartbeat at once, so death is judged with care: the reaper declares
no one dead until its own connection has been back for `grace` seconds (at least one heartbeat period,
the live workers' chance to send one; `stalled_after` in practice), nor while the server itself has
been up for less than that (a restart between two passes). A worker pruned anyway registers again
(`jobmanager.py`).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

import sql
from engine.durable import metrics
from engine.durable.jobs import STEP_QUEUE, WEBHOOK_QUEUE
from engine.durable.periodic import every

Q = sql.queries("jobs.sql")
log = logging.getLogger("duragraph.reaper")


async def reap_once(pool: asyncpg.Pool, stalled_after: float, grace: float = 0.0) -> list[int]:
    """One pass; returns the ids of the jobs put back in the queue."""
    requeued: list[int] = []
    async with pool.acquire() as conn:
        pruned = await conn.fetch(Q["prune_stalled_workers"], stalled_after, grace)
        if pruned:
            log.warning("declared dead (no heartbeat for %.1fs): worker(s) %s", stalled_after,
                        [r["worker_id"] for r in pruned])
        for queue in (STEP_QUEUE, WEBHOOK_QUEUE):
            for row in await conn.fetch(Q["requeue_stalled_jobs"], queue, stalled_after, grace):
                requeued.append(int(row["id"]))
                metrics.STEPS_REQUEUED.inc()
    if requeued:
        log.warning("re-queued %d step(s) of dead workers: %s", len(requeued), requeued)
    return requeued


class Reaper:
    """The reaper loop's memory of its own connection: when it last came back."""

    def __init__(self, pool: asyncpg.Pool, *, stalled_after: float, grace: float) -> None:
        self.pool, self.stalled_after, self.grace = pool, stalled_after, grace
        self.loop = asyncio.get_running_loop()
        self.back_at: float | None = None  # None: not connected since the start or the last failure

    async def pass_(self) -> list[int]:
        if self.back_at is None:
            async with self.pool.acquire() as conn:
                await conn.execute("SELECT 1")
            self.back_at = self.loop.time()
        if self.loop.time() - self.back_at < self.grace:
            return []
        return await reap_once(self.pool, self.stalled_after, self.grace)

    def failed(self) -> None:
        self.back_at = None


async def run_reaper(pool: asyncpg.Pool, *, stalled_after: float, interval: float, stop: asyncio.Event,
                     heartbeat: float = 0.0) -> None:
    # a heartbeat period and a pass at the least; `stalled_after` itself: the silence that means death is
    # counted from the moment the database came back
    reaper = Reaper(pool, stalled_after=stalled_after, grace=max(heartbeat + interval, stalled_after))
    await every(interval, stop, reaper.pass_, log, "reaper", on_failure=reaper.failed)
