"""Runs, state, history and time travel through the official langgraph-sdk client."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from langgraph_sdk import get_client

from tests.integration import graphs as G
from tests.integration.api_support import live

GRAPHS = {"hitl": G.hitl(), "linear": G.linear(3), "failing": G.failing(), "slow": G.slow(0.6)}


async def test_human_in_the_loop_approval(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        client = get_client(url=url, api_key=None)
        thread = await client.threads.create()
        tid = thread["thread_id"]
        out = await client.runs.wait(tid, "hitl", input={"amount": 500})
        assert out["__interrupt__"][0]["value"] == {"question": "approve?", "amount": 500}
        t = await client.threads.get(tid)
        assert t["status"] == "interrupted"
        assert next(iter(t["interrupts"].values()))[0]["value"]["amount"] == 500
        state = await client.threads.get_state(tid)
        assert state["next"] == ["review"]
        assert state["tasks"][0]["interrupts"][0]["value"]["question"] == "approve?"
        assert set(state) >= {"values", "next", "tasks", "checkpoint", "metadata", "created_at",
                              "parent_checkpoint", "interrupts"}
        out = await client.runs.wait(tid, "hitl", command={"resume": True})
        assert out["trail"] == ["plan", "review", "published"]
        t = await client.threads.get(tid)
        assert t["status"] == "idle" and t["interrupts"] == {}
        runs = await client.runs.list(tid)
        assert len(runs) == 2 and {r["status"] for r in runs} == {"success"}


async def test_time_travel_fork_and_history(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        await client.runs.wait(tid, "linear", input={"n": 0, "trail": []})
        history = await client.threads.get_history(tid, limit=100)
        assert [h["next"] for h in history] == [[], ["s2"], ["s1"], ["s0"], ["__start__"]]
        fork_at = history[2]  # next == ["s1"]
        out = await client.runs.wait(tid, "linear", input=None, checkpoint_id=fork_at["checkpoint"]["checkpoint_id"])
        assert out == {"n": 3, "trail": ["s0", "s1", "s2"]}
        after = await client.threads.get_history(tid, limit=100)
        # as in LangGraph: a "fork" checkpoint (child of the chosen one), then s1 and s2 again
        assert len(after) == 8
        children = [h for h in after if (h["parent_checkpoint"] or {}).get("checkpoint_id")
                    == fork_at["checkpoint"]["checkpoint_id"]]
        assert sorted(c["metadata"]["source"] for c in children) == ["fork", "loop"]
        at = await client.threads.get_state(tid, checkpoint_id=fork_at["checkpoint"]["checkpoint_id"])
        assert at["values"] == {"n": 1, "trail": ["s0"]}


async def test_update_state_then_continue(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        await client.runs.wait(tid, "linear", input={"n": 0, "trail": []}, interrupt_before=["s1"])
        assert (await client.threads.get(tid))["status"] == "interrupted"
        res = await client.threads.update_state(tid, {"n": 10}, as_node="s1")
        assert res["checkpoint"]["checkpoint_id"]
        state = await client.threads.get_state(tid)
        assert state["values"]["n"] == 10 and state["next"] == ["s2"]
        out = await client.runs.wait(tid, "linear", input=None)
        assert out["n"] == 11


async def test_errors_and_wait_error_body(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        with pytest.raises(Exception, match="TypeError: boom"):
            await client.runs.wait(tid, "failing", input={"key": "k"})
        assert (await client.threads.get(tid))["status"] == "error"
        out = await client.runs.wait(tid, "failing", input={"key": "k"}, raise_error=False)
        assert out["__error__"]["error"] == "TypeError"
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.post(f"/threads/{tid}/runs", json={"assistant_id": "nope"})
            assert r.status_code == 404 and set(r.json()) == {"detail", "code"}
            r = await http.post("/threads/not-a-uuid/runs", json={"assistant_id": "linear"})
            assert r.status_code == 422 and r.json()["code"]
            r = await http.post(f"/threads/{tid}/runs", json={"assistant_id": "linear", "stream_mode": "bogus"})
            assert r.status_code == 422
            r = await http.post(f"/threads/{tid}/runs", json={"assistant_id": "linear", "feedback_keys": ["x"]})
            assert r.status_code == 501 and "feedback_keys" in r.json()["detail"]
            r = await http.post("/runs/wait", json={"assistant_id": "hitl", "command": {"resume": 1}})
            assert r.status_code == 400 and r.json()["code"] == "bad_request"  # as the official server
            r = await http.post(f"/threads/{tid}/runs", content=b"{not json")
            assert r.status_code in (400, 422)


async def test_multitask_reject_and_enqueue_via_sdk(database_url: str) -> None:
    async with live(database_url, GRAPHS, concurrency=4) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        first = await client.runs.create(tid, "slow", input={"n": 0})
        with pytest.raises(httpx.HTTPStatusError) as info:
            await client.runs.create(tid, "slow", input={"n": 0}, multitask_strategy="reject")
        assert info.value.response.status_code == 409
        second = await client.runs.create(tid, "slow", input={"n": 0}, multitask_strategy="enqueue")
        assert second["status"] == "pending"
        await client.runs.join(tid, second["run_id"])
        assert (await client.runs.get(tid, first["run_id"]))["status"] == "success"
        assert (await client.runs.get(tid, second["run_id"]))["status"] == "success"


async def test_cancel_and_stateless_wait(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        run = await client.runs.create(tid, "slow", input={"n": 0})
        await client.runs.cancel(tid, run["run_id"], wait=True)
        assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"
        out = await client.runs.wait(None, "linear", input={"n": 5, "trail": []})
        assert out == {"n": 8, "trail": ["s0", "s1", "s2"]}
        runs = await asyncio.gather(*(client.runs.wait(None, "linear", input={"n": i, "trail": []})
                                      for i in range(5)))
        assert [r["n"] for r in runs] == [3, 4, 5, 6, 7]


async def test_thread_created_with_supersteps_then_run(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        client = get_client(url=url, api_key=None)
        thread = await client.threads.create(
            graph_id="linear",
            supersteps=[{"updates": [{"values": {"n": 5, "trail": []}, "as_node": "__input__"}]},
                        {"updates": [{"values": {"n": 6, "trail": ["s0"]}, "as_node": "s0"}]}],
        )
        tid = thread["thread_id"]
        assert thread["status"] == "interrupted"
        state = await client.threads.get_state(tid)
        assert state["values"] == {"n": 6, "trail": ["s0"]} and state["next"] == ["s1"]
        out = await client.runs.wait(tid, "linear", input=None)
        assert out == {"n": 8, "trail": ["s0", "s1", "s2"]}
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.post("/threads", json={"supersteps": [{"updates": [{"values": {}}]}]})
            assert r.status_code == 422
            r = await http.put("/store/items", json={"namespace": ["a"], "key": "k", "value": {}, "index": ["x"]})
            assert r.status_code == 501 and "index" in r.json()["detail"]


async def test_batch_cancel_many_delete_if_not_exists_and_on_completion(database_url: str) -> None:
    async with live(database_url, GRAPHS, concurrency=4) as (url, _):
        client = get_client(url=url, api_key=None)
        batch = await client.runs.create_batch([
            {"assistant_id": "linear", "input": {"n": 0, "trail": []}},
            {"assistant_id": "linear", "input": {"n": 1, "trail": []}, "on_completion": "keep"},
        ])
        assert len(batch) == 2 and all(r["kwargs"]["temporary"] for r in batch)
        kept = batch[1]
        await client.runs.join(kept["thread_id"], kept["run_id"])
        assert (await client.threads.get(kept["thread_id"]))["values"]["n"] == 4  # on_completion=keep

        new_tid = "6d4f1f0e-4a5e-4a7c-9a4e-0c1b9b2f7a11"
        with pytest.raises(httpx.HTTPStatusError) as info:
            await client.runs.create(new_tid, "linear", input={"n": 0, "trail": []})
        assert info.value.response.status_code == 404
        run = await client.runs.create(new_tid, "linear", input={"n": 0, "trail": []}, if_not_exists="create")
        await client.runs.join(new_tid, run["run_id"])
        await client.runs.delete(new_tid, run["run_id"])
        with pytest.raises(httpx.HTTPStatusError) as info:
            await client.runs.get(new_tid, run["run_id"])
        assert info.value.response.status_code == 404

        tid = (await client.threads.create())["thread_id"]
        a = await client.runs.create(tid, "slow", input={"n": 0})
        b = await client.runs.create(tid, "slow", input={"n": 0}, multitask_strategy="enqueue")
        await client.runs.cancel_many(thread_id=tid, run_ids=[a["run_id"], b["run_id"]])
        assert {(await client.runs.get(tid, r["run_id"]))["status"] for r in (a, b)} == {"interrupted"}
        with pytest.raises(httpx.HTTPStatusError) as info:
            await client.runs.cancel_many(status="pending")
        assert info.value.response.status_code == 404


async def test_wait_with_on_disconnect_cancel(database_url: str) -> None:
    async with live(database_url, {**GRAPHS, "slow": G.slow(3.0)}) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        async with httpx.AsyncClient(base_url=url) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post(f"/threads/{tid}/runs/wait", timeout=1.0,
                                json={"assistant_id": "slow", "input": {"n": 0}, "on_disconnect": "cancel"})

        async def cancelled() -> bool:
            runs = await client.runs.list(tid)
            return bool(runs) and runs[0]["status"] == "interrupted"

        from tests.support import eventually

        await eventually(cancelled, within=10, what="run cancelled after the client went away")
