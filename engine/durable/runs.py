"""The run service the API calls: create (with multitask strategies), get, list, cancel, wait, delete."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg

import sql
from engine.core.compiled import CompiledGraph
from engine.durable import idempotency, jobs, lifecycle, metrics, tracing, values
from engine.durable.db import jsonb_text
from engine.durable.idempotency import IdempotencyKey
from engine.durable.ids import uuid7
from engine.durable.runtime import Runtime
from engine.durable.sizes import check_stored
from engine.durable.waiter import TERMINAL, RunWaiter
from engine.errors import BadRequest, Conflict, InvalidInput, NotFound, TooMany

Q = sql.queries("runs.sql")
SYSTEM_ASSISTANT_NS = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")

MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
RESERVED_CONFIGURABLE = frozenset({"thread_id", "run_id", "assistant_id", "graph_id", "checkpoint_id", "task_id",
                                   "langgraph_auth_user", "langgraph_auth_user_id", "langgraph_auth_permissions"})


def system_assistant_id(graph_id: str) -> uuid.UUID:
    return uuid.uuid5(SYSTEM_ASSISTANT_NS, graph_id)


@dataclass
class RunRequest:
    assistant_id: str
    thread_id: uuid.UUID | None = None  # None: a stateless run on a temporary thread
    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    interrupt_before: Sequence[str] | Literal["*"] | None = None
    interrupt_after: Sequence[str] | Literal["*"] | None = None
    checkpoint_id: uuid.UUID | None = None
    multitask_strategy: MultitaskStrategy = "enqueue"
    if_not_exists: Literal["reject", "create"] = "reject"
    after_seconds: float = 0
    webhook: str | None = None
    on_completion: Literal["delete", "keep"] = "delete"
    stream_mode: list[str] = field(default_factory=lambda: ["values"])
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    # the authenticated caller as nodes see it in config["configurable"] (langgraph_auth_user, ...)
    auth: dict[str, Any] = field(default_factory=dict)


def run_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A run in LangGraph Platform field names."""
    return {
        "run_id": str(row["run_id"]),
        "thread_id": str(row["thread_id"]),
        "assistant_id": str(row["assistant_id"]),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat() if "updated_at" in row else row["created_at"].isoformat(),
        "status": row["status"],
        "metadata": row["metadata"],
        "kwargs": row["kwargs"],
        "multitask_strategy": row["multitask_strategy"],
    }


class RunService:
    def __init__(self, rt: Runtime, waiter: RunWaiter | None = None) -> None:
        self.rt = rt
        self._waiter = waiter

    @property
    def waiter(self) -> RunWaiter:
        if self._waiter is None:
            raise RuntimeError("this RunService was built without a RunWaiter: it cannot wait for runs")
        return self._waiter

    async def _resolve_assistant(self, conn: asyncpg.Connection, assistant_id: str) -> asyncpg.Record | dict[str, Any]:
        try:
            as_uuid: uuid.UUID | None = uuid.UUID(assistant_id)
        except ValueError:
            as_uuid = None
        row = await conn.fetchrow(Q["resolve_assistant"], as_uuid, assistant_id)
        if row is not None:
            return row
        if assistant_id in self.rt.graphs:
            return {"assistant_id": system_assistant_id(assistant_id), "graph_id": assistant_id, "config": {},
                    "context": {}, "metadata": {}}
        raise NotFound(
            f"Invalid assistant: '{assistant_id}'. Must be either an assistant id or a registered graph: "
            f"{sorted(self.rt.graphs)}"
        )

    async def create(self, req: RunRequest, key: IdempotencyKey | None = None) -> dict[str, Any]:
        """Create a run; with an idempotency `key`, a repeat of the request returns the run it created."""
        async with self.rt.pool.acquire() as conn, conn.transaction():
            return await idempotency.once(
                conn, key, lambda: self.create_in(conn, req), lambda run: {"run_id": run["run_id"]},
                lambda ids: self._existing(conn, ids["run_id"]),
            )

    async def create_batch(self, reqs: Sequence[RunRequest], key: IdempotencyKey | None = None
                           ) -> builtins.list[dict[str, Any]]:
        """Create several runs in one transaction: all of them or none."""

        async def create() -> builtins.list[dict[str, Any]]:
            return [await self.create_in(conn, req) for req in reqs]

        async def replay(ids: dict[str, Any]) -> builtins.list[dict[str, Any]]:
            return [await self._existing(conn, rid) for rid in ids["run_ids"]]

        async with self.rt.pool.acquire() as conn, conn.transaction():
            return await idempotency.once(conn, key, create, lambda runs: {"run_ids": [r["run_id"] for r in runs]},
                                          replay)

    async def _existing(self, conn: asyncpg.Connection, run_id: str) -> dict[str, Any]:
        row = await conn.fetchrow(Q["get_run"], uuid.UUID(run_id))
        if row is None:
            raise NotFound(f"Run {run_id}, created for this Idempotency-Key, no longer exists.")
        return run_json(row)

    async def create_in(self, conn: asyncpg.Connection, req: RunRequest) -> dict[str, Any]:
        """Create (and start, unless it must wait) a run inside the caller's transaction."""
        run_id = uuid7()
        reserved = RESERVED_CONFIGURABLE & set(req.config.get("configurable") or {})
        if reserved:
            raise InvalidInput(f"config.configurable may not set reserved keys: {sorted(reserved)}")
        if req.thread_id is None and req.command and "resume" in req.command:
            raise BadRequest("You must provide a thread_id when resuming.")
        assistant = await self._resolve_assistant(conn, req.assistant_id)
        graph_id = assistant["graph_id"]
        _check_breakpoints(self.rt.graph(graph_id), req)
        check_stored(jsonb_text(req.input), self.rt.state_bytes, "The run's input")
        check_stored(jsonb_text(req.command), self.rt.state_bytes, "The run's command")
        temporary = req.thread_id is None
        thread_id = req.thread_id or uuid7()
        if temporary:
            await conn.execute(Q["insert_thread"], thread_id, {"graph_id": graph_id})
        # LOCK ORDER (the same in creation, completion, cancel and promotion): a thread's run rows, in
        # run_id order, THEN the thread row; never wait for a run row while holding its thread. A step's
        # completion holds its run and then writes the thread (engine/durable/step.py); cancel locks the
        # runs it ends before settling their threads; promotion, holding the thread, takes the next run
        # with SKIP LOCKED (lifecycle.settle_thread). Here: the runs this request may have to cancel are
        # locked (waiting for a completion in flight) before the thread ...
        locked: set[uuid.UUID] = set()
        if req.multitask_strategy in ("interrupt", "rollback"):
            locked = {r["run_id"] for r in await conn.fetch(Q["active_runs_for_update"], thread_id)}
        thread = await conn.fetchrow(Q["lock_thread"], thread_id)
        if thread is None:
            if req.if_not_exists != "create":
                raise NotFound(f"Thread with ID {thread_id} not found.")
            await conn.execute(Q["insert_thread"], thread_id, {})
            thread = await conn.fetchrow(Q["lock_thread"], thread_id)
        if req.checkpoint_id is not None:
            if await conn.fetchrow(Q["thread_checkpoint"], thread_id, req.checkpoint_id) is None:
                raise NotFound(f"Checkpoint {req.checkpoint_id} not found on thread {thread_id}.")
        # ... and, with the thread held, the active runs are read again without waiting for any: runs
        # created while this request waited for the thread are seen (they committed while it was held),
        # and the ones to cancel are taken with NOWAIT (a busy one fails the transaction, retried whole)
        active = await conn.fetch(Q["active_runs"], thread_id)
        cancelled = False
        resuming = (req.command or {}).get("resume") is not None
        waiting = thread["status"] == "interrupted" or bool(thread["interrupts"])
        if resuming and not active and req.checkpoint_id is None and not waiting:
            # the interrupt this answers was answered already (two people resuming one approval: the
            # first one's run may even have finished by now): exactly one resume applies
            raise Conflict(f"Thread {thread_id} is not waiting at an interrupt (status: {thread['status']}): "
                           "nothing to resume; it may have been answered already.")
        if active:
            if req.multitask_strategy == "reject":
                raise Conflict("Thread is already running a task. Wait for it to finish or choose a different "
                               "multitask strategy.")
            if req.multitask_strategy in ("interrupt", "rollback"):
                newcomers = [a["run_id"] for a in active if a["run_id"] not in locked]
                if newcomers:
                    await conn.fetch(Q["lock_runs_nowait"], newcomers)
                for a in active:
                    await self._cancel_locked(conn, a["run_id"], req.multitask_strategy, promote=False)
                cancelled = bool(active)
                active = []
        waiting = sum(1 for a in active if a["status"] == "pending")
        limit = self.rt.pending_runs_per_thread
        if limit is not None and waiting >= limit:
            raise TooMany(f"Thread {thread_id} has {waiting} runs waiting, its limit "
                          "(DURAGRAPH_MAX_PENDING_RUNS_PER_THREAD); wait for some to finish")
        config = dict(assistant["config"] or {})
        config.update({k: v for k, v in req.config.items() if k != "configurable"})
        configurable = {**(assistant["config"] or {}).get("configurable", {}),
                        **(req.config.get("configurable") or {})}
        configurable.update(thread_id=str(thread_id), run_id=str(run_id), graph_id=graph_id,
                            assistant_id=str(assistant["assistant_id"]), **req.auth)
        config["configurable"] = configurable
        kwargs = {
            "input": req.input,
            "command": req.command,
            "config": config,
            "context": {**(assistant["context"] or {}), **req.context},
            "stream_mode": req.stream_mode,
            "interrupt_before": req.interrupt_before,
            "interrupt_after": req.interrupt_after,
            "webhook": req.webhook,
            "temporary": temporary,
            "subgraphs": req.stream_subgraphs,
            "resumable": req.stream_resumable,
            "checkpoint_id": str(req.checkpoint_id) if req.checkpoint_id else None,
            "on_completion": req.on_completion if temporary else None,
        }
        if tracing.enabled():
            resumes = []
            if req.command and "resume" in req.command:  # link the run this one resumes
                prev = await conn.fetchval(Q["previous_run_trace"], thread_id)
                resumes = [prev] if prev else []
            kwargs["otel"] = tracing.run_context(run_id=str(run_id), thread_id=str(thread_id), graph_id=graph_id,
                                                 resumes=resumes)
        metadata = {**req.metadata, "graph_id": graph_id, "assistant_id": str(assistant["assistant_id"])}
        # the run row, and the thread stamped with its graph and shown busy, in one round trip
        run = await conn.fetchrow(
            Q["insert_run"], run_id, thread_id, assistant["assistant_id"], graph_id, metadata, kwargs,
            req.multitask_strategy, temporary, req.webhook, max(0.0, req.after_seconds),
            {"graph_id": graph_id, "assistant_id": str(assistant["assistant_id"])},
        )
        out: Mapping[str, Any] = run
        if req.after_seconds > 0:
            await jobs.defer(conn, jobs.STEP_QUEUE, jobs.START_TASK, [{"run_id": str(run_id)}],
                             at=run["created_at"])
        elif not active:
            # the thread row read under its lock is current unless runs were cancelled just now (a
            # rollback moves its head)
            held = thread if not cancelled else None
            if await lifecycle.start_run(conn, self.rt, run, busy_thread=held):
                out = {**run, "status": "running"}  # (its timestamps are this transaction's: unchanged)
            else:
                out = await conn.fetchrow(Q["get_run"], run_id)  # it ended already: read how
        metrics.RUNS_CREATED.labels(graph_id).inc()  # (counted inside the caller's transaction: API, crons)
        return run_json(out)

    async def get(self, run_id: uuid.UUID, thread_id: uuid.UUID | None = None) -> dict[str, Any]:
        return run_json(await self._row(run_id, thread_id))

    async def _row(self, run_id: uuid.UUID, thread_id: uuid.UUID | None) -> asyncpg.Record:
        async with self.rt.pool.acquire() as conn:
            row = await conn.fetchrow(Q["get_run"], run_id)
        if row is None or (thread_id is not None and row["thread_id"] != thread_id):
            raise NotFound(f"Run {run_id} not found.")
        return row

    async def list(self, thread_id: uuid.UUID, *, limit: int = 10, offset: int = 0,
                   status: str | None = None) -> builtins.list[dict[str, Any]]:
        async with self.rt.pool.acquire() as conn:
            if await conn.fetchval(Q["thread_exists"], thread_id) is None:
                raise NotFound(f"Thread with ID {thread_id} not found.")
            rows = await conn.fetch(Q["list_runs"], thread_id, status, limit, offset)
        return [run_json(r) for r in rows]

    async def _cancel_locked(self, conn: asyncpg.Connection, run_id: uuid.UUID, action: str, *,
                             promote: bool = True) -> None:
        run = await conn.fetchrow(Q["lock_run"], run_id)
        if run is None or run["status"] not in ("pending", "running"):
            return
        if action != "rollback":
            # a cancelled run that was running leaves its thread interrupted (its checkpoint still has `next`)
            await lifecycle.end_run(conn, self.rt, run, "interrupted", thread_status="interrupted",
                                    cancel_action=action, promote=promote)
            return
        # rollback: as if the run never happened. Its steps stop, its checkpoints go (those it re-saved get
        # their document back), then the thread settles as it was before and the next queued run starts
        await lifecycle.end_run(conn, self.rt, run, "interrupted", thread_status="interrupted",
                                cancel_action=action, settle=False)
        await conn.execute(Q["restore_replaced_checkpoints"], run_id)
        await conn.execute(Q["delete_run_checkpoints"], run_id, run["thread_id"])
        await conn.execute(Q["delete_run_row"], run_id)
        await lifecycle.reset_thread_head(conn, run["thread_id"])
        await lifecycle.settle_thread(conn, self.rt, run["thread_id"], ran=False, thread_status="idle",
                                      promote=promote)

    async def cancel(self, run_ids: Sequence[uuid.UUID], *, action: str = "interrupt",
                     thread_id: uuid.UUID | None = None) -> None:
        if action not in ("interrupt", "rollback"):
            raise InvalidInput(f"action must be 'interrupt' or 'rollback', got {action!r}")
        for rid in run_ids:
            await self._row(rid, thread_id)
        async with self.rt.pool.acquire() as conn, conn.transaction():
            # the lock order (see create_in): every run to cancel, in run_id order, before any thread
            await conn.fetch(Q["lock_runs"], list(run_ids))
            for rid in sorted(run_ids):
                await self._cancel_locked(conn, rid, action)

    async def active_run_ids(self, *, thread_id: uuid.UUID | None, status: str) -> builtins.list[uuid.UUID]:
        statuses = ["pending", "running"] if status == "all" else [status]
        async with self.rt.pool.acquire() as conn:
            rows = await conn.fetch(Q["runs_by_status"], statuses, thread_id)
        return [r["run_id"] for r in rows]

    async def wait(self, run_id: uuid.UUID, timeout: float | None = None) -> dict[str, Any]:
        """Block until the run ends; returns the run row as JSON plus `error` and `output` (`{"values",
        "interrupts"}`, the values as Python objects: `codec.wire_dumps` shows them)."""
        row = await self.waiter.wait(run_id, timeout)
        if row is None:
            raise NotFound(f"Run {run_id} not found.")
        async with self.rt.pool.acquire() as conn:
            output = await values.run_output(conn, self.rt.graphs, row)
        return {**run_json(row), "output": output, "error": row["error"]}

    async def delete(self, run_id: uuid.UUID, thread_id: uuid.UUID) -> None:
        row = await self._row(run_id, thread_id)
        if row["status"] not in TERMINAL:
            raise Conflict(f"Run {run_id} is {row['status']}; cancel it before deleting it.")
        async with self.rt.pool.acquire() as conn:
            await conn.execute(Q["delete_run"], run_id, thread_id)


def _check_breakpoints(graph: CompiledGraph, req: RunRequest) -> None:
    """interrupt_before / interrupt_after must name nodes of the graph or its subgraphs (or be "*")."""
    if req.interrupt_before in (None, "*") and req.interrupt_after in (None, "*"):
        return
    nodes = graph.node_names()
    known = set(nodes)
    pending = list(graph.subgraphs().values())
    while pending:
        sub = pending.pop()
        known.update(sub.node_names())
        pending.extend(sub.subgraphs().values())
    for option, names in (("interrupt_before", req.interrupt_before), ("interrupt_after", req.interrupt_after)):
        if names is None or names == "*":
            continue
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInput(f"{option}: no node named {', '.join(map(repr, unknown))} in graph "
                               f"{graph.name!r}; its nodes are {nodes}")
