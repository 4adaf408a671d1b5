"""A long-running job that survives killed workers: N steps of a few seconds each, one durable step
per superstep, each calling an external service exactly once thanks to an idempotency key.

    START -> work -> work -> ... -> work (N times) -> finish -> END

Kill the worker in the middle of a step (`kill -9`): after `DURAGRAPH_STALLED_AFTER` seconds another
worker's reaper re-queues the step and it runs again (at-least-once execution). Committed steps are
never run again. The re-run gets the same `config["configurable"]["idempotency_key"]` as the killed
attempt, so the external service recognises the request and does not act twice.

The "external service" here is a directory (`ledger_dir`, on the worker's machine): `submit` files a
request under its idempotency key, atomically, and answers with the existing receipt when the key
was seen before, as payment and messaging APIs do with an `Idempotency-Key` header. Every attempt
is also appended to `attempts.log` there, so re-executions can be seen.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import operator
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

DEFAULT_LEDGER = str(Path(tempfile.gettempdir()) / "duragraph-long-running")


class Job(TypedDict, total=False):
    total_steps: int
    step_seconds: float
    ledger_dir: str
    done: Annotated[list[int], operator.add]
    receipts: Annotated[list[dict[str, Any]], operator.add]
    summary: str


def submit(ledger_dir: Path, idempotency_key: str, request: dict[str, Any]) -> dict[str, Any]:
    """File `request` once per idempotency key; a repeated key gets the first receipt back."""
    requests = ledger_dir / "requests"
    requests.mkdir(parents=True, exist_ok=True)
    receipt_id = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    path = requests / f"{receipt_id}.json"
    receipt = {"receipt": receipt_id, "idempotency_key": idempotency_key, **request}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return {**json.loads(path.read_text()), "replayed": True}
    with os.fdopen(fd, "w") as f:
        json.dump(receipt, f)
    return {**receipt, "replayed": False}


def record_attempt(ledger_dir: Path, step: int, idempotency_key: str) -> None:
    ledger_dir.mkdir(parents=True, exist_ok=True)
    line = f"{step}\t{os.getpid()}\t{idempotency_key}\n"
    fd = os.open(ledger_dir / "attempts.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one small O_APPEND write: safe with several workers
    finally:
        os.close(fd)


async def work(state: Job, config: RunnableConfig) -> dict[str, Any]:
    step = len(state.get("done", [])) + 1
    key = config["configurable"]["idempotency_key"]  # stable across re-runs of this step
    ledger = Path(state.get("ledger_dir") or DEFAULT_LEDGER)
    record_attempt(ledger, step, key)
    receipt = submit(ledger, key, {"step": step})
    await asyncio.sleep(float(state.get("step_seconds", 3.0)))  # the slow part: wait for the job to finish
    return {"done": [step], "receipts": [receipt]}


def next_step(state: Job) -> Literal["work", "finish"]:
    return "work" if len(state.get("done", [])) < int(state.get("total_steps", 5)) else "finish"


def finish(state: Job) -> dict[str, Any]:
    receipts = {r["receipt"] for r in state["receipts"]}
    return {"summary": f"{len(state['done'])} steps, {len(receipts)} distinct requests filed"}


builder = StateGraph(Job)
builder.add_node("work", work)
builder.add_node("finish", finish)
builder.add_edge(START, "work")
builder.add_conditional_edges("work", next_step, ["work", "finish"])
builder.add_edge("finish", END)

graph = builder.compile()
