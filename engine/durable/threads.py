"""Thread rows: create, read, update, delete, search, count, copy and prune.

Status, head checkpoint and interrupts are maintained by the run engine; this module only reads them. A
thread's values are its head checkpoint's (engine/durable/values.py), read with the graphs the caller
passes (a graph no longer loaded shows its raw channels). Functions take an asyncpg connection and return
plain dicts in LangGraph Platform field names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg

import sql
from engine.core import codec
from engine.core.api import CompiledGraph
from engine.durable import lifecycle
from engine.durable.ids import uuid7
from engine.durable.runtime import Runtime
from engine.durable.values import contains, thread_values
from engine.errors import Conflict, InvalidInput, NotFound

Q = sql.queries("threads.sql")
BLOBS_Q = sql.queries("blobs.sql")

STATUSES = ("idle", "busy", "interrupted", "error")
SORT_FIELDS = ("thread_id", "status", "created_at", "updated_at", "state_updated_at")
SELECT_FIELDS = ("thread_id", "created_at", "updated_at", "state_updated_at", "metadata", "config", "context",
                 "status", "values", "interrupts", "error", "ttl")
TTL_STRATEGIES = ("delete",)
MAX_TTL_MINUTES = 100 * 365 * 24 * 60  # a century: beyond that a TTL means "never"
DELETE_ATTEMPTS = 5


def ttl_minutes(ttl: Mapping[str, Any] | float | None) -> dict[str, Any] | None:
    """The stored form `{strategy, ttl_minutes}` of the SDK's `{"ttl": minutes, "strategy": "delete"}`."""
    if ttl is None:
        return None
    if isinstance(ttl, int | float) and not isinstance(ttl, bool):
        ttl = {"ttl": ttl}
    if not isinstance(ttl, Mapping):
        raise InvalidInput("Invalid ttl: expected {'ttl': <minutes>, 'strategy': 'delete'}")
    minutes = ttl.get("ttl", ttl.get("ttl_minutes"))
    strategy = ttl.get("strategy") or "delete"
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 < minutes <= MAX_TTL_MINUTES:
        raise InvalidInput(f"Invalid ttl: 'ttl' must be a number of minutes in (0, {MAX_TTL_MINUTES}], "
                           f"got {minutes!r}")
    if strategy not in TTL_STRATEGIES:
        raise InvalidInput(f"Invalid ttl strategy {strategy!r}: expected one of {list(TTL_STRATEGIES)}")
    return {"strategy": strategy, "ttl_minutes": minutes}


async def _rows(conn: asyncpg.Connection, graphs: Mapping[str, CompiledGraph] | None,
                records: Sequence[Any], *, with_values: bool = True) -> list[dict[str, Any]]:
    """Thread rows as the API shows them, values read at each head (`with_values`; else no "values")."""
    if not with_values:
        return [_row(r) for r in records]
    shown = await thread_values(conn, graphs or {}, records)
    return [_row(r, codec.to_wire(v)) for r, v in zip(records, shown, strict=True)]


def _row(record: Any, *state: Any) -> dict[str, Any]:
    out = dict(record)
    out.pop("total", None)
    out.pop("checkpoint_id", None)
    out.pop("graph_id", None)
    if state:
        out["values"] = state[0]
    ttl = out.get("ttl")
    if ttl is not None:
        out["ttl"] = {**ttl, "expires_at": out["updated_at"] + timedelta(minutes=float(ttl["ttl_minutes"]))}
    out["config"] = {}
    if out["status"] != "error" or out.get("error") is None:
        out.pop("error", None)
    return out


async def create(
    conn: asyncpg.Connection,
    *,
    thread_id: UUID | None = None,
    metadata: Mapping[str, Any] | None = None,
    if_exists: str = "raise",
    ttl: Mapping[str, Any] | float | None = None,
) -> dict[str, Any]:
    if if_exists not in ("raise", "do_nothing"):
        raise InvalidInput(f"Invalid if_exists {if_exists!r}: expected 'raise' or 'do_nothing'")
    tid = thread_id or uuid7()
    meta = dict(metadata or {})
    graph_id = meta.get("graph_id") if isinstance(meta.get("graph_id"), str) else None
    inserted = await conn.fetchrow(Q["insert"], tid, meta, graph_id, ttl_minutes(ttl))
    if inserted is not None:
        return _row(inserted, codec.to_wire(None))  # a new thread has no state (values None): no second read
    if if_exists != "do_nothing":
        raise Conflict(f"Thread with ID {tid} already exists")
    return await get(conn, tid)


async def get(conn: asyncpg.Connection, thread_id: UUID, *, scope: Mapping[str, Any] | None = None,
              graphs: Mapping[str, CompiledGraph] | None = None) -> dict[str, Any]:
    """The thread; one outside `scope` (the caller's access filter) is not found, like a missing one."""
    row = await conn.fetchrow(Q["get"], thread_id, _scope(scope))
    if row is None:
        raise NotFound(f"Thread with ID {thread_id} not found")
    return (await _rows(conn, graphs, [row]))[0]


async def update(
    conn: asyncpg.Connection,
    thread_id: UUID,
    *,
    metadata: Mapping[str, Any] | None = None,
    ttl: Mapping[str, Any] | float | None = None,
    scope: Mapping[str, Any] | None = None,
    graphs: Mapping[str, CompiledGraph] | None = None,
) -> dict[str, Any]:
    """Merge metadata (and replace the ttl when given)."""
    if await conn.fetchval(Q["update"], thread_id, dict(metadata or {}), ttl_minutes(ttl), _scope(scope)) is None:
        raise NotFound(f"Thread with ID {thread_id} not found")
    return await get(conn, thread_id, graphs=graphs)


async def delete(conn: asyncpg.Connection, thread_id: UUID, *, rt: Runtime,
                 scope: Mapping[str, Any] | None = None) -> None:
    """Delete the thread with its runs, checkpoints and crons (foreign keys cascade) and its events, its
    active runs cancelled first (see `_delete_threads`)."""
    if not await _delete_threads(conn, rt, [thread_id], scope):
        raise NotFound(f"Thread with ID {thread_id} not found")


async def _delete_threads(conn: asyncpg.Connection, rt: Runtime, thread_ids: Sequence[UUID],
                          scope: Mapping[str, Any] | None = None) -> list[UUID]:
    """Delete threads (those in `scope`); returns the ids deleted. Their active runs end `interrupted` first,
    as a cancel ends them: queued steps are dropped, running ones aborted (a step claimed by a worker stops
    when it sees its run ended), an `end` event tells their streams. Locks are taken in the one order used
    everywhere (a step's commit locks its run, then writes its thread): the threads' runs, then the threads.
    A run created meanwhile can still deadlock with its own first commit: that transaction is tried again."""
    for attempt in range(1, DELETE_ATTEMPTS + 1):
        try:
            async with conn.transaction():
                await conn.fetch(Q["lock_runs_of_threads"], list(thread_ids))
                deleted = [r["thread_id"] for r in await conn.fetch(Q["lock_threads"], list(thread_ids),
                                                                     _scope(scope))]
                for row in await conn.fetch(Q["active_runs_of_threads"], deleted):
                    await lifecycle.end_run(conn, rt, row, "interrupted", thread_status="interrupted",
                                            cancel_action="interrupt", settle=False)
                await conn.execute(Q["delete_locked"], deleted)
                await conn.execute(Q["delete_events_of_threads"], deleted)
                return deleted
        except asyncpg.DeadlockDetectedError:
            if attempt == DELETE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def search(
    conn: asyncpg.Connection,
    *,
    metadata: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    ids: Sequence[UUID] | None = None,
    status: str | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str = "created_at",
    sort_order: str = "desc",
    scope: Mapping[str, Any] | None = None,
    graphs: Mapping[str, CompiledGraph] | None = None,
    with_values: bool = True,
) -> tuple[list[dict[str, Any]], int]:
    """(threads, total matching) for one page; sort_by is one of SORT_FIELDS. `scope` (the caller's
    access filter as a metadata containment) limits the rows in the query itself. A `values` filter
    (JSON containment, as jsonb's `@>`) is applied to the values read at each candidate's head: it reads
    every thread the other filters admit. Without `with_values` (a caller that selects other fields),
    the threads come without their values, which are not read."""
    _check_status(status)
    args = (dict(metadata) if metadata else None, list(ids) if ids is not None else None, status)
    if values:
        candidates = await conn.fetch(Q["search"], *args, None, 0, sort_by, sort_order, _scope(scope))
        matching = [t for t in await _rows(conn, graphs, candidates) if contains(t["values"], values)]
        page = matching[offset:offset + limit]
        return (page if with_values else [{k: v for k, v in t.items() if k != "values"} for t in page]), len(matching)
    rows = await conn.fetch(Q["search"], *args, limit, offset, sort_by, sort_order, _scope(scope))
    if rows:
        total = int(rows[0]["total"])
    else:
        total = 0 if offset == 0 else await count(conn, metadata=metadata, status=status, ids=ids, scope=scope)
    return await _rows(conn, graphs, rows, with_values=with_values), total


async def count(
    conn: asyncpg.Connection,
    *,
    metadata: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    status: str | None = None,
    ids: Sequence[UUID] | None = None,
    scope: Mapping[str, Any] | None = None,
    graphs: Mapping[str, CompiledGraph] | None = None,
) -> int:
    _check_status(status)
    if values:
        return (await search(conn, metadata=metadata, values=values, status=status, ids=ids, scope=scope,
                             graphs=graphs, limit=0))[1]
    return int(await conn.fetchval(
        Q["count"], dict(metadata) if metadata else None, status, list(ids) if ids is not None else None,
        _scope(scope),
    ))


async def copy(conn: asyncpg.Connection, thread_id: UUID, *, scope: Mapping[str, Any] | None = None,
               graphs: Mapping[str, CompiledGraph] | None = None) -> dict[str, Any]:
    """A new thread with the same metadata, values and checkpoints (new checkpoint ids, same history)."""
    new_id = uuid7()
    async with conn.transaction():
        if await conn.fetchval(Q["copy_thread"], thread_id, new_id, _scope(scope)) is None:
            raise NotFound(f"Thread with ID {thread_id} not found")
        await conn.execute(Q["copy_checkpoints"], thread_id, new_id)
        await conn.execute(BLOBS_Q["copy_blobs"], thread_id, new_id)
    return await get(conn, new_id, graphs=graphs)


async def prune(conn: asyncpg.Connection, thread_ids: Sequence[UUID], *, rt: Runtime,
                strategy: str = "delete") -> int:
    """`delete` removes the threads (their active runs cancelled first, as `delete` does); `keep_latest`
    keeps only their latest checkpoint. Returns how many of the given threads existed."""
    ids = list(dict.fromkeys(thread_ids))
    if strategy == "delete":
        return len(await _delete_threads(conn, rt, ids))
    if strategy == "keep_latest":
        async with conn.transaction():
            existing = await conn.fetch(Q["existing"], ids)
            await conn.execute(Q["prune_keep_latest"], ids)
        return len(existing)
    raise InvalidInput(f"Invalid prune strategy {strategy!r}: expected 'delete' or 'keep_latest'")


async def delete_expired(conn: asyncpg.Connection) -> int:
    """Delete threads whose ttl ran out since their last update, with their events; for a periodic sweeper."""
    async with conn.transaction():
        gone = [r["thread_id"] for r in await conn.fetch(Q["delete_expired"])]
        if gone:
            await conn.execute(Q["delete_events_of_threads"], gone)
    return len(gone)


def _scope(scope: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(scope) if scope is not None else None


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"Invalid status {status!r}: expected one of {list(STATUSES)}")
