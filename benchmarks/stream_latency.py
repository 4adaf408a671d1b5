"""SSE streaming latency and throughput through the whole pipeline.

    worker commits a step (events + outbox, one transaction) -> relay (LISTEN/NOTIFY) -> JetStream
    -> API live hub -> SSE frame -> langgraph-sdk client

Latency: a `ticker` graph whose nodes record `time.time()` right before they return; the step's result
then commits and the benchmark takes the time its `updates` frame reaches the client. So the number is
node return -> completion transaction -> relay -> NATS -> API -> client (an upper bound for "commit to
client"). `custom` chunks carry the time they were written: their latency includes the worker's 30 ms
flush interval. Measured with `--concurrency` runs streaming at once, and once with the relay stopped
(the API then falls back to polling Postgres: the latency floor without the live path).

Throughput: `--clients` runs streaming at once, each node streaming `--chunks` custom chunks; reports
SSE frames/s received by the clients and events/s the relay published (the messages the stream gained,
over the span of their JetStream timestamps).

    python benchmarks/stream_latency.py [--steps 20] [--concurrency 1,16] [--clients 32] [--chunks 50]

Uses DATABASE_URL / NATS_URL when set, else starts embedded PostgreSQL and NATS in a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats
from langgraph_sdk import get_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fresh_database import admin, with_database

from duragraph.services import services
from engine.durable.migrate import migrate
from tests.integration.api_support import live_stack
from tests.integration.stream_graphs import ticker


async def fresh_database(admin_dsn: str) -> str:
    name = f"bench_stream_{uuid.uuid4().hex[:8]}"
    await admin(admin_dsn, f'CREATE DATABASE "{name}"')
    dsn = with_database(admin_dsn, name)
    await migrate(dsn)
    return dsn


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def stream_one(url: str, graph: str, lat_updates: list[float], lat_custom: list[float]) -> int:
    client = get_client(url=url, api_key=None)
    tid = (await client.threads.create())["thread_id"]
    frames = 0
    async for part in client.runs.stream(tid, graph, input={"n": 0}, stream_mode=["updates", "custom"]):
        now = time.time()
        frames += 1
        if part.event == "updates":
            for update in part.data.values():
                if isinstance(update, dict) and update.get("stamps"):
                    lat_updates.append((now - update["stamps"][-1]) * 1000)
        elif part.event == "custom" and isinstance(part.data, dict) and "t" in part.data:
            lat_custom.append((now - part.data["t"]) * 1000)
    return frames


async def latency(url: str, concurrency: int, rounds: int) -> tuple[list[float], list[float]]:
    ups: list[float] = []
    cus: list[float] = []
    for _ in range(rounds):
        await asyncio.gather(*(stream_one(url, "lat", ups, cus) for _ in range(concurrency)))
    return ups, cus


async def throughput(url: str, nats_url: str, stream: str, clients: int) -> tuple[int, float, float]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        first = (await js.stream_info(stream)).state.last_seq + 1
        start = time.time()
        frames = await asyncio.gather(*(stream_one(url, "tp", [], []) for _ in range(clients)))
        wall = time.time() - start
        last = (await js.stream_info(stream)).state.last_seq
        span = ((await js.get_msg(stream, last)).time - (await js.get_msg(stream, first)).time).total_seconds() \
            if last > first else 0.0
    finally:
        await nc.close()
    relay_rate = (last - first + 1) / span if span else float("nan")
    return sum(frames), sum(frames) / wall, relay_rate


async def main(args: argparse.Namespace, database_url: str, nats_url: str) -> None:
    graphs = {"lat": ticker(args.steps, args.sleep, chunks=1), "tp": ticker(5, 0.0, chunks=args.chunks)}
    rows: list[tuple[str, list[float], list[float]]] = []
    dsn = await fresh_database(database_url)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    async with live_stack(dsn, nats_url, prefix, graphs, workers=args.workers,
                          concurrency=args.worker_concurrency) as st:
        await latency(st.url, 1, 1)  # warm up
        for c in args.concurrency:
            ups, cus = await latency(st.url, c, args.rounds)
            rows.append((f"live (NATS), {c} concurrent run(s)", ups, cus))
        n, fps, relay_rate = await throughput(st.url, nats_url, st.settings.nats_stream, args.clients)
        await st.stop_relay()
        ups, cus = await latency(st.url, 1, 1)
        rows.append(("relay stopped (1 s Postgres safety poll), 1 run", ups, cus))

    print(f"\nstep -> SSE frame latency, ms ({args.steps} steps x {args.sleep}s per run, {args.rounds} round(s))")
    print(f"| {'setup':48} | {'n':>5} | {'updates p50':>11} | {'p99':>7} | {'custom p50':>10} | {'p99':>7} |")
    print(f"|{'-' * 50}|{'-' * 7}|{'-' * 13}|{'-' * 9}|{'-' * 12}|{'-' * 9}|")
    for name, ups, cus in rows:
        print(f"| {name:48} | {len(ups):5d} | {pct(ups, 50):11.1f} | {pct(ups, 99):7.1f} | "
              f"{pct(cus, 50):10.1f} | {pct(cus, 99):7.1f} |")
    print(f"\nthroughput: {args.clients} clients x 5 steps x {args.chunks} custom chunks: {n} SSE frames, "
          f"{fps:,.0f} frames/s at the clients; relay published {relay_rate:,.0f} events/s")


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sleep", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker-concurrency", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    database_url, nats_url = os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
    if database_url and nats_url:
        asyncio.run(main(args, database_url, nats_url))
        return
    tmp = Path(tempfile.mkdtemp(prefix="duragraph-bench-"))
    try:
        with services(tmp, durable=False) as ep:
            asyncio.run(main(args, ep.database_url, ep.nats_url))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
