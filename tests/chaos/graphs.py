"""The chaos harness's graphs, loaded by the worker processes from a config file.

Every node execution is recorded in a side-effect ledger outside the database: one small O_APPEND write
(atomic among processes) of `S` when the node starts and `E` when it returns, with the node's
idempotency key (`config["configurable"]["idempotency_key"]`), the run's key, the node, the pid and the
wall clock. A node may run more than once (at-least-once execution); the harness checks that every
re-execution held the same idempotency key and that the committed state has each write once.

- `chain`: four nodes, each sleeping a random 0-300 ms, appending its name to `log`.
- `fanout`: `plan` sends `width` items to `work` (`Send`), `join` sees the sorted results.
- `hitl`: `plan` -> `review` (interrupts for an answer) -> `publish`.
"""

from __future__ import annotations

import asyncio
import itertools
import operator
import os
import random
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from engine import END, START, Send, StateGraph, get_config, interrupt

LEDGER = "ledger.log"


class Chaos(TypedDict, total=False):
    ledger: str
    key: str
    width: int
    item: int
    log: Annotated[list[str], operator.add]
    results: Annotated[list[int], operator.add]
    joined: list[int]
    answer: str


def _record(state: Chaos, mark: str, node: str) -> None:
    idem = get_config()["configurable"]["idempotency_key"]
    line = f"{mark}\t{idem}\t{state['key']}\t{node}\t{os.getpid()}\t{time.time():.6f}\n"
    fd = os.open(Path(state["ledger"]) / LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


async def _work(state: Chaos, node: str) -> None:
    _record(state, "S", node)
    await asyncio.sleep(random.uniform(0.0, 0.3))
    _record(state, "E", node)


def _step(name: str) -> Any:
    async def run(state: Chaos) -> dict[str, Any]:
        await _work(state, name)
        return {"log": [name]}

    run.__name__ = name
    return run


CHAIN = ["n1", "n2", "n3", "n4"]


def _chain() -> Any:
    g = StateGraph(Chaos)
    for name in CHAIN:
        g.add_node(name, _step(name))
    g.add_edge(START, CHAIN[0])
    for a, b in itertools.pairwise(CHAIN):
        g.add_edge(a, b)
    g.add_edge(CHAIN[-1], END)
    return g.compile()


async def work(state: Chaos) -> dict[str, Any]:
    await _work(state, f"work{state['item']}")
    return {"results": [state["item"]]}


async def join(state: Chaos) -> dict[str, Any]:
    await _work(state, "join")
    return {"joined": sorted(state.get("results") or []), "log": ["join"]}


def _fan(state: Chaos) -> list[Send]:
    return [Send("work", {"ledger": state["ledger"], "key": state["key"], "item": i})
            for i in range(int(state["width"]))]


def _fanout() -> Any:
    g = StateGraph(Chaos)
    g.add_node("plan", _step("plan"))
    g.add_node("work", work)
    g.add_node("join", join)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", _fan, ["work"])
    g.add_edge("work", "join")
    g.add_edge("join", END)
    return g.compile()


async def review(state: Chaos) -> dict[str, Any]:
    answer = interrupt({"question": "publish?", "key": state["key"]})
    await _work(state, "review")  # recorded once answered: the pass that stops at the interrupt is no execution
    return {"log": ["review"], "answer": str(answer)}


def _hitl() -> Any:
    g = StateGraph(Chaos)
    g.add_node("plan", _step("plan"))
    g.add_node("review", review)
    g.add_node("publish", _step("publish"))
    g.add_edge(START, "plan")
    g.add_edge("plan", "review")
    g.add_edge("review", "publish")
    g.add_edge("publish", END)
    return g.compile()


chain = _chain()
fanout = _fanout()
hitl = _hitl()


def ledger(ledger_dir: Path) -> list[tuple[str, str, str, str, int, float]]:
    """Every ledger line: (mark, idempotency key, run key, node, pid, wall clock), in write order."""
    path = ledger_dir / LEDGER
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        mark, idem, key, node, pid, at = line.split("\t")
        out.append((mark, idem, key, node, int(pid), float(at)))
    return out
