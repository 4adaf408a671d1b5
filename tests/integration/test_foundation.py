"""The foundation against real PostgreSQL and real NATS JetStream."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js.api import StreamConfig

import sql
from duragraph.services import EmbeddedNats
from engine.durable.migrate import migrate


def test_migrations_apply_once_then_are_a_no_op(empty_database_url: str) -> None:
    first = asyncio.run(migrate(empty_database_url))
    assert "procrastinate schema" in first
    assert [m for m in first if m != "procrastinate schema"] == [
        f"{m.version:04d}_{m.name}" for m in sql.migrations()
    ]
    assert asyncio.run(migrate(empty_database_url)) == []

    async def schema() -> list[str]:
        conn = await asyncpg.connect(empty_database_url)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            return [r["tablename"] for r in rows]
        finally:
            await conn.close()

    tables = asyncio.run(schema())
    for t in ("threads", "runs", "tasks", "checkpoints", "events", "outbox", "store_items", "crons",
              "procrastinate_jobs", "duragraph_migrations"):
        assert t in tables


def test_concurrent_migrate_applies_each_migration_once(empty_database_url: str) -> None:
    async def many() -> list[list[str]]:
        return list(await asyncio.gather(*(migrate(empty_database_url) for _ in range(4))))

    results = asyncio.run(many())
    applied = [r for r in results if r]
    assert len(applied) == 1, results
    assert all(r == [] for r in results if r is not applied[0])


def test_one_running_run_per_thread_and_unique_seq(database_url: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            tid = await conn.fetchval("INSERT INTO threads (thread_id) VALUES (gen_random_uuid()) RETURNING thread_id")
            ins = ("INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, status) "
                   "VALUES (gen_random_uuid(), $1, gen_random_uuid(), 'g', $2) RETURNING run_id")
            run = await conn.fetchval(ins, tid, "running")
            await conn.fetchval(ins, tid, "pending")  # enqueued runs may wait
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.fetchval(ins, tid, "running")
            ev = ("INSERT INTO events (event_id, run_id, thread_id, seq, event, data) "
                  "VALUES (gen_random_uuid(), $1, $2, $3, 'x', '{}')")
            await conn.execute(ev, run, tid, 1)
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute(ev, run, tid, 1)
        finally:
            await conn.close()

    asyncio.run(go())


def test_every_named_query_prepares(database_url: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for filename in sql.query_files():
                for name, text in sql.queries(filename).items():
                    try:
                        await conn.prepare(text)
                    except asyncpg.PostgresError as exc:  # pragma: no cover - the message is the point
                        raise AssertionError(f"query {filename}:{name} does not prepare: {exc}") from exc
        finally:
            await conn.close()

    asyncio.run(go())


def test_jetstream_dedupes_by_msg_id(nats_url: str, nats_prefix: str) -> None:
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name=f"{nats_prefix}_S", subjects=[f"{nats_prefix}.>"]))
            a = await js.publish(f"{nats_prefix}.run.1", b"hello", headers={"Nats-Msg-Id": "event-1"})
            b = await js.publish(f"{nats_prefix}.run.1", b"hello", headers={"Nats-Msg-Id": "event-1"})
            assert not a.duplicate and b.duplicate
            sub = await js.pull_subscribe(f"{nats_prefix}.>", durable=None, stream=f"{nats_prefix}_S")
            msgs = await sub.fetch(10, timeout=1)
            assert [m.data for m in msgs] == [b"hello"]
            for m in msgs:
                await m.ack()
            with pytest.raises(nats.errors.TimeoutError):
                await sub.fetch(1, timeout=0.3)
        finally:
            await nc.close()

    asyncio.run(go())


def test_embedded_nats_replaces_a_leftover_server_on_its_store(tmp_path: Path) -> None:
    first = EmbeddedNats(tmp_path / "nats").start()
    assert first._proc is not None
    leftover = first._proc
    first._proc = None  # forget it, as a process killed with -9 would
    second = EmbeddedNats(tmp_path / "nats").start()
    try:
        assert leftover.wait(10) is not None  # the leftover was stopped before the new one took the store
        assert second._proc is not None and second._proc.poll() is None
    finally:
        second.stop()
