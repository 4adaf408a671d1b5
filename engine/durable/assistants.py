"""Assistants: versioned configurations of a graph, one system assistant per graph.

Every write of an assistant is a new row in `assistant_versions`; `assistants` holds the current one.
Functions take an asyncpg connection and return plain dicts in LangGraph Platform field names.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from uuid import UUID, uuid4, uuid5

import asyncpg

import sql
from engine.errors import Conflict, InvalidInput, NotFound

Q = sql.queries("assistants.sql")

# LangGraph Platform's namespace for system assistant ids: uuid5(NAMESPACE, graph_id)
SYSTEM_NAMESPACE = UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
SORT_FIELDS = ("assistant_id", "graph_id", "name", "created_at", "updated_at")
SELECT_FIELDS = ("assistant_id", "graph_id", "name", "description", "config", "context", "created_at",
                 "updated_at", "metadata", "version")


def system_assistant_id(graph_id: str) -> UUID:
    return uuid5(SYSTEM_NAMESPACE, graph_id)


def resolve_id(value: str | UUID, graph_ids: Collection[str] = ()) -> UUID:
    """An assistant id from a UUID or a graph id (the graph's system assistant)."""
    if isinstance(value, UUID):
        return value
    if value in graph_ids:
        return system_assistant_id(value)
    try:
        return UUID(value)
    except (ValueError, TypeError):
        pass
    known = ", ".join(sorted(graph_ids))
    raise InvalidInput(
        f"Invalid assistant ID: {value!r} must be a UUID or one of the registered graphs: [{known}]"
    )


def require_graph(graph_id: str, graph_ids: Collection[str]) -> None:
    if graph_id not in graph_ids:
        raise NotFound(f"Graph '{graph_id}' not found. Expected one of: {sorted(graph_ids)}")


def _row(record: Any) -> dict[str, Any]:
    out = dict(record)
    out.pop("total", None)
    return out


async def ensure_system_assistants(conn: asyncpg.Connection, graph_ids: Collection[str]) -> None:
    """One assistant per graph, id uuid5(NAMESPACE, graph_id), metadata.created_by = system. Idempotent."""
    async with conn.transaction():
        for graph_id in sorted(graph_ids):
            aid = system_assistant_id(graph_id)
            if await conn.fetchval(Q["insert_system"], aid, graph_id) is not None:
                await conn.execute(Q["insert_version"], aid)


async def create(
    conn: asyncpg.Connection,
    *,
    graph_id: str,
    assistant_id: UUID | None = None,
    config: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    name: str | None = None,
    description: str | None = None,
    if_exists: str = "raise",
) -> dict[str, Any]:
    if if_exists not in ("raise", "do_nothing"):
        raise InvalidInput(f"Invalid if_exists {if_exists!r}: expected 'raise' or 'do_nothing'")
    aid = assistant_id or uuid4()
    async with conn.transaction():
        row = await conn.fetchrow(
            Q["insert"], aid, graph_id, name or "Untitled", description, dict(config or {}),
            dict(context or {}), dict(metadata or {}),
        )
        if row is None:
            if if_exists == "do_nothing":
                return await get(conn, aid)
            raise Conflict(f"Assistant {aid} already exists")
        await conn.execute(Q["insert_version"], aid)
    return _row(row)


async def get(conn: asyncpg.Connection, assistant_id: UUID) -> dict[str, Any]:
    row = await conn.fetchrow(Q["get"], assistant_id)
    if row is None:
        raise NotFound(f"Assistant {assistant_id} not found")
    return _row(row)


async def update(
    conn: asyncpg.Connection,
    assistant_id: UUID,
    *,
    graph_id: str | None = None,
    config: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    name: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Write a new version (max version + 1) and make it current; metadata is merged."""
    async with conn.transaction():
        cur = await conn.fetchrow(Q["lock"], assistant_id)
        if cur is None:
            raise NotFound(f"Assistant {assistant_id} not found")
        version = await conn.fetchval(Q["max_version"], assistant_id) + 1
        row = await conn.fetchrow(
            Q["update"], assistant_id,
            graph_id or cur["graph_id"],
            name if name is not None else cur["name"],
            description if description is not None else cur["description"],
            dict(config) if config is not None else cur["config"],
            dict(context) if context is not None else cur["context"],
            {**cur["metadata"], **(metadata or {})},
            version,
        )
        await conn.execute(Q["insert_version"], assistant_id)
    return _row(row)


async def delete(conn: asyncpg.Connection, assistant_id: UUID, *, delete_threads: bool = False) -> None:
    """Delete the assistant, its versions and crons; with delete_threads, also the threads whose
    metadata.assistant_id is this assistant (their runs and checkpoints cascade)."""
    async with conn.transaction():
        if await conn.fetchval(Q["delete"], assistant_id) is None:
            raise NotFound(f"Assistant {assistant_id} not found")
        await conn.execute(Q["delete_crons"], assistant_id)
        if delete_threads:
            await conn.execute(Q["delete_threads"], str(assistant_id))


async def search(
    conn: asyncpg.Connection,
    *,
    metadata: Mapping[str, Any] | None = None,
    graph_id: str | None = None,
    name: str | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str = "created_at",
    sort_order: str = "desc",
    scope: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """(assistants, total matching) for one page; sort_by is one of SORT_FIELDS; `scope` is the caller's
    access filter (a metadata containment) applied in the query."""
    meta = dict(metadata) if metadata else None
    scoped = dict(scope) if scope is not None else None
    rows = await conn.fetch(Q["search"], meta, graph_id, name, limit, offset, sort_by, sort_order, scoped)
    total = rows[0]["total"] if rows else await count(conn, metadata=meta, graph_id=graph_id, name=name,
                                                      scope=scoped)
    return [_row(r) for r in rows], int(total)


async def count(conn: asyncpg.Connection, *, metadata: Mapping[str, Any] | None = None,
                graph_id: str | None = None, name: str | None = None,
                scope: Mapping[str, Any] | None = None) -> int:
    return int(await conn.fetchval(Q["count"], dict(metadata) if metadata else None, graph_id, name,
                                   dict(scope) if scope is not None else None))


async def versions(conn: asyncpg.Connection, assistant_id: UUID, *, metadata: Mapping[str, Any] | None = None,
                   limit: int = 10, offset: int = 0) -> list[dict[str, Any]]:
    """Versions, newest first."""
    await get(conn, assistant_id)
    rows = await conn.fetch(Q["versions"], assistant_id, dict(metadata) if metadata else None, limit, offset)
    return [_row(r) for r in rows]


async def set_latest(conn: asyncpg.Connection, assistant_id: UUID, version: int) -> dict[str, Any]:
    async with conn.transaction():
        row = await conn.fetchrow(Q["set_latest"], assistant_id, version)
        if row is None:
            await get(conn, assistant_id)
            raise NotFound(f"Version {version} of assistant {assistant_id} not found")
    return _row(row)

