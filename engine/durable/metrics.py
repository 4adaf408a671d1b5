"""Prometheus metrics of the engine (prometheus_client's process registry).

Labels are bounded: graph ids and node names come from the deployed graphs, statuses from fixed sets;
never a run, thread or task id. The API serves the registry on `GET /metrics`; a worker (and a relay)
on `--metrics-port`.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from engine.durable.periodic import every

log = logging.getLogger("duragraph.metrics")

_STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

RUNS_CREATED = Counter("duragraph_runs_created", "Runs created", ["graph_id"])
RUNS_FINISHED = Counter("duragraph_runs_finished", "Runs that ended, by final status", ["graph_id", "status"])
STEPS_COMMITTED = Counter("duragraph_steps_committed", "Steps whose result was committed",
                          ["graph_id", "node"])
STEPS_FAILED = Counter("duragraph_steps_failed", "Steps whose node ended in an error (after its retries)",
                       ["graph_id", "node"])
STEPS_RETRIED = Counter("duragraph_steps_retried", "Node attempts retried by the node's retry policy",
                        ["graph_id", "node"])
STEPS_REQUEUED = Counter("duragraph_steps_requeued", "Step jobs of dead workers put back in the queue by the reaper")
STEP_DURATION = Histogram("duragraph_step_duration_seconds", "Node execution time of a step (all attempts)",
                          ["graph_id", "node"], buckets=_STEP_BUCKETS)
STEP_QUEUE_WAIT = Histogram("duragraph_step_queue_wait_seconds",
                            "Time from a step being enqueued to a worker starting it", ["graph_id", "node"],
                            buckets=_STEP_BUCKETS)
STEP_COMMIT = Histogram("duragraph_step_commit_seconds", "Time of a step's completion transaction",
                        ["graph_id"], buckets=_STEP_BUCKETS)
QUEUE_JOBS = Gauge("duragraph_queue_jobs", "procrastinate jobs by queue and status (sampled by workers)",
                   ["queue", "status"])
POOL_CONNECTIONS = Gauge("duragraph_db_pool_connections", "This process's Postgres pools: size, idle and max",
                         ["pool", "state"])

# two partial indexes, so that neither count reads the queue's history: `procrastinate_jobs_id_lock_idx_v1`
# (todo, doing) and `duragraph_jobs_finished` (status, id: failed jobs are kept for DURAGRAPH_JOB_RETENTION)
_QUEUE_DEPTH_SQL = """
SELECT queue_name, status::text, count(*) FROM procrastinate_jobs
WHERE status IN ('todo', 'doing') GROUP BY queue_name, status
UNION ALL
SELECT queue_name, status::text, count(*) FROM procrastinate_jobs
WHERE status = 'failed' GROUP BY queue_name, status
"""
JOB_STATUSES = ("todo", "doing", "failed")


def watch_pool(pool: asyncpg.Pool, name: str) -> None:
    """Report `pool` (the `api` or `worker` pool) in duragraph_db_pool_connections, read at scrape time."""
    POOL_CONNECTIONS.labels(name, "size").set_function(pool.get_size)
    POOL_CONNECTIONS.labels(name, "idle").set_function(pool.get_idle_size)
    POOL_CONNECTIONS.labels(name, "max").set_function(pool.get_max_size)


async def sample_queue(pool: asyncpg.Pool, queues: tuple[str, ...]) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch(_QUEUE_DEPTH_SQL)
    counts = {(r[0], r[1]): r[2] for r in rows}
    for queue in {*queues, *(q for q, _ in counts)}:
        for status in JOB_STATUSES:
            QUEUE_JOBS.labels(queue, status).set(counts.get((queue, status), 0))


async def run_queue_sampler(pool: asyncpg.Pool, queues: tuple[str, ...], *, interval: float,
                            stop: asyncio.Event) -> None:
    await every(interval, stop, lambda: sample_queue(pool, queues), log, "queue sampler")
