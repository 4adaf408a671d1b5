"""Thread state and history (LangGraph's StateSnapshot in Platform field names) and update_state."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

import sql
from engine.core.api import state_snapshot, update_state
from engine.core.errors import EngineError
from engine.core.saver import storable
from engine.durable import blobs
from engine.durable.checkpoint_meta import stored_metadata
from engine.durable.db import jsonb_text
from engine.durable.lifecycle import pending_for_checkpoint
from engine.durable.runtime import Runtime
from engine.durable.sizes import check_stored
from engine.errors import Conflict, InvalidInput, NotFound

Q = sql.queries("runs.sql")


def _ref(thread_id: uuid.UUID, checkpoint_id: Any) -> dict[str, Any] | None:
    if checkpoint_id is None:
        return None
    return {"thread_id": str(thread_id), "checkpoint_ns": "", "checkpoint_id": str(checkpoint_id)}


def _ref_ns(thread_id: uuid.UUID, ref: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not ref or ref.get("checkpoint_id") is None:
        return None
    return {"thread_id": str(thread_id), "checkpoint_ns": ref.get("checkpoint_ns") or "",
            "checkpoint_id": ref["checkpoint_id"]}


def _task(thread_id: uuid.UUID, t: Mapping[str, Any]) -> dict[str, Any]:
    """A task of a state in the SDK's shape; a subgraph task carries its subgraph's state."""
    nested = t.get("state")
    return {"id": t["id"], "name": t["name"], "path": t.get("path", []), "error": t.get("error"),
            "interrupts": t.get("interrupts", []),
            "checkpoint": _ref_ns(thread_id, nested["checkpoint"]) if nested else None,
            "state": _nested(thread_id, nested) if nested else None,
            "result": t.get("result")}


def _nested(thread_id: uuid.UUID, state: Mapping[str, Any]) -> dict[str, Any]:
    """A subgraph's state in ThreadState shape (its checkpoints live under its namespace)."""
    checkpoint = _ref_ns(thread_id, state.get("checkpoint"))
    parent = _ref_ns(thread_id, state.get("parent_checkpoint"))
    return {
        "values": state["values"],
        "next": state["next"],
        "tasks": [_task(thread_id, t) for t in state["tasks"]],
        "metadata": state.get("metadata") or {},
        "created_at": state.get("created_at"),
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": state["interrupts"],
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def find_subgraph_state(state: Mapping[str, Any], ns: str, checkpoint_id: str | None) -> dict[str, Any] | None:
    """The state of the subgraph namespace `ns` within a state read with subgraphs (depth first)."""
    for task in state.get("tasks") or []:
        nested = task.get("state")
        if not nested:
            continue
        ref = nested.get("checkpoint") or {}
        if ref.get("checkpoint_ns") == ns and checkpoint_id in (None, ref.get("checkpoint_id")):
            return dict(nested)
        found = find_subgraph_state(nested, ns, checkpoint_id)
        if found is not None:
            return found
    return None


def empty_state() -> dict[str, Any]:
    return {"values": {}, "next": [], "tasks": [], "metadata": {}, "created_at": None, "checkpoint": None,
            "parent_checkpoint": None, "interrupts": [], "checkpoint_id": None, "parent_checkpoint_id": None}


async def _with_errors(conn: asyncpg.Connection, snap: dict[str, Any], checkpoint_id: uuid.UUID,
                       thread_id: uuid.UUID) -> None:
    """A thread left in error: its head's tasks carry why (the task's own failure, else the error that
    ended the run, e.g. the recursion limit or a state over the size limit, raised at the barrier)."""
    failed = {r["task_id"]: (r["outcome"] or {}).get("error") for r in
              await conn.fetch(Q["failed_tasks_for_checkpoint"], checkpoint_id)}
    run_error = await conn.fetchval(Q["thread_last_run_error"], thread_id)
    for task in snap["tasks"]:
        if task.get("error") is None:
            error = failed.get(task["id"]) or run_error
            if error:
                task["error"] = {"type": error.get("type", "Error"), "message": error.get("message", "")}


class StateService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _graph_of(self, conn: asyncpg.Connection, thread_id: uuid.UUID) -> tuple[Any, asyncpg.Record]:
        thread = await conn.fetchrow(Q["thread_for_state"], thread_id)
        if thread is None:
            raise NotFound(f"Thread with ID {thread_id} not found.")
        return thread, thread

    async def snapshot(
        self, conn: asyncpg.Connection, row: Mapping[str, Any], graph_id: str, *, live: bool = True,
        subgraphs: bool = False,
    ) -> dict[str, Any]:
        """The state at a checkpoint. `live` (get_state) shows the writes of tasks that already finished in
        an open superstep applied; history (live=False) shows the checkpoint as saved, as LangGraph does,
        while its tasks still carry their interrupts and results."""
        graph = self.rt.graph(graph_id)
        pending = await pending_for_checkpoint(conn, row["checkpoint_id"])
        doc = await blobs.resolve(conn, row["thread_id"], row["checkpoint"])
        snap = state_snapshot(graph, doc, pending, subgraphs=subgraphs)
        if not live and pending:
            saved = state_snapshot(graph, doc, None)
            snap = {**snap, "values": saved["values"], "next": saved["next"]}
        tid = row["thread_id"]
        return {
            "values": snap["values"],
            "next": snap["next"],
            "tasks": [_task(tid, t) for t in snap["tasks"]],
            "metadata": row["metadata"],
            "created_at": row["created_at"].isoformat(),
            "checkpoint": _ref(tid, row["checkpoint_id"]),
            "parent_checkpoint": _ref(tid, row["parent_checkpoint_id"]),
            "interrupts": snap["interrupts"],
            "checkpoint_id": str(row["checkpoint_id"]),
            "parent_checkpoint_id": str(row["parent_checkpoint_id"]) if row["parent_checkpoint_id"] else None,
        }

    async def get(self, thread_id: uuid.UUID, checkpoint_id: uuid.UUID | None = None, *, subgraphs: bool = False,
                  checkpoint_ns: str | None = None, ns_checkpoint_id: str | None = None) -> dict[str, Any]:
        """The thread's state (at its head or `checkpoint_id`); with `checkpoint_ns`, the state of that subgraph
        namespace as kept with the head superstep's tasks (and `ns_checkpoint_id`, if given, must match)."""
        if checkpoint_ns:
            state = await self.get(thread_id, subgraphs=True)
            found = find_subgraph_state(state, checkpoint_ns, ns_checkpoint_id)
            if found is None:
                raise NotFound(f"No state for checkpoint_ns {checkpoint_ns!r} on thread {thread_id}.")
            return found
        async with self.rt.pool.acquire() as conn:
            thread, _ = await self._graph_of(conn, thread_id)
            cid = checkpoint_id or thread["checkpoint_id"]
            if cid is None or thread["graph_id"] is None:
                if checkpoint_id is not None:
                    raise NotFound(f"Checkpoint {checkpoint_id} not found on thread {thread_id}.")
                return empty_state()
            row = await conn.fetchrow(Q["thread_checkpoint"], thread_id, cid)
            if row is None:
                raise NotFound(f"Checkpoint {cid} not found on thread {thread_id}.")
            snap = await self.snapshot(conn, row, thread["graph_id"], subgraphs=subgraphs)
            if thread["status"] == "error" and cid == thread["checkpoint_id"]:
                await _with_errors(conn, snap, row["checkpoint_id"], thread_id)
            return snap

    async def history(
        self,
        thread_id: uuid.UUID,
        *,
        limit: int = 10,
        before: uuid.UUID | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        async with self.rt.pool.acquire() as conn:
            thread, _ = await self._graph_of(conn, thread_id)
            before_ts: dt.datetime | None = None
            if before is not None:
                b = await conn.fetchrow(Q["thread_checkpoint"], thread_id, before)
                if b is None:
                    raise NotFound(f"Checkpoint {before} not found on thread {thread_id}.")
                before_ts = b["created_at"]
            if thread["graph_id"] is None:
                return []
            rows = await conn.fetch(Q["history"], thread_id, before_ts, metadata or None, limit)
            return [await self.snapshot(conn, r, thread["graph_id"], live=False) for r in rows]

    async def update(
        self,
        thread_id: uuid.UUID,
        values: Any,
        *,
        as_node: str | None = None,
        checkpoint_id: uuid.UUID | None = None,
        graph_id: str | None = None,
    ) -> dict[str, Any]:
        """Write `values` as if `as_node` had produced them: a new checkpoint (source "update")."""
        async with self.rt.pool.acquire() as conn, conn.transaction():
            thread = await conn.fetchrow(Q["lock_thread"], thread_id)
            if thread is None:
                raise NotFound(f"Thread with ID {thread_id} not found.")
            if await conn.fetchval(Q["count_active_runs"], thread_id):
                raise Conflict(f"Thread {thread_id} has a run in progress; its state cannot be updated now.")
            gid = (await conn.fetchrow(Q["thread_for_state"], thread_id))["graph_id"] or graph_id
            if gid is None:
                raise InvalidInput("This thread has no graph yet: run it once (or pass graph_id) before update_state.")
            graph = self.rt.graph(gid)
            cid = checkpoint_id or thread["checkpoint_id"]
            base_row = await conn.fetchrow(Q["thread_checkpoint"], thread_id, cid) if cid else None
            if cid is not None and base_row is None:
                raise NotFound(f"Checkpoint {cid} not found on thread {thread_id}.")
            base = await blobs.resolve(conn, thread_id, base_row["checkpoint"]) if base_row else None
            pending = await pending_for_checkpoint(conn, base_row["checkpoint_id"]) if base_row else {}
            try:
                decision = await update_state(graph, base, values, as_node, pending=pending,
                                              thread_id=str(thread_id), store=self.rt.store)
            except EngineError as exc:
                raise InvalidInput(exc.message) from exc
            cps = decision.checkpoints
            check_stored([*(jsonb_text(storable(cp)) for cp in cps), *blobs.serialized_sizes(cps)], self.rt.state_bytes,
                         "The updated state")
            await blobs.insert(conn, thread_id, cps)
            blobs.remember(thread_id, cps)
            for cp in cps:
                parent = cp.get("parent_id")
                await conn.execute(
                    Q["insert_checkpoints"], [uuid.UUID(cp["id"])], [thread_id], [""],
                    [uuid.UUID(parent) if parent else None], [None], [int(cp["step"])], [jsonb_text(storable(cp))],
                    [jsonb_text(stored_metadata(
                        {"source": cp.get("source", "update"), "step": int(cp["step"]), "parents": {},
                         "graph_id": gid, "thread_id": str(thread_id)},
                        step=int(cp["step"]), run_id=None, thread_id=thread_id))],
                )
            head = cps[-1]
            snap = state_snapshot(graph, head, None, values=False)
            await conn.execute(Q["set_thread_head"], thread_id, uuid.UUID(head["id"]), {})
            await conn.execute(Q["settle_thread"], thread_id, "interrupted" if snap["next"] else "idle")
            await conn.execute(Q["set_thread_graph"], thread_id, gid)
        ref = _ref(thread_id, head["id"])
        return {"checkpoint": ref, "configurable": ref, "checkpoint_id": head["id"]}
