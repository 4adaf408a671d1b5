"""One node step as a durable job: run the node OUTSIDE any transaction, then commit its outcome in ONE
transaction with the run row locked; the last outcome of a superstep closes it (the barrier).

Completion is idempotent: a task delivered twice (worker crash after commit, reaper re-queue) finds its
row no longer `queued` and changes nothing. A completion that arrives after a cancel changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

import sql
from engine.core.api import TaskOutcome, TaskSpec, barrier, run_task
from engine.core.errors import Cancelled, error_json
from engine.durable import blobs, events, lifecycle, logcontext
from engine.durable.claims import Claims
from engine.durable.lifecycle import Q, append
from engine.durable.live import StepStreamWriter
from engine.durable.outage import TRANSIENT, Backoff, Outage
from engine.durable.results import StoredResult, stored_result
from engine.durable.runtime import Runtime
from engine.durable.telemetry import observe_step
from engine.errors import StateTooLarge

JQ = sql.queries("jobs.sql")
log = logging.getLogger("duragraph.step")
T = TypeVar("T")
CANCEL_POLL_SECONDS = 0.5
COMPLETIONS = Outage(log, "step completions")  # one line per outage for all the steps completing meanwhile


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
    return config


@dataclass(frozen=True)
class Step:
    """A step ready to run: loaded from its row, or claimed by this worker at its predecessor's commit."""

    run_id: uuid.UUID
    thread_id: uuid.UUID
    graph_id: str
    kwargs: dict[str, Any]
    spec: TaskSpec
    checkpoint: dict[str, Any]
    resume: list[Any] | None = None
    job_id: int | None = None  # set for a claimed step: its procrastinate job, finished at its commit
    queue_wait: float = 0.0  # seconds since it was enqueued (a claimed step never waits in the queue)
    alone: bool = False  # the only task of its superstep: no sibling can complete concurrently


async def load_step(rt: Runtime, run_id: uuid.UUID, task_id: str) -> Step | None:
    async with rt.pool.acquire() as conn:
        row = await conn.fetchrow(Q["load_task"], run_id, task_id)
        if row is None or row["status"] != "queued" or row["run_status"] != "running":
            return None  # already committed, cancelled, or the run is gone: nothing to do
        checkpoint = await blobs.resolve(conn, row["thread_id"], row["checkpoint"])
    return Step(run_id=run_id, thread_id=row["thread_id"], graph_id=row["graph_id"], kwargs=row["kwargs"],
                spec=TaskSpec.from_json(row["spec"]), checkpoint=checkpoint, resume=row["resume"],
                queue_wait=row["queue_wait"], alone=row["step_tasks"] == 1)


async def execute_step(rt: Runtime, run_id: uuid.UUID, task_id: str, *, worker_id: int | None = None,
                       claims: Claims | None = None, job_id: int | None = None) -> None:
    """The body of the procrastinate step job. With `worker_id`, each completion claims one of the steps it
    enqueues for this worker (in the same transaction) and runs it straight away: a chain of steps then
    costs no queue round trip per step. A claimed step's job is `doing` under this worker (and held in
    `claims` until it ends), so if the worker dies the reaper re-queues it like any other. A claimed step
    that fails outside its node goes back to the queue and is retried as a job of its own. `job_id`: the
    fetched job carrying this step; the step's commit ends it (`claims.ended`: procrastinate's own end of
    it, one more round trip and commit, is skipped)."""
    claims = claims if claims is not None else Claims()
    step = await load_step(rt, run_id, task_id)
    fetched = job_id
    while step is not None:
        current = step
        try:
            step = await _execute_one(rt, current, worker_id, claims, fetched)
            fetched = None
        except Exception:
            if current.job_id is None:
                raise
            log.warning("claimed step %s failed outside its node; back to the queue", current.spec.id,
                        exc_info=True)
            await _release_claimed(rt, current)
            return
        except BaseException:
            await _release_claimed(rt, current)
            raise
        finally:
            if current.job_id is not None:
                claims.drop(current.job_id)  # its job ended with its commit, its cancel or its release


async def _execute_one(rt: Runtime, current: Step, worker_id: int | None, claims: Claims,
                       fetched: int | None = None) -> Step | None:
    """Run one step and commit it; returns the successor claimed at its commit, if any. `fetched`: the
    fetched job carrying it, which its commit ends."""
    with logcontext.bound(run_id=current.run_id, thread_id=current.thread_id, task=current.spec.id,
                          node=current.spec.name, worker=worker_id), \
            observe_step(current.run_id, current.graph_id, current.spec, current.kwargs, current.queue_wait) as obs:
        try:
            with obs.running():
                outcome, attempts = await run_node(rt, current)
        except Cancelled:
            if current.job_id is not None:  # the run was cancelled under a claimed step: its job ends here
                async with rt.pool.acquire() as conn:
                    await conn.execute(JQ["finish_claimed_job"], current.job_id)
            return None
        obs.ran(outcome.status, attempts)
        with obs.committing():
            committed, nxt = await _complete(rt, current.run_id, current.spec, outcome, attempts,
                                             current.checkpoint, claim_for=worker_id,
                                             own_job=current.job_id if fetched is None else fetched, claims=claims,
                                             alone=current.alone)
        if fetched is not None:
            claims.ended.add(fetched)  # its end committed with the step (whether or not the step was news)
        obs.committed(committed)
        return nxt


async def _release_lost_claims(rt: Runtime, run_id: uuid.UUID, worker_id: int) -> None:
    async with rt.pool.acquire() as conn:
        for row in await conn.fetch(JQ["claimed_jobs_of_run"], run_id, worker_id):
            await conn.execute(JQ["release_job_of_worker"], row["id"], worker_id)


async def _release_claimed(rt: Runtime, step: Step) -> None:
    """A claimed step that cannot finish here (a failure, a shutdown) goes back to the queue at once,
    instead of waiting for this worker to be declared dead. If the database is unreachable now, the
    claims re-check (a live worker) or the reaper (a dead one) puts it back later."""
    if step.job_id is None:
        return
    try:
        async with rt.pool.acquire() as conn:
            await conn.execute(JQ["requeue_job"], step.job_id)
    except (*TRANSIENT, asyncpg.PostgresError) as exc:
        log.warning("could not release claimed step %s now (%s); it is put back once the database answers",
                    step.spec.id, exc)


async def run_node(rt: Runtime, step: Step) -> tuple[TaskOutcome, int]:
    """Run the node outside any transaction. LangGraph's runner applies the node's retry policy and
    timeout; an error that remains becomes the step's "error" outcome."""
    graph = rt.graph(step.graph_id)
    spec = step.spec
    opts = lifecycle.run_options(step.kwargs)
    config = node_config(step.kwargs, step.run_id, step.thread_id, spec.id)
    # what the node streams (get_stream_writer()) becomes durable `custom` events, flushed before the result
    writer = StepStreamWriter(rt, step.run_id, step.thread_id, spec.id, spec.name, spec.step)
    try:
        modes = step.kwargs.get("stream_mode") or []
        coro = run_task(graph, spec, step.checkpoint, config=config, resume=step.resume, stream_writer=writer,
                        store=rt.store, run_opts=opts, stream_modes=[modes] if isinstance(modes, str) else modes,
                        subgraphs=bool(step.kwargs.get("subgraphs")))
        if step.job_id is not None:
            # procrastinate only aborts the jobs it fetched itself: watch for a cancel of a claimed step
            coro = _abort_on_cancel(rt, step.run_id, coro)
        outcome = await coro
    except Exception as exc:
        log.warning("node %s failed", spec.name, exc_info=True)
        outcome = TaskOutcome(status="error", writes=[], interrupts=[], error=error_json(exc))
    await writer.close()
    return outcome, 1  # LangGraph's runner retries inside the one delivery of the step


async def _abort_on_cancel(rt: Runtime, run_id: uuid.UUID, coro: Coroutine[Any, Any, T]) -> T:
    task = asyncio.ensure_future(coro)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=CANCEL_POLL_SECONDS)
            if done:
                return task.result()
            try:
                async with rt.pool.acquire() as conn:
                    status = await conn.fetchval(Q["run_status"], run_id)
            except TRANSIENT:
                continue  # the database is unreachable: the node goes on; asked again at the next poll
            if status != "running":
                task.cancel()
                raise Cancelled(f"run {run_id} was cancelled")
    finally:
        if not task.done():
            task.cancel()


async def complete_step(
    rt: Runtime, run_id: uuid.UUID, task_id: str, spec: TaskSpec, outcome: TaskOutcome, attempts: int,
    checkpoint: dict[str, Any] | None = None,
) -> bool:
    """ONE transaction: the task's outcome + events, and the barrier if it closes the superstep.
    Returns False when it was a no-op (duplicate delivery, run cancelled). `checkpoint` is the document
    the task ran against, when the caller has it (saves reading it again at the barrier)."""
    assert spec.id == task_id
    committed, _ = await _complete(rt, run_id, spec, outcome, attempts, checkpoint)
    return committed


async def _complete(
    rt: Runtime,
    run_id: uuid.UUID,
    spec: TaskSpec,
    outcome: TaskOutcome,
    attempts: int,
    checkpoint: dict[str, Any] | None,
    *,
    claim_for: int | None = None,
    own_job: int | None = None,
    claims: Claims | None = None,
    alone: bool = False,
) -> tuple[bool, Step | None]:
    """`_complete_once`, retried on transient database failures (deadlock, serialization, a lost
    connection, a database outage of any length) with a capped backoff, for as long as this process
    lives: the transaction rolled back, so trying again is safe, and a completion that did commit makes
    the retry a no-op. The step's job stays `doing` under this worker meanwhile. Returns (committed
    here, the successor step claimed for `claim_for`)."""
    backoff = Backoff(0.05, 2.0)
    retried = False
    while True:
        try:
            committed, claimed = await _complete_once(rt, run_id, spec, outcome, attempts, checkpoint,
                                                      claim_for=claim_for, own_job=own_job, claims=claims,
                                                      alone=alone)
        except TRANSIENT as exc:
            COMPLETIONS.failed(exc)
            retried = True
            await asyncio.sleep(backoff.next())
            continue
        COMPLETIONS.ok()
        if retried and not committed and claim_for is not None:
            # the failed attempt may have committed after all (its acknowledgement lost) and claimed a
            # successor we do not know about: hand such claims back to the queue (at-least-once)
            await _release_lost_claims(rt, run_id, claim_for)
        return committed, claimed


async def _complete_once(
    rt: Runtime,
    run_id: uuid.UUID,
    spec: TaskSpec,
    outcome: TaskOutcome,
    attempts: int,
    checkpoint: dict[str, Any] | None,
    *,
    claim_for: int | None,
    own_job: int | None,
    claims: Claims | None = None,
    alone: bool = False,
) -> tuple[bool, Step | None]:
    tentative: list[int] = []
    try:
        return await _complete_tx(rt, run_id, spec, outcome, attempts, checkpoint, claim_for=claim_for,
                                  own_job=own_job, claims=claims, tentative=tentative, alone=alone)
    except BaseException:
        for job_id in tentative:  # the claim rolled back with the transaction (or its fate is unknown)
            if claims is not None:
                claims.drop(job_id)
        raise


async def _complete_tx(
    rt: Runtime,
    run_id: uuid.UUID,
    spec: TaskSpec,
    outcome: TaskOutcome,
    attempts: int,
    checkpoint: dict[str, Any] | None,
    *,
    claim_for: int | None,
    own_job: int | None,
    claims: Claims | None,
    tentative: list[int],
    alone: bool = False,
) -> tuple[bool, Step | None]:
    task_id = spec.id
    outcome, stored = _storable(spec, outcome, rt.state_bytes)
    result = stored.event
    async with rt.pool.acquire() as conn, conn.transaction():
        # the step's job ends with this commit, whatever it decides
        if alone:  # no sibling to see: the run's lock and the task's outcome in one statement
            run = await conn.fetchrow(Q["lock_run_completing_alone"], run_id, own_job, task_id, outcome.status,
                                      stored.row, attempts, stored.event_id)
            if run is None or run["status"] != "running" or run["done_checkpoint"] is None:
                return False, None
            done: Mapping[str, Any] = {"done_checkpoint": run["done_checkpoint"], "still_open": 0, "siblings": []}
        else:
            run = await conn.fetchrow(Q["lock_run_finishing_job"], run_id, own_job)
            if run is None or run["status"] != "running":
                return False, None
            done = await conn.fetchrow(Q["complete_task_locked"], run_id, task_id, outcome.status, stored.row,
                                       attempts, stored.event_id)
            if done["done_checkpoint"] is None:
                return False, None
        if done["still_open"]:
            await append(conn, rt, run, [result])
            return True, None
        outcomes = {r["task_id"]: (TaskSpec.from_json(r["spec"]), lifecycle.outcome_of(r)) for r in done["siblings"]}
        outcomes[task_id] = (spec, outcome)
        enqueued = await close_step(conn, rt, run, done["done_checkpoint"], outcomes=outcomes, checkpoint=checkpoint,
                                    first_events=[result], claim_for=claim_for)
        if enqueued is None or enqueued.claimed is None:
            return True, None
        spec_next, job_id = enqueued.claimed
        if claims is not None:
            claims.hold(job_id)  # before the commit: the claims re-check never sees it as orphaned
            tentative.append(job_id)
        return True, Step(run_id=run_id, thread_id=run["thread_id"], graph_id=run["graph_id"], kwargs=run["kwargs"],
                          spec=spec_next, checkpoint=enqueued.checkpoint, job_id=job_id,
                          alone=enqueued.step_tasks == 1)


def _storable(spec: TaskSpec, outcome: TaskOutcome, limit: int | None) -> tuple[TaskOutcome, StoredResult]:
    """The outcome as stored (its row and its result event), or, when its writes are over the state limit,
    the step's error instead."""
    try:
        return outcome, stored_result(spec, outcome, limit=limit, what=f"The result of node {spec.name!r}")
    except StateTooLarge as exc:
        log.warning("%s", exc.detail)
        outcome = TaskOutcome(status="error", writes=[], interrupts=[], error=exc.to_json())
        return outcome, stored_result(spec, outcome)


async def close_step(
    conn: Any,
    rt: Runtime,
    run: Any,
    checkpoint_id: uuid.UUID,
    *,
    outcomes: dict[str, tuple[TaskSpec, TaskOutcome]] | None = None,
    checkpoint: dict[str, Any] | None = None,
    first_events: list[events.Event] | None = None,
    claim_for: int | None = None,
) -> lifecycle.Enqueued | None:
    """The barrier: every task of the superstep has an outcome; apply them through the core. Returns the
    jobs it enqueued for the next superstep, if any (the first claimed for worker `claim_for`)."""
    evs = list(first_events or [])
    if outcomes is None:
        rows = await conn.fetch(Q["step_tasks"], run["run_id"], checkpoint_id)
        outcomes = {r["task_id"]: (TaskSpec.from_json(r["spec"]), lifecycle.outcome_of(r)) for r in rows}
    failed = [o for _, o in outcomes.values() if o.status == "error"]
    if failed:
        await lifecycle.end_run(conn, rt, run, "error", error=failed[0].error, thread_status="error",
                                first_events=evs)
        return None
    if checkpoint is None or checkpoint.get("id") != str(checkpoint_id):
        checkpoint = await blobs.resolve(conn, run["thread_id"],
                                         (await conn.fetchrow(Q["get_checkpoint"], checkpoint_id))["checkpoint"])
    graph = rt.graph(run["graph_id"])
    try:
        decision = await barrier(graph, checkpoint, outcomes, lifecycle.run_options(run["kwargs"]),
                                 thread_id=str(run["thread_id"]), store=rt.store)
    except Exception as exc:
        await lifecycle.end_run(conn, rt, run, "error", error=error_json(exc), thread_status="error",
                                first_events=evs)
        return None
    # every outcome here is of a task row of this run, whose result event the run has: its own, or the
    # `cached` one a resume reports a kept outcome with
    return await lifecycle.apply_decision(conn, rt, run, decision, base=checkpoint, pending=outcomes,
                                          first_events=evs, claim_for=claim_for, results=outcomes)
