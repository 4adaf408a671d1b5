"""`/threads`: create, read, update, delete, search, count, copy and prune thread rows."""

from __future__ import annotations

import contextlib
import re
from typing import Any, cast
from uuid import UUID

from litestar import Request, Response, Router, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody

from api.app import ApiResponse, AuthzDep, Conn
from api.idempotency import IdemKey
from api.models import Thread, ThreadPruneResponse
from api.schemas import (
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
    check_sort_by,
    dict_or_none,
    pagination_headers,
    parse_uuid,
    select_fields,
    ttl_of,
)
from engine.durable import access, idempotency, threads
from engine.durable.ids import uuid7
from engine.errors import Conflict, InvalidInput, Unsupported

MAX_EXTRACT = 10
_SEGMENT = re.compile(r"^([^.\[\]]+)((?:\[-?\d+\])*)$")


def _view(thread: dict[str, Any], include: set[str]) -> dict[str, Any]:
    if "ttl" not in include:
        thread = {k: v for k, v in thread.items() if k != "ttl"}
    return thread


def _parse_path(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for segment in path.split("."):
        m = _SEGMENT.match(segment)
        if m is None:
            raise InvalidInput(f"Invalid extract path {path!r}: use dots for keys and [n] for list indices")
        steps.append(m.group(1))
        steps.extend(int(i) for i in re.findall(r"\[(-?\d+)\]", m.group(2)))
    return steps


def _extract(thread: dict[str, Any], paths: dict[str, list[str | int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for alias, steps in paths.items():
        value: Any = thread
        for step in steps:
            if isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
                value = value[step]
            elif isinstance(step, str) and isinstance(value, dict):
                value = value.get(step)
            else:
                value = None
            if value is None:
                break
        out[alias] = value
    return out


def _superstep_updates(supersteps: list[dict[str, Any]]) -> list[tuple[Any, str | None]]:
    """`[{"updates": [{"values", "as_node", "command"?}]}]` -> one (values, as_node) per superstep."""
    out: list[tuple[Any, str | None]] = []
    for i, step in enumerate(supersteps):
        updates = step.get("updates") if isinstance(step, dict) else None
        if not isinstance(updates, list) or not updates:
            raise InvalidInput(f"supersteps[{i}].updates must be a non-empty list")
        if len(updates) > 1:
            raise Unsupported(f"supersteps[{i}]: several updates in one superstep are not supported; "
                              "give one update per superstep")
        update = updates[0]
        if not isinstance(update, dict):
            raise InvalidInput(f"supersteps[{i}].updates[0] must be an object")
        if update.get("command"):
            raise Unsupported(f"supersteps[{i}].updates[0].command: commands cannot pre-populate a thread")
        as_node = update.get("as_node")
        out.append((update.get("values"), "__start__" if as_node == "__input__" else as_node))
    return out


@post("/threads", status_code=200)
async def create_thread(
    conn: Conn, state: State, authz: AuthzDep, idempotency_key: IdemKey, data: JSONBody[ThreadCreate | None] = None
) -> Thread:
    data = data or ThreadCreate()
    metadata = dict(data.metadata or {})
    if data.graph_id:
        metadata["graph_id"] = data.graph_id
    updates = _superstep_updates(data.supersteps) if data.supersteps else []
    graph_id = data.graph_id or metadata.get("graph_id")
    if updates and not graph_id:
        raise InvalidInput("supersteps need the thread's graph: pass graph_id")
    tid = parse_uuid(data.thread_id) if data.thread_id else uuid7()
    value: dict[str, Any] = {"thread_id": tid, "metadata": metadata, "if_exists": data.if_exists or "raise"}
    if data.ttl is not None:
        value["ttl"] = data.ttl
    scope = await authz("threads", "create", value)  # handlers may stamp value["metadata"] (e.g. the owner)
    fresh = False

    async def create() -> dict[str, Any]:
        nonlocal fresh
        fresh = True
        thread = await threads.create(conn, thread_id=tid, metadata=value["metadata"],
                                      if_exists=data.if_exists or "raise", ttl=ttl_of(data.ttl))
        if scope is not None and not await access.thread_in_scope(conn, tid, scope):
            raise Conflict(f"Thread with ID {tid} already exists")  # another caller's (do_nothing): not shown
        return thread

    # an Idempotency-Key is committed with the thread row (without one, the insert is a statement of its
    # own); supersteps are applied after that commit
    async with contextlib.AsyncExitStack() as tx:
        if idempotency_key is not None:
            await tx.enter_async_context(conn.transaction())
        thread = await idempotency.once(conn, idempotency_key, create, lambda t: {"thread_id": str(t["thread_id"])},
                                        lambda ids: threads.get(conn, UUID(ids["thread_id"]), graphs=state.graphs))
    if updates and fresh:
        tid = parse_uuid(str(thread["thread_id"]))
        try:
            for values, as_node in updates:
                await state.thread_state.update(tid, values, as_node=as_node, graph_id=graph_id)
        except Exception:
            await threads.delete(conn, tid, rt=state.runtime)  # all or nothing: no half-populated thread is left
            raise
        thread = await threads.get(conn, tid, graphs=state.graphs)
    return cast("Thread", _view(thread, set()))


@post("/threads/search", status_code=200)
async def search_threads(conn: Conn, authz: AuthzDep, state: State, data: JSONBody[ThreadSearch | None] = None
                         ) -> Response[list[Thread]]:
    data = data or ThreadSearch()
    sort_by = check_sort_by(data.sort_by, threads.SORT_FIELDS)
    extract = {alias: _parse_path(path) for alias, path in (data.extract or {}).items()}
    if len(extract) > MAX_EXTRACT:
        raise InvalidInput(f"Too many extract paths: at most {MAX_EXTRACT}")
    ids = [parse_uuid(i) for i in data.ids] if data.ids is not None else None
    value: dict[str, Any] = {"metadata": dict(data.metadata or {}), "values": data.values, "status": data.status,
                             "limit": data.limit, "offset": data.offset, "ids": ids}
    scope = await authz("threads", "search", value)
    items, total = await threads.search(
        conn, metadata=dict_or_none(value["metadata"]), values=dict_or_none(data.values), ids=ids,
        status=data.status, limit=data.limit, offset=data.offset, sort_by=sort_by,
        sort_order=data.sort_order or "desc", scope=scope, graphs=state.graphs,
        with_values=not data.select or "values" in data.select or any(p[0] == "values" for p in extract.values()),
    )
    body = []
    for t in items:
        item = select_fields(_view(t, set()), data.select, threads.SELECT_FIELDS)
        if extract:
            item["extracted"] = _extract(t, extract)
        body.append(item)
    return ApiResponse(body, headers=pagination_headers(total, data.limit, data.offset, len(items)))


@post("/threads/count", status_code=200)
async def count_threads(conn: Conn, authz: AuthzDep, state: State, data: JSONBody[ThreadCount | None] = None
                        ) -> int:
    data = data or ThreadCount()
    value: dict[str, Any] = {"metadata": dict(data.metadata or {}), "values": data.values, "status": data.status}
    scope = await authz("threads", "search", value)
    return await threads.count(conn, metadata=dict_or_none(value["metadata"]), values=dict_or_none(data.values),
                               status=data.status, scope=scope, graphs=state.graphs)


@post("/threads/prune", status_code=200)
async def prune_threads(data: JSONBody[ThreadPrune], conn: Conn, authz: AuthzDep, state: State) -> ThreadPruneResponse:
    ids = [parse_uuid(i) for i in data.thread_ids]
    scope = await authz("threads", "delete", {"thread_ids": ids, "strategy": data.strategy})
    ids = await access.threads_in_scope(conn, ids, scope)
    return {"pruned_count": await threads.prune(conn, ids, rt=state.runtime, strategy=data.strategy)}


@get("/threads/{thread_id:str}")
async def get_thread(thread_id: FromPath[str], conn: Conn, authz: AuthzDep, state: State,
                     include: FromQuery[str | None] = None) -> Thread:
    wanted = {part.strip() for part in (include or "").split(",") if part.strip()}
    tid = parse_uuid(thread_id)
    scope = await authz("threads", "read", {"thread_id": tid})
    return cast("Thread", _view(await threads.get(conn, tid, scope=scope, graphs=state.graphs), wanted))


@patch("/threads/{thread_id:str}")
async def update_thread(thread_id: FromPath[str], data: JSONBody[ThreadPatch], conn: Conn,
                        request: Request[Any, Any, Any], authz: AuthzDep, state: State) -> Response[Thread]:
    tid = parse_uuid(thread_id)
    value: dict[str, Any] = {"thread_id": tid, "metadata": dict(data.metadata or {})}
    scope = await authz("threads", "update", value)
    thread = await threads.update(conn, tid, metadata=value["metadata"], ttl=ttl_of(data.ttl), scope=scope,
                                  graphs=state.graphs)
    prefer = request.headers.get("prefer", "")
    if "return=minimal" in prefer.replace(" ", "").lower():
        return ApiResponse(None, status_code=204)
    return ApiResponse(_view(thread, set()))


@delete("/threads/{thread_id:str}", status_code=204)
async def delete_thread(thread_id: FromPath[str], conn: Conn, authz: AuthzDep, state: State) -> None:
    tid = parse_uuid(thread_id)
    await threads.delete(conn, tid, rt=state.runtime, scope=await authz("threads", "delete", {"thread_id": tid}))


@post("/threads/{thread_id:str}/copy", status_code=200)
async def copy_thread(thread_id: FromPath[str], conn: Conn, authz: AuthzDep, state: State) -> Thread:
    tid = parse_uuid(thread_id)
    scope = await authz("threads", "read", {"thread_id": tid})
    # the copy keeps the metadata: same owner
    return cast("Thread", _view(await threads.copy(conn, tid, scope=scope, graphs=state.graphs), set()))


router = Router(
    path="/",
    route_handlers=[create_thread, search_threads, count_threads, prune_threads, get_thread, update_thread,
                    delete_thread, copy_thread],
    tags=["threads"],
)
