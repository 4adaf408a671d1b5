"""Retention of the queue's own history: finished procrastinate jobs and their events.

A step whose job succeeds deletes it (with its `procrastinate_events`) in the transaction that ends it, so
what stays behind are the jobs that did not succeed (a step given up, a cancelled or aborted run) and, with
procrastinate's own defaults elsewhere, succeeded ones. Housekeeping deletes those whose last event is older
than `DURAGRAPH_JOB_RETENTION` (7 days by default), oldest first, a bounded batch at a time. Jobs still
queued or running are never touched. The runs, checkpoints and events a user sees are not queue history:
they stay until their thread is deleted (or its TTL ends it).
"""

from __future__ import annotations

import asyncpg

import sql

Q = sql.queries("retention.sql")
DEFAULT_JOB_RETENTION_SECONDS = 7 * 24 * 3600.0
FINISHED = ("succeeded", "failed", "cancelled", "aborted")
BATCH = 1000
MAX_BATCHES = 100  # per pass: 100,000 jobs a minute catch up on any backlog without one long transaction


async def delete_finished_jobs(pool: asyncpg.Pool, retention_seconds: float, *, batch: int = BATCH,
                               max_batches: int = MAX_BATCHES) -> int:
    """Delete finished jobs past `retention_seconds`, each status oldest first, `batch` per transaction;
    returns how many went. Job ids grow with time, so a status's walk ends at its first batch with nothing to
    delete (or a short one): what lies beyond finished later still."""
    deleted = 0
    for status in FINISHED:
        after = 0
        for _ in range(max_batches):
            async with pool.acquire() as conn:
                row = await conn.fetchrow(Q["delete_finished_jobs"], retention_seconds, batch, after, status)
            deleted += row["deleted"]
            if row["read"] < batch or row["deleted"] == 0:
                break
            after = row["last_id"]
    return deleted
