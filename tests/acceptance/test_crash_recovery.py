"""Crash recovery with real worker processes (`python -m duragraph.cli worker`), SIGKILLed mid-step.

Runs are created through the RunService in this process (no in-process workers); the steps run in the
worker processes. Each test checks the invariants a crash must not break: a committed step is never
re-run and its result is committed once (3), a node may run twice but appears once in the state (4),
events stay gapless (5), and the dead worker's in-flight step is picked up again (7).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.core.api import TaskOutcome, TaskSpec, run_task
from engine.core.compiled import CompiledGraph
from engine.durable import blobs, jobs
from engine.durable.lifecycle import Q
from engine.durable.runs import RunRequest
from engine.durable.step import complete_step, execute_step, node_config
from tests.acceptance import crash_graphs
from tests.acceptance.crash_graphs import DOOMED_ENV, starts
from tests.integration.engine_support import Engine, engine
from tests.support import eventually

pytestmark = pytest.mark.acceptance

STALLED_AFTER = 2.0
REAPER_INTERVAL = 0.5
RECOVERY_BOUND = 30.0  # generous: recovery is ~stalled_after + reaper interval + one step
GRAPHS = {"chain": crash_graphs.chain}
TRAIL = ["first", "victim", "last"]


@dataclass
class Fleet:
    """Worker processes of one test; every one of them is ended at teardown."""

    database_url: str
    config: Path
    logs_dir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *, doomed: bool = False, concurrency: int = 2) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DURAGRAPH_CONFIG": str(self.config),
            "DURAGRAPH_STALLED_AFTER": str(STALLED_AFTER),
            "DURAGRAPH_REAPER_INTERVAL": str(REAPER_INTERVAL),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop(DOOMED_ENV, None)
        if doomed:
            env[DOOMED_ENV] = "1"
        log_path = self.logs_dir / f"worker-{len(self.procs)}{'-doomed' if doomed else ''}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "duragraph.cli", "-v", "worker", "--concurrency", str(concurrency)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.logs_dir.glob("worker-*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: the worker and anything it started
                proc.wait()


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    d = tmp_path / "markers"
    d.mkdir()
    return d


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> Iterator[Fleet]:
    config = tmp_path / "duragraph.json"
    config.write_bytes(orjson.dumps({"graphs": {"chain": f"{Path(crash_graphs.__file__).resolve()}:chain"}}))
    logs = tmp_path / "logs"
    logs.mkdir()
    f = Fleet(database_url=database_url, config=config, logs_dir=logs)
    try:
        yield f
    finally:
        f.stop_all()


def chain_input(marker_dir: Path, key: str, rerun_sleep: float = 0.0) -> dict[str, Any]:
    return {"marker_dir": str(marker_dir), "key": key, "rerun_sleep": rerun_sleep}


async def create_run(e: Engine, marker_dir: Path, key: str, rerun_sleep: float = 0.0) -> tuple[uuid.UUID, uuid.UUID]:
    tid = await e.new_thread()
    run = await e.runs.create(RunRequest(assistant_id="chain", thread_id=tid,
                                         input=chain_input(marker_dir, key, rerun_sleep)))
    return uuid.UUID(run["run_id"]), tid


async def started_on(marker_dir: Path, key: str, node: str, pid: int) -> bool:
    return any(s[:3] == (key, node, pid) for s in starts(marker_dir))


async def registered_workers(e: Engine) -> int:
    async with e.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM procrastinate_workers"))


async def assert_committed_once(e: Engine, run_id: uuid.UUID, thread_id: uuid.UUID, marker_dir: Path,
                                key: str) -> None:
    """One success row per task, each result committed once, gapless events, the trail once each."""
    async with e.pool.acquire() as conn:
        tasks = await conn.fetch("SELECT task_id, name, status FROM tasks WHERE run_id = $1 ORDER BY step", run_id)
    assert [(t["name"], t["status"]) for t in tasks] == [(n, "success") for n in TRAIL]
    evs = await e.events(run_id)
    assert [r["seq"] for r in evs] == list(range(1, len(evs) + 1))
    assert evs[0]["event"] == "metadata" and evs[-1]["event"] == "end"
    results = Counter(r["data"]["id"] for r in evs if r["event"] == "task_result")
    assert results == {t["task_id"]: 1 for t in tasks}
    assert [r["data"]["status"] for r in evs if r["event"] == "end"] == ["success"]
    state = await e.state.get(thread_id)
    assert state["values"]["trail"] == TRAIL
    ran = Counter(node for k, node, _, _ in starts(marker_dir) if k == key)
    assert ran["first"] == 1 and ran["last"] == 1
    assert 1 <= ran["victim"] <= 2
    # the re-run got the same idempotency key as the killed attempt (invariant 4)
    assert len({idem for k, node, _, idem in starts(marker_dir) if k == key and node == "victim"}) == 1


async def test_sigkill_mid_step_then_a_new_worker_completes_the_run(
    database_url: str, fleet: Fleet, marker_dir: Path
) -> None:
    doomed = fleet.start(doomed=True)
    async with engine(database_url, GRAPHS, workers=0) as e:
        run_id, tid = await create_run(e, marker_dir, "a")
        await eventually(lambda: started_on(marker_dir, "a", "victim", doomed.pid), within=60,
                         what="victim running in the doomed worker")
        doomed.kill()
        doomed.wait()
        killed_at = time.monotonic()
        fleet.start()
        run = await e.runs.wait(run_id, timeout=60)
        recovery = time.monotonic() - killed_at
        assert run["status"] == "success", (run, fleet.logs())
        assert run["output"]["values"]["trail"] == TRAIL
        await assert_committed_once(e, run_id, tid, marker_dir, "a")
        victims = [pid for k, node, pid, _ in starts(marker_dir) if k == "a" and node == "victim"]
        assert len(victims) == 2 and victims[0] == doomed.pid and victims[1] != doomed.pid
        print(f"kill -> run completed (new worker process started after the kill): {recovery:.2f}s")
        assert recovery < RECOVERY_BOUND


async def test_kill_after_commit_duplicate_delivery_is_a_no_op(
    database_url: str, fleet: Fleet, marker_dir: Path
) -> None:
    """Step 1 committed, step 2 in flight when the worker dies. The dead worker also still holds a job
    for step 1 (the state a SIGKILL between the step's commit and procrastinate's `finish_job` leaves
    behind): the reaper re-delivers both; step 1's delivery changes nothing and does not re-run it."""
    doomed = fleet.start(doomed=True)
    async with engine(database_url, GRAPHS, workers=0) as e:
        run_id, tid = await create_run(e, marker_dir, "b", rerun_sleep=0.5)
        await eventually(lambda: started_on(marker_dir, "b", "victim", doomed.pid), within=60,
                         what="victim running in the doomed worker")
        doomed.kill()
        doomed.wait()
        async with e.pool.acquire() as conn, conn.transaction():
            first_task = await conn.fetchval(
                "SELECT task_id FROM tasks WHERE run_id = $1 AND name = 'first' AND status = 'success'", run_id)
            assert first_task is not None
            dead_worker = await conn.fetchval(
                "SELECT j.worker_id FROM procrastinate_jobs j JOIN tasks t ON t.job_id = j.id "
                "WHERE t.run_id = $1 AND t.name = 'victim' AND j.status = 'doing'", run_id)
            assert dead_worker is not None
            [dup] = await jobs.defer(conn, jobs.STEP_QUEUE, jobs.STEP_TASK,
                                     [{"run_id": str(run_id), "task_id": first_task}])
            await conn.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = $2 WHERE id = $1",
                               dup, dead_worker)
            first_row = await conn.fetchrow("SELECT * FROM tasks WHERE run_id = $1 AND task_id = $2",
                                            run_id, first_task)
        fleet.start()
        run = await e.runs.wait(run_id, timeout=60)
        assert run["status"] == "success", (run, fleet.logs())

        async def dup_delivered() -> bool:
            async with e.pool.acquire() as conn:
                status = await conn.fetchval("SELECT status::text FROM procrastinate_jobs WHERE id = $1", dup)
            return status in (None, "succeeded")  # successful jobs are deleted

        await eventually(dup_delivered, within=30, what="the duplicate step-1 job delivered and finished")
        async with e.pool.acquire() as conn:
            assert await conn.fetchrow("SELECT * FROM tasks WHERE run_id = $1 AND task_id = $2",
                                       run_id, first_task) == first_row
        await assert_committed_once(e, run_id, tid, marker_dir, "b")


async def test_duplicate_completion_in_process_changes_nothing(database_url: str, marker_dir: Path) -> None:
    async with engine(database_url, GRAPHS, workers=0) as e:
        run_id, _ = await create_run(e, marker_dir, "c")
        async with e.pool.acquire() as conn:
            task_id = await conn.fetchval("SELECT task_id FROM tasks WHERE run_id = $1", run_id)
            row = await conn.fetchrow(Q["load_task"], run_id, task_id)
            checkpoint = await blobs.resolve(conn, row["thread_id"], row["checkpoint"])
        spec = TaskSpec.from_json(row["spec"])
        config = node_config(row["kwargs"], run_id, row["thread_id"], task_id)
        outcome = await run_task(CompiledGraph(crash_graphs.chain), spec, checkpoint, config=config,
                                 resume=row["resume"])
        assert await complete_step(e.rt, run_id, task_id, spec, outcome, 1) is True

        async def snapshot() -> tuple[Any, ...]:
            async with e.pool.acquire() as conn:
                return (
                    [tuple(r) for r in await conn.fetch("SELECT * FROM tasks WHERE run_id = $1 ORDER BY task_id",
                                                        run_id)],
                    [tuple(r) for r in await conn.fetch("SELECT * FROM events WHERE run_id = $1 ORDER BY seq",
                                                        run_id)],
                    await conn.fetchval("SELECT count(*) FROM outbox WHERE run_id = $1", run_id),
                    await conn.fetchval("SELECT count(*) FROM checkpoints"),
                    await conn.fetchval("SELECT count(*) FROM procrastinate_jobs"),
                    tuple(await conn.fetchrow("SELECT status, step, checkpoint_id, last_seq FROM runs "
                                              "WHERE run_id = $1", run_id)),
                )

        before = await snapshot()
        async with e.pool.acquire() as conn:
            planned = {(r["name"], r["status"]) for r in await conn.fetch(
                "SELECT name, status FROM tasks WHERE run_id = $1", run_id)}
        assert planned == {("first", "success"), ("victim", "queued")}  # step 1 closed, step 2 enqueued
        assert await complete_step(e.rt, run_id, task_id, spec, outcome, 1) is False
        other = TaskOutcome(status="error", writes=[], interrupts=[], error={"type": "X", "message": "late"})
        assert await complete_step(e.rt, run_id, task_id, spec, other, 2) is False
        await execute_step(e.rt, run_id, task_id)  # a re-delivered job: the node is not run again
        assert await snapshot() == before
        assert [node for k, node, _, _ in starts(marker_dir) if k == "c"] == ["first"]


async def test_recovery_time_is_bounded_by_stalled_after(database_url: str, fleet: Fleet, marker_dir: Path) -> None:
    """Two workers; the one running both runs' in-flight steps is SIGKILLed; the survivor's reaper
    re-queues them after `stalled_after` and both runs complete within a bounded time."""
    doomed = fleet.start(doomed=True)
    keys = ["r0", "r1"]
    async with engine(database_url, GRAPHS, workers=0) as e:
        created = [await create_run(e, marker_dir, k) for k in keys]
        for k in keys:
            await eventually(functools.partial(started_on, marker_dir, k, "victim", doomed.pid), within=60,
                             what=f"victim of {k} running in the doomed worker")
        fleet.start()

        async def both_registered() -> bool:
            return await registered_workers(e) == 2

        await eventually(both_registered, within=60, what="the survivor registered")
        doomed.kill()
        doomed.wait()
        killed_at = time.monotonic()
        for run_id, _ in created:
            run = await e.runs.wait(run_id, timeout=RECOVERY_BOUND + 10)
            assert run["status"] == "success", (run, fleet.logs())
        recovery = time.monotonic() - killed_at
        for (run_id, tid), k in zip(created, keys, strict=True):
            await assert_committed_once(e, run_id, tid, marker_dir, k)
        print(f"kill -> both runs completed by the surviving worker: {recovery:.2f}s "
              f"(stalled_after={STALLED_AFTER}s, reaper interval={REAPER_INTERVAL}s)")
        assert recovery < RECOVERY_BOUND, recovery
