"""Review findings: races of the durable layer (cancellation, multitask, lock order, completion failures)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, TypedDict

import asyncpg

from engine import END, START, StateGraph
from engine.durable.runs import RunRequest
from tests.integration import graphs as G
from tests.integration.engine_support import Engine, engine
from tests.support import eventually

# --- a graph whose single node waits until the test opens its gate -------------------------------------

GATES: dict[str, asyncio.Event] = {}


class Gated(TypedDict, total=False):
    key: str
    n: int
    tag: str


def gated() -> Any:
    async def hold(state: Gated) -> dict[str, Any]:
        key = state.get("key")
        if key:
            await GATES.setdefault(key, asyncio.Event()).wait()
        return {"n": state.get("n", 0) + 1}

    g = StateGraph(Gated)
    g.add_node("hold", hold)
    g.add_edge(START, "hold")
    g.add_edge("hold", END)
    return g.compile()


def gate(key: str) -> asyncio.Event:
    return GATES.setdefault(key, asyncio.Event())


async def task_status(e: Engine, run_id: uuid.UUID) -> list[str]:
    return [r["status"] for r in await e.pool.fetch("SELECT status FROM tasks WHERE run_id = $1", run_id)]


async def running_job(e: Engine) -> bool:
    return bool(await e.pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"))


# --- 1. cancelling a PENDING (enqueued) run while another run of the thread is running ------------------

async def test_cancel_pending_run_while_another_runs_keeps_the_running_one_alone(database_url: str) -> None:
    key = uuid.uuid4().hex
    async with engine(database_url, {"g": gated()}) as e:
        tid = await e.new_thread()
        a = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"key": key}))
        b = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"n": 10},
                                           multitask_strategy="enqueue"))
        c = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"n": 20},
                                           multitask_strategy="enqueue"))
        await eventually(lambda: running_job(e), what="A's step running")
        # cancel the queued run B: A is still running, C must stay queued behind it
        await e.runs.cancel([uuid.UUID(b["run_id"])], thread_id=tid)
        assert (await e.runs.get(uuid.UUID(b["run_id"])))["status"] == "interrupted"
        assert (await e.runs.get(uuid.UUID(a["run_id"])))["status"] == "running"
        assert (await e.runs.get(uuid.UUID(c["run_id"])))["status"] == "pending"
        gate(key).set()
        assert (await e.runs.wait(uuid.UUID(a["run_id"]), 20))["status"] == "success"
        assert (await e.runs.wait(uuid.UUID(c["run_id"]), 20))["status"] == "success"


async def test_cancel_pending_run_leaves_thread_busy_while_another_runs(database_url: str) -> None:
    key = uuid.uuid4().hex
    async with engine(database_url, {"g": gated()}) as e:
        tid = await e.new_thread()
        a = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"key": key}))
        b = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"n": 10},
                                           multitask_strategy="enqueue"))
        await eventually(lambda: running_job(e), what="A's step running")
        await e.runs.cancel([uuid.UUID(b["run_id"])], thread_id=tid)
        assert (await e.runs.get(uuid.UUID(a["run_id"])))["status"] == "running"
        status = await e.pool.fetchval("SELECT status FROM threads WHERE thread_id = $1", tid)
        gate(key).set()
        await e.runs.wait(uuid.UUID(a["run_id"]), 20)
        assert status == "busy", f"thread is {status!r} while run A is still running"


# --- 2. rollback of a running run through the cancel API, with a run queued behind it ------------------

async def test_cancel_rollback_does_not_start_queued_run_on_rolled_back_state(database_url: str) -> None:
    key = uuid.uuid4().hex
    async with engine(database_url, {"g": gated()}) as e:
        tid = await e.new_thread()
        a = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"key": key, "tag": "from-A"}))
        b = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"n": 10},
                                           multitask_strategy="enqueue"))
        await eventually(lambda: running_job(e), what="A's step running")
        await e.runs.cancel([uuid.UUID(a["run_id"])], action="rollback", thread_id=tid)
        assert await e.pool.fetchval("SELECT count(*) FROM runs WHERE run_id = $1", uuid.UUID(a["run_id"])) == 0
        gate(key).set()
        done = await e.runs.wait(uuid.UUID(b["run_id"]), 20)
        assert done["status"] == "success", done["error"]
        # A was rolled back: nothing it wrote may be seen by B
        assert "tag" not in done["output"]["values"], done["output"]["values"]
        # and every checkpoint of the thread has its parent
        orphans = await e.pool.fetchval(
            "SELECT count(*) FROM checkpoints c WHERE c.thread_id = $1 AND c.parent_checkpoint_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM checkpoints p WHERE p.checkpoint_id = c.parent_checkpoint_id)", tid)
        assert orphans == 0


# --- 3. lock order: run creation locks thread -> runs, a step's completion locks run -> thread -----------

async def _lock_waiter(e: Engine, like: str) -> int | None:
    pid: int | None = await e.pool.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
        "AND query LIKE $1 LIMIT 1", like)
    return pid


async def test_run_creation_racing_a_step_completion_neither_fails_nor_strands_the_run(database_url: str) -> None:
    key = uuid.uuid4().hex
    async with engine(database_url, {"g": gated()}) as e:
        tid = await e.new_thread()
        a = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"key": key}))
        rid = uuid.UUID(a["run_id"])
        await eventually(lambda: running_job(e), what="A's step running")
        created: dict[str, Any] | None = None
        create_error: BaseException | None = None
        async with e.pool.acquire() as x:
            tx = x.transaction()
            await tx.start()
            # RunService.create_in's first lock: the thread row (as a concurrent POST /runs holds it) ...
            await x.fetchrow("SELECT thread_id FROM threads WHERE thread_id = $1 FOR UPDATE", tid)
            gate(key).set()  # ... while A's step completes: it locks run A, then wants to update the thread
            await eventually(lambda: _lock_waiter(e, "%UPDATE threads%"), what="completion waiting on the thread")
            try:
                # ... and create_in goes on to lock the thread's active runs (run A)
                created = await e.runs.create_in(x, RunRequest(assistant_id="g", thread_id=tid, input={"n": 1},
                                                               multitask_strategy="enqueue"))
                await tx.commit()
            except asyncpg.PostgresError as exc:
                create_error = exc
                await tx.rollback()
        assert create_error is None, f"creating a run failed: {create_error!r}"
        assert created is not None
        assert (await e.runs.wait(rid, 15))["status"] == "success"
        assert (await e.runs.wait(uuid.UUID(created["run_id"]), 15))["status"] == "success"


# --- 4. a completion whose transaction fails (connection lost, deadlock victim...) is never retried -------

async def test_step_whose_completion_fails_transiently_still_completes(database_url: str) -> None:
    key = uuid.uuid4().hex
    async with engine(database_url, {"g": gated()}, stalled_after=2.0) as e:
        tid = await e.new_thread()
        a = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"key": key}))
        rid = uuid.UUID(a["run_id"])
        await eventually(lambda: running_job(e), what="A's step running")
        async with e.pool.acquire() as y, y.transaction():
            await y.fetchrow("SELECT run_id FROM runs WHERE run_id = $1 FOR UPDATE", rid)
            gate(key).set()
            # the step's completion transaction waits for the run row; its connection is then lost
            pid = await eventually(lambda: _lock_waiter(e, "%procrastinate_jobs%FOR UPDATE%"),
                                   what="completion waiting on the run row")
            assert await y.fetchval("SELECT pg_terminate_backend($1)", pid)
        # the node ran and the failure was transient: the step must be delivered again and the run end
        assert (await e.runs.wait(rid, 15))["status"] == "success"


# --- 5. a resume that is cancelled while in flight must not lose the pending interrupt --------------------

def gated_question() -> Any:
    from engine import interrupt

    async def ask(state: Gated) -> dict[str, Any]:
        answer = interrupt("question?")
        await gate(f"{state['key']}:{answer}").wait()
        return {"tag": answer}

    g = StateGraph(Gated)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    return g.compile()


async def test_cancelled_resume_keeps_the_interrupt_pending(database_url: str) -> None:
    key = uuid.uuid4().hex
    gate(f"{key}:second").set()
    async with engine(database_url, {"q": gated_question()}) as e:
        tid = await e.new_thread()
        first = await e.run("q", tid, input={"key": key})
        assert first["status"] == "success" and first["output"]["interrupts"]
        before = await e.state.get(tid)
        assert before["next"] == ["ask"] and before["interrupts"]
        resume = await e.runs.create(RunRequest(assistant_id="q", thread_id=tid, command={"resume": "first"}))
        rid = uuid.UUID(resume["run_id"])
        await eventually(lambda: running_job(e), what="resumed step running")
        await e.runs.cancel([rid], thread_id=tid)
        assert (await e.runs.wait(rid, 10))["status"] == "interrupted"
        after = await e.state.get(tid)
        assert after["next"] == ["ask"]
        lost = [i["value"] for i in after["interrupts"]] != ["question?"]
        again = await e.run("q", tid, command={"resume": "second"})
        assert again["status"] == "success", again["error"]
        assert again["output"]["values"].get("tag") == "second", again["output"]
        gate(f"{key}:first").set()
        assert not lost, f"the pending interrupt disappeared from the state after the cancel: {after}"


# --- 6. rolling back a resume must undo what its Command wrote -------------------------------------------

async def test_rollback_of_a_resume_with_update_restores_the_state(database_url: str) -> None:
    key = uuid.uuid4().hex
    async with engine(database_url, {"q": gated_question()}) as e:
        tid = await e.new_thread()
        await e.run("q", tid, input={"key": key, "n": 1})
        before = await e.state.get(tid)
        resume = await e.runs.create(RunRequest(assistant_id="q", thread_id=tid,
                                                command={"resume": "first", "update": {"n": 99}}))
        rid = uuid.UUID(resume["run_id"])
        await eventually(lambda: running_job(e), what="resumed step running")
        await e.runs.cancel([rid], action="rollback", thread_id=tid)
        after = await e.state.get(tid)
        gate(f"{key}:first").set()
        assert after["values"] == before["values"], (before["values"], after["values"])
        assert after["checkpoint_id"] == before["checkpoint_id"]


async def test_claims_whose_commit_acknowledgement_was_lost_go_back_to_the_queue(database_url: str) -> None:
    from engine.durable.step import _release_lost_claims

    async with engine(database_url, {"linear": G.linear(2)}, workers=0) as e:
        tid = await e.new_thread()
        run = await e.runs.create(RunRequest(assistant_id="linear", thread_id=tid, input={"n": 0, "trail": []}))
        rid = uuid.UUID(run["run_id"])
        worker_id = await e.pool.fetchval("SELECT worker_id FROM procrastinate_register_worker_v1()")
        job = await e.pool.fetchval("SELECT job_id FROM tasks WHERE run_id = $1", rid)
        # as if a completion of this worker had claimed the step and the commit's acknowledgement was lost
        await e.pool.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = $2 WHERE id = $1", job,
                             worker_id)
        await _release_lost_claims(e.rt, rid, worker_id)
        assert await e.pool.fetchval("SELECT status FROM procrastinate_jobs WHERE id = $1", job) == "todo"
