"""Relay throughput: how fast a backlog of outbox rows drains into JetStream.

For every (runs, batch size) variant: a fresh migrated database, an active relay, then N events and
their outbox rows committed in one transaction (spread round-robin over `runs` runs, seq order per run),
as the engine writes them: an outbox row refers to its event, and the relay's fetch builds each message
from the `events` row (`--payload-bytes`: the size of the event's data). The clock runs from that commit
until the relay has published the last row and deleted it. A run has at most one event in flight (each
awaits its ack, for per-run order) while different runs go out together, so the run count matters.
`cpu ms/1k` is this process's CPU time (user + system, from /proc via time.process_time) over the same
interval per 1,000 events, i.e. the relay's CPU microseconds per event (the completion check every
5 ms reads the relay's own counter, no query). Small batch sizes (10) resemble a loaded server, where
each step's commit wakes the relay for a handful of rows.

    python benchmarks/relay_throughput.py [--events 20000] [--batch-sizes 10,100,500] [--runs 1,10,1000]

Uses DATABASE_URL / NATS_URL when set, else starts embedded PostgreSQL and NATS in a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import nats
import orjson
from fresh_database import admin, with_database  # benchmarks/fresh_database.py (run from this folder)

from duragraph.services import services
from engine.durable.migrate import migrate
from relay import Relay, RelayConfig, ensure_stream

EVENT_COLUMNS = ("event_id", "run_id", "thread_id", "seq", "event", "data")
OUTBOX_COLUMNS = ("event_id", "run_id", "thread_id", "seq", "subject_prefix")


def event_rows(prefix: str, events: int, runs: int, payload_bytes: int
               ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """(events, outbox rows) as the engine writes them (sql/events.sql)."""
    run_ids = [uuid.uuid4() for _ in range(runs)]
    threads = {r: uuid.uuid4() for r in run_ids}
    seqs = dict.fromkeys(run_ids, 0)
    evs: list[tuple[object, ...]] = []
    rows: list[tuple[object, ...]] = []
    data = orjson.dumps({"chunk": "x" * payload_bytes}).decode()
    for i in range(events):
        run = run_ids[i % runs]
        seqs[run] += 1
        event_id = uuid.uuid4()
        evs.append((event_id, run, threads[run], seqs[run], "custom", data))
        rows.append((event_id, run, threads[run], seqs[run], prefix))
    return evs, rows


async def _value(value: bool) -> bool:
    return value


async def poll(check: Callable[[], Awaitable[object]], interval: float = 0.005) -> None:
    for _ in itertools.count():
        if await check():
            return
        await asyncio.sleep(interval)


async def one_variant(server_dsn: str, nats_url: str, *, events: int, runs: int, batch: int,
                      payload_bytes: int) -> tuple[float, float]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    await admin(server_dsn, f'CREATE DATABASE "{name}"')
    dsn = with_database(server_dsn, name)
    config = RelayConfig(database_url=dsn, nats_url=nats_url, stream=f"{prefix}_EVENTS", subject_prefix=prefix,
                         batch_size=batch, stream_max_bytes=1 << 30)
    relay, stop = Relay(config), asyncio.Event()
    try:
        await migrate(dsn)
        evs, rows = event_rows(prefix, events, runs, payload_bytes)
        nc = await nats.connect(nats_url)
        try:
            await ensure_stream(nc.jetstream(), config)  # not part of the measurement
        finally:
            await nc.close()
        task = asyncio.create_task(relay.run(stop))
        conn = await asyncpg.connect(dsn)
        try:
            await poll(lambda: _value(relay.active))
            async with conn.transaction():
                await conn.copy_records_to_table("events", records=evs, columns=EVENT_COLUMNS)
                await conn.copy_records_to_table("outbox", records=rows, columns=OUTBOX_COLUMNS)
            started, cpu_started = time.perf_counter(), time.process_time()
            await poll(lambda: _value(relay.stats.published >= events))  # in-process: no query while measuring
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            await poll(lambda: conn.fetchval("SELECT NOT EXISTS (SELECT 1 FROM outbox)"))  # the last batch's delete
        finally:
            await conn.close()
            stop.set()
            await task
        assert relay.stats.published == events, relay.stats
        return elapsed, cpu
    finally:
        await admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(config.stream)
        finally:
            await nc.close()


async def bench(database_url: str, nats_url: str, args: argparse.Namespace) -> None:
    print(f"{'runs':>6} {'batch':>6} {'events':>8} {'seconds':>8} {'events/s':>10} {'cpu ms/1k':>10}")
    for runs in args.runs:
        for batch in args.batch_sizes:
            elapsed, cpu = await one_variant(database_url, nats_url, events=args.events, runs=runs, batch=batch,
                                        payload_bytes=args.payload_bytes)
            print(f"{runs:>6} {batch:>6} {args.events:>8} {elapsed:>8.2f} {args.events / elapsed:>10.0f} "
                  f"{cpu * 1e6 / args.events:>10.0f}",
                  flush=True)


def main() -> None:
    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",")]

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch-sizes", type=ints, default=[10, 100, 500])
    parser.add_argument("--runs", type=ints, default=[1, 10, 1000], help="runs the events are spread over")
    parser.add_argument("--payload-bytes", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data_dir = Path(tempfile.mkdtemp(prefix="duragraph-bench-"))
    try:
        with services(data_dir) as ep:
            asyncio.run(bench(ep.database_url, ep.nats_url, args))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
