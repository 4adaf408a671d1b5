"""Crons: `POST /threads/{tid}/runs/crons`, `/runs/crons` (create, search, count, get, patch, delete).

Firing them is the scheduler's job (engine.durable.crons.claim_due); this only manages the rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from litestar import Response, Router, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from api.app import ApiResponse, AuthzDep, Conn, Graphs
from api.auth import Authz
from api.idempotency import IdemKey
from api.models import Cron
from api.schemas import (
    CronCount,
    CronCreate,
    CronPatch,
    CronSearch,
    check_sort_by,
    dict_or_none,
    pagination_headers,
    parse_uuid,
    select_fields,
)
from engine.durable import assistants, crons, idempotency
from engine.durable.idempotency import IdempotencyKey
from engine.errors import BadRequest


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def _create(data: CronCreate, thread_id: UUID | None, conn: Conn, graphs: Graphs,
                  authz: Authz, key: IdempotencyKey | None) -> dict[str, Any]:
    payload = {f: getattr(data, f) for f in crons.PAYLOAD_FIELDS if getattr(data, f, None) is not None}
    if thread_id is not None:  # the cron's runs act on the thread: the caller must be allowed to run on it
        await authz.thread("create_run", thread_id, assistant_id=data.assistant_id, metadata={})
    value: dict[str, Any] = {"payload": payload, "schedule": data.schedule, "cron_id": None, "thread_id": thread_id,
                             "user_id": authz.user.identity if authz.user else None, "end_time": data.end_time,
                             "metadata": dict(data.metadata or {})}
    await authz("crons", "create", value)  # handlers may stamp value["metadata"] (e.g. the owner)
    data.metadata = value["metadata"]
    async with conn.transaction():
        return await idempotency.once(conn, key, lambda: _insert(data, thread_id, payload, conn, graphs, value),
                                      lambda c: {"cron_id": str(c["cron_id"])},
                                      lambda ids: crons.get(conn, UUID(ids["cron_id"])))


async def _insert(data: CronCreate, thread_id: UUID | None, payload: dict[str, Any], conn: Conn, graphs: Graphs,
                  value: dict[str, Any]) -> dict[str, Any]:
    return await crons.create(
        conn,
        assistant_id=assistants.resolve_id(data.assistant_id, graphs.keys()),
        schedule=data.schedule,
        thread_id=thread_id,
        payload=payload,
        metadata=data.metadata,
        enabled=True if data.enabled is None else data.enabled,
        timezone=data.timezone,
        end_time=_utc(data.end_time),
        on_run_completed=data.on_run_completed if thread_id is None else None,
        user_id=value["user_id"],
    )


@post("/threads/{thread_id:str}/runs/crons", status_code=200)
async def create_thread_cron(thread_id: FromPath[str], data: JSONBody[CronCreate], conn: Conn,
                             graphs: Graphs, authz: AuthzDep, idempotency_key: IdemKey) -> Cron:
    return cast("Cron", await _create(data, parse_uuid(thread_id), conn, graphs, authz, idempotency_key))


@post("/runs/crons", status_code=200)
async def create_cron(data: JSONBody[CronCreate], conn: Conn, graphs: Graphs, authz: AuthzDep,
                      idempotency_key: IdemKey) -> Cron:
    return cast("Cron", await _create(data, None, conn, graphs, authz, idempotency_key))


@post("/runs/crons/search", status_code=200)
async def search_crons(conn: Conn, graphs: Graphs, authz: AuthzDep,
                       data: JSONBody[CronSearch | None] = None) -> Response[list[Cron]]:
    data = data or CronSearch()
    sort_by = check_sort_by(data.sort_by, crons.SORT_FIELDS)
    aid = assistants.resolve_id(data.assistant_id, graphs.keys()) if data.assistant_id else None
    tid = parse_uuid(data.thread_id) if data.thread_id else None
    value: dict[str, Any] = {"assistant_id": aid, "thread_id": tid, "limit": data.limit, "offset": data.offset,
             "metadata": dict(data.metadata or {})}
    scope = await authz("crons", "search", value)
    items, total = await crons.search(
        conn, assistant_id=aid, thread_id=tid, enabled=data.enabled, metadata=dict_or_none(value["metadata"]),
        limit=data.limit, offset=data.offset, sort_by=sort_by, sort_order=data.sort_order or "desc", scope=scope,
    )
    now = datetime.now(UTC)
    body = [select_fields({**c, "now": now} if data.select and "now" in data.select else c,
                          data.select, crons.SELECT_FIELDS) for c in items]
    return ApiResponse(body, headers=pagination_headers(total, data.limit, data.offset, len(items)))


@post("/runs/crons/count", status_code=200)
async def count_crons(conn: Conn, graphs: Graphs, authz: AuthzDep, data: JSONBody[CronCount | None] = None) -> int:
    data = data or CronCount()
    aid = assistants.resolve_id(data.assistant_id, graphs.keys()) if data.assistant_id else None
    tid = parse_uuid(data.thread_id) if data.thread_id else None
    value: dict[str, Any] = {"assistant_id": aid, "thread_id": tid, "metadata": dict(data.metadata or {})}
    scope = await authz("crons", "search", value)
    return await crons.count(conn, assistant_id=aid, thread_id=tid, metadata=dict_or_none(value["metadata"]),
                             scope=scope)


@get("/runs/crons/{cron_id:str}")
async def get_cron(cron_id: FromPath[str], conn: Conn, authz: AuthzDep) -> Cron:
    cid = parse_uuid(cron_id, "cron")
    return cast("Cron", await crons.get(conn, cid, scope=await authz("crons", "read", {"cron_id": cid})))


@patch("/runs/crons/{cron_id:str}")
async def update_cron(cron_id: FromPath[str], data: JSONBody[CronPatch], conn: Conn,
                      authz: AuthzDep) -> Cron:
    cid = parse_uuid(cron_id, "cron")
    changes = data.changes()
    if not changes:
        raise BadRequest("Empty update: give at least one field to change")
    value: dict[str, Any] = {"cron_id": cid, "payload": changes.get("payload"), "schedule": changes.get("schedule")}
    scope = await authz("crons", "update", value)
    if "end_time" in changes:
        changes["end_time"] = _utc(changes["end_time"])
    return cast("Cron", await crons.update(conn, cid, changes, scope=scope))


@delete("/runs/crons/{cron_id:str}", status_code=204)
async def delete_cron(cron_id: FromPath[str], conn: Conn, authz: AuthzDep) -> None:
    cid = parse_uuid(cron_id, "cron")
    await crons.delete(conn, cid, scope=await authz("crons", "delete", {"cron_id": cid}))


router = Router(
    path="/",
    route_handlers=[create_thread_cron, create_cron, search_crons, count_crons, get_cron, update_cron, delete_cron],
    tags=["crons"],
)
