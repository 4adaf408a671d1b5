"""The database-outage scenario: worker processes under a few hundred runs while PostgreSQL is restarted
(`pg_ctl stop -m immediate`, then start) several times, and nothing else is touched.

Used by tests/acceptance/test_db_restart.py (CI-sized) and benchmarks/db_restarts.py (product defaults,
more runs). Before each restart a wave of runs is created and left in flight. After the last restart
the scenario waits for every run to end and reports what it saw: final statuses, how long the runs took
to finish after the last restart, worker exits, steps committed more than once, and steps that ran in
two processes at the same time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from duragraph.services import EmbeddedPostgres
from engine.durable.db import connect, create_pool
from engine.durable.migrate import migrate
from engine.durable.outage import is_transient
from engine.durable.runs import RunRequest, RunService
from engine.durable.runtime import Runtime
from tests.acceptance import outage_graphs


@dataclass(frozen=True)
class Scenario:
    runs_per_wave: int = 100
    workers: int = 3
    concurrency: int = 10
    stalled_after: float = 3.0
    reaper_interval: float = 1.0
    outages: tuple[float, ...] = (1.0, 5.0, 1.0)  # seconds the server stays down, one per restart
    pause: float = 0.1  # each node's sleep
    settle_within: float = 30.0  # every run must have ended this long after the last restart
    late_worker: bool = True  # one more worker process, started during the longest outage


@dataclass
class Report:
    runs: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    in_flight_at_restart: list[int] = field(default_factory=list)
    settled_after: float | None = None  # seconds from the last restart to the last run's end
    worker_exits: list[int | None] = field(default_factory=list)
    declared_dead: int = 0  # reaper log lines: live workers must not be declared dead
    unreachable_lines: int = 0
    late_worker_waited: bool = False  # its log says it waited for the database
    registered_at_end: int = 0
    committed_twice: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    concurrent_twice: list[str] = field(default_factory=list)
    logs: str = ""


async def query(dsn: str, sql: str, *args: Any, within: float = 60.0) -> list[asyncpg.Record]:
    """One query on a fresh connection, retried while the server is (re)starting."""
    deadline = time.monotonic() + within
    while True:
        try:
            conn = await connect(dsn)
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _wait(check: Any, *, within: float, what: str) -> float:
    """Poll `check()` until truthy; returns the seconds it took (AssertionError after `within`)."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > within:
            raise AssertionError(f"{what} not reached within {within}s")
        await asyncio.sleep(0.2)
    return time.monotonic() - start


class Fleet:
    def __init__(self, sc: Scenario, dsn: str, tmp: Path) -> None:
        self.sc, self.dsn, self.tmp = sc, dsn, tmp
        self.config = tmp / "duragraph.json"
        self.config.write_bytes(orjson.dumps(
            {"graphs": {"flow": f"{Path(outage_graphs.__file__).resolve()}:flow"}}))
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> None:
        env = {**os.environ, "DATABASE_URL": self.dsn, "DURAGRAPH_CONFIG": str(self.config),
               "DURAGRAPH_STALLED_AFTER": str(self.sc.stalled_after),
               "DURAGRAPH_REAPER_INTERVAL": str(self.sc.reaper_interval), "PYTHONUNBUFFERED": "1"}
        with open(self.tmp / f"worker-{name}.log", "wb") as log:
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "duragraph.cli", "worker", "--concurrency", str(self.sc.concurrency)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}"
                         for p in sorted(self.tmp.glob("worker-*.log")))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


async def _create_wave(dsn: str, sc: Scenario, marker_dir: Path, wave: int) -> list[uuid.UUID]:
    pool = await create_pool(dsn, max_size=8)
    try:
        graphs: dict[str, Any] = {"flow": outage_graphs.flow}  # Runtime compiles it as the engine holds graphs
        service = RunService(Runtime(pool=pool, graphs=graphs))
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> uuid.UUID:
            async with sem:
                tid = uuid.uuid4()
                async with pool.acquire() as conn:
                    await conn.execute("INSERT INTO threads (thread_id) VALUES ($1)", tid)
                run = await service.create(RunRequest(assistant_id="flow", thread_id=tid, input={
                    "marker_dir": str(marker_dir), "key": f"{wave}-{i}", "pause": sc.pause}))
                return uuid.UUID(run["run_id"])

        return list(await asyncio.gather(*(one(i) for i in range(sc.runs_per_wave))))
    finally:
        await pool.close()


async def _unfinished(dsn: str) -> int:
    rows = await query(dsn, "SELECT count(*) AS n FROM runs WHERE status IN ('pending', 'running')")
    return int(rows[0]["n"])


async def _done_tasks(dsn: str) -> int:
    return int((await query(dsn, "SELECT count(*) AS n FROM tasks WHERE status = 'success'"))[0]["n"])


def _overlaps(marker_dir: Path) -> list[str]:
    """Tasks that ran in two processes at the same time."""
    by_task: dict[str, list[tuple[int, float, float]]] = {}
    log = marker_dir / outage_graphs.LOG_NAME
    for line in log.read_text().splitlines() if log.exists() else []:
        key, _, task, pid, start, end = line.split("\t")
        by_task.setdefault(f"{key}/{task}", []).append((int(pid), float(start), float(end)))
    found = []
    for task, runs in by_task.items():
        for i, (p1, s1, e1) in enumerate(runs):
            for p2, s2, e2 in runs[i + 1:]:
                if p1 != p2 and s1 < e2 and s2 < e1:
                    found.append(task)
    return found


async def run_scenario(sc: Scenario, tmp: Path) -> Report:
    report = Report()
    marker_dir = tmp / "markers"
    marker_dir.mkdir(parents=True, exist_ok=True)
    # durable (fsync and synchronous commit on): a server that forgets acknowledged commits in a crash
    # would break any durable engine, this one included
    pg = EmbeddedPostgres(tmp / "postgres", durable=True).start()
    fleet = Fleet(sc, pg.dsn, tmp)
    try:
        await migrate(pg.dsn)
        for i in range(sc.workers):
            fleet.start(str(i))

        async def registered() -> bool:
            rows = await query(pg.dsn, "SELECT count(*) AS n FROM procrastinate_workers")
            return int(rows[0]["n"]) == sc.workers

        await _wait(registered, within=60, what="every worker registered")
        run_ids: list[uuid.UUID] = []
        last_restart = time.monotonic()
        for wave, down_for in enumerate(sc.outages):
            before = await _done_tasks(pg.dsn)
            run_ids += await _create_wave(pg.dsn, sc, marker_dir, wave)

            async def progressing(before: int = before) -> bool:
                return await _done_tasks(pg.dsn) >= before + sc.runs_per_wave // 2

            await _wait(progressing, within=60, what=f"wave {wave} under way")
            report.in_flight_at_restart.append(await _unfinished(pg.dsn))
            pg.stop("immediate")
            if down_for == max(sc.outages) and sc.late_worker:
                fleet.start("late")  # started while the database is down: it must wait for it
            await asyncio.sleep(down_for)  # the outage itself
            pg.start()
            last_restart = time.monotonic()
        report.runs = len(run_ids)

        async def settled() -> bool:
            return await _unfinished(pg.dsn) == 0

        try:
            await _wait(settled, within=sc.settle_within, what="every run ended")
        finally:
            report.settled_after = time.monotonic() - last_restart
        rows = await query(pg.dsn, "SELECT count(*) AS n FROM procrastinate_workers")
        report.registered_at_end = int(rows[0]["n"])
        rows = await query(pg.dsn, "SELECT status, count(*) AS n FROM runs GROUP BY status")
        report.statuses = Counter({r["status"]: int(r["n"]) for r in rows})
        results = await query(pg.dsn, "SELECT run_id::text || '/' || (data->>'id') AS t, count(*) AS n FROM events "
                                      "WHERE event = 'task_result' GROUP BY 1 HAVING count(*) > 1")
        report.committed_twice = [r["t"] for r in results]
        gaps = await query(pg.dsn, "SELECT run_id::text AS r FROM events GROUP BY run_id "
                                   "HAVING max(seq) <> count(*) OR min(seq) <> 1")
        report.gaps = [r["r"] for r in gaps]
        report.concurrent_twice = _overlaps(marker_dir)
    finally:
        report.worker_exits = [p.poll() for p in fleet.procs]
        fleet.stop()
        report.logs = fleet.logs()
        report.declared_dead = report.logs.count("declared dead")
        report.unreachable_lines = report.logs.count("database unreachable")
        late = tmp / "worker-late.log"
        report.late_worker_waited = late.exists() and "waiting for the database at" in late.read_text(errors="replace")
        pg.stop()
    return report
