"""What the dashboard (/ui) reads that the LangGraph Platform API has no call for: the overview's counts,
lean server-side pages of threads and runs, and a run's tasks with their inputs, outputs and timings.

Every function takes the caller's access scope (see engine.durable.access) and applies it to the thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

import sql
from engine.core import codec
from engine.core.compiled import as_compiled
from engine.core.pregel import checkpoint_values
from engine.durable import blobs
from engine.errors import NotFound

Q = sql.queries("dashboard.sql")

Scope = Mapping[str, Any] | None
RUN_STATUSES = ("pending", "running", "success", "error", "timeout", "interrupted")


def _scope(scope: Scope) -> dict[str, Any] | None:
    return dict(scope) if scope is not None else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start is not None and end is not None else None


async def overview(conn: asyncpg.Connection, *, stalled_after: float, scope: Scope) -> dict[str, Any]:
    """Runs by status over the last hour and day, threads by status, the queue and the live workers."""
    now = datetime.now(UTC)
    runs: dict[str, dict[str, int]] = {}
    for window, since in (("hour", now - timedelta(hours=1)), ("day", now - timedelta(days=1))):
        counts = {s: 0 for s in RUN_STATUSES}
        for row in await conn.fetch(Q["run_counts"], since, _scope(scope)):
            counts[row["status"]] = row["n"]
        runs[window] = counts
    threads = {s: 0 for s in ("idle", "busy", "interrupted", "error")}
    for row in await conn.fetch(Q["thread_counts"], _scope(scope)):
        threads[row["status"]] = row["n"]
    queue = await conn.fetchrow(Q["queue_depth"])
    return {
        "runs": runs,
        "threads": threads,
        "queue": {"waiting": queue["waiting"], "running": queue["running"]},
        "workers_alive": await conn.fetchval(Q["workers_alive"], stalled_after),
    }


def _thread_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"thread_id": str(row["thread_id"]), "status": row["status"], "metadata": row["metadata"],
            "graph_id": row["graph_id"], "created_at": row["created_at"], "updated_at": row["updated_at"],
            "interrupt_count": row["interrupt_count"]}


async def threads_page(conn: asyncpg.Connection, *, status: str | None, metadata: Mapping[str, Any] | None,
                       thread_id: UUID | None, limit: int, offset: int, scope: Scope) -> dict[str, Any]:
    """One page of threads, most recently active first, and how many match in all."""
    md = dict(metadata) if metadata else None
    rows = await conn.fetch(Q["threads_page"], status, md, thread_id, limit, offset, _scope(scope))
    total = await conn.fetchval(Q["threads_total"], status, md, thread_id, _scope(scope))
    return {"items": [_thread_row(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def _run_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_id": str(row["run_id"]), "thread_id": str(row["thread_id"]),
            "assistant_id": str(row["assistant_id"]), "graph_id": row["graph_id"], "status": row["status"],
            "created_at": row["created_at"], "updated_at": row["updated_at"], "ended_at": row["ended_at"],
            "duration": _seconds(row["created_at"], row["ended_at"]), "error": row["error"]}


async def runs_page(conn: asyncpg.Connection, *, status: str | None, thread_id: UUID | None, limit: int,
                    offset: int, scope: Scope) -> dict[str, Any]:
    """One page of runs, newest first, and how many match in all."""
    rows = await conn.fetch(Q["runs_page"], status, thread_id, limit, offset, _scope(scope))
    total = await conn.fetchval(Q["runs_total"], status, thread_id, _scope(scope))
    return {"items": [_run_row(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def _task_row(row: Mapping[str, Any], state: Any) -> dict[str, Any]:
    outcome: Mapping[str, Any] = row["outcome"] or {}
    writes = [(c, codec.to_wire(codec.decode(v))) for c, v in outcome.get("writes") or []
              if not str(c).startswith(("branch:", "__"))]
    return {
        "task_id": row["task_id"], "name": row["name"], "step": row["step"], "status": row["status"],
        "attempts": row["attempts"], "created_at": row["created_at"], "finished_at": row["finished_at"],
        "duration": _seconds(row["created_at"], row["finished_at"]),
        "checkpoint_id": str(row["checkpoint_id"]),
        # a Send task gets its argument; a pull task reads the state it was planned from
        "input": row["send_arg"] if row["send_arg"] is not None else state,
        "output": {str(channel): value for channel, value in writes} if outcome else None,
        "error": outcome.get("error"),
        "interrupts": outcome.get("interrupts") or [],
    }


async def run_detail(conn: asyncpg.Connection, run_id: UUID, *, scope: Scope,
                     graphs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A run with its error, timings and tasks (404 when missing or out of scope). A pull task's input is the
    state saved at the checkpoint it was planned from (read with the run's graph, when it is loaded)."""
    row = await conn.fetchrow(Q["run"], run_id, _scope(scope))
    if row is None:
        raise NotFound(f"Run {run_id} not found")
    tasks = await conn.fetch(Q["run_tasks"], run_id)
    graph = (graphs or {}).get(row["graph_id"])
    states: dict[Any, Any] = {}
    for t in tasks:
        if graph is not None and t["checkpoint"] is not None and t["checkpoint_id"] not in states:
            doc = await blobs.resolve(conn, t["thread_id"], t["checkpoint"])
            states[t["checkpoint_id"]] = checkpoint_values(as_compiled(graph, row["graph_id"]), doc)
    run = {**_run_row(row), "kwargs": row["kwargs"], "metadata": row["metadata"], "step": row["step"],
           "cancel_requested": row["cancel_requested"], "last_seq": row["last_seq"],
           "started_at": row["started_at"], "queued_for": _seconds(row["created_at"], row["started_at"])}
    return {"run": run, "tasks": [_task_row(t, states.get(t["checkpoint_id"])) for t in tasks]}
