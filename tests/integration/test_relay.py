"""The outbox relay against real PostgreSQL and real NATS JetStream (invariant 6)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest

import sql
from duragraph.services import EmbeddedNats, free_port
from engine.durable.migrate import migrate
from relay import Relay, RelayConfig, ensure_stream
from relay import outbox as relay_outbox
from relay.publish import publish_batch
from tests.integration.relay_support import (
    OutboxWriter,
    assert_exactly_once_in_order,
    delete_stream,
    relay_config,
    running,
    stream_messages,
    unpublished,
)
from tests.support import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[Any]:
    c = await asyncpg.connect(database_url)
    yield c
    await c.close()


@pytest.fixture
async def config(database_url: str, nats_url: str, nats_prefix: str) -> AsyncIterator[RelayConfig]:
    cfg = relay_config(database_url, nats_url, nats_prefix)
    yield cfg
    await delete_stream(nats_url, cfg.stream)


async def all_published(dsn: str) -> bool:
    return await unpublished(dsn) == 0


async def test_every_relay_query_prepares_against_the_schema(conn: Any) -> None:
    assert set(relay_outbox.queries()) == {"try_lock", "delete_and_fetch", "count_unpublished", "delete_published",
                                           "delete_marked"}
    for query in relay_outbox.queries().values():
        await conn.prepare(query)


async def test_ensure_stream_creates_then_converges_limits(config: RelayConfig) -> None:
    nc = await nats.connect(config.nats_url)
    try:
        js = nc.jetstream()
        info = await ensure_stream(js, config)
        assert info.config.subjects == [f"{config.subject_prefix}.>"]
        assert info.config.duplicate_window == config.duplicate_window
        assert (await ensure_stream(js, config)).config == info.config  # idempotent
        changed = replace(config, stream_max_age=3600.0, duplicate_window=120.0)
        info = await ensure_stream(js, changed)
        assert (info.config.max_age, info.config.duplicate_window) == (3600.0, 120.0)
    finally:
        await nc.close()


async def test_publishes_every_row_exactly_once_in_order_per_run(
        config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    writer = OutboxWriter(nats_prefix)
    runs = writer.new_runs(12)
    await writer.interleaved(conn, runs, steps=20, per_step=3)  # 720 rows waiting before the relay starts
    relay = Relay(replace(config, batch_size=50))
    async with running(relay):
        await eventually(lambda: all_published(config.database_url), within=30, what="backlog published")
        await writer.interleaved(conn, runs, steps=5, per_step=2)  # and more while it runs
        await eventually(lambda: all_published(config.database_url), within=30, what="new rows published")
    assert relay.stats.published == writer.total == 840
    msgs = await stream_messages(config.nats_url, config)
    assert_exactly_once_in_order(msgs, writer.expected)
    assert msgs[0].subject.startswith(f"{nats_prefix}.events.")


async def test_notify_wakes_the_relay_before_the_sweep(config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    relay = Relay(replace(config, sweep_interval=60.0))
    writer = OutboxWriter(nats_prefix)
    async with running(relay):
        await eventually(lambda: _true(relay.active), within=10, what="relay active")
        await writer.interleaved(conn, writer.new_runs(3), steps=4)
        await eventually(lambda: all_published(config.database_url), within=10, what="published on NOTIFY")
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), writer.expected)


async def test_sweep_finds_rows_whose_notify_was_missed(config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    relay = Relay(replace(config, sweep_interval=0.3))
    writer = OutboxWriter(nats_prefix)
    async with running(relay):
        await eventually(lambda: _true(relay.active), within=10, what="relay active")
        await conn.execute("SET session_replication_role = replica")  # triggers off: no pg_notify
        await writer.interleaved(conn, writer.new_runs(2), steps=3)
        await eventually(lambda: all_published(config.database_url), within=10, what="published by the sweep")
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), writer.expected)


async def test_rows_published_before_a_crash_are_not_duplicated(
        config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    """A relay published a prefix of every run, then died before marking: the next one republishes."""
    writer = OutboxWriter(nats_prefix)
    runs = writer.new_runs(5)
    await writer.interleaved(conn, runs, steps=10)
    nc = await nats.connect(config.nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, config)
        rows = await relay_outbox.fetch_unpublished(conn, 23)
        outcome = await publish_batch(js, rows, stream=config.stream, publish_timeout=2)
        assert outcome.error is None and len(outcome.acked) == 23
    finally:
        await nc.close()
    relay = Relay(config)
    async with running(relay):
        await eventually(lambda: all_published(config.database_url), within=30, what="all published")
    assert relay.stats.published == 50  # 23 of them were acked as duplicates
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), writer.expected)


async def test_a_failed_publish_stops_its_run_only(config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    """Run A's 2nd row goes to a subject no stream captures (no ack): A's later rows are not sent, while
    run B, published in the same waves, is stored whole. A retry can therefore never store A's 2nd row
    after its 3rd."""
    writer = OutboxWriter(nats_prefix)
    a, b = writer.new_runs(2)
    await writer.interleaved(conn, [a, b], steps=4)
    rows = await relay_outbox.fetch_unpublished(conn, 100)
    a_rows = [r for r in rows if r.run_id == str(a)]
    rows = [replace(r, subject=f"{nats_prefix}x.lost") if r == a_rows[1] else r for r in rows]
    nc = await nats.connect(config.nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, config)
        outcome = await publish_batch(js, rows, stream=config.stream, publish_timeout=1)
        assert outcome.error is not None
        assert outcome.acked == sorted([a_rows[0].id] + [r.id for r in rows if r.run_id == str(b)])
        assert js.publish_async_pending() == 0
    finally:
        await nc.close()
    stored = await stream_messages(config.nats_url, config)
    assert [m.headers["Duragraph-Run-Id"] for m in stored].count(str(a)) == 1
    assert [m.headers["Duragraph-Event-Id"] for m in stored if m.headers["Duragraph-Run-Id"] == str(b)] == \
        [str(e) for e in writer.expected[b]]


class Crash(BaseException):
    """The process dies: nothing in the relay may catch it."""


async def test_crash_between_publish_and_mark(
        config: RelayConfig, conn: Any, nats_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = OutboxWriter(nats_prefix)
    await writer.interleaved(conn, writer.new_runs(4), steps=10)

    fetch = relay_outbox.delete_and_fetch

    async def crash(conn: Any, ids: Any, limit: int) -> relay_outbox.Batch:
        if ids:  # deleting what was published (the first fetch deletes nothing)
            raise Crash
        return await fetch(conn, ids, limit)

    monkeypatch.setattr(relay_outbox, "delete_and_fetch", crash)
    first = Relay(replace(config, batch_size=25))
    with pytest.raises(Crash):
        await asyncio.wait_for(first.run(asyncio.Event()), timeout=20)
    assert await unpublished(config.database_url) == 40  # published to JetStream, never deleted
    monkeypatch.undo()

    second = Relay(config)
    async with running(second):
        await eventually(lambda: all_published(config.database_url), within=30, what="all published")
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), writer.expected)


async def test_one_active_relay_and_a_standby_takes_over(config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    writer = OutboxWriter(nats_prefix)
    runs = writer.new_runs(4)
    a, b = Relay(config), Relay(config)
    async with running(a) as task_a, running(b) as task_b:
        await eventually(lambda: _true(a.active or b.active), within=10, what="a relay active")
        (active, active_task), standby = ((a, task_a), b) if a.active else ((b, task_b), a)
        await writer.interleaved(conn, runs, steps=10)
        await eventually(lambda: all_published(config.database_url), within=30, what="first wave published")
        assert not standby.active and standby.stats.published == 0 and standby.stats.terms == 0

        await writer.interleaved(conn, runs, steps=5)
        active_task.cancel()  # the active relay dies; its connection closes and the lock is released
        started = time.monotonic()
        await eventually(lambda: _true(standby.active), within=5, what="standby takes over")
        takeover = time.monotonic() - started
        await eventually(lambda: all_published(config.database_url), within=30, what="second wave published")
        await writer.interleaved(conn, runs, steps=5)
        await eventually(lambda: all_published(config.database_url), within=30, what="third wave published")
        assert active_task.cancelled() and not active.active
    assert takeover < 5
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), writer.expected)


async def test_losing_the_lock_connection_stops_publishing(
        config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    writer = OutboxWriter(nats_prefix)
    runs = writer.new_runs(3)
    a, b = Relay(config), Relay(config)
    async with running(a), running(b):
        await eventually(lambda: _true(a.active or b.active), within=10, what="a relay active")
        active = a if a.active else b
        await writer.interleaved(conn, runs, steps=5)
        await eventually(lambda: all_published(config.database_url), within=30, what="first wave published")

        killed = await conn.fetchval(
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())")
        assert killed
        await eventually(lambda: _true(not active.active or active.stats.terms > 1),
                         within=5, what="the killed relay stepped down")
        await eventually(lambda: _true(a.active != b.active), within=5, what="exactly one relay active again")
        await writer.interleaved(conn, runs, steps=5)
        await eventually(lambda: all_published(config.database_url), within=30, what="second wave published")
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), writer.expected)


async def test_lock_loss_cancels_in_flight_publishes(
        database_url: str, conn: Any, nats_prefix: str, tmp_path: Path) -> None:
    """NATS hangs (SIGSTOP) mid-publish and the lock connection dies: the relay steps down at once,
    without waiting for the publish timeout; after NATS resumes, every event arrives exactly once."""
    server = await asyncio.to_thread(EmbeddedNats(data_dir=tmp_path / "nats", port=free_port()).start)
    config = relay_config(database_url, server.url, nats_prefix, publish_timeout=30.0)
    writer = OutboxWriter(nats_prefix)
    runs = writer.new_runs(3)
    relay = Relay(config)
    assert server._proc is not None
    pid = server._proc.pid
    try:
        async with running(relay):
            await eventually(lambda: _true(relay.active), within=10, what="relay active")
            await writer.interleaved(conn, runs, steps=3)
            await eventually(lambda: all_published(database_url), within=30, what="first wave published")
            os.kill(pid, signal.SIGSTOP)
            await writer.interleaved(conn, runs, steps=3)
            await eventually(lambda: _true(relay.stats.in_flight > 0), within=5, what="publishing into a hung NATS")
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE application_name = 'duragraph-relay' AND datname = current_database()")
            started = time.monotonic()
            await eventually(lambda: _true(not relay.active), within=5, what="stepped down")
            assert time.monotonic() - started < 5 < config.publish_timeout
            assert relay.stats.in_flight == 0 and await unpublished(database_url) == 9
            os.kill(pid, signal.SIGCONT)
            await eventually(lambda: all_published(database_url), within=30, what="all published after resume")
        assert_exactly_once_in_order(await stream_messages(server.url, config), writer.expected)
    finally:
        os.kill(pid, signal.SIGCONT)
        await asyncio.to_thread(server.stop)


async def test_relay_started_before_nats_publishes_once_nats_is_up(
        database_url: str, conn: Any, nats_prefix: str, tmp_path: Path) -> None:
    server = EmbeddedNats(data_dir=tmp_path / "nats", port=free_port())
    config = relay_config(database_url, server.url, nats_prefix)
    writer = OutboxWriter(nats_prefix)
    await writer.interleaved(conn, writer.new_runs(3), steps=4)
    relay = Relay(config)
    try:
        async with running(relay):
            await eventually(lambda: _true(relay.active), within=10, what="active without NATS")
            await asyncio.to_thread(server.start)
            await eventually(lambda: all_published(database_url), within=30, what="published once NATS is up")
            await asyncio.to_thread(server.kill)
        # ...and it stops promptly while NATS is down (checked by `running`'s bounded wait)
        assert_exactly_once_in_order(await stream_messages((await asyncio.to_thread(server.start)).url, config),
                                     writer.expected)
    finally:
        await asyncio.to_thread(server.stop)


async def test_nats_restart_mid_stream_loses_and_duplicates_nothing(
        database_url: str, conn: Any, nats_prefix: str, tmp_path: Path) -> None:
    server = await asyncio.to_thread(EmbeddedNats(data_dir=tmp_path / "nats", port=free_port()).start)
    config = relay_config(database_url, server.url, nats_prefix)
    writer = OutboxWriter(nats_prefix)
    runs = writer.new_runs(8)
    producing = asyncio.Event()
    producing.set()

    async def produce() -> None:
        i = 0
        while producing.is_set():
            await writer.append(conn, runs[i % len(runs)], 2)
            i += 1
            await asyncio.sleep(0.005)

    relay = Relay(config)
    try:
        async with running(relay):
            producer = asyncio.create_task(produce())
            await eventually(lambda: _true(relay.stats.published >= 200), within=30, what="publishing")
            await asyncio.to_thread(server.kill)
            at_kill = writer.total
            await eventually(lambda: _true(writer.total >= at_kill + 200), within=30, what="rows during outage")
            assert await unpublished(database_url) >= 150  # kept, not lost
            await asyncio.to_thread(server.start)
            await eventually(lambda: _true(relay.stats.published >= at_kill + 200), within=30, what="resumed")
            producing.clear()
            await producer
            await eventually(lambda: all_published(database_url), within=30, what="all published after restart")
        msgs = await stream_messages(server.url, config)
        assert_exactly_once_in_order(msgs, writer.expected)
    finally:
        await asyncio.to_thread(server.stop)


async def test_published_rows_are_deleted_and_so_are_rows_an_older_relay_marked(
        config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    """Nothing reads a published row: the relay deletes it once JetStream has it, so the table holds the
    backlog only. Rows a relay of the previous version marked published (a rolling deploy) are deleted by
    the cleanup, a bounded batch at a time, and not published again; unpublished rows are never deleted."""
    writer = OutboxWriter(nats_prefix)
    marked, pending = writer.new_runs(2)
    await writer.append(conn, marked, 50)
    await writer.append(conn, pending, 5)
    await conn.execute("UPDATE outbox SET published_at = now() - interval '1 minute' WHERE run_id = $1", marked)
    await conn.execute("UPDATE outbox SET created_at = now() - interval '2 hours' WHERE run_id = $1", pending)
    relay = Relay(replace(config, cleanup_interval=0.2, cleanup_batch=7))
    async with running(relay):
        await eventually(lambda: all_published(config.database_url), within=30, what="pending rows published")
        await eventually(lambda: _true(relay.stats.deleted == 50), within=10, what="marked rows deleted")
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    assert relay.stats.published == 5
    msgs = await stream_messages(config.nats_url, config)
    assert [m.headers["Duragraph-Run-Id"] for m in msgs] == [str(pending)] * 5


async def test_the_message_is_the_event_byte_for_byte(config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    """The relay builds each message from the event its row refers to: the bytes the engine stored in the
    row before migration 0014 (jsonb's text of the same object), on the same subject."""
    writer = OutboxWriter(nats_prefix)
    runs = writer.new_runs(3)
    await writer.interleaved(conn, runs, steps=4, per_step=2)
    relay = Relay(config)
    async with running(relay):
        await eventually(lambda: all_published(config.database_url), within=30, what="all published")
    msgs = await stream_messages(config.nats_url, config)
    assert_exactly_once_in_order(msgs, writer.expected)
    expected = {str(r["event_id"]): (r["subject"], r["payload"]) for r in await conn.fetch(
        "SELECT event_id, $1 || '.events.' || thread_id || '.' || run_id AS subject, "
        "convert_to(jsonb_build_object('event_id', event_id, 'run_id', run_id, 'thread_id', thread_id, "
        "'seq', seq, 'event', event, 'data', data)::text, 'UTF8') AS payload FROM events", nats_prefix)}
    assert len(expected) == len(msgs) == 24
    for m in msgs:
        assert (m.subject, m.data) == expected[m.headers["Nats-Msg-Id"]]


async def test_rows_written_before_migration_0014_are_published_as_they_are(
        config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    """Rows that carry their event's JSON and subject (written before the migration, or by an engine of the
    previous version during a rolling deploy) go out unchanged, in order with the rows after them."""
    writer = OutboxWriter(nats_prefix)
    runs = writer.new_runs(3)
    for run in runs:
        await writer.append(conn, run, 3, legacy=True)
    await writer.interleaved(conn, runs, steps=3)
    relay = Relay(config)
    async with running(relay):
        await eventually(lambda: all_published(config.database_url), within=30, what="all published")
    assert relay.stats.published == 18 and relay.stats.skipped == 0
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), writer.expected)


async def test_rows_queued_when_migration_0014_runs_are_published_after_it(
        config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    """A database one migration back, with a backlog the previous engine wrote (sql/events.sql before 0014:
    each row carrying its event's JSON and subject, NOT NULL), is migrated; the new relay publishes that
    backlog unchanged, then the new engine's rows, in order."""
    await conn.execute("ALTER TABLE outbox DROP COLUMN subject_prefix, ALTER COLUMN payload SET NOT NULL, "
                       "ALTER COLUMN subject SET NOT NULL")
    await conn.execute("DELETE FROM duragraph_migrations WHERE version = 14")
    writer = OutboxWriter(nats_prefix)
    runs = writer.new_runs(3)
    for run in runs:
        ids = [uuid.uuid4() for _ in range(4)]
        await conn.execute(
            "WITH ev AS (INSERT INTO events (event_id, run_id, thread_id, seq, event, data) "
            "SELECT e, $2::uuid, $3::uuid, o, 'custom', "
            "jsonb_build_object('chunk', $2::uuid::text || '/' || o, 'n', o) "
            "FROM unnest($1::uuid[]) WITH ORDINALITY AS u(e, o) RETURNING event_id, seq, event, data) "
            "INSERT INTO outbox (event_id, run_id, thread_id, seq, subject, payload) "
            "SELECT event_id, $2, $3, seq, $4, convert_to(jsonb_build_object('event_id', event_id, 'run_id', $2::uuid, "
            "'thread_id', $3::uuid, 'seq', seq, 'event', event, 'data', data)::text, 'UTF8') FROM ev ORDER BY seq",
            ids, run, writer.threads[run], f"{nats_prefix}.events.{writer.threads[run]}.{run}")
        writer.expected[run].extend(ids)
    assert await migrate(config.database_url) == ["0014_outbox_refers_to_events"]
    await writer.interleaved(conn, runs, steps=2)
    relay = Relay(config)
    async with running(relay):
        await eventually(lambda: all_published(config.database_url), within=30, what="all published")
    assert (relay.stats.published, relay.stats.skipped) == (18, 0)
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), writer.expected)


async def test_rows_whose_events_are_gone_do_not_block_the_relay(
        config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    """A row whose event was deleted before anything kept it has nothing to publish: the relay skips it,
    counts it and deletes it, and publishes every other run's rows (before, between and after them)."""
    writer = OutboxWriter(nats_prefix)
    gone, kept = writer.new_runs(2)
    await writer.interleaved(conn, [gone, kept], steps=30)
    await conn.execute("DELETE FROM events WHERE run_id = $1", gone)
    relay = Relay(replace(config, batch_size=7))
    async with running(relay):
        await eventually(lambda: all_published(config.database_url), within=30, what="backlog drained")
        await writer.append(conn, kept, 3)
        await eventually(lambda: all_published(config.database_url), within=30, what="new rows published")
    assert (relay.stats.skipped, relay.stats.published) == (30, 33)
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), {kept: writer.expected[kept]})


async def test_a_deleted_threads_unpublished_events_are_still_published(
        config: RelayConfig, conn: Any, nats_prefix: str) -> None:
    """Deleting a thread deletes its events; the ones not yet published (the `end` of each run the deletion
    interrupted, which its live streams wait for) move into their outbox rows first and go out as they were."""
    writer = OutboxWriter(nats_prefix)
    deleted, other = writer.new_runs(2)
    await writer.interleaved(conn, [deleted, other], steps=5)
    async with conn.transaction():
        await conn.execute(sql.queries("threads.sql")["delete_events_of_threads"], [writer.threads[deleted]])
    assert await conn.fetchval("SELECT count(*) FROM events WHERE run_id = $1", deleted) == 0
    relay = Relay(config)
    async with running(relay):
        await eventually(lambda: all_published(config.database_url), within=30, what="all published")
    assert (relay.stats.published, relay.stats.skipped) == (10, 0)
    assert_exactly_once_in_order(await stream_messages(config.nats_url, config), writer.expected)


async def test_graceful_stop_releases_the_lock(config: RelayConfig, conn: Any) -> None:
    relay = Relay(config)
    async with running(relay) as task:
        await eventually(lambda: _true(relay.active), within=10, what="relay active")
        assert not await relay_outbox.try_lock(conn, config.lock_key)
    assert task.done() and task.exception() is None and not relay.active
    assert await relay_outbox.try_lock(conn, config.lock_key)


async def _true(value: bool) -> bool:
    return value
