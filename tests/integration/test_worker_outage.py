"""The pieces that let a worker ride out a database outage (issue 19), each on a real database: a pruned
worker registers again under its own id (heartbeat, fetch), the claims re-check puts back a job the
worker holds in the database but not in hand, and the reaper judges no one dead right after a restart.
The whole, with PostgreSQL really restarted, is tests/acceptance/test_db_restart.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import procrastinate
import pytest

from engine.durable import jobs
from engine.durable.claims import Claims
from engine.durable.db import create_pool
from engine.durable.jobmanager import WorkerJobManager
from engine.durable.reaper import reap_once
from tests.support import sql_rows

QUEUE = jobs.STEP_QUEUE  # the reaper looks after the step and webhook queues; no worker runs here


@pytest.fixture
async def manager(database_url: str) -> AsyncIterator[WorkerJobManager]:
    pool = await create_pool(database_url)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=database_url))

    async def give_up(job: object, exc: BaseException | None) -> None:
        raise AssertionError("no job fails here")

    async with app.open_async():
        yield WorkerJobManager(app.job_manager, pool=pool, claims=Claims(), stop=asyncio.Event(), give_up=give_up)
    await pool.close()


async def defer_one(database_url: str) -> int:
    pool = await create_pool(database_url)
    try:
        async with pool.acquire() as conn:
            [job_id] = await jobs.defer(conn, QUEUE, "outage_test.task", [{}])
        return job_id
    finally:
        await pool.close()


async def test_a_pruned_worker_registers_again_under_its_own_id(database_url: str, manager: WorkerJobManager) -> None:
    worker_id = await manager.register_worker()
    assert manager.claims.worker_id == worker_id
    await sql_rows(database_url, "DELETE FROM procrastinate_workers WHERE id = $1", worker_id)  # the reaper's prune
    await manager.update_heartbeat(worker_id)
    assert [r["id"] for r in await sql_rows(database_url, "SELECT id FROM procrastinate_workers")] == [worker_id]

    # pruned again, and the next fetch finds out first (a foreign key violation): it registers and fetches
    await sql_rows(database_url, "DELETE FROM procrastinate_workers WHERE id = $1", worker_id)
    job_id = await defer_one(database_url)
    job = await manager.fetch_job([QUEUE], worker_id)
    assert job is not None and job.id == job_id
    assert job_id in manager.claims.held
    [row] = await sql_rows(database_url, "SELECT status, worker_id FROM procrastinate_jobs WHERE id = $1", job_id)
    assert (row["status"], row["worker_id"]) == ("doing", worker_id)


async def test_the_claims_recheck_puts_back_a_job_held_only_in_the_database(
    database_url: str, manager: WorkerJobManager
) -> None:
    worker_id = await manager.register_worker()
    lost, kept = await defer_one(database_url), await defer_one(database_url)
    for _ in (lost, kept):
        assert await manager.fetch_job([QUEUE], worker_id) is not None
    manager.claims.drop(lost)  # e.g. a commit whose acknowledgement was lost: the worker does not run it
    pool = manager.pool
    assert await manager.claims.recheck(pool) == []  # seen once: it may have just been fetched
    assert await manager.claims.recheck(pool) == [lost]
    statuses = {r["id"]: r["status"] for r in await sql_rows(
        database_url, "SELECT id, status FROM procrastinate_jobs WHERE id = ANY($1::bigint[])", [lost, kept])}
    assert statuses == {lost: "todo", kept: "doing"}


async def test_the_reaper_declares_no_one_dead_while_the_server_has_just_started(
    database_url: str, manager: WorkerJobManager
) -> None:
    worker_id = await manager.register_worker()
    await defer_one(database_url)
    job = await manager.fetch_job([QUEUE], worker_id)
    assert job is not None
    await sql_rows(database_url, "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'")
    uptime = float((await sql_rows(database_url, "SELECT extract(epoch FROM now() - pg_postmaster_start_time()) "
                                                 "AS s"))[0]["s"])
    # as if the server had restarted `grace` seconds ago: every heartbeat is old, nobody is judged
    assert await reap_once(manager.pool, stalled_after=60, grace=uptime + 3600) == []
    assert await sql_rows(database_url, "SELECT id FROM procrastinate_workers") != []
    # long enough after a restart, a silent worker is dead and its job goes back to the queue
    assert await reap_once(manager.pool, stalled_after=60, grace=0) == [job.id]
