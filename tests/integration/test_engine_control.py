"""Interrupts, time travel, state updates, cancellation and multitask strategies on real Postgres."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from engine.durable.runs import RunRequest
from engine.errors import Conflict
from tests.integration import graphs as G
from tests.integration.engine_support import engine
from tests.support import eventually


async def test_interrupt_before_and_after_then_continue(database_url: str) -> None:
    async with engine(database_url, {"linear": G.linear(3)}) as e:
        tid = await e.new_thread()
        run = await e.run("linear", tid, input={"n": 0, "trail": []}, interrupt_before=["s1"])
        assert run["status"] == "success"
        state = await e.state.get(tid)
        assert state["next"] == ["s1"] and state["values"]["trail"] == ["s0"]
        run = await e.run("linear", tid, input=None, interrupt_after=["s1"])
        state = await e.state.get(tid)
        assert state["next"] == ["s2"] and state["values"]["trail"] == ["s0", "s1"]
        run = await e.run("linear", tid, input=None)
        assert run["output"]["values"]["trail"] == ["s0", "s1", "s2"]


async def test_two_interrupts_in_one_node_matched_by_order(database_url: str) -> None:
    async with engine(database_url, {"g": G.two_questions()}) as e:
        tid = await e.new_thread()
        await e.run("g", tid, input={"answers": []})
        assert [i["value"] for i in (await e.state.get(tid))["interrupts"]] == ["first?"]
        await e.run("g", tid, command={"resume": "one"})
        assert [i["value"] for i in (await e.state.get(tid))["interrupts"]] == ["second?"]
        run = await e.run("g", tid, command={"resume": "two"})
        assert run["output"]["values"]["answers"] == ["one", "two"]


async def test_parallel_interrupts_resumed_together_and_siblings_not_rerun(database_url: str) -> None:
    G.QUIET_CALLS.clear()
    async with engine(database_url, {"g": G.parallel_interrupts()}) as e:
        tid = await e.new_thread()
        await e.run("g", tid, input={"answers": []})
        state = await e.state.get(tid)
        assert sorted(state["next"]) == ["ask_a", "ask_b"]
        ids = {i["value"]: i["id"] for i in state["interrupts"]}
        assert set(ids) == {"question a", "question b"}
        thread_row = await e.pool.fetchrow("SELECT status, interrupts FROM threads WHERE thread_id = $1", tid)
        assert thread_row["status"] == "interrupted" and len(thread_row["interrupts"]) == 2
        with pytest.raises(Exception, match="multiple pending interrupts"):
            run = await e.run("g", tid, command={"resume": "x"})
            raise AssertionError(run["error"]["message"])
        run = await e.run("g", tid, command={"resume": {ids["question a"]: "yes", ids["question b"]: "no"}})
        assert run["status"] == "success", run["error"]
        assert sorted(run["output"]["values"]["answers"]) == ["a=yes", "b=no", "quiet"]
        assert len(G.QUIET_CALLS) == 1  # the sibling that succeeded was not re-run


async def test_fork_from_earlier_checkpoint_keeps_both_branches(database_url: str) -> None:
    async with engine(database_url, {"linear": G.linear(3)}) as e:
        tid = await e.new_thread()
        await e.run("linear", tid, input={"n": 0, "trail": []})
        history = await e.state.history(tid, limit=100)
        at_s1 = next(h for h in history if h["next"] == ["s1"])
        run = await e.run("linear", tid, input=None, checkpoint_id=uuid.UUID(at_s1["checkpoint_id"]))
        assert run["output"]["values"]["trail"] == ["s0", "s1", "s2"]
        after = await e.state.history(tid, limit=100)
        assert len(after) == len(history) + 3  # a "fork" checkpoint, then s1 and s2 re-ran
        forked = [h for h in after if h["parent_checkpoint_id"] == at_s1["checkpoint_id"]]
        assert sorted(h["metadata"]["source"] for h in forked) == ["fork", "loop"]


async def test_update_state_as_node(database_url: str) -> None:
    async with engine(database_url, {"linear": G.linear(3)}) as e:
        tid = await e.new_thread()
        await e.run("linear", tid, input={"n": 0, "trail": []}, interrupt_before=["s1"])
        out = await e.state.update(tid, {"n": 100}, as_node="s1")
        assert out["checkpoint"]["checkpoint_id"]
        state = await e.state.get(tid)
        assert state["values"]["n"] == 100 and state["next"] == ["s2"]
        assert state["metadata"]["source"] == "update"
        run = await e.run("linear", tid, input=None)
        assert run["output"]["values"]["n"] == 101


async def test_node_timeout(database_url: str) -> None:
    async with engine(database_url, {"t": G.timeout_graph()}) as e:
        run = await e.run("t", await e.new_thread(), input={"n": 0})
        assert run["status"] == "error"
        assert run["error"]["code"] == "node_timeout"


async def test_cancel_running_run_and_late_completion_changes_nothing(database_url: str) -> None:
    async with engine(database_url, {"slow": G.slow(1.5)}) as e:
        tid = await e.new_thread()
        run = await e.runs.create(RunRequest(assistant_id="slow", thread_id=tid, input={"n": 0}))
        rid = uuid.UUID(run["run_id"])
        await eventually(lambda: e.pool.fetchval(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"), what="step running")
        await e.runs.cancel([rid], thread_id=tid)
        done = await e.runs.wait(rid, 10)
        assert done["status"] == "interrupted"
        await asyncio.sleep(2.0)  # let the node finish: its completion must be a no-op
        assert (await e.runs.get(rid))["status"] == "interrupted"
        assert await e.pool.fetchval("SELECT count(*) FROM tasks WHERE run_id = $1 AND status = 'success'", rid) == 0
        seqs = [r["seq"] for r in await e.events(rid)]
        assert seqs == list(range(1, len(seqs) + 1))


async def test_multitask_reject_enqueue_interrupt_rollback(database_url: str) -> None:
    async with engine(database_url, {"slow": G.slow(0.8)}, concurrency=4) as e:
        tid = await e.new_thread()
        first = await e.runs.create(RunRequest(assistant_id="slow", thread_id=tid, input={"n": 0}))
        with pytest.raises(Conflict):
            await e.runs.create(RunRequest(assistant_id="slow", thread_id=tid, input={"n": 0},
                                           multitask_strategy="reject"))
        second = await e.runs.create(RunRequest(assistant_id="slow", thread_id=tid, input={"n": 0},
                                                multitask_strategy="enqueue"))
        third = await e.runs.create(RunRequest(assistant_id="slow", thread_id=tid, input={"n": 0},
                                               multitask_strategy="enqueue"))
        assert second["status"] == "pending" and third["status"] == "pending"
        ends = [await e.runs.wait(uuid.UUID(r["run_id"]), 20) for r in (first, second, third)]
        assert [r["status"] for r in ends] == ["success"] * 3
        order = await e.pool.fetch("SELECT run_id FROM runs WHERE thread_id = $1 ORDER BY ended_at", tid)
        assert [str(r["run_id"]) for r in order] == [first["run_id"], second["run_id"], third["run_id"]]

        a = await e.runs.create(RunRequest(assistant_id="slow", thread_id=tid, input={"n": 0}))
        b = await e.runs.create(RunRequest(assistant_id="slow", thread_id=tid, input={"n": 0},
                                           multitask_strategy="interrupt"))
        assert (await e.runs.get(uuid.UUID(a["run_id"])))["status"] == "interrupted"
        assert (await e.runs.wait(uuid.UUID(b["run_id"]), 20))["status"] == "success"

        c = await e.runs.create(RunRequest(assistant_id="slow", thread_id=tid, input={"n": 0}))
        d = await e.runs.create(RunRequest(assistant_id="slow", thread_id=tid, input={"n": 0},
                                           multitask_strategy="rollback"))
        assert await e.pool.fetchval("SELECT count(*) FROM runs WHERE run_id = $1", uuid.UUID(c["run_id"])) == 0
        assert (await e.runs.wait(uuid.UUID(d["run_id"]), 20))["status"] == "success"


async def test_subgraph_as_node(database_url: str) -> None:
    async with engine(database_url, {"sub": G.with_subgraph()}) as e:
        run = await e.run("sub", await e.new_thread(), input={"topic": "x", "notes": []})
        assert run["status"] == "success", run["error"]
        # as in LangGraph: the subgraph returns its whole state, which the parent's add reducer appends
        assert run["output"]["values"]["notes"] == ["before", "before", "inner_a:x", "inner_b"]


async def test_delayed_run_starts_after_seconds(database_url: str) -> None:
    async with engine(database_url, {"linear": G.linear(1)}) as e:
        tid = await e.new_thread()
        run = await e.runs.create(RunRequest(assistant_id="linear", thread_id=tid, input={"n": 0, "trail": []},
                                             after_seconds=1.0))
        assert run["status"] == "pending"
        done = await e.runs.wait(uuid.UUID(run["run_id"]), 20)
        assert done["status"] == "success"


async def test_cancel_aborts_a_step_the_worker_claimed_inline(database_url: str) -> None:
    key = uuid.uuid4().hex
    async with engine(database_url, {"g": G.fast_then_slow(3.0)}) as e:
        tid = await e.new_thread()
        run = await e.runs.create(RunRequest(assistant_id="g", thread_id=tid, input={"key": key}))
        rid = uuid.UUID(run["run_id"])

        async def slow_started() -> bool:
            return bool(await e.pool.fetchval(
                "SELECT count(*) FROM tasks WHERE run_id = $1 AND name = 'slow_node' AND status = 'queued'", rid))

        await eventually(slow_started, what="slow step claimed")
        await e.runs.cancel([rid], thread_id=tid)
        assert (await e.runs.wait(rid, 10))["status"] == "interrupted"
        await asyncio.sleep(3.5)
        assert key not in G.FINISHED  # the node was aborted, not left to run to its end
        assert await e.pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'") == 0
