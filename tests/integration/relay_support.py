"""Helpers for the relay tests: write events and their outbox rows the way the engine does, read the stream back."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats
import orjson

from relay import Relay, RelayConfig

# an event and its outbox row, as sql/events.sql `append_events` writes them: the row refers to the event
INSERT = """
WITH ev AS (
    INSERT INTO events (event_id, run_id, thread_id, seq, event, data)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::jsonb[])
    RETURNING event_id, run_id, thread_id, seq
)
INSERT INTO outbox (event_id, run_id, thread_id, seq, subject_prefix)
SELECT event_id, run_id, thread_id, seq, $7 FROM ev ORDER BY seq
"""
# an outbox row as written before migration 0014: the event's JSON and the whole subject in the row
INSERT_LEGACY = ("INSERT INTO outbox (event_id, run_id, thread_id, seq, subject, payload) "
                 "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::bytea[])")


def relay_config(database_url: str, nats_url: str, prefix: str, **overrides: Any) -> RelayConfig:
    """A relay config isolated to this test's prefix, with quick retries and a small stream."""
    base: dict[str, Any] = {
        "stream": f"{prefix}_EVENTS", "subject_prefix": prefix, "stream_max_bytes": 32 << 20,
        "standby_interval": 0.2, "sweep_interval": 0.5, "backoff_initial": 0.05, "backoff_max": 0.5,
        "publish_timeout": 1.0,
    }
    return RelayConfig(database_url=database_url, nats_url=nats_url, **(base | overrides))


@dataclass
class OutboxWriter:
    """Appends outbox rows per run, in seq order, remembering what each run should deliver."""

    prefix: str
    expected: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    threads: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)

    def new_runs(self, n: int) -> list[uuid.UUID]:
        runs = [uuid.uuid4() for _ in range(n)]
        for r in runs:
            self.threads[r] = uuid.uuid4()
        return runs

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.expected.values())

    async def append(self, conn: Any, run: uuid.UUID, n: int = 1, *, legacy: bool = False) -> None:
        """One transaction appending `n` events to `run` (like one engine step); `legacy`: outbox rows that
        carry their event's JSON and subject (no `events` rows), as rows written before migration 0014."""
        thread = self.threads[run]
        start = len(self.expected[run]) + 1
        ids = [uuid.uuid4() for _ in range(n)]
        seqs = list(range(start, start + n))
        if legacy:
            subject = f"{self.prefix}.events.{thread}.{run}"
            payloads = [orjson.dumps(message(e, run, thread, s)) for e, s in zip(ids, seqs, strict=True)]
            await conn.execute(INSERT_LEGACY, ids, [run] * n, [thread] * n, seqs, [subject] * n, payloads)
        else:
            data = [orjson.dumps(event_data(run, s)).decode() for s in seqs]
            await conn.execute(INSERT, ids, [run] * n, [thread] * n, seqs, ["custom"] * n, data, self.prefix)
        self.expected[run].extend(ids)

    async def interleaved(self, conn: Any, runs: list[uuid.UUID], steps: int, per_step: int = 1) -> None:
        """`steps` rounds; each round appends `per_step` events to every run, runs interleaved."""
        for _ in range(steps):
            for run in runs:
                await self.append(conn, run, per_step)


def event_data(run: uuid.UUID, seq: int) -> dict[str, Any]:
    return {"chunk": f"{run}/{seq}", "n": seq}


def message(event_id: uuid.UUID, run: uuid.UUID, thread: uuid.UUID, seq: int) -> dict[str, Any]:
    """The message the relay publishes for an event: the event as JSON."""
    return {"event_id": str(event_id), "run_id": str(run), "thread_id": str(thread), "seq": seq,
            "event": "custom", "data": event_data(run, seq)}


async def unpublished(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    finally:
        await conn.close()


async def stream_messages(nats_url: str, config: RelayConfig) -> list[Any]:
    """Every message in the relay's stream, read by an ordered consumer from the start."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        count = (await js.stream_info(config.stream)).state.messages
        sub = await js.subscribe(config.subjects[0], stream=config.stream, ordered_consumer=True)
        msgs = [await sub.next_msg(timeout=5) for _ in range(count)]
        await sub.unsubscribe()
        return msgs
    finally:
        await nc.close()


def assert_exactly_once_in_order(msgs: list[Any], expected: dict[uuid.UUID, list[uuid.UUID]]) -> None:
    ids = [m.headers["Nats-Msg-Id"] for m in msgs]
    dupes = {i for i in ids if ids.count(i) > 1} if len(ids) != len(set(ids)) else set()
    assert not dupes, f"{len(dupes)} events delivered more than once"
    seen: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for m in msgs:
        run = uuid.UUID(m.headers["Duragraph-Run-Id"])
        seen[run].append(uuid.UUID(m.headers["Nats-Msg-Id"]))
        seq = len(seen[run])
        assert int(m.headers["Duragraph-Seq"]) == seq, f"run {run}: out of order at {seq}"
        thread = uuid.UUID(m.headers["Duragraph-Thread-Id"])
        assert m.subject.endswith(f".events.{thread}.{run}")
        assert orjson.loads(m.data) == message(uuid.UUID(m.headers["Nats-Msg-Id"]), run, thread, seq)
    assert dict(seen) == dict(expected)


async def delete_stream(nats_url: str, stream: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            await js.delete_stream(stream)
        except nats.js.errors.NotFoundError:
            pass
    finally:
        await nc.close()


@asynccontextmanager
async def running(relay: Relay) -> AsyncIterator[asyncio.Task[None]]:
    """Run `relay` in a task; stop it gracefully on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), timeout=20)
