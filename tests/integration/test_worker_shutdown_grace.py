"""A worker told to stop lets the step it is running finish and commit (DURAGRAPH_SHUTDOWN_GRACE, default
30 s): the step is not run a second time by the next worker, and the run continues from it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TypedDict

from engine import END, START, StateGraph
from engine.durable.runs import RunRequest
from engine.durable.worker import run_worker
from tests.integration.engine_support import engine

STEP_SECONDS = 2.0


class State(TypedDict, total=False):
    slow: int
    done: bool


async def test_a_stopping_worker_finishes_its_step(database_url: str) -> None:
    grace = STEP_SECONDS * 5
    started = asyncio.Event()
    calls: list[float] = []

    async def slow(state: State) -> State:
        calls.append(time.monotonic())
        started.set()
        await asyncio.sleep(STEP_SECONDS)
        return {"slow": len(calls)}

    def after(state: State) -> State:
        return {"done": True}

    builder = StateGraph(State)
    builder.add_node("slow", slow)
    builder.add_node("after", after)
    builder.add_edge(START, "slow")
    builder.add_edge("slow", "after")
    builder.add_edge("after", END)
    graphs = {"slow_step": builder.compile()}

    async with engine(database_url, graphs, workers=0) as e:
        stop = asyncio.Event()
        first = asyncio.create_task(run_worker(database_url=database_url, graphs=graphs, stop=stop,  # type: ignore[arg-type]
                                               install_signal_handlers=False, stalled_after=3.0,
                                               reaper_interval=0.5, shutdown_grace=grace))
        run = await e.runs.create(RunRequest(assistant_id="slow_step", input={}))
        await asyncio.wait_for(started.wait(), 30)
        stop.set()
        await asyncio.wait_for(first, grace + 10)
        assert time.monotonic() - calls[0] >= STEP_SECONDS  # it waited for the step

        again = asyncio.Event()
        second = asyncio.create_task(run_worker(database_url=database_url, graphs=graphs, stop=again,  # type: ignore[arg-type]
                                                install_signal_handlers=False, stalled_after=3.0,
                                                reaper_interval=0.5))
        try:
            done = await e.runs.wait(uuid.UUID(run["run_id"]), 30)
        finally:
            again.set()
            await second
    assert done["status"] == "success", done
    assert len(calls) == 1  # committed before the first worker stopped: never run again
