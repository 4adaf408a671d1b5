"""Retention by the worker's housekeeping: finished procrastinate jobs (and their events) and idempotency keys
past their windows are deleted, fresh ones and jobs still queued or running are kept, and nothing a user sees
(threads, runs, checkpoints, events) is touched."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from engine.durable import retention, threads
from engine.durable.db import create_pool
from engine.durable.runs import RunService
from engine.durable.runtime import Runtime
from engine.durable.scheduler import run_housekeeping

HOUR = 3600.0
OLD, FRESH = "now() - interval '3 hours'", "now() - interval '10 minutes'"


async def add_job(conn: asyncpg.Connection, status: str, last_event_at: str) -> int:
    job_id = int(await conn.fetchval(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts) "
        "VALUES ('duragraph_steps', 'duragraph.step', '{}', $1, 1) RETURNING id", status))
    await conn.execute(f"INSERT INTO procrastinate_events (job_id, type, at) VALUES "
                       f"($1, 'deferred', now() - interval '4 hours'), ($1, 'started', {last_event_at})", job_id)
    return job_id


async def jobs_left(conn: asyncpg.Connection) -> set[int]:
    return {r["id"] for r in await conn.fetch("SELECT id FROM procrastinate_jobs")}


async def test_finished_jobs_past_retention_are_deleted_with_their_events(database_url: str) -> None:
    pool = await create_pool(database_url)
    try:
        async with pool.acquire() as conn:
            old = [await add_job(conn, s, OLD) for s in ("succeeded", "failed", "cancelled", "aborted")]
            fresh = [await add_job(conn, s, FRESH) for s in ("succeeded", "failed")]
            # queued and running jobs are never retention's, however old their events
            live = [await add_job(conn, s, OLD) for s in ("todo", "doing")]
            # more old ones than one batch, behind a fresh one: the pass reads on past it
            more_old = [await add_job(conn, "failed", OLD) for _ in range(7)]
            assert await retention.delete_finished_jobs(pool, HOUR, batch=3) == len(old) + len(more_old)
            assert await jobs_left(conn) == set(fresh + live)
            assert await conn.fetchval("SELECT count(*) FROM procrastinate_events WHERE job_id <> ALL($1::bigint[])",
                                       fresh + live) == 0
            assert await retention.delete_finished_jobs(pool, HOUR, batch=3) == 0
    finally:
        await pool.close()


async def test_housekeeping_purges_old_jobs_and_keys_and_keeps_history(database_url: str) -> None:
    pool = await create_pool(database_url)
    stop = asyncio.Event()
    try:
        async with pool.acquire() as conn:
            old_job, fresh_job = await add_job(conn, "failed", OLD), await add_job(conn, "failed", FRESH)
            await conn.execute("INSERT INTO idempotency_keys (idempotency_key, fingerprint, created_at) VALUES "
                               f"('old', 'f', {OLD}), ('fresh', 'f', {FRESH})")
            # a finished run of three hours ago, with its checkpoint and events: user-visible history
            tid, rid = uuid.uuid4(), uuid.uuid4()
            await conn.execute(f"INSERT INTO threads (thread_id, created_at, updated_at) VALUES ($1, {OLD}, {OLD})",
                               tid)
            await conn.execute("INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, status, created_at, "
                               f"ended_at) VALUES ($1, $2, $1, 'g', 'success', {OLD}, {OLD})", rid, tid)
            await conn.execute("INSERT INTO checkpoints (checkpoint_id, thread_id, run_id, step, checkpoint, "
                               f"created_at) VALUES ($1, $2, $3, 0, '{{}}', {OLD})", uuid.uuid4(), tid, rid)
            await conn.execute("INSERT INTO events (event_id, run_id, thread_id, seq, event, data, created_at) "
                               f"VALUES ($1, $2, $3, 1, 'end', '{{}}', {OLD})", uuid.uuid4(), rid, tid)
        task = asyncio.create_task(run_housekeeping(pool, RunService(Runtime(pool=pool, graphs={})), stop=stop,
                                                    idempotency_retention=HOUR, job_retention=HOUR))

        async def purged() -> bool:
            async with pool.acquire() as conn:
                return not await conn.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE id = $1", old_job) \
                    and not await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = 'old'")

        for _ in range(100):
            if await purged():
                break
            await asyncio.sleep(0.1)
        stop.set()
        await task
        async with pool.acquire() as conn:
            assert await purged()
            assert await jobs_left(conn) == {fresh_job}
            assert [r[0] for r in await conn.fetch("SELECT idempotency_key FROM idempotency_keys")] == ["fresh"]
            kept: dict[str, Any] = {t: await conn.fetchval(f"SELECT count(*) FROM {t}")
                                    for t in ("threads", "runs", "checkpoints", "events")}
            assert kept == {"threads": 1, "runs": 1, "checkpoints": 1, "events": 1}
    finally:
        stop.set()
        await pool.close()


async def add_thread_with_events(conn: asyncpg.Connection, *, ttl_minutes: float | None = None,
                                 updated: str = "now()") -> uuid.UUID:
    tid, rid = uuid.uuid4(), uuid.uuid4()
    ttl = None if ttl_minutes is None else {"strategy": "delete", "ttl_minutes": ttl_minutes}
    await conn.execute(f"INSERT INTO threads (thread_id, ttl, updated_at) VALUES ($1, $2, {updated})", tid, ttl)
    await conn.execute("INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, status) "
                       "VALUES ($1, $2, $1, 'g', 'success')", rid, tid)
    for seq in (1, 2):
        await conn.execute("INSERT INTO events (event_id, run_id, thread_id, seq, event, data) "
                           "VALUES ($1, $2, $3, $4, 'values', '{}')", uuid.uuid4(), rid, tid, seq)
    return tid


async def events_of(conn: asyncpg.Connection) -> dict[uuid.UUID, int]:
    return {r[0]: r[1] for r in await conn.fetch("SELECT thread_id, count(*) FROM events GROUP BY thread_id")}


async def test_a_deleted_or_expired_threads_events_go_with_it(database_url: str) -> None:
    pool = await create_pool(database_url)
    try:
        async with pool.acquire() as conn:
            deleted, kept = await add_thread_with_events(conn), await add_thread_with_events(conn)
            expired = await add_thread_with_events(conn, ttl_minutes=1, updated="now() - interval '2 minutes'")
            alive = await add_thread_with_events(conn, ttl_minutes=60)
            await threads.delete(conn, deleted, rt=Runtime(pool=pool, graphs={}))
            assert await threads.delete_expired(conn) == 1
            assert await events_of(conn) == {kept: 2, alive: 2}
            assert {r[0] for r in await conn.fetch("SELECT thread_id FROM threads")} == {kept, alive}
            assert expired not in await events_of(conn)
    finally:
        await pool.close()


def test_job_retention_is_a_setting() -> None:
    from duragraph.settings import Settings

    assert Settings.from_env({}).job_retention_seconds == retention.DEFAULT_JOB_RETENTION_SECONDS == 7 * 24 * HOUR
    assert Settings.from_env({"DURAGRAPH_JOB_RETENTION": "90"}).job_retention_seconds == 90.0
