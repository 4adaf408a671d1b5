"""The graph of the database-outage scenario, loaded by the worker processes from a config file.

`a -> (b | c) -> d`: a superstep of two parallel tasks, so barriers are closed during outages too.
Every node execution appends `key, node, task id, pid, start, end` (wall clock) to
`<marker_dir>/runs.log`: the scenario checks that no task ran in two processes at the same time.
"""

from __future__ import annotations

import asyncio
import operator
import os
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from engine import END, START, StateGraph, get_config

LOG_NAME = "runs.log"


class Flow(TypedDict, total=False):
    marker_dir: str
    key: str
    pause: float
    trail: Annotated[list[str], operator.add]


def node(name: str) -> Any:
    async def run(state: Flow) -> dict[str, Any]:
        started = time.time()
        await asyncio.sleep(float(state.get("pause") or 0))
        task = get_config()["configurable"]["task_id"]
        line = f"{state['key']}\t{name}\t{task}\t{os.getpid()}\t{started:.6f}\t{time.time():.6f}\n"
        fd = os.open(Path(state["marker_dir"]) / LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())  # one small O_APPEND write: atomic among the worker processes
        finally:
            os.close(fd)
        return {"trail": [name]}

    run.__name__ = name
    return run


builder = StateGraph(Flow)
for name in ("a", "b", "c", "d"):
    builder.add_node(name, node(name))
builder.add_edge(START, "a")
builder.add_edge("a", "b")
builder.add_edge("a", "c")
builder.add_edge(["b", "c"], "d")
builder.add_edge("d", END)
flow = builder.compile()
