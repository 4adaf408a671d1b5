"""Graphs for the crash-recovery acceptance tests, loaded by the worker processes from a config file
(`{"graphs": {"chain": "<this file>:chain"}}`) and imported by the test itself for the RunService.

Every node records each execution (a side effect outside the database) by appending one line to
`<marker_dir>/starts.log`: `key, node, pid, idempotency key`. The tests count those lines: a node may
run more than once (at-least-once), but its committed result must appear once.

`victim` hangs when it runs in a worker started with DURAGRAPH_TEST_DOOMED=1, so the test can SIGKILL
that worker while the step is in flight; anywhere else it sleeps `rerun_sleep` seconds and finishes.
"""

from __future__ import annotations

import asyncio
import operator
import os
from pathlib import Path
from typing import Annotated, Any, TypedDict

from engine import END, START, StateGraph, get_config

DOOMED_ENV = "DURAGRAPH_TEST_DOOMED"
HANG_SECONDS = 600.0
LOG_NAME = "starts.log"


class Crash(TypedDict, total=False):
    marker_dir: str
    key: str
    rerun_sleep: float
    trail: Annotated[list[str], operator.add]


def record_start(state: Crash, name: str) -> None:
    idem = get_config()["configurable"]["idempotency_key"]
    line = f"{state['key']}\t{name}\t{os.getpid()}\t{idem}\n"
    # one small O_APPEND write: atomic with respect to the other workers appending to the same file
    fd = os.open(Path(state["marker_dir"]) / LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


async def first(state: Crash) -> dict[str, Any]:
    record_start(state, "first")
    return {"trail": ["first"]}


async def victim(state: Crash) -> dict[str, Any]:
    record_start(state, "victim")
    if os.environ.get(DOOMED_ENV) == "1":
        await asyncio.sleep(HANG_SECONDS)  # the test kills this process long before
    await asyncio.sleep(float(state.get("rerun_sleep") or 0))
    return {"trail": ["victim"]}


async def last(state: Crash) -> dict[str, Any]:
    record_start(state, "last")
    return {"trail": ["last"]}


def _chain() -> Any:
    g = StateGraph(Crash)
    g.add_node("first", first)
    g.add_node("victim", victim)
    g.add_node("last", last)
    g.add_edge(START, "first")
    g.add_edge("first", "victim")
    g.add_edge("victim", "last")
    g.add_edge("last", END)
    return g.compile()


chain = _chain()


def starts(marker_dir: Path) -> list[tuple[str, str, int, str]]:
    """Every recorded execution: (key, node, pid, idempotency key), in order."""
    path = marker_dir / LOG_NAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        key, node, pid, idem = line.split("\t")
        out.append((key, node, int(pid), idem))
    return out
