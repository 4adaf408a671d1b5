"""A task's writes are stored once, in its `task_result` event; its row refers to that event
(engine/durable/results.py, sql/migrations/0012). The engine reads them back where it needs a finished
task's writes: the last task of a superstep of several, a resume's pending writes (kept outcomes)."""

from __future__ import annotations

import uuid
from typing import Any

from engine import START, StateGraph
from engine.core import codec
from tests.integration import graphs as G
from tests.integration.engine_support import Engine, engine


async def _rows(e: Engine, run_id: Any) -> list[dict[str, Any]]:
    """The run's finished task rows, each with the event its row refers to."""
    rows = await e.pool.fetch(
        "SELECT t.task_id, t.name, t.status, t.outcome, t.result_event, e.run_id AS event_run, e.event, e.data"
        " FROM tasks t LEFT JOIN events e ON e.event_id = t.result_event"
        " WHERE t.run_id = $1 AND t.status <> 'queued' ORDER BY t.name, t.task_id", uuid.UUID(str(run_id)))
    return [dict(r) for r in rows]


def _writes(data: dict[str, Any]) -> dict[str, Any]:
    return {c: codec.decode(v) for c, v in data["writes"] if not c.startswith(("branch:", "__"))}


async def test_a_fanouts_writes_live_in_the_result_events_and_the_barrier_reads_them(database_url: str) -> None:
    async with engine(database_url, {"fan": G.fanout()}, concurrency=4) as e:
        run = await e.run("fan", await e.new_thread(), input={"topics": ["a", "b", "c"]})
        assert run["status"] == "success", run
        # the superstep of three `research` tasks closed with its siblings' writes read from their events
        assert run["output"]["values"]["summary"] == "about a | about b | about c"
        rows = await _rows(e, run["run_id"])
        assert [r["name"] for r in rows] == ["research"] * 3 + ["split", "summarize"]
        for r in rows:
            assert "writes" not in r["outcome"] and r["outcome"]["status"] == "success"
            assert r["event"] == "task_result" and r["event_run"] == uuid.UUID(run["run_id"])
            assert r["data"]["id"] == r["task_id"] and r["data"]["status"] == "success"
        assert sorted(_writes(r["data"])["results"][0] for r in rows[:3]) == ["about a", "about b", "about c"]
        assert _writes(rows[4]["data"]) == {"summary": "about a | about b | about c"}
        results = [ev for ev in await e.events(run["run_id"]) if ev["event"] == "task_result"]
        assert sorted(ev["data"]["id"] for ev in results) == sorted(r["task_id"] for r in rows)


async def test_a_resume_keeps_the_finished_siblings_writes_from_their_events(database_url: str) -> None:
    G.QUIET_CALLS.clear()
    async with engine(database_url, {"g": G.parallel_interrupts()}) as e:
        tid = await e.new_thread()
        first = await e.run("g", tid, input={"answers": []})
        rows = {r["name"]: r for r in await _rows(e, first["run_id"])}
        assert {n: r["status"] for n, r in rows.items()} == {"ask_a": "interrupted", "ask_b": "interrupted",
                                                              "quiet": "success"}
        assert all("writes" not in r["outcome"] for r in rows.values())
        assert _writes(rows["quiet"]["data"]) == {"answers": ["quiet"]}
        # the thread's pending writes (read from the events) are in its state: `quiet` done, two questions open
        state = await e.state.get(tid)
        assert sorted(state["next"]) == ["ask_a", "ask_b"]
        ids = {i["value"]: i["id"] for i in state["interrupts"]}
        run = await e.run("g", tid, command={"resume": {ids["question a"]: "yes", ids["question b"]: "no"}})
        assert run["status"] == "success", run["error"]
        assert sorted(run["output"]["values"]["answers"]) == ["a=yes", "b=no", "quiet"]
        assert len(G.QUIET_CALLS) == 1  # kept, not run again: its writes came from the first run's event
        # the kept outcome's row in the resumed run refers to the `cached` result event of that run
        kept = {r["name"]: r for r in await _rows(e, run["run_id"])}["quiet"]
        assert "writes" not in kept["outcome"] and kept["event_run"] == uuid.UUID(run["run_id"])
        assert kept["data"]["cached"] is True and _writes(kept["data"]) == {"answers": ["quiet"]}


def _writes_big() -> Any:
    def big(state: G.Linear) -> dict[str, Any]:
        return {"n": state["n"] + 1, "trail": ["x" * 20_000]}

    g = StateGraph(G.Linear)
    g.add_node("big", big)
    g.add_edge(START, "big")
    return g.compile()


async def test_a_task_row_does_not_grow_with_its_writes(database_url: str) -> None:
    async with engine(database_url, {"big": _writes_big()}) as e:
        run = await e.run("big", await e.new_thread(), input={"n": 0, "trail": []})
        assert run["status"] == "success", run
        assert run["output"]["values"]["trail"] == ["x" * 20_000]
        (row,) = await _rows(e, run["run_id"])
        assert _writes(row["data"])["trail"] == ["x" * 20_000]
        size = await e.pool.fetchval("SELECT pg_column_size(outcome) FROM tasks WHERE run_id = $1",
                                     uuid.UUID(run["run_id"]))
        assert size < 200
