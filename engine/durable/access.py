"""Access scopes: the rows a caller may touch, as a metadata containment checked in SQL.

The API's auth handlers return filters (`{"owner": "alice"}`, `{"tags": {"$contains": "x"}}`); the API
turns them into one jsonb containment (a *scope*). Searches and counts, and the queries that read,
change or delete a thread or a cron by id, carry the scope in their WHERE clause. The routes that
reach a thread's children (state, history, runs, streams, cancel, resume) and an assistant check it
here first. Either way a row outside the scope is answered exactly like a missing one (404), so its
existence does not leak.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

import sql
from engine.errors import NotFound

Q = sql.queries("access.sql")

Scope = Mapping[str, Any] | None


def _arg(scope: Scope) -> dict[str, Any] | None:
    return dict(scope) if scope is not None else None


async def thread_in_scope(conn: asyncpg.Connection, thread_id: UUID, scope: Scope) -> bool | None:
    """True / False for an existing thread in / outside the scope; None when there is no such thread."""
    found: bool | None = await conn.fetchval(Q["thread_in_scope"], thread_id, _arg(scope))
    return found


async def require_thread(conn: asyncpg.Connection, thread_id: UUID, scope: Scope) -> None:
    if scope is not None and not await thread_in_scope(conn, thread_id, scope):
        raise NotFound(f"Thread with ID {thread_id} not found")


async def threads_in_scope(conn: asyncpg.Connection, thread_ids: Sequence[UUID], scope: Scope) -> list[UUID]:
    if scope is None:
        return list(thread_ids)
    allowed = {r["thread_id"] for r in await conn.fetch(Q["threads_in_scope"], list(thread_ids), _arg(scope))}
    return [t for t in thread_ids if t in allowed]


async def runs_in_scope(conn: asyncpg.Connection, run_ids: Sequence[UUID], scope: Scope) -> list[UUID]:
    """The runs (of those given) whose thread is in scope, in the given order."""
    if scope is None:
        return list(run_ids)
    allowed = {r["run_id"] for r in await conn.fetch(Q["runs_in_scope"], list(run_ids), _arg(scope))}
    return [r for r in run_ids if r in allowed]


async def require_assistant(conn: asyncpg.Connection, assistant_id: UUID, scope: Scope) -> None:
    if scope is not None and not await conn.fetchval(Q["assistant_in_scope"], assistant_id, _arg(scope)):
        raise NotFound(f"Assistant {assistant_id} not found")

