"""Every run reaches a final status whatever fails underneath (issue 21): a step given up ends its run
`error`; the run timeout holds with no worker alive; deleting a busy thread cancels its runs, answers no
5xx and leaves no run or job behind."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, TypedDict

from langgraph_sdk import get_client

from duragraph.settings import Settings
from engine import END, START, StateGraph
from engine.durable.failures import STEP_ATTEMPTS
from engine.durable.runs import RunRequest
from tests.integration.api_support import live
from tests.integration.engine_support import engine
from tests.integration.server import serve_api
from tests.support import eventually, sql_rows


class Count(TypedDict, total=False):
    n: int
    limit: int


async def bump(state: Count) -> dict[str, Any]:
    return {"n": state.get("n", 0) + 1}


def two_steps() -> Any:
    g = StateGraph(Count)
    g.add_node("ok", bump)
    g.add_node("boom", bump)
    g.add_edge(START, "ok")
    g.add_edge("ok", "boom")
    g.add_edge("boom", END)
    return g.compile()


def looping() -> Any:
    g = StateGraph(Count)
    g.add_node("tick", bump)
    g.add_edge(START, "tick")
    g.add_conditional_edges("tick", lambda s: "tick" if s.get("n", 0) < s.get("limit", 0) else END)
    return g.compile()


# a failure in the commit path, not in the node: the database refuses the outcome of `boom`
INJECT = (
    "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'injected commit failure'; END $$",
    "CREATE TRIGGER refuse_boom BEFORE UPDATE ON tasks FOR EACH ROW "
    "WHEN (NEW.name = 'boom' AND NEW.status = 'success') EXECUTE FUNCTION refuse_boom()",
)


async def test_a_step_failing_in_the_commit_path_ends_its_run_error_within_the_retry_budget(
    database_url: str,
) -> None:
    for statement in INJECT:
        await sql_rows(database_url, statement)
    graphs = {"steps": two_steps()}
    async with live(database_url, graphs, workers=1) as (url, _):
        client = get_client(url=url, api_key=None)
        thread = await client.threads.create()
        started = time.monotonic()
        result = await client.runs.wait(thread["thread_id"], "steps", input={"n": 0}, raise_error=False)
        took = time.monotonic() - started
        assert isinstance(result, dict)
        err = result["__error__"]
        assert err["error"] == "RaiseError"
        assert "boom" in err["message"] and "injected commit failure" in err["message"]
        assert f"after {STEP_ATTEMPTS} attempt(s)" in err["message"]
        assert took < 20, took  # the budget: STEP_ATTEMPTS deliveries, 1 s and 2 s apart
        assert (await client.threads.get(thread["thread_id"]))["status"] == "error"
        [run] = await client.runs.list(thread["thread_id"])
        assert run["status"] == "error"
        # the job was marked failed in the transaction that ended the run: nothing left to run
        jobs = await sql_rows(database_url, "SELECT status FROM procrastinate_jobs WHERE args->>'run_id' = $1",
                              run["run_id"])
        assert [j["status"] for j in jobs if j["status"] != "aborted"] == ["failed"], jobs


async def test_the_run_timeout_ends_a_run_with_no_worker_alive(database_url: str) -> None:
    settings = Settings(database_url=database_url, run_timeout_seconds=1.0)
    graphs = {"steps": two_steps()}
    async with engine(database_url, graphs, workers=0) as e:
        with serve_api(database_url, graphs, settings=settings) as url:
            client = get_client(url=url, api_key=None)
            thread = await client.threads.create()
            run = await client.runs.create(thread["thread_id"], "steps", input={"n": 0})
            assert run["status"] in ("pending", "running")

            async def ended() -> Any:
                got = await client.runs.get(thread["thread_id"], run["run_id"])
                return got if got["status"] != "running" else None

            got = await eventually(ended, within=15, what="run ended by the timeout")
            assert got["status"] == "timeout"
            assert (await client.threads.get(thread["thread_id"]))["status"] == "error"
            # its queued first step was dropped with it: a worker starting later finds nothing to do
            jobs = await sql_rows(database_url, "SELECT id FROM procrastinate_jobs WHERE args->>'run_id' = $1 "
                                                "AND status IN ('todo', 'doing')", run["run_id"])
            assert jobs == []
            ends = [r["data"] for r in await e.events(run["run_id"]) if r["event"] == "end"]
            assert ends[-1]["status"] == "timeout" and "run timeout" in ends[-1]["error"]["message"]


async def test_deleting_threads_while_their_runs_commit_steps_answers_no_5xx_and_leaves_nothing(
    database_url: str,
) -> None:
    graphs = {"loop": looping()}
    async with live(database_url, graphs, workers=2, concurrency=4) as (url, e):
        client = get_client(url=url, api_key=None)
        for _ in range(3):  # rounds: each deletes busy threads while their runs commit step after step
            tids: list[uuid.UUID] = []
            runs: list[str] = []
            for _ in range(6):
                tid = await e.new_thread()
                run = await e.runs.create(RunRequest(assistant_id="loop", thread_id=tid, input={"limit": 100_000},
                                                     config={"recursion_limit": 1_000_000}))
                tids.append(tid)
                runs.append(run["run_id"])

            async def all_committing(runs: list[str] = runs) -> bool:
                rows = await sql_rows(database_url, "SELECT count(DISTINCT run_id) AS n FROM tasks "
                                      "WHERE run_id = ANY($1::uuid[]) AND status = 'success' AND step >= 3", runs)
                return int(rows[0]["n"]) == len(runs)

            await eventually(all_committing, within=30, what="every run committing steps")
            half = len(tids) // 2
            # deletes and a prune at once, racing the runs' commits (an SDK call raises on any 5xx)
            await asyncio.gather(*(client.threads.delete(str(t)) for t in tids[:half]),
                                 client.threads.prune([str(t) for t in tids[half:]]))
            left = await sql_rows(database_url, "SELECT run_id FROM runs WHERE run_id = ANY($1::uuid[])", runs)
            assert left == []

            async def no_jobs(runs: list[str] = runs) -> bool:
                rows = await sql_rows(database_url, "SELECT id FROM procrastinate_jobs WHERE args->>'run_id' = "
                                      "ANY($1::text[]) AND status IN ('todo', 'doing')", runs)
                return not rows

            await eventually(no_jobs, within=15, what="no job of a deleted run left to run")
            # the thread's events went with it; those not yet published (no relay runs here) moved into their
            # outbox rows, for the relay to publish to the runs' live streams, each run's `end` among them
            ends = await sql_rows(database_url, "SELECT e->'data'->>'status' AS s FROM "
                                  "(SELECT convert_from(payload, 'UTF8')::jsonb AS e FROM outbox "
                                  "WHERE run_id = ANY($1::uuid[])) o WHERE e->>'event' = 'end'", runs)
            assert sorted(r["s"] for r in ends) == ["interrupted"] * len(runs)


async def hang(state: Count) -> dict[str, Any]:
    await asyncio.sleep(60)
    return {"n": 1}


def hanging() -> Any:
    g = StateGraph(Count)
    g.add_node("first", bump)
    g.add_node("hang", hang)
    g.add_edge(START, "first")
    g.add_edge("first", "hang")  # claimed by the worker that commits `first`: aborted by the run's end
    g.add_edge("hang", END)
    return g.compile()


async def test_the_run_timeout_aborts_the_step_a_live_worker_runs(database_url: str) -> None:
    from engine.durable.worker import run_worker

    graphs = {"hang": hanging()}
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(database_url=database_url, graphs=graphs, concurrency=2,
                                            stalled_after=3.0, reaper_interval=0.5, run_timeout=1.0, stop=stop,
                                            install_signal_handlers=False))
    try:
        async with engine(database_url, graphs, workers=0) as e:
            tid = await e.new_thread()
            started = time.monotonic()
            run = await e.run("hang", tid, input={"n": 0}, timeout=20)
            assert run["status"] == "timeout" and time.monotonic() - started < 10
            assert "run timeout of 1s" in run["error"]["message"]

            async def hang_stopped() -> bool:
                rows = await sql_rows(database_url, "SELECT id FROM procrastinate_jobs WHERE args->>'run_id' = $1 "
                                                    "AND status IN ('todo', 'doing')", run["run_id"])
                return not rows

            await eventually(hang_stopped, within=10, what="the hanging step's job ended")
    finally:
        stop.set()
        await worker
