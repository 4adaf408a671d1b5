"""Housekeeping every worker runs: fire due crons, end runs past the run timeout, purge expired store
items, threads and idempotency keys.

Crons fire exactly once per due time with any number of workers: `crons.claim_due` locks due rows with
SKIP LOCKED and advances them in the same transaction that creates their runs. After downtime, the
missed times of a cron are caught up with ONE run, then it is scheduled at its next future time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from engine.durable import crons, idempotency, kv, retention, threads
from engine.durable.periodic import every
from engine.durable.runs import RunRequest, RunService
from engine.durable.timeouts import end_timed_out_runs
from engine.errors import ServiceError

log = logging.getLogger("duragraph.scheduler")


def cron_run_request(cron: Mapping[str, Any]) -> RunRequest:
    p: dict[str, Any] = dict(cron["payload"] or {})
    stateless = cron["thread_id"] is None
    return RunRequest(
        assistant_id=str(cron["assistant_id"]),
        thread_id=cron["thread_id"],
        input=p.get("input"),
        command=p.get("command"),
        config=dict(p.get("config") or {}),
        context=dict(p.get("context") or {}),
        metadata={**(p.get("metadata") or {}), "cron_id": str(cron["cron_id"])},
        interrupt_before=p.get("interrupt_before"),
        interrupt_after=p.get("interrupt_after"),
        multitask_strategy=p.get("multitask_strategy") or "enqueue",
        webhook=p.get("webhook"),
        on_completion="keep" if stateless and cron["on_run_completed"] == "keep" else "delete",
        stream_mode=list(p.get("stream_mode") or ["values"]) if not isinstance(p.get("stream_mode"), str)
        else [p["stream_mode"]],
        stream_subgraphs=bool(p.get("stream_subgraphs")),
        stream_resumable=bool(p.get("stream_resumable")),
        after_seconds=float(p.get("after_seconds") or 0),
        if_not_exists=p.get("if_not_exists") or "reject",
    )


async def fire_due(pool: asyncpg.Pool, runs: RunService, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Create the runs of every due cron; returns their run ids."""
    created: list[uuid.UUID] = []
    async with pool.acquire() as conn, conn.transaction():
        for cron in await crons.claim_due(conn, now or dt.datetime.now(dt.UTC)):
            try:
                async with conn.transaction():  # a savepoint: one bad cron does not block the others
                    run = await runs.create_in(conn, cron_run_request(cron))
                created.append(uuid.UUID(run["run_id"]))
            except ServiceError as exc:
                log.warning("cron %s could not start its run: %s", cron["cron_id"], exc.detail)
    return created


async def run_housekeeping(pool: asyncpg.Pool, runs: RunService, *, stop: asyncio.Event,
                           interval: float = 1.0, sweep_every: float = 60.0, run_timeout: float | None = None,
                           idempotency_retention: float = idempotency.DEFAULT_RETENTION_SECONDS,
                           job_retention: float = retention.DEFAULT_JOB_RETENTION_SECONDS) -> None:
    loop = asyncio.get_running_loop()
    next_sweep = loop.time()

    async def one_pass() -> None:
        nonlocal next_sweep
        await fire_due(pool, runs)
        if run_timeout is not None:
            await end_timed_out_runs(runs.rt, run_timeout)
        if loop.time() >= next_sweep:
            next_sweep = loop.time() + sweep_every
            await kv.purge_expired(pool)
            async with pool.acquire() as conn:
                await threads.delete_expired(conn)
            await idempotency.delete_expired(pool, idempotency_retention)
            await retention.delete_finished_jobs(pool, job_retention)

    await every(interval, stop, one_pass, log, "housekeeping")
