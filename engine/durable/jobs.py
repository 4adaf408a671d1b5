"""procrastinate jobs, deferred inside OUR asyncpg transactions (a run's end cancels its open jobs in
`runs.sql`'s `finish_run`).

procrastinate speaks psycopg; we call its versioned SQL functions (`procrastinate_defer_jobs_v1`,
`procrastinate_cancel_job_v1`, `procrastinate_retry_job_v2`) so a step's successor jobs commit with the
step's result, or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

import sql
from engine.durable.db import jsonb_text

Q = sql.queries("jobs.sql")

STEP_QUEUE = "duragraph_steps"
STEP_TASK = "duragraph.step"
START_TASK = "duragraph.start_run"  # a delayed run (after_seconds) becomes due
DELETE_THREAD_TASK = "duragraph.delete_thread"  # a stateless run's temporary thread, after a grace period
WEBHOOK_QUEUE = "duragraph_webhooks"
WEBHOOK_TASK = "duragraph.webhook"


async def defer(
    conn: asyncpg.Connection,
    queue: str,
    task_name: str,
    args: Sequence[dict[str, Any]],
    *,
    at: dt.datetime | None = None,
) -> list[int]:
    """Defer one job per `args` entry (due at `at`, or at once); returns their job ids in order. A job due
    at once has no `scheduled_at` (as procrastinate defers it): that spares its `scheduled` event row."""
    if not args:
        return []
    rows = await conn.fetch(Q["defer_jobs"], queue, task_name, [jsonb_text(a) for a in args], [at] * len(args))
    return [int(r[0]) for r in rows]
