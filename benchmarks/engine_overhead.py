"""Engine overhead: what a durable node step costs, measured against one Postgres commit.

    python benchmarks/engine_overhead.py [--chain 50] [--runs 64] [--widths 1,10,50] [--events 200000]
                                         [--no-profile]

Against DATABASE_URL when set (a fresh database is created in that server), else an embedded PostgreSQL
with fsync ON in a temp dir. Every node is a no-op, so what is measured is the engine: the step job's
fetch, the node's inputs loaded, the completion transaction (+ the barrier), the successor's wake-up.

  commit        median of BEGIN; INSERT; COMMIT on a small table (the baseline)
  per-step      one run of a chain of N no-op nodes, 1 in-process worker: run wall time / N
  throughput    M concurrent runs of a 3-node chain: in-process worker (concurrency 16), and
                2 worker processes (`duragraph worker --concurrency 8`)
  fan-out       Send to W parallel tasks and join: wall time per run
  events growth the throughput and per-step rows again after inserting E synthetic rows into `events`

Numbers on a shared 2-vCPU VM vary by +-20% between invocations; compare rows within one invocation.

With profiling on (default), the chain run is repeated with pg_stat_statements (embedded server only:
it is restarted with the library preloaded) and the statements issued per step are listed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import operator
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

import asyncpg
import orjson
from fresh_database import admin, with_database  # benchmarks/fresh_database.py (run from this folder)
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from engine.durable.db import create_pool
from engine.durable.migrate import migrate
from engine.durable.runs import RunRequest, RunService
from engine.durable.runtime import Runtime
from engine.durable.waiter import RunWaiter
from engine.durable.worker import run_worker

# ---------------------------------------------------------------- graphs (also loaded by worker processes)


class Chain(TypedDict, total=False):
    n: int


def _inc(state: Chain) -> dict[str, Any]:
    return {"n": state.get("n", 0) + 1}


def chain(n: int) -> Any:
    g = StateGraph(Chain)
    names = [f"s{i}" for i in range(n)]
    for name in names:
        g.add_node(name, _inc)
    g.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g.compile()


class Fan(TypedDict, total=False):
    width: int
    results: Annotated[list[int], operator.add]
    total: int


def fanout() -> Any:
    def split(state: Fan) -> dict[str, Any]:
        return {}

    def work(arg: dict[str, Any]) -> dict[str, Any]:
        return {"results": [arg["i"]]}

    def join(state: Fan) -> dict[str, Any]:
        return {"total": len(state["results"])}

    def route(state: Fan) -> list[Send]:
        return [Send("work", {"i": i}) for i in range(state["width"])]

    g = StateGraph(Fan)
    g.add_node("split", split)
    g.add_node("work", work)
    g.add_node("join", join)
    g.add_edge(START, "split")
    g.add_conditional_edges("split", route, ["work"])
    g.add_edge("work", "join")
    g.add_edge("join", END)
    return g.compile()


chain3 = chain(3)

# ---------------------------------------------------------------- harness


@dataclass
class Harness:
    runs: RunService
    pool: asyncpg.Pool

    async def run(self, graph: str, payload: dict[str, Any], within: float = 120) -> dict[str, Any]:
        created = await self.runs.create(RunRequest(
            assistant_id=graph, thread_id=uuid.uuid4(), if_not_exists="create", input=payload,
            config={"recursion_limit": 10_000}))
        done = await self.runs.wait(uuid.UUID(created["run_id"]), within)
        if done["status"] != "success":
            raise RuntimeError(f"run {done['run_id']} ended {done['status']}: {done['error']}")
        return done


@contextlib.asynccontextmanager
async def harness(dsn: str, graphs: Mapping[str, Any], *, concurrency: int,
                  workers: int = 1) -> AsyncIterator[Harness]:
    """RunService + `workers` in-process workers (0: the steps run elsewhere)."""
    pool = await create_pool(dsn, max_size=20)
    waiter = RunWaiter(dsn, pool, poll_interval=1.0)
    await waiter.start()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_worker(database_url=dsn, graphs=graphs, concurrency=concurrency, stop=stop,
                                            install_signal_handlers=False)) for _ in range(workers)]
    try:
        yield Harness(RunService(Runtime(pool=pool, graphs=graphs), waiter), pool)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await waiter.close()
        await pool.close()


@contextlib.contextmanager
def worker_processes(dsn: str, count: int, concurrency: int, tmp: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    config = tmp / "bench.json"
    here = Path(__file__).resolve()
    config.write_bytes(orjson.dumps({"graphs": {"chain3": f"{here}:chain3", "fan": f"{here}:fanout"}}))
    env = {**os.environ, "DATABASE_URL": dsn, "DURAGRAPH_CONFIG": str(config)}
    procs = [subprocess.Popen([sys.executable, "-m", "duragraph.cli", "worker", "--concurrency", str(concurrency)],
                              env=env, start_new_session=True) for _ in range(count)]
    try:
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ---------------------------------------------------------------- measurements


async def commit_ms(dsn: str, n: int) -> tuple[float, float]:
    """Median BEGIN; INSERT; COMMIT and median single round trip (SELECT 1), in ms."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, v integer)")
        commits, trips = [], []
        for i in range(n):
            t = time.perf_counter()
            async with conn.transaction():
                await conn.execute("INSERT INTO bench_commit (v) VALUES ($1)", i)
            commits.append(time.perf_counter() - t)
            t = time.perf_counter()
            await conn.fetchval("SELECT 1")
            trips.append(time.perf_counter() - t)
        return statistics.median(commits) * 1e3, statistics.median(trips) * 1e3
    finally:
        await conn.close()


async def per_step_ms(h: Harness, graph: str, n: int, repeat: int = 3) -> tuple[float, float]:
    """(wall ms, this process's CPU ms) per step: median of `repeat` runs. The CPU is the engine's Python
    (run service and worker run in this process; PostgreSQL does not), steadier than the wall time on a
    shared machine."""
    await h.run(graph, {"n": 0})  # warm-up
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        done = await h.run(graph, {"n": 0})
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        assert done["output"]["values"]["n"] == n, done
    return statistics.median(times) / n * 1e3, statistics.median(cpu) / n * 1e3


async def throughput(h: Harness, runs: int, repeat: int = 3, steps_per_run: int = 3) -> tuple[float, float]:
    """(runs/s, steps/s) for `runs` concurrent runs of chain3, median of `repeat` batches."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        await asyncio.gather(*(h.run("chain3", {"n": 0}) for _ in range(runs)))
        times.append(time.perf_counter() - t)
    elapsed = statistics.median(times)
    return runs / elapsed, runs * steps_per_run / elapsed


async def fanout_ms(h: Harness, width: int, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        done = await h.run("fan", {"width": width})
        times.append(time.perf_counter() - t)
        assert done["output"]["values"]["total"] == width, done
    return statistics.median(times) * 1e3


async def grow_events(dsn: str, rows: int) -> float:
    """Insert `rows` synthetic events (100 per fake run, ~200-byte payloads); returns seconds taken."""
    conn = await asyncpg.connect(dsn)
    try:
        t = time.perf_counter()
        await conn.execute("""
            INSERT INTO events (event_id, run_id, thread_id, seq, event, data)
            SELECT gen_random_uuid(), md5('run' || (i / 100))::uuid, md5('thread' || (i / 1000))::uuid,
                   i % 100 + 1, 'values', jsonb_build_object('values', repeat('x', 200), 'i', i)
            FROM generate_series(0, $1 - 1) AS g(i)""", rows)
        return time.perf_counter() - t
    finally:
        await conn.close()


async def wait_workers(dsn: str, count: int, within: float = 60) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + within
        while await conn.fetchval("SELECT count(*) FROM procrastinate_workers") < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} worker processes did not register within {within}s")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


# ---------------------------------------------------------------- profile


@contextlib.contextmanager
def step_phases() -> Iterator[list[tuple[str, float]]]:
    """Timestamps around the phases of every step job in this process (profiling only: wraps the
    engine's module-level functions while active)."""
    import engine.durable.step as step_mod
    import engine.durable.worker as worker_mod

    marks: list[tuple[str, float]] = []
    targets = [(worker_mod, "execute_step", "job"), (step_mod, "run_task", "node"),
               (step_mod, "complete_step", "complete")]
    originals = [getattr(module, attr) for module, attr, _ in targets]

    def timed(name: str, fn: Any) -> Any:
        async def wrapper(*a: Any, **k: Any) -> Any:
            marks.append((name + ">", time.perf_counter()))
            try:
                return await fn(*a, **k)
            finally:
                marks.append((name + "<", time.perf_counter()))
        return wrapper

    for (module, attr, name), fn in zip(targets, originals, strict=True):
        setattr(module, attr, timed(name, fn))
    try:
        yield marks
    finally:
        for (module, attr, _), fn in zip(targets, originals, strict=True):
            setattr(module, attr, fn)


def phase_medians(marks: list[tuple[str, float]]) -> dict[str, float]:
    """Median ms of: job hand-off (a job's end -> the next job's start), load_task, node, completion tx."""
    spans: dict[str, list[float]] = {"hand-off": [], "load_task": [], "node": [], "completion tx": []}
    at: dict[str, float] = {}
    for name, t in marks:
        if name == "job>" and "job<" in at:
            spans["hand-off"].append(t - at["job<"])
        at[name] = t
        if name == "job<" and "complete<" in at:
            spans["load_task"].append(at["node>"] - at["job>"])
            spans["node"].append(at["node<"] - at["node>"])
            spans["completion tx"].append(at["complete<"] - at["complete>"])
    return {k: statistics.median(v) * 1e3 for k, v in spans.items() if v}


async def profile_chain(dsn: str, graphs: Mapping[str, Any], n: int) -> list[str]:
    """Statements per step of one chain run, from pg_stat_statements (all clients, including
    procrastinate's psycopg connections)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        commits = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        with step_phases() as marks:
            async with harness(dsn, graphs, concurrency=1) as h:
                await h.run(f"chain{n}", {"n": 0})  # warm-up
                await conn.execute("SELECT pg_stat_statements_reset()")
                marks.clear()
                commits0 = await conn.fetchval(commits)
                t = time.perf_counter()
                await h.run(f"chain{n}", {"n": 0})
                wall = time.perf_counter() - t
                commits1 = await conn.fetchval(commits)
            phases = phase_medians(marks)
        rows = await conn.fetch("""
            SELECT calls, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') AS q
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%pg_stat_database%'
            ORDER BY calls DESC, total_exec_time DESC""")
    finally:
        await conn.close()
    total_calls = sum(r["calls"] for r in rows)
    total_ms = sum(r["total_exec_time"] for r in rows)
    out = [
        f"profile: one run of chain{n}, {wall * 1e3 / n:.2f} ms/step wall; per step: "
        f"{total_calls / n:.1f} statements, {(commits1 - commits0) / n:.1f} commits (xact_commit, all clients), "
        f"{total_ms / n:.2f} ms server execution time",
        "client-side medians per step: " + ", ".join(f"{k} {v:.2f} ms" for k, v in phases.items()),
        f"{'calls/step':>10} {'ms/step':>8}  statement",
    ]
    for r in rows:
        if r["calls"] < n / 2:
            continue
        out.append(f"{r['calls'] / n:>10.2f} {r['total_exec_time'] / n:>8.3f}  {r['q'][:110]}")
    return out


# ---------------------------------------------------------------- main


async def bench(dsn: str, args: argparse.Namespace, tmp: Path) -> None:
    graphs: dict[str, Any] = {f"chain{args.chain}": chain(args.chain), "chain3": chain3, "fan": fanout()}

    def row(label: str, value: str) -> None:
        print(f"  {label:<58} {value}", flush=True)

    commit, trip = await commit_ms(dsn, args.commits)
    row(f"one commit (BEGIN; INSERT; COMMIT), median of {args.commits}", f"{commit:.3f} ms")
    row("one round trip (SELECT 1), median", f"{trip:.3f} ms")

    async with harness(dsn, graphs, concurrency=1) as h:
        step, step_cpu = await per_step_ms(h, f"chain{args.chain}", args.chain)
    row(f"per-step overhead: chain of {args.chain} no-op nodes, 1 worker", f"{step:.2f} ms")
    row("  ratio per-step / commit", f"{step / commit:.1f}x")
    row("  of which Python CPU in this process (engine + worker)", f"{step_cpu:.2f} ms")

    async with harness(dsn, graphs, concurrency=16) as h:
        await throughput(h, 8, repeat=1)  # warm-up
        runs_s, steps_s = await throughput(h, args.runs)
        row(f"{args.runs} concurrent runs x 3 steps, in-process worker (conc. 16)",
            f"{runs_s:.1f} runs/s, {steps_s:.0f} steps/s")
        for width in args.widths:
            row(f"fan-out: Send to W={width} parallel tasks + join, per run", f"{await fanout_ms(h, width):.0f} ms")

    with worker_processes(dsn, 2, 8, tmp):
        await wait_workers(dsn, 2)
        async with harness(dsn, graphs, concurrency=1, workers=0) as h:
            await throughput(h, 8, repeat=1)
            p_runs, p_steps = await throughput(h, args.runs)
    row(f"{args.runs} concurrent runs x 3 steps, 2 worker processes (conc. 8)",
        f"{p_runs:.1f} runs/s, {p_steps:.0f} steps/s")

    took = await grow_events(dsn, args.events)
    row(f"(inserted {args.events} synthetic events rows)", f"{took:.1f} s")
    async with harness(dsn, graphs, concurrency=16) as h:
        await throughput(h, 8, repeat=1)
        g_runs, g_steps = await throughput(h, args.runs)
    row(f"{args.runs} concurrent runs after events growth (in-process)",
        f"{g_runs:.1f} runs/s, {g_steps:.0f} steps/s ({g_runs / runs_s:.2f}x before)")
    async with harness(dsn, graphs, concurrency=1) as h:
        step_after, _ = await per_step_ms(h, f"chain{args.chain}", args.chain)
    row("per-step overhead after events growth, 1 worker", f"{step_after:.2f} ms ({step_after / step:.2f}x before)")


def main() -> None:
    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",")]

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chain", type=int, default=50, help="nodes in the per-step chain")
    parser.add_argument("--runs", type=int, default=64, help="concurrent runs for throughput")
    parser.add_argument("--widths", type=ints, default=[1, 10, 50], help="fan-out widths")
    parser.add_argument("--events", type=int, default=200_000, help="synthetic events rows for the growth row")
    parser.add_argument("--commits", type=int, default=200, help="commits for the baseline median")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from duragraph.services import EmbeddedPostgres

    tmp = Path(tempfile.mkdtemp(prefix="duragraph-bench-"))
    pg: EmbeddedPostgres | None = None
    started = time.perf_counter()
    try:
        server = os.environ.get("DATABASE_URL")
        if not server:
            pg = EmbeddedPostgres(tmp / "postgres", durable=True).start()
            server = pg.dsn
        name = f"bench_{uuid.uuid4().hex[:12]}"
        asyncio.run(admin(server, f'CREATE DATABASE "{name}"'))
        dsn = with_database(server, name)
        try:
            asyncio.run(migrate(dsn))
            print(f"engine overhead ({'embedded PostgreSQL, fsync on' if pg else 'DATABASE_URL'}):", flush=True)
            asyncio.run(bench(dsn, args, tmp))
            if args.profile and pg is not None:
                asyncio.run(admin(server, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"))
                pg.stop()
                pg.start()
                graphs = {f"chain{args.chain}": chain(args.chain)}
                print("\n".join(asyncio.run(profile_chain(dsn, graphs, args.chain))), flush=True)
        finally:
            asyncio.run(admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
