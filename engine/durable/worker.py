"""The worker process: procrastinate runs the step jobs (LISTEN/NOTIFY, SKIP LOCKED, heartbeats),
the reaper re-queues the steps of dead workers, and the claims re-check those this live worker lost.

A database outage stops nothing for good: the worker waits for the database at start, its job manager
(`jobmanager.py`) and its loops retry through an outage, and a completion is retried until it commits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import procrastinate
import psycopg_pool

import sql
from engine.core.compiled import CompiledGraph
from engine.durable import jobs, metrics, threads
from engine.durable.claims import Claims
from engine.durable.db import create_pool
from engine.durable.failures import StepRetry, fail_job
from engine.durable.idempotency import DEFAULT_RETENTION_SECONDS
from engine.durable.jobmanager import WorkerJobManager
from engine.durable.lifecycle import start_due_run
from engine.durable.outage import wait_for_database
from engine.durable.periodic import every
from engine.durable.reaper import run_reaper
from engine.durable.retention import DEFAULT_JOB_RETENTION_SECONDS
from engine.durable.runs import RunService
from engine.durable.runtime import Runtime
from engine.durable.scheduler import run_housekeeping
from engine.durable.step import execute_step
from engine.durable.webhooks import deliver_webhook
from engine.errors import NotFound

JQ = sql.queries("jobs.sql")
log = logging.getLogger("duragraph.worker")


def unchecked_pool(**kwargs: Any) -> psycopg_pool.AsyncConnectionPool:
    """procrastinate's pool without its check on every checkout (one more round trip per fetch and per
    finish, a statement PostgreSQL runs too). A dead connection is found by the operation that uses it;
    the job manager retries that operation and checks the pool's idle connections first
    (`WorkerJobManager._failed`), so a restarted database costs one failed attempt, not one per connection."""
    kwargs.pop("check", None)
    return psycopg_pool.AsyncConnectionPool(**kwargs)


def build_app(rt: Runtime, database_url: str, claims: Claims | None = None,
              stop: asyncio.Event | None = None) -> procrastinate.App:
    """The procrastinate app of a worker process; with `claims` and `stop`, its job manager rides out
    database outages and keeps `claims` current (`jobmanager.py`)."""
    # procrastinate's commits (fetch, finish) are synchronous like ours: a fetch lost in a Postgres crash
    # would put back in the queue a step this worker goes on running, and another worker would run it at
    # the same time (measured in tests/acceptance/test_db_restart.py)
    connector = procrastinate.PsycopgConnector(conninfo=database_url, pool_factory=unchecked_pool)
    app = procrastinate.App(connector=connector)
    claims = claims if claims is not None else Claims()
    if stop is not None:
        app.job_manager = WorkerJobManager(app.job_manager, pool=rt.pool, claims=claims, stop=stop,
                                           give_up=lambda job, exc: fail_job(rt, job, exc))

    # a step whose body failed for an infrastructure reason (its node's own errors are outcomes) is
    # delivered again (failures.py: through any outage, a few times otherwise, then its run ends `error`);
    # completion is idempotent, so a step that did commit is a no-op then
    @app.task(name=jobs.STEP_TASK, queue=jobs.STEP_QUEUE, pass_context=True, retry=StepRetry())
    async def step(context: procrastinate.JobContext, run_id: str, task_id: str) -> None:
        worker_id = claims.worker_id
        if worker_id is None:
            async with rt.pool.acquire() as conn:
                worker_id = await conn.fetchval(JQ["job_worker"], context.job.id)
        try:
            await execute_step(rt, uuid.UUID(run_id), task_id, worker_id=worker_id, claims=claims,
                               job_id=context.job.id)
        except BaseException as exc:
            if context.job.id is not None:
                claims.failures[context.job.id] = exc  # the cause, if the job is given up
            raise

    @app.task(name=jobs.START_TASK, queue=jobs.STEP_QUEUE, pass_context=True, retry=StepRetry())
    async def start_run(context: procrastinate.JobContext, run_id: str) -> None:
        try:
            async with rt.pool.acquire() as conn, conn.transaction():
                await start_due_run(conn, rt, uuid.UUID(run_id))
        except BaseException as exc:
            if context.job.id is not None:
                claims.failures[context.job.id] = exc
            raise

    @app.task(name=jobs.DELETE_THREAD_TASK, queue=jobs.STEP_QUEUE)
    async def delete_thread(thread_id: str) -> None:
        async with rt.pool.acquire() as conn:
            with contextlib.suppress(NotFound):
                await threads.delete(conn, uuid.UUID(thread_id), rt=rt)

    @app.task(name=jobs.WEBHOOK_TASK, queue=jobs.WEBHOOK_QUEUE, retry=procrastinate.RetryStrategy(
        max_attempts=5, exponential_wait=2))
    async def webhook(run_id: str) -> None:
        await deliver_webhook(rt.pool, uuid.UUID(run_id), graphs=rt.graphs)

    return app


async def run_worker(
    *,
    database_url: str,
    graphs: Mapping[str, CompiledGraph],
    subject_prefix: str = "duragraph",
    concurrency: int = 10,
    stalled_after: float = 15.0,
    reaper_interval: float = 2.0,
    shutdown_grace: float = 30.0,
    run_timeout: float | None = None,
    idempotency_retention: float = DEFAULT_RETENTION_SECONDS,
    job_retention: float = DEFAULT_JOB_RETENTION_SECONDS,
    stop: asyncio.Event | None = None,
    install_signal_handlers: bool = True,
    state_bytes: int | None = None,
    pending_runs_per_thread: int | None = None,
) -> None:
    """Run steps until `stop` is set (or SIGINT/SIGTERM when signal handlers are installed). Started
    while the database is down, it waits for it. On stop, steps in flight get `shutdown_grace` seconds to
    finish and commit; those still running after it are cancelled."""
    stop = stop or asyncio.Event()
    if not await wait_for_database(database_url, log, stop):
        return
    # min_size 0: asyncpg keeps no connection floor, so an outage is not a traceback per retry in its log
    pool = await create_pool(database_url, min_size=0, max_size=concurrency + 4)
    rt = Runtime(pool=pool, graphs=graphs, subject_prefix=subject_prefix, state_bytes=state_bytes,
                 pending_runs_per_thread=pending_runs_per_thread)
    metrics.watch_pool(pool, "worker")
    claims = Claims()
    app = build_app(rt, database_url, claims, stop)
    heartbeat = max(0.5, stalled_after / 4)
    try:
        async with app.open_async():
            reaper = asyncio.create_task(
                run_reaper(pool, stalled_after=stalled_after, interval=reaper_interval, stop=stop,
                           heartbeat=heartbeat)
            )
            rechecker = asyncio.create_task(
                every(max(reaper_interval, heartbeat), stop, lambda: claims.recheck(pool), log, "claims re-check"))
            housekeeping = asyncio.create_task(run_housekeeping(pool, RunService(rt), stop=stop,
                                                                run_timeout=run_timeout,
                                                                idempotency_retention=idempotency_retention,
                                                                job_retention=job_retention))
            sampler = asyncio.create_task(metrics.run_queue_sampler(
                pool, (jobs.STEP_QUEUE, jobs.WEBHOOK_QUEUE), interval=reaper_interval, stop=stop))
            worker = asyncio.create_task(
                app.run_worker_async(
                    queues=[jobs.STEP_QUEUE, jobs.WEBHOOK_QUEUE],
                    concurrency=concurrency,
                    wait=True,
                    install_signal_handlers=install_signal_handlers,
                    update_heartbeat_interval=heartbeat,
                    stalled_worker_timeout=stalled_after,
                    delete_jobs="successful",
                    shutdown_graceful_timeout=shutdown_grace,
                    fetch_job_polling_interval=1.0,
                    abort_job_polling_interval=0.5,
                )
            )
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            if worker not in done:
                worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await reaper
            await rechecker
            await housekeeping
            await sampler
            stopper.cancel()
    finally:
        await pool.close()


