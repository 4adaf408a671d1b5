"""Crash recovery: re-queue the steps of dead workers.

procrastinate records a heartbeat per worker but does not rescue stalled jobs by itself. Every
`interval` seconds the reaper prunes workers whose heartbeat is older than `stalled_after` and puts
their in-flight step jobs back to `todo`. The step's completion is idempotent, so a step that had in
fact committed before its worker died is a no-op when delivered again.
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


async def reap_once(pool: asyncpg.Pool, stalled_after: float) -> list[int]:
    """One pass; returns the ids of the jobs put back in the queue."""
    requeued: list[int] = []
    async with pool.acquire() as conn:
        await conn.fetch(Q["prune_stalled_workers"], stalled_after)
        for queue in (STEP_QUEUE, WEBHOOK_QUEUE):
            for row in await conn.fetch(Q["stalled_jobs"], queue, stalled_after):
                try:
                    await conn.execute(Q["requeue_job"], row["id"])
                except asyncpg.RaiseError:
                    continue  # another reaper got it first, or it finished meanwhile
                requeued.append(int(row["id"]))
                metrics.STEPS_REQUEUED.inc()
    if requeued:
        log.warning("re-queued %d step(s) of dead workers: %s", len(requeued), requeued)
    return requeued


async def run_reaper(pool: asyncpg.Pool, *, stalled_after: float, interval: float, stop: asyncio.Event) -> None:
    await every(interval, stop, lambda: reap_once(pool, stalled_after), log, "reaper")
