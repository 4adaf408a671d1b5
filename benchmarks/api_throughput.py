"""API throughput as users see it: langgraph-sdk clients against real server processes.

    python benchmarks/api_throughput.py [--clients 1,8,32,128] [--seconds 15] [--quick]
                                        [--targets dev,prod] [--peer] [--no-statements]
                                        [--fill N [--repeat R] [--plans FILE]]

Graph: a LangGraph chain of three no-op nodes `a -> b -> c` (written to a temp dir with `langgraph.graph`).
Each of N async clients (one `langgraph_sdk.get_client` each) loops `threads.create()` + `runs.wait()`
(workload `wait`) or `threads.create()` + `runs.stream()` read to its end (workload `stream`) for
`--seconds` after a warm-up. Targets, each started as OS processes on a temp data dir:

  dev    `duragraph dev` (embedded PostgreSQL + NATS, api + worker + relay in one process)
  prod   one embedded PostgreSQL, one nats-server, `duragraph api`, two `duragraph worker`, `duragraph relay`
  peer   (--peer) the official `langgraph dev` (langgraph-cli[inmem], in memory: not durable), installed
         into a throwaway venv under /tmp with pip

Printed per target / workload / N: runs/s, p50 / p99 latency (create-thread + run, ms) and CPU ms per run
per process group, read from /proc/<pid>/stat (utime + stime) before and after the window: `dg` (the
duragraph processes), `pg` (the postmaster and its children), `nats` (nats-server), `peer` (langgraph dev
and its children), `client` (this process: the clients). Then PostgreSQL's breakdown of one run on an idle
server, from pg_stat_statements (preloaded from the start, `track = none` during the timed windows).

With `--fill N` each target is measured, then given N finished runs' worth of history
(`benchmarks/fill_history.py`: set-based copies of a real run's rows, then VACUUM ANALYZE), then measured
again; the rows are printed before / after side by side, each `--repeat` times (default 2 with --fill), with
the statement breakdown of both. `--plans FILE` then logs the plan of every statement of three sequential
runs and a minute of background passes on the filled database (auto_explain, ANALYZE, nested statements
included) into FILE and lists the scans that read more than BIG_SCAN rows.

The machine is shared: compare rows within one invocation (the ratio lines), not across invocations.
Not part of CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from langgraph_sdk import get_client

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from duragraph.services import EmbeddedNats, EmbeddedPostgres, free_port  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
import fill_history  # noqa: E402
from fresh_database import admin  # noqa: E402

GRAPH_PY = '''\
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    n: int


def noop(state: State) -> dict:
    return {}


builder = StateGraph(State)
for name in ("a", "b", "c"):
    builder.add_node(name, noop)
builder.add_edge(START, "a")
builder.add_edge("a", "b")
builder.add_edge("b", "c")
builder.add_edge("c", END)
graph = builder.compile()
'''
PEER_VENV = Path(tempfile.gettempdir()) / "duragraph-bench-peer-venv"
CLOCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------- CPU from /proc


def _ppids() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                out[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
    return out


def tree(root: int) -> set[int]:
    """`root` and its descendants, now."""
    parents = _ppids()
    found = {root} if root in parents else set()
    grew = True
    while grew:
        more = {p for p, pp in parents.items() if pp in found} - found
        found |= more
        grew = bool(more)
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (its exited children's time is not included)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def _client_backend(pid: int) -> bool:
    """A backend serving a client connection (`postgres: user db host(port) ...`), not the postmaster or
    one of its background processes."""
    with contextlib.suppress(OSError):
        return "(" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    return False


@dataclass
class Groups:
    """Named process groups, each given by root pids (their trees are re-walked at each sample, so
    postgres backends started mid-run count); `exclude` drops pids listed under another group."""

    roots: dict[str, list[int]]

    def sample(self) -> dict[str, dict[int, float]]:
        taken: set[int] = set()
        out: dict[str, dict[int, float]] = {}
        # deepest groups first: nats-server is a child of `duragraph dev`, postgres may be too
        for name in sorted(self.roots, key=lambda n: n in ("dg", "peer")):
            pids = set().union(*(tree(r) for r in self.roots[name])) - taken
            taken |= pids
            out[name] = {p: cpu_seconds(p) for p in pids}
            if name == "pg":  # of which PostgreSQL's own background work (checkpointer, autovacuum, ...)
                out["pg_bg"] = {p: out[name][p] for p in pids if not _client_backend(p)}
        out["client"] = {os.getpid(): sum(os.times()[:2])}
        return out

    @staticmethod
    def delta(a: dict[str, dict[int, float]], b: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds per group between two samples (a process born in between counts from 0)."""
        return {name: sum(t - a.get(name, {}).get(pid, 0.0) for pid, t in b[name].items()) for name in b}

    @staticmethod
    def server(name: str) -> bool:
        """Groups summed into the server's CPU (`pg_bg` is part of `pg`)."""
        return name not in ("client", "pg_bg")


# ---------------------------------------------------------------- processes


@dataclass
class Target:
    name: str
    url: str
    groups: Groups
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pg_dsn: str | None = None
    logs: Path | None = None
    pg_log: Path | None = None  # PostgreSQL's server log (auto_explain writes there)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def tail(self) -> str:
        if self.logs is None:
            return ""
        return "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-3000:]}"
                         for f in sorted(self.logs.glob("*.log")))


def wait_ready(target: Target, within: float = 180) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for p in target.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{target.name}: {p.args!r} exited with {p.returncode}\n{target.tail()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{target.url}/ok", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{target.name}: GET /ok did not answer within {within}s\n{target.tail()}")


def spawn(cmd: list[str], env: dict[str, str], log: Path, cwd: Path = REPO) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def prepare_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Initialise an embedded cluster with pg_stat_statements preloaded (tracking off until asked)."""
    pg = EmbeddedPostgres(data_dir).start()
    asyncio.run(admin(pg.dsn, "ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements, auto_explain",
                      "ALTER SYSTEM SET pg_stat_statements.track = 'none'",
                      "ALTER SYSTEM SET auto_explain.log_min_duration = -1"))
    pg.stop()
    return pg


def postmaster_pid(pg: EmbeddedPostgres) -> int:
    return int((pg.pgdata / "postmaster.pid").read_text().split()[0])


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    return {**env, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
            "DURAGRAPH_CONFIG": str(tmp / "graph" / "duragraph.json")}


@contextlib.contextmanager
def dev_target(tmp: Path) -> Iterator[Target]:
    data = tmp / "dev-data"
    prepare_postgres(data / "postgres")  # `duragraph dev` starts the cluster found there, as configured
    port = free_port()
    logs = tmp / "dev-logs"
    logs.mkdir()
    env = {**base_env(tmp), "DURAGRAPH_DATA_DIR": str(data)}
    proc = spawn([sys.executable, "-m", "duragraph.cli", "dev", "--no-reload", "--port", str(port)], env,
                 logs / "dev.log")
    target = Target("dev", f"http://127.0.0.1:{port}", Groups({}), [proc], logs=logs)
    try:
        wait_ready(target)
        pg = EmbeddedPostgres(data / "postgres")
        pg_port = int((pg.pgdata / "postmaster.pid").read_text().splitlines()[3])
        target.pg_dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
        target.pg_log = pg.pgdata / "server.log"
        nats_pid = int((data / "nats" / "nats-server.pid").read_text())
        target.groups = Groups({"dg": [proc.pid], "pg": [postmaster_pid(pg)], "nats": [nats_pid]})
        yield target
    finally:
        target.stop()


@contextlib.contextmanager
def prod_target(tmp: Path, workers: int) -> Iterator[Target]:
    pg = prepare_postgres(tmp / "prod-pg")
    pg.start()
    nats = EmbeddedNats(tmp / "prod-nats").start()
    port = free_port()
    logs = tmp / "prod-logs"
    logs.mkdir()
    env = {**base_env(tmp), "DATABASE_URL": pg.dsn, "NATS_URL": nats.url, "PORT": str(port)}
    cli = [sys.executable, "-m", "duragraph.cli"]
    target = Target(f"prod({workers}w)", f"http://127.0.0.1:{port}", Groups({}), logs=logs, pg_dsn=pg.dsn,
                    pg_log=pg.pgdata / "server.log")
    try:
        subprocess.run([*cli, "migrate"], env=env, cwd=REPO, check=True, capture_output=True)
        target.procs.append(spawn([*cli, "api"], env, logs / "api.log"))
        for i in range(workers):
            target.procs.append(spawn([*cli, "worker"], env, logs / f"worker{i}.log"))
        target.procs.append(spawn([*cli, "relay"], env, logs / "relay.log"))
        wait_ready(target)
        assert nats._proc is not None
        target.groups = Groups({"dg": [p.pid for p in target.procs], "pg": [postmaster_pid(pg)],
                                "nats": [nats._proc.pid]})
        yield target
    finally:
        target.stop()
        nats.stop()
        pg.stop()


def install_peer(where: Path) -> Path:
    """The official server in a throwaway venv (reused between invocations)."""
    exe = where / "bin" / "langgraph"
    if not exe.exists():
        print(f"installing langgraph-cli[inmem] into {where} ...", flush=True)
        venv.create(where, with_pip=True)
        subprocess.run([str(where / "bin" / "pip"), "install", "-q", "langgraph-cli[inmem]"], check=True)
    return exe


@contextlib.contextmanager
def peer_target(tmp: Path, where: Path) -> Iterator[Target]:
    exe = install_peer(where)
    port = free_port()
    logs = tmp / "peer-logs"
    logs.mkdir()
    env = {**os.environ, "LANGSMITH_TRACING": "false", "LANGCHAIN_TRACING_V2": "false",
           "LANGGRAPH_CLI_NO_ANALYTICS": "1", "PATH": f"{exe.parent}:{os.environ.get('PATH', '')}"}
    for k in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(k, None)
    proc = spawn([str(exe), "dev", "--port", str(port), "--no-browser", "--no-reload", "--config",
                  str(tmp / "graph" / "langgraph.json")], env, logs / "peer.log", cwd=tmp / "graph")
    target = Target("peer", f"http://127.0.0.1:{port}", Groups({"peer": [proc.pid]}), [proc], logs=logs)
    try:
        wait_ready(target)
        yield target
    finally:
        target.stop()


# ---------------------------------------------------------------- workload


async def one_wait(client: Any) -> None:
    thread = await client.threads.create()
    run = await client.runs.wait(thread["thread_id"], "chain", input={"n": 0})
    if not isinstance(run, dict) or "__error__" in run:
        raise RuntimeError(f"run failed: {run!r}")


async def one_stream(client: Any) -> None:
    thread = await client.threads.create()
    async for part in client.runs.stream(thread["thread_id"], "chain", input={"n": 0}, stream_mode="values"):
        if part.event == "error":
            raise RuntimeError(f"run failed: {part.data!r}")


@dataclass
class Row:
    target: str
    workload: str
    clients: int
    runs: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float]
    errors: int
    phase: str = ""  # "before" / "after" the fill

    @property
    def rate(self) -> float:
        return self.runs / self.seconds

    def pct(self, p: float) -> float:
        s = sorted(self.latencies)
        return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] * 1e3 if s else float("nan")

    def cpu_ms(self, group: str) -> float:
        return self.cpu.get(group, 0.0) * 1e3 / self.runs if self.runs else float("nan")

    @property
    def server_ms(self) -> float:
        return sum(self.cpu_ms(g) for g in self.cpu if Groups.server(g))


async def measure(target: Target, workload: str, n: int, seconds: float, warmup: float) -> Row:
    step: Callable[[Any], Awaitable[None]] = one_wait if workload == "wait" else one_stream
    clients = [get_client(url=target.url, api_key=None, timeout=120.0) for _ in range(n)]
    phase = {"on": False, "stop": False}
    done: list[float] = []
    errors: list[BaseException] = []

    async def loop(client: Any) -> None:
        while not phase["stop"]:
            t = time.perf_counter()
            try:
                await step(client)
            except Exception as exc:  # counted and shown; the benchmark goes on
                errors.append(exc)
                await asyncio.sleep(0.1)
                continue
            if phase["on"] and not phase["stop"]:
                done.append(time.perf_counter() - t)

    tasks = [asyncio.create_task(loop(c)) for c in clients]
    await asyncio.sleep(warmup)
    before = target.groups.sample()
    phase["on"] = True
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    phase["stop"] = True
    elapsed = time.perf_counter() - t0
    after = target.groups.sample()
    await asyncio.wait(tasks, timeout=120)
    for t in tasks:
        t.cancel()
    for c in clients:
        await c.aclose()
    if errors:
        print(f"  {target.name} {workload} x{n}: {len(errors)} errors, first: {errors[0]!r}", flush=True)
    return Row(target.name, workload, n, len(done), elapsed, done, Groups.delta(before, after), len(errors))


async def sequential_p50(target: Target, count: int) -> float:
    client = get_client(url=target.url, api_key=None)
    times = []
    for _ in range(count):
        t = time.perf_counter()
        await one_wait(client)
        times.append(time.perf_counter() - t)
    await client.aclose()
    return statistics.median(times[count // 5:]) * 1e3


async def statement_breakdown(target: Target, runs: int = 1, label: str = "") -> list[str]:
    """pg_stat_statements over `runs` sequential create-thread + runs.wait on an otherwise idle server."""
    assert target.pg_dsn is not None
    conn = await asyncpg.connect(target.pg_dsn)
    client = get_client(url=target.url, api_key=None)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
        await conn.execute("SELECT pg_reload_conf()")
        await one_wait(client)
        await asyncio.sleep(1.0)  # every backend has seen the reload; the relay is idle
        await conn.execute("SELECT pg_stat_statements_reset()")
        for _ in range(runs):
            await one_wait(client)
        await asyncio.sleep(0.5)  # the relay's publish of the run's events
        rows = await conn.fetch("""
            SELECT calls, total_exec_time AS ms, regexp_replace(query, '\\s+', ' ', 'g') AS q
            FROM pg_stat_statements
            WHERE query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%pg_reload_conf%'
            ORDER BY total_exec_time DESC""")
        await conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'none'")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await client.aclose()
        await conn.close()
    calls = sum(r["calls"] for r in rows)
    total = sum(r["ms"] for r in rows)
    commits = sum(r["calls"] for r in rows if r["q"].strip().upper() in ("COMMIT", "END"))
    out = [f"PostgreSQL, {target.name}{label}, {runs} run(s) of create-thread + runs.wait on an idle server: "
           f"{calls / runs:.0f} statements, {commits / runs:.0f} COMMITs, {total / runs:.2f} ms execution per run",
           f"  {'calls':>6} {'total ms':>9}  statement"]
    for r in rows[:25]:
        out.append(f"  {r['calls'] / runs:6.1f} {r['ms'] / runs:9.3f}  {r['q'][:110]}")
    if len(rows) > 25:
        out.append(f"  ... {len(rows) - 25} more statements")
    return out


async def capture_plans(target: Target, out: Path, runs: int = 3) -> list[str]:
    """The plan of every statement PostgreSQL runs for `runs` sequential create-thread + runs.wait and a
    minute of background passes (auto_explain with ANALYZE, statements inside functions included), written
    to `out`; returned: the scans that touched more than `BIG_SCAN` rows, per statement."""
    assert target.pg_dsn is not None and target.pg_log is not None
    offset = target.pg_log.stat().st_size
    on = ("ALTER SYSTEM SET auto_explain.log_min_duration = 0", "ALTER SYSTEM SET auto_explain.log_analyze = on",
          "ALTER SYSTEM SET auto_explain.log_nested_statements = on", "SELECT pg_reload_conf()")
    await admin(target.pg_dsn, *on)
    client = get_client(url=target.url, api_key=None)
    try:
        await asyncio.sleep(1.0)
        for _ in range(runs):
            await one_wait(client)
        # a minute of background passes: the relay's publish and cleanup (every 60 s), the housekeeping
        # sweeps (TTL, idempotency keys, store items, finished jobs: every 60 s), the reaper, the sampler
        await asyncio.sleep(65.0)
    finally:
        await client.aclose()
        await admin(target.pg_dsn, "ALTER SYSTEM SET auto_explain.log_min_duration = -1", "SELECT pg_reload_conf()")
    text = await asyncio.to_thread(read_from, target.pg_log, offset)
    await asyncio.to_thread(out.write_text, text)
    return plan_report(text)


def read_from(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


BIG_SCAN = 1000  # rows read by one scan node (returned + removed by its filter, over its loops)
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.M)
NODE = re.compile(r"(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan|Bitmap Index Scan)"
                  r"(?: Backward)?(?: using (\S+))? on (\S+).*?actual time=\S+ rows=([\d.]+) loops=(\d+)")


def plan_report(log: str) -> list[str]:
    """Per distinct statement: its scans, and those reading more than BIG_SCAN rows flagged."""
    stmts: dict[str, set[str]] = {}
    big: dict[str, set[str]] = {}
    for entry in ENTRY.split(log):
        if "plan:" not in entry or "Query Text:" not in entry:
            continue
        lines = entry.splitlines()
        qline = next(i for i, ln in enumerate(lines) if "Query Text:" in ln)
        query = " ".join(lines[qline].split("Query Text:", 1)[1].split())
        j = qline + 1
        while j < len(lines) and not NODE.search(lines[j]) and "->" not in lines[j] and "(cost=" not in lines[j]:
            query += " " + " ".join(lines[j].split())
            j += 1
        key = query[:150]
        scans = stmts.setdefault(key, set())
        for i in range(j, len(lines)):
            m = NODE.search(lines[i])
            if not m:
                continue
            kind, index, rel, rows, loops = m.groups()
            removed = 0
            for k in range(i + 1, min(i + 6, len(lines))):
                r = re.search(r"Rows Removed by (?:Filter|Index Recheck): (\d+)", lines[k])
                if r:
                    removed += int(r.group(1))
                if NODE.search(lines[k]):
                    break
            read = (float(rows) + removed) * int(loops)
            scans.add(f"{kind} {rel}" + (f" ({index})" if index else ""))
            if read > BIG_SCAN:
                big.setdefault(key, set()).add(f"{kind} on {rel}{f' using {index}' if index else ''}: "
                                              f"{read:,.0f} rows read")
    out = [f"plans: {len(stmts)} distinct statements; scans reading more than {BIG_SCAN} rows: "
           f"{sum(len(v) for v in big.values())}"]
    for q, flagged in sorted(big.items()):
        out.append(f"  {q}")
        out.extend(f"    ! {f}" for f in sorted(flagged))
    seq = sorted({s for v in stmts.values() for s in v if s.startswith("Seq Scan")})
    out.append(f"  sequential scans (any size): {', '.join(seq) or 'none'}")
    return out


# ---------------------------------------------------------------- report


def table(rows: list[Row]) -> list[str]:
    head = (f"{'target':<9} {'workload':<7} {'clients':>7} {'runs':>6} {'runs/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
            f"| cpu ms/run: {'server':>6} {'dg':>6} {'pg':>6} {'nats':>5} {'peer':>6} {'client':>6}")
    out = [head, "-" * len(head)]
    for r in rows:
        def c(g: str, r: Row = r) -> str:
            return f"{r.cpu_ms(g):.1f}" if g in r.cpu else "-"
        err = f"  ({r.errors} errors)" if r.errors else ""
        name = f"{r.target} {r.phase}".strip()
        out.append(f"{name:<9} {r.workload:<7} {r.clients:>7} {r.runs:>6} {r.rate:>7.1f} {r.pct(50):>7.0f} "
                   f"{r.pct(99):>7.0f} |             {r.server_ms:>6.1f} {c('dg'):>6} {c('pg'):>6} {c('nats'):>5} "
                   f"{c('peer'):>6} {c('client'):>6}{err}")
    return out


def span(values: list[float], fmt: str = ".1f") -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}"


def before_after(rows: list[Row]) -> list[str]:
    """Each (target, workload, clients) before and after the fill: ranges over the repeats, and the change
    of the means."""
    out = []
    keys = dict.fromkeys((r.target, r.workload, r.clients) for r in rows if r.phase)
    for key in keys:
        b = [r for r in rows if (r.target, r.workload, r.clients) == key and r.phase == "before" and r.runs]
        a = [r for r in rows if (r.target, r.workload, r.clients) == key and r.phase == "after" and r.runs]
        if not b or not a:
            continue

        def cmp(what: str, f: Callable[[Row], float], b: list[Row] = b, a: list[Row] = a) -> str:
            vb, va = [f(r) for r in b], [f(r) for r in a]
            mb, ma = statistics.mean(vb), statistics.mean(va)
            change = f" ({(ma / mb - 1) * 100:+.0f} %)" if mb else ""
            return f"{what} {span(vb)} -> {span(va)}{change}"

        out.append(f"{key[0]} {key[1]} x{key[2]}, before -> after the fill: " + "; ".join([
            cmp("runs/s", lambda r: r.rate), cmp("server CPU ms/run", lambda r: r.server_ms),
            cmp("dg", lambda r: r.cpu_ms("dg")), cmp("pg", lambda r: r.cpu_ms("pg")),
            cmp("of which pg background", lambda r: r.cpu_ms("pg_bg")),
            cmp("p50 ms", lambda r: r.pct(50))]))
    return out


def ratios(rows: list[Row]) -> list[str]:
    out = []
    peer = {(r.workload, r.clients): r for r in rows if r.target == "peer"}
    for r in rows:
        p = peer.get((r.workload, r.clients))
        if r.target == "peer" or p is None or not p.runs:
            continue
        out.append(f"{r.target} / peer, {r.workload} x{r.clients}: runs/s {r.rate / p.rate:.2f}x, "
                   f"p50 {r.pct(50) / p.pct(50):.2f}x, server CPU per run {r.server_ms / p.server_ms:.2f}x")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,8,32,128", help="client counts (comma-separated)")
    parser.add_argument("--workloads", default="wait,stream")
    parser.add_argument("--seconds", type=float, default=15.0, help="timed window per row")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--targets", default="dev,prod", help="dev, prod (comma-separated)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes in the production shape")
    parser.add_argument("--peer", action="store_true", help="also run the official `langgraph dev`")
    parser.add_argument("--peer-venv", type=Path, default=PEER_VENV, help=f"where to install it (default {PEER_VENV})")
    parser.add_argument("--quick", action="store_true", help="clients 1,32, 6 s windows, 2 s warm-up")
    parser.add_argument("--no-statements", dest="statements", action="store_false")
    parser.add_argument("--fill", type=int, default=0, metavar="N",
                        help="measure, add N finished runs' worth of history, measure again")
    parser.add_argument("--fill-chunk", type=int, default=50_000, help="runs per fill transaction")
    parser.add_argument("--repeat", type=int, default=None, help="windows per row (default 1, 2 with --fill)")
    parser.add_argument("--plans", type=Path,
                        help="with --fill: log every statement's plan on the filled database to this file")
    args = parser.parse_args()
    repeat = args.repeat or (2 if args.fill else 1)
    if args.quick:
        args.clients, args.seconds, args.warmup = "1,32", 6.0, 2.0
    sizes = [int(x) for x in args.clients.split(",")]
    workloads = args.workloads.split(",")
    names = args.targets.split(",") + (["peer"] if args.peer else [])

    tmp = Path(tempfile.mkdtemp(prefix="duragraph-throughput-"))
    (tmp / "graph").mkdir()
    (tmp / "graph" / "graph.py").write_text(GRAPH_PY)
    (tmp / "graph" / "duragraph.json").write_bytes(orjson.dumps({"graphs": {"chain": "./graph.py:graph"}}))
    (tmp / "graph" / "langgraph.json").write_bytes(
        orjson.dumps({"dependencies": ["."], "graphs": {"chain": "./graph.py:graph"}}))
    started = time.perf_counter()
    rows: list[Row] = []
    notes: list[str] = []
    try:
        for name in names:
            cm = (dev_target(tmp) if name == "dev" else prod_target(tmp, args.workers) if name == "prod"
                  else peer_target(tmp, args.peer_venv))
            with cm as target:
                print(f"{target.name}: ready at {target.url}", flush=True)
                fill = args.fill if target.pg_dsn is not None else 0
                phases = ["before", "after"] if fill else [""]
                for phase in phases:
                    if phase == "after":
                        assert target.pg_dsn is not None
                        filled = asyncio.run(fill_history.fill(target.pg_dsn, fill, chunk=args.fill_chunk))
                        print("\n".join(filled.lines()), flush=True)
                        notes.extend(filled.lines())
                    label = f" {phase}" if phase else ""
                    p50 = asyncio.run(sequential_p50(target, 40))
                    notes.append(f"{target.name}{label}: sequential create-thread + runs.wait p50 {p50:.1f} ms")
                    for workload in workloads:
                        for n in sizes:
                            for _ in range(repeat):
                                row = asyncio.run(measure(target, workload, n, args.seconds, args.warmup))
                                row.phase = phase
                                rows.append(row)
                                print(table([row])[-1], flush=True)
                    if args.statements and target.pg_dsn is not None:
                        notes.extend(asyncio.run(statement_breakdown(target, label=label)))
                if fill and args.plans:
                    report = asyncio.run(capture_plans(target, args.plans))
                    print("\n".join(report), flush=True)
                    notes.extend(report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("\n".join(table(rows)))
    print("\n".join(before_after(rows)))
    print("\n".join(ratios(rows)))
    print("\n".join(notes))
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
