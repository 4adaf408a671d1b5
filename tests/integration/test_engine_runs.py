"""Durable execution on real Postgres with real procrastinate workers."""

from __future__ import annotations

import uuid

from tests.integration import graphs as G
from tests.integration.engine_support import engine


async def test_linear_run_commits_every_step_once_with_gapless_events(database_url: str) -> None:
    async with engine(database_url, {"linear": G.linear(3)}) as e:
        tid = await e.new_thread()
        run = await e.run("linear", tid, input={"n": 0, "trail": []})
        assert run["status"] == "success", run
        assert run["output"]["values"] == {"n": 3, "trail": ["s0", "s1", "s2"]}
        evs = await e.events(run["run_id"])
        assert [r["seq"] for r in evs] == list(range(1, len(evs) + 1))
        assert evs[0]["event"] == "metadata" and evs[-1]["event"] == "end"
        state = await e.state.get(tid)
        assert state["values"] == {"n": 3, "trail": ["s0", "s1", "s2"]}
        assert state["next"] == []
        history = await e.state.history(tid, limit=100)
        assert [h["metadata"]["step"] for h in history] == [3, 2, 1, 0, -1]


async def test_interrupt_then_resume(database_url: str) -> None:
    async with engine(database_url, {"hitl": G.hitl()}) as e:
        tid = await e.new_thread()
        run = await e.run("hitl", tid, input={"amount": 500})
        assert run["status"] == "success"
        state = await e.state.get(tid)
        assert state["next"] == ["review"]
        [intr] = state["interrupts"]
        assert intr["value"] == {"question": "approve?", "amount": 500}
        run2 = await e.run("hitl", tid, command={"resume": True})
        assert run2["status"] == "success", run2["error"]
        assert run2["output"]["values"]["trail"] == ["plan", "review", "published"]
        assert (await e.state.get(tid))["next"] == []


async def test_fanout_with_reducer(database_url: str) -> None:
    async with engine(database_url, {"fan": G.fanout()}, concurrency=4) as e:
        run = await e.run("fan", await e.new_thread(), input={"topics": ["a", "b", "c"]})
        assert run["status"] == "success", run
        assert run["output"]["values"]["summary"] == "about a | about b | about c"


async def test_retry_policy_then_success(database_url: str) -> None:
    key = uuid.uuid4().hex
    async with engine(database_url, {"flaky": G.flaky(2)}) as e:
        run = await e.run("flaky", await e.new_thread(), input={"key": key})
        assert run["status"] == "success", run
        assert run["output"]["values"]["n"] == 3


async def test_node_error_ends_run_in_error(database_url: str) -> None:
    async with engine(database_url, {"failing": G.failing()}) as e:
        run = await e.run("failing", await e.new_thread(), input={"key": "x"})
        assert run["status"] == "error"
        assert run["error"]["type"] == "TypeError" and run["error"]["message"] == "boom"


async def test_recursion_limit(database_url: str) -> None:
    async with engine(database_url, {"loop": G.looping()}) as e:
        run = await e.run("loop", await e.new_thread(), input={"n": 0}, config={"recursion_limit": 5})
        assert run["status"] == "error"
        assert run["error"]["code"] == "recursion_limit"


async def test_wide_fanout_with_concurrent_completions_closes_the_step_once(database_url: str) -> None:
    topics = [f"t{i:02d}" for i in range(24)]
    async with engine(database_url, {"fan": G.fanout()}, workers=2, concurrency=8) as e:
        run = await e.run("fan", await e.new_thread(), input={"topics": topics})
        assert run["status"] == "success", run["error"]
        assert run["output"]["values"]["summary"] == " | ".join(f"about {t}" for t in topics)
        evs = await e.events(run["run_id"])
        assert [r["seq"] for r in evs] == list(range(1, len(evs) + 1))
        assert sum(1 for r in evs if r["event"] == "task_result") == 24 + 2
