"""The jobs a worker process holds, checked against the jobs the database says it holds.

A job is `doing` under a worker from its fetch (or its claim at a predecessor's commit) until its end is
committed. Any path that loses track of one (a commit whose acknowledgement was lost in an outage, a
release that failed, procrastinate failing to record a job's end) would leave it `doing` under a live
worker that is not running it, and the reaper only rescues the jobs of dead workers. So a live worker
compares, every pass, what the database says it holds with what it has in hand, and puts a job it does
not have back in the queue once it has seen it orphaned twice in a row (a job fetched or claimed
between the query and the comparison is in hand by the next pass).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg

import sql
from engine.durable import metrics

JQ = sql.queries("jobs.sql")
log = logging.getLogger("duragraph.claims")


@dataclass
class Claims:
    worker_id: int | None = None  # procrastinate's id of this process's worker, once registered
    held: set[int] = field(default_factory=set)
    failures: dict[int, BaseException] = field(default_factory=dict)  # why a job's body raised, by job id
    # fetched jobs whose step's commit ended them (deleted them, as procrastinate deletes a succeeded job):
    # procrastinate's own end of these jobs is skipped (jobmanager.py)
    ended: set[int] = field(default_factory=set)
    _suspects: set[int] = field(default_factory=set)

    def hold(self, job_id: int) -> None:
        self.held.add(job_id)

    def drop(self, job_id: int) -> None:
        self.held.discard(job_id)

    async def recheck(self, pool: asyncpg.Pool) -> list[int]:
        """One pass; returns the ids of the orphaned jobs put back in the queue."""
        if self.worker_id is None:
            return []
        async with pool.acquire() as conn:
            doing = {int(r["id"]) for r in await conn.fetch(JQ["jobs_of_worker"], self.worker_id)}
            orphans = doing - self.held
            released = []
            for job_id in sorted(orphans & self._suspects):
                if job_id in self.held:
                    continue
                if await conn.fetchval(JQ["release_job_of_worker"], job_id, self.worker_id) is not None:
                    released.append(job_id)
                    metrics.STEPS_REQUEUED.inc()
            self._suspects = orphans - set(released)
        if released:
            log.warning("worker %s put back %d job(s) it no longer runs: %s", self.worker_id, len(released), released)
        return released
