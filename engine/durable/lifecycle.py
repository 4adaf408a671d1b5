"""The run lifecycle, applied inside the caller's transaction: start a run, apply a decision of the
pure core (checkpoints -> tasks + jobs | interrupt | end), end a run and promote the next one.

Every function here expects an open transaction in which the run's row is locked (FOR UPDATE): that
lock serializes a run's completions, which is what makes sequence numbers gapless and the barrier run
exactly once.

Lock order, everywhere (creation, completion, cancel, promotion): run rows (several: in run_id order),
then their thread's row. Nothing waits for a run row while it holds the thread: promotion takes the
next queued run with SKIP LOCKED, and run creation reads the active runs without locking them once it
holds the thread (engine/durable/runs.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

import sql
from engine.core import codec
from engine.core.api import (
    Decision,
    Pending,
    RunOptions,
    TaskOutcome,
    TaskSpec,
    prepare_run,
    state_snapshot,
)
from engine.core.errors import error_json
from engine.core.records import DEFAULT_RECURSION_LIMIT
from engine.core.saver import CHANGES, storable
from engine.durable import blobs, events, jobs, metrics, values
from engine.durable.checkpoint_meta import stored_metadata
from engine.durable.db import jsonb_text
from engine.durable.results import StoredResult, appended_writes, stored_result
from engine.durable.runtime import Runtime
from engine.durable.sizes import check_stored
from engine.errors import StateTooLarge

Q = sql.queries("runs.sql")
log = logging.getLogger("duragraph.lifecycle")
TEMPORARY_THREAD_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class Enqueued:
    """The jobs a decision enqueued, and the checkpoint their steps run against; `claimed`: the one of
    them claimed for the worker that committed it (`apply_decision(claim_for=)`), which runs it next."""

    checkpoint: dict[str, Any]
    jobs: list[tuple[TaskSpec, int]]
    claimed: tuple[TaskSpec, int] | None = None
    step_tasks: int = 0  # the tasks of the new superstep, those kept from before included


def run_options(kwargs: Mapping[str, Any]) -> RunOptions:
    config = kwargs.get("config") or {}
    return RunOptions(
        interrupt_before=kwargs.get("interrupt_before"),
        interrupt_after=kwargs.get("interrupt_after"),
        recursion_limit=int(config.get("recursion_limit") or DEFAULT_RECURSION_LIMIT),
        config=config,
        context=kwargs.get("context") or {},
    )


def outcome_of(row: Mapping[str, Any]) -> TaskOutcome:
    """A task row's outcome (a task cancelled before it had one counts as failed)."""
    if row["outcome"] is None:
        return TaskOutcome(status="error", writes=[], interrupts=[], error={"type": "Cancelled", "message": ""})
    return TaskOutcome.from_json(row["outcome"])


async def pending_for_checkpoint(conn: asyncpg.Connection, checkpoint_id: uuid.UUID) -> Pending:
    """Outcomes already committed for the superstep planned from `checkpoint_id` (its pending writes)."""
    rows = await conn.fetch(Q["latest_tasks_for_checkpoint"], checkpoint_id)
    return {r["task_id"]: (TaskSpec.from_json(r["spec"]), outcome_of(r)) for r in rows}


def interrupts_by_task(pending: Pending) -> dict[str, list[dict[str, Any]]]:
    return {
        tid: [i.to_json() for i in outcome.interrupts]
        for tid, (_, outcome) in pending.items()
        if outcome.status == "interrupted" and outcome.interrupts
    }


def _checkpoint_event(graph: Any, cp: dict[str, Any], parent_id: str | None,
                      view: Mapping[str, Any] | None = None, results: Pending | None = None) -> dict[str, Any]:
    """A new checkpoint's event. It carries what the checkpoint changed in the state (`changes`: keys set,
    items appended to a list, keys gone), not the whole state: a stream rebuilds the values from the run's
    base checkpoint, so an event's size does not grow with the thread's history. Items that are the writes
    of tasks in `results` (whose `task_result` events the run has before this one) are not repeated:
    `changes.append_writes` refers to those events instead (engine/durable/results.py)."""
    snap = view if view is not None and CHANGES in cp else state_snapshot(graph, cp, None,
                                                                           values=CHANGES not in cp)
    event: dict[str, Any] = {
        "checkpoint_id": cp["id"],
        "parent_checkpoint_id": parent_id,
        "step": cp["step"],
        "source": cp.get("source", "loop"),
        "next": snap["next"],
        "tasks": snap["tasks"],
    }
    changes = cp.get(CHANGES)
    if changes is None:
        event["values"] = snap["values"]
        return event
    keys = set(graph.state_keys)
    appended = {k: c[1] for k, c in changes.items() if k in keys and c[0] == "append"}
    refs = {k: ref for k, items in appended.items()
            if (ref := appended_writes(graph, k, items, results)) is not None} if results else {}
    event["changes"] = {
        "set": {k: codec.to_wire(c[1]) for k, c in changes.items() if k in keys and c[0] == "set"},
        "append": {k: codec.to_wire(items) for k, items in appended.items() if k not in refs},
        "unset": [k for k, c in changes.items() if k in keys and c[0] == "unset"],
    }
    if refs:
        event["changes"]["append_writes"] = refs
    return event


async def start_run(conn: asyncpg.Connection, rt: Runtime, run: asyncpg.Record,
                    busy_thread: Mapping[str, Any] | None = None) -> bool:
    """Turn a locked pending run into a running one and apply its first decision. `busy_thread`: the
    thread's row when the caller holds its lock and has already shown it busy. Returns True when the run
    goes on running (its first steps are queued), False when it ended here already."""
    graph = rt.graph(run["graph_id"])
    kwargs: dict[str, Any] = run["kwargs"]
    thread = busy_thread or await conn.fetchrow(Q["lock_thread"], run["thread_id"])
    head_id = thread["checkpoint_id"] if thread else None
    base_id = kwargs.get("checkpoint_id") or head_id
    # time travel: starting from a checkpoint that is not the thread's head forks a new branch
    fork = base_id is not None and str(base_id) != str(head_id)
    base_row = await conn.fetchrow(Q["thread_checkpoint"], run["thread_id"], base_id) if base_id else None
    checkpoint = await blobs.resolve(conn, run["thread_id"], base_row["checkpoint"]) if base_row else None
    await conn.execute(Q["mark_running"], run["run_id"], base_row["checkpoint_id"] if base_row else None)
    if busy_thread is None:
        await conn.execute(Q["set_thread_status"], run["thread_id"], "busy")
    opts = run_options(kwargs)
    command = kwargs.get("command") or None
    pending: Pending = await pending_for_checkpoint(conn, base_row["checkpoint_id"]) if base_row else {}
    metadata_event = events.Event("metadata", {"run_id": str(run["run_id"]), "attempt": 1})
    try:
        decision = await prepare_run(
            graph, checkpoint, input=kwargs.get("input"), command=command, run_opts=opts, pending=pending, fork=fork,
            head_id=str(head_id) if head_id else None, thread_id=str(run["thread_id"]), store=rt.store,
        )
    except Exception as exc:  # an EngineError from the core (bad input / resume): the run fails cleanly
        await end_run(conn, rt, run, "error", error=error_json(exc), thread_status="error", ran=True,
                      first_events=[metadata_event])
        return False
    enqueued = await apply_decision(conn, rt, run, decision, base=checkpoint, pending=pending,
                                    first_events=[metadata_event])
    return enqueued is not None


async def append(conn: asyncpg.Connection, rt: Runtime, run: Mapping[str, Any], evs: Sequence[events.Event]) -> None:
    await events.append(
        conn, run_id=run["run_id"], thread_id=run["thread_id"], events=evs, subject_prefix=rt.subject_prefix
    )


async def apply_decision(
    conn: asyncpg.Connection,
    rt: Runtime,
    run: asyncpg.Record,
    decision: Decision,
    *,
    base: dict[str, Any] | None,
    pending: Pending | None = None,
    first_events: Sequence[events.Event] = (),
    claim_for: int | None = None,
    results: Pending | None = None,
) -> Enqueued | None:
    """Persist what the core decided, in the caller's transaction. Returns the jobs it enqueued; with
    `claim_for` (a procrastinate worker id), the first of them is claimed for that worker. `results`: the
    outcomes the decision applied whose `task_result` events the run has (or gets before its checkpoints')."""
    graph = rt.graph(run["graph_id"])
    evs = list(first_events)
    head = base
    ids: list[uuid.UUID] = []
    parents: list[uuid.UUID | None] = []
    steps: list[int] = []
    docs: list[str | None] = []
    metas: list[str | None] = []
    for cp in decision.checkpoints:
        parent = cp.get("parent_id")
        ids.append(uuid.UUID(cp["id"]))
        parents.append(uuid.UUID(parent) if parent else None)
        steps.append(int(cp["step"]))
        docs.append(jsonb_text(storable(cp)))
        metas.append(jsonb_text(stored_metadata(
            {"source": cp.get("source", "loop"), "step": int(cp["step"]), "parents": {},
             "run_id": str(run["run_id"]), "thread_id": str(run["thread_id"]), "graph_id": run["graph_id"],
             "assistant_id": str(run["assistant_id"]), **(run["metadata"] or {})},
            step=int(cp["step"]), run_id=run["run_id"], thread_id=run["thread_id"])))
        if base is None or cp["id"] != base["id"]:  # a re-saved checkpoint (resume) is not news
            evs.append(events.Event("checkpoint", _checkpoint_event(graph, cp, parent, decision.views.get(cp["id"]),
                                                                 results)))
        head = cp
    assert head is not None, "a decision without any checkpoint to stand on"
    blob_columns = blobs.columns(decision.checkpoints)
    try:
        check_stored([*docs, *blobs.serialized_sizes(decision.checkpoints)], rt.state_bytes,
                     f"The state after step {steps[-1] if steps else 0}")
    except StateTooLarge as exc:
        # nothing of this decision is stored: the run ends error, the thread's head stays where it was
        log.warning("run %s: %s", run["run_id"], exc.detail)
        await end_run(conn, rt, run, "error", error=exc.to_json(), thread_status="error", ran=True,
                      first_events=first_events)
        return None
    head_id = uuid.UUID(head["id"])
    continuing = decision.kind == "continue"
    step_cp = decision.checkpoint or head
    rows = TaskRows.empty()
    if continuing:
        # a resumed superstep's finished tasks are not run again; LangGraph reports their writes as cached
        # (and their new rows refer to these events for their writes)
        cached = {tid: stored_result(spec, outcome, cached=True) for tid, (spec, outcome) in decision.kept.items()
                  if outcome.status == "success"}
        evs.extend(c.event for c in cached.values())
        rows = _task_rows(run, decision.tasks, decision.resume, decision.kept, cached)
        for t in decision.tasks:
            evs.append(events.Event("task_start", {"id": t.id, "name": t.name, "step": t.step,
                                                   "triggers": list(t.triggers), "input": t.send_arg}))
    # a run that ends appends its events with its `end` event (end_run); one that goes on, here
    step_events = evs if continuing else []
    # thread.interrupts lists interrupt() calls by task; a breakpoint (before/after) has none
    interrupts = interrupts_by_task(decision.outcomes or pending or {}) if decision.kind == "interrupted" else {}
    blobs.remember(run["thread_id"], decision.checkpoints)
    deferred = await conn.fetch(
        Q["persist_decision"], run["run_id"], run["thread_id"], ids, parents, steps, docs, metas, head_id,
        steps[-1] if steps else None, uuid.UUID(step_cp["id"]), *rows.columns(),
        jobs.STEP_QUEUE, jobs.STEP_TASK, events.ids(step_events), rows.outcomes,
        [e.event for e in step_events], [jsonb_text(e.data) for e in step_events],
        rt.subject_prefix, interrupts,
        *blob_columns, claim_for, rows.result_events,
    )
    if continuing:
        if not decision.tasks:
            # every task of the step already has its outcome (kept from before): close the step now
            from engine.durable.step import close_step

            return await close_step(conn, rt, run, uuid.UUID(step_cp["id"]), claim_for=claim_for)
        jobs_of = [(rows.specs[r["ordinal"] - 1], r["job_id"]) for r in deferred]
        claimed = next((job for job, r in zip(jobs_of, deferred, strict=True) if r["claimed"]), None)
        return Enqueued(checkpoint=step_cp, jobs=jobs_of, claimed=claimed, step_tasks=len(rows.specs))

    if decision.kind == "interrupted":
        # only interrupt() calls are reported as __interrupt__ (not interrupt_before/after breakpoints)
        node_interrupts = decision.interrupts if decision.reason == "node" else []
        output = values.output_ref(head["id"], interrupts=[i.to_json() for i in node_interrupts])
        breakpoint = decision.reason if decision.reason in ("before", "after") else None
        await end_run(conn, rt, run, "success", output=output, thread_status="interrupted", first_events=evs,
                      breakpoint=breakpoint)
    elif decision.kind == "done":
        await end_run(conn, rt, run, "success", output=values.output_ref(head["id"]), thread_status="idle",
                      first_events=evs)
    else:
        await end_run(conn, rt, run, "error", error=decision.error, thread_status="error", first_events=evs)
    return None


@dataclass
class TaskRows:
    """The task rows of a superstep as parallel columns (the `persist_decision` parameters)."""

    specs: list[TaskSpec]
    ids: list[str]
    steps: list[int]
    names: list[str]
    spec_json: list[str | None]
    statuses: list[str]
    resumes: list[str | None]
    job_args: list[str | None]
    outcomes: list[str | None]
    result_events: list[uuid.UUID | None]

    @classmethod
    def empty(cls) -> TaskRows:
        return cls([], [], [], [], [], [], [], [], [], [])

    def columns(self) -> tuple[list[Any], ...]:
        return (self.ids, self.steps, self.names, self.spec_json, self.statuses, self.resumes, self.job_args)


def _task_rows(run: Mapping[str, Any], tasks: Sequence[TaskSpec], resume: Mapping[str, list[Any]],
               kept: Pending, cached: Mapping[str, StoredResult]) -> TaskRows:
    """The step's tasks to run (each gets a job) and the outcomes kept from before (already done; with
    their writes in their `cached` result event when they have one)."""
    rows = TaskRows.empty()
    for t in [*tasks, *(spec for spec, _ in kept.values())]:
        outcome = kept[t.id][1] if t.id in kept else None
        result = cached.get(t.id)
        rows.specs.append(t)
        rows.ids.append(t.id)
        rows.steps.append(t.step)
        rows.names.append(t.name)
        rows.spec_json.append(jsonb_text(t.to_json()))
        rows.statuses.append(outcome.status if outcome is not None else "queued")
        rows.resumes.append(jsonb_text(resume[t.id]) if t.id in resume else None)
        rows.outcomes.append(result.row if result is not None else
                             jsonb_text(outcome.to_json()) if outcome is not None else None)
        rows.result_events.append(result.event_id if result is not None else None)
        rows.job_args.append(None if outcome is not None else
                             jsonb_text({"run_id": str(run["run_id"]), "task_id": t.id}))
    return rows


async def end_run(
    conn: asyncpg.Connection,
    rt: Runtime,
    run: Mapping[str, Any],
    status: str,
    *,
    error: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
    thread_status: str,
    cancel_action: str | None = None,
    promote: bool = True,
    first_events: Sequence[events.Event] = (),
    ran: bool | None = None,
    settle: bool = True,
    breakpoint: str | None = None,
) -> None:
    """Close a locked run: final status, drop its open steps, end event, webhook; then (`settle`) the
    thread: its next queued run starts, or its status settles. `ran` says whether the run got to run
    (default: it was `running` when locked); `thread_status` is what it leaves the thread in if so."""
    if ran is None:
        ran = run["status"] == "running"
    run_id, thread_id = run["run_id"], run["thread_id"]
    end: dict[str, Any] = {"status": status}
    if breakpoint is not None:  # the run stopped at an interrupt_before / interrupt_after breakpoint
        end["breakpoint"] = breakpoint
    if error is not None:
        end["error"] = error
    evs = [*first_events, events.Event("end", end)]
    # open steps dropped, final status, last events + outbox, waiters woken: one round trip
    await conn.execute(Q["finish_run"], run_id, status, error, output, cancel_action, events.ids(evs),
                       [e.event for e in evs], [jsonb_text(e.data) for e in evs],
                       rt.subject_prefix)
    metrics.RUNS_FINISHED.labels(run.get("graph_id") or "", status).inc()  # (counted before the commit)
    if run.get("webhook"):
        await conn.execute(Q["insert_webhook"], run_id, run["webhook"])
        await jobs.defer(conn, jobs.WEBHOOK_QUEUE, jobs.WEBHOOK_TASK, [{"run_id": str(run_id)}])
    kwargs = run.get("kwargs") or {}
    if run.get("temporary") and kwargs.get("on_completion", "delete") == "delete":
        # a stateless run's thread goes away once its result had time to be read (wait/join)
        await jobs.defer(conn, jobs.STEP_QUEUE, jobs.DELETE_THREAD_TASK, [{"thread_id": str(thread_id)}],
                         at=now() + dt.timedelta(seconds=TEMPORARY_THREAD_GRACE_SECONDS))
    if settle:
        await settle_thread(conn, rt, thread_id, ran=ran, thread_status=thread_status, promote=promote)


async def settle_thread(conn: asyncpg.Connection, rt: Runtime, thread_id: uuid.UUID, *, ran: bool,
                        thread_status: str, promote: bool = True) -> None:
    """After a run ended: a run that ran settles the thread's status; then the next queued run starts,
    or the thread shows `busy` (runs still waiting) or its settled status. A run that never started
    (a queued run cancelled) leaves a thread that another run is running alone."""
    nxt = await conn.fetchval(Q["settle_thread_after_run"], thread_id, ran, thread_status, promote)
    if nxt is not None:
        await start_run(conn, rt, await conn.fetchrow(Q["lock_run"], nxt))


async def reset_thread_head(conn: asyncpg.Connection, thread_id: uuid.UUID) -> None:
    """After a rollback: the thread's head is its newest remaining checkpoint again."""
    row = await conn.fetchrow(Q["newest_checkpoint"], thread_id)
    if row is None:
        await conn.execute(Q["set_thread_head"], thread_id, None, {})
        return
    pending = await pending_for_checkpoint(conn, row["checkpoint_id"])
    await conn.execute(Q["set_thread_head"], thread_id, row["checkpoint_id"], interrupts_by_task(pending))


async def start_due_run(conn: asyncpg.Connection, rt: Runtime, run_id: uuid.UUID) -> None:
    """A delayed run became due: start it unless it was cancelled or its thread is busy (then the
    running run's end promotes it)."""
    run = await conn.fetchrow(Q["lock_run"], run_id)
    if run is None or run["status"] != "pending":
        return
    await conn.fetchrow(Q["lock_thread"], run["thread_id"])
    if await conn.fetchval(Q["running_run_of_thread"], run["thread_id"]) is None:
        await start_run(conn, rt, run)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
