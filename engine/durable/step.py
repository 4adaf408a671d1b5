"""One node step as a durable job: run the node OUTSIDE any transaction, then commit its outcome in ONE
transaction with the run row locked; the last outcome of a superstep closes it (the barrier).

Completion is idempotent: a task delivered twice (worker crash after commit, reaper re-queue) finds its
row no longer `queued` and changes nothing. A completion that arrives after a cancel changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from engine.core.api import TaskOutcome, TaskSpec, barrier, run_task
from engine.core.errors import NodeTimeoutError, error_json
from engine.durable import events, lifecycle
from engine.durable.db import jsonb_text
from engine.durable.lifecycle import Q, append
from engine.durable.live import StepStreamWriter
from engine.durable.runtime import Runtime

log = logging.getLogger("duragraph.step")


def node_config(kwargs: dict[str, Any], run_id: uuid.UUID, thread_id: uuid.UUID, task_id: str) -> dict[str, Any]:
    config = dict(kwargs.get("config") or {})
    configurable = dict(config.get("configurable") or {})
    configurable.update(
        thread_id=str(thread_id),
        run_id=str(run_id),
        task_id=task_id,
        # stable across re-deliveries of this step: a key for the node's own side effects (invariant 4)
        idempotency_key=f"{run_id}:{task_id}",
    )
    config["configurable"] = configurable
    config["context"] = kwargs.get("context") or {}  # what a node's `runtime.context` reads
    return config


async def execute_step(rt: Runtime, run_id: uuid.UUID, task_id: str) -> None:
    """The body of the procrastinate step job."""
    async with rt.pool.acquire() as conn:
        row = await conn.fetchrow(Q["load_task"], run_id, task_id)
    if row is None or row["status"] != "queued" or row["run_status"] != "running":
        return  # already committed, cancelled, or the run is gone: nothing to do
    graph = rt.graph(row["graph_id"])
    spec = TaskSpec.from_json(row["spec"])
    node = graph.nodes[spec.name]
    policy = node.retry_policy
    config = node_config(row["kwargs"], run_id, row["thread_id"], task_id)
    # what the node streams (get_stream_writer()) becomes durable `custom` events, flushed before the result
    writer = StepStreamWriter(rt, run_id, row["thread_id"], task_id, spec.name, spec.step)
    attempt = 0
    while True:
        attempt += 1
        try:
            coro = run_task(graph, spec, row["checkpoint"], config=config, resume=row["resume"], stream_writer=writer)
            if node.timeout is not None:
                try:
                    outcome = await asyncio.wait_for(coro, node.timeout)
                except TimeoutError:
                    raise NodeTimeoutError(f"node {spec.name!r} timed out after {node.timeout}s") from None
            else:
                outcome = await coro
            break
        except Exception as exc:
            if policy is not None and policy.should_retry(exc, attempt):
                delay = policy.delay(attempt)
                log.info("node %s attempt %d failed (%s); retrying in %.2fs", spec.name, attempt, exc, delay)
                await asyncio.sleep(delay)
                continue
            log.warning("node %s failed after %d attempt(s)", spec.name, attempt, exc_info=True)
            outcome = TaskOutcome(status="error", writes=[], interrupts=[], error=error_json(exc))
            break
    await writer.close()
    await complete_step(rt, run_id, task_id, spec, outcome, attempt, checkpoint=row["checkpoint"])


async def complete_step(
    rt: Runtime, run_id: uuid.UUID, task_id: str, spec: TaskSpec, outcome: TaskOutcome, attempts: int,
    checkpoint: dict[str, Any] | None = None,
) -> bool:
    """ONE transaction: the task's outcome + events, and the barrier if it closes the superstep.
    Returns False when it was a no-op (duplicate delivery, run cancelled). `checkpoint` is the document
    the task ran against, when the caller has it (saves reading it again at the barrier)."""
    async with rt.pool.acquire() as conn, conn.transaction():
        run = await conn.fetchrow(Q["lock_run"], run_id)
        if run is None or run["status"] != "running":
            return False
        done = await conn.fetchrow(
            Q["complete_task_locked"], run_id, task_id, outcome.status, jsonb_text(outcome.to_json()), attempts
        )
        if done["done_checkpoint"] is None:
            return False
        result = events.Event("task_result", _task_result(spec, outcome))
        if done["still_open"]:
            await append(conn, rt, run, [result])
            return True
        outcomes = {r["task_id"]: (TaskSpec.from_json(r["spec"]), lifecycle._outcome_of(r)) for r in done["siblings"]}
        outcomes[task_id] = (spec, outcome)
        await close_step(conn, rt, run, done["done_checkpoint"], outcomes=outcomes, checkpoint=checkpoint,
                         first_events=[result])
        return True


def _task_result(spec: TaskSpec, outcome: TaskOutcome) -> dict[str, Any]:
    """The event of a committed task: enough to rebuild the superstep from events alone (replay)."""
    return {
        "id": spec.id,
        "name": spec.name,
        "step": spec.step,
        "path": spec.path,
        "triggers": spec.triggers,
        "send_arg": spec.send_arg,
        "status": outcome.status,
        "writes": outcome.writes,
        "interrupts": [i.to_json() for i in outcome.interrupts],
        "error": outcome.error,
    }


async def close_step(
    conn: Any,
    rt: Runtime,
    run: Any,
    checkpoint_id: uuid.UUID,
    *,
    outcomes: dict[str, tuple[TaskSpec, TaskOutcome]] | None = None,
    checkpoint: dict[str, Any] | None = None,
    first_events: list[events.Event] | None = None,
) -> None:
    """The barrier: every task of the superstep has an outcome; apply them through the core."""
    evs = list(first_events or [])
    if outcomes is None:
        rows = await conn.fetch(Q["step_tasks"], run["run_id"], checkpoint_id)
        outcomes = {r["task_id"]: (TaskSpec.from_json(r["spec"]), lifecycle._outcome_of(r)) for r in rows}
    failed = [o for _, o in outcomes.values() if o.status == "error"]
    if failed:
        await lifecycle.end_run(conn, rt, run, "error", error=failed[0].error, thread_status="error",
                                first_events=evs)
        return
    if checkpoint is None or checkpoint.get("id") != str(checkpoint_id):
        checkpoint = (await conn.fetchrow(Q["get_checkpoint"], checkpoint_id))["checkpoint"]
    graph = rt.graph(run["graph_id"])
    try:
        decision = barrier(graph, checkpoint, outcomes, lifecycle.run_options(run["kwargs"]))
    except Exception as exc:
        await lifecycle.end_run(conn, rt, run, "error", error=error_json(exc), thread_status="error",
                                first_events=evs)
        return
    await lifecycle.apply_decision(conn, rt, run, decision, base=checkpoint, pending=outcomes, first_events=evs)
