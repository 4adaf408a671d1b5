"""Long-lived threads: does a turn cost more as the thread's history grows?

    python benchmarks/long_thread.py [--turns 5000] [--every 500] [--variant chat|chain10|both] [--content 1024]

One thread, one `runs.wait` per turn through langgraph-sdk (in a process of its own) against the real API (in
this process, with an in-process worker), on an embedded PostgreSQL with fsync on (or DATABASE_URL). `chat`:
one node appends a 1 KB AI message of random text to `messages` (add_messages) per turn. `chain10`: the same
turn goes through a chain of 10 nodes, the last of which appends the message. Every `--every` turns it prints
the runs.wait p50 / p99 of the last `--every` turns as the client sees them, split in two: until the reply's
headers arrive (`to reply`: the request, the run and the server's work on the reply, all of which comes before
the headers) and the rest (`reading`: receiving the body and langgraph-sdk's parsing of it, which only the
reply's size sets); the server's median time for those runs (created to ended: the API's and the worker's
work, without the client's request and the reply), the size of the last reply (runs.wait returns the whole
state, so it grows with the thread), and the bytes each table grew by per turn over that window
(pg_total_relation_size, TOAST included).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import multiprocessing
import os
import socket
import statistics
import threading
import time
import uuid
from typing import Any

import asyncpg
import orjson
import uvicorn
from fresh_database import fresh_database  # benchmarks/fresh_database.py (scripts run from this folder)
from langchain_core.messages import AIMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph_sdk import get_client

from api.app import create_app
from engine.durable.worker import run_worker

TABLES = ("checkpoints", "checkpoint_blobs", "events", "outbox", "tasks", "runs", "threads", "procrastinate_jobs")
CONTENT = 1024


def _reply(state: MessagesState) -> dict[str, Any]:
    text = base64.b64encode(os.urandom(CONTENT * 3 // 4)).decode()  # CONTENT bytes that do not compress
    return {"messages": [AIMessage(text)]}


def chat() -> Any:
    g = StateGraph(MessagesState)
    g.add_node("reply", _reply)
    g.add_edge(START, "reply")
    return g.compile()


def chain10() -> Any:
    g = StateGraph(MessagesState)
    names = [f"s{i}" for i in range(9)]
    for name in names:
        g.add_node(name, lambda s: {})
    g.add_node("reply", _reply)
    g.add_edge(START, names[0])
    for a, b in itertools.pairwise([*names, "reply"]):
        g.add_edge(a, b)
    return g.compile()


class Api:
    """The API under uvicorn in a thread (its own event loop), on a free port."""

    def __init__(self, dsn: str, graphs: dict[str, Any]) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(database_url=dsn, graphs=graphs),
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    def __enter__(self) -> Api:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


async def sizes(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {t: int(await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", t)) for t in TABLES}
    finally:
        await conn.close()


async def server_ms(dsn: str, thread_id: str, n: int) -> float:
    """The median time the server took for the thread's last `n` runs: created to ended (the API's and the
    worker's work, without the client's request and its reading of the reply)."""
    conn = await asyncpg.connect(dsn)
    try:
        return float(await conn.fetchval(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - created_at)) * 1000 "
            "FROM (SELECT created_at, ended_at FROM runs WHERE thread_id = $1 ORDER BY created_at DESC LIMIT $2) r",
            uuid.UUID(thread_id), n))
    finally:
        await conn.close()


async def drive(dsn: str, url: str, graph: str, turns: int, every: int) -> None:
    client = get_client(url=url, api_key=None)
    headers_at: list[float] = []

    async def on_response(response: Any) -> None:  # httpx calls it when the headers are in, before the body
        headers_at.append(time.perf_counter())

    client.http.client.event_hooks["response"].append(on_response)
    tid = (await client.threads.create())["thread_id"]
    print(f"\n{graph}: {turns} turns on one thread, {CONTENT} B of new content per turn")
    print(f"{'turns':>11} {'p50 ms':>8} {'p99 ms':>8} {'to reply':>8} {'reading':>8} {'server':>7} {'reply KB':>8}  "
          "bytes added per turn: "
          + " ".join(f"{t:>10}" for t in TABLES) + f" {'total':>10} {'x content':>9}")
    before = await sizes(dsn)
    window: list[float] = []
    heads: list[float] = []  # ms until the reply's headers
    for turn in range(1, turns + 1):
        t = time.perf_counter()
        headers_at.clear()
        out = await client.runs.wait(tid, graph, input={"messages": [{"type": "human", "content": f"turn {turn}"}]})
        window.append((time.perf_counter() - t) * 1e3)
        heads.append((headers_at[-1] - t) * 1e3)
        if not isinstance(out, dict) or len(out.get("messages", [])) != 2 * turn:
            raise RuntimeError(f"turn {turn}: unexpected output {str(out)[:200]}")
        if turn % every == 0 or turn == 10:
            after = await sizes(dsn)
            n = len(window)
            grown = {k: (after[k] - before[k]) / n for k in TABLES}
            total = sum(grown.values())
            p99 = sorted(window)[min(n - 1, int(n * 0.99))]
            server = await server_ms(dsn, tid, n)
            head = statistics.median(heads)
            print(f"{turn - n + 1:>5}-{turn:<5} {statistics.median(window):8.1f} {p99:8.1f} {head:8.1f} "
                  f"{statistics.median(w - h for w, h in zip(window, heads, strict=True)):8.1f} {server:7.1f} "
                  f"{len(orjson.dumps(out)) / 1024:8.0f}  "
                  + " ".join(f"{grown[k]:>10.0f}" for k in TABLES) + f" {total:>10.0f} {total / CONTENT:>9.1f}",
                  flush=True)
            before, window, heads = after, [], []


def main() -> None:
    global CONTENT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=5000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--variant", choices=["chat", "chain10", "both"], default="both")
    parser.add_argument("--content", type=int, default=1024,
                        help="bytes of new content per turn (default 1024): the per-turn bytes at two sizes "
                             "separate what a turn stores per byte of content from its fixed bookkeeping")
    args = parser.parse_args()
    CONTENT = args.content
    graphs = {"chat": chat(), "chain10": chain10()}
    variants = ["chat", "chain10"] if args.variant == "both" else [args.variant]
    with fresh_database("long") as dsn, Api(dsn, graphs) as api:
        asyncio.run(_run(dsn, api.url, graphs, variants, args))


async def _run(dsn: str, url: str, graphs: dict[str, Any], variants: list[str], args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(database_url=dsn, graphs=graphs, concurrency=4, stop=stop,
                                            install_signal_handlers=False))
    try:
        for variant in variants:
            # the client in a process of its own, as a real client is: its parsing of the replies (the whole
            # state, megabytes on a long thread) must not hold this process's GIL against the server
            await asyncio.to_thread(_client, dsn, url, variant, args.turns, args.every, CONTENT)
    finally:
        stop.set()
        await worker


def _client(dsn: str, url: str, graph: str, turns: int, every: int, content: int) -> None:
    proc = multiprocessing.get_context("spawn").Process(target=_drive, args=(dsn, url, graph, turns, every, content))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"the client for {graph} failed (exit code {proc.exitcode})")


def _drive(dsn: str, url: str, graph: str, turns: int, every: int, content: int) -> None:
    global CONTENT
    CONTENT = content
    asyncio.run(drive(dsn, url, graph, turns, every))


if __name__ == "__main__":
    main()
