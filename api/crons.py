"""Crons: `POST /threads/{tid}/runs/crons`, `/runs/crons` (create, search, count, get, patch, delete).

Firing them is the scheduler's job (engine.durable.crons.claim_due); this only manages the rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Response, Router, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from api.app import ApiResponse, Conn, Graphs
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
from engine.durable import assistants, crons
from engine.errors import BadRequest


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def _create(data: CronCreate, thread_id: UUID | None, conn: Conn,
                  graphs: Graphs) -> dict[str, Any]:
    payload = {f: getattr(data, f) for f in crons.PAYLOAD_FIELDS if getattr(data, f, None) is not None}
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
    )


@post("/threads/{thread_id:str}/runs/crons", status_code=200)
async def create_thread_cron(thread_id: FromPath[str], data: JSONBody[CronCreate], conn: Conn,
                             graphs: Graphs) -> dict[str, Any]:
    return await _create(data, parse_uuid(thread_id), conn, graphs)


@post("/runs/crons", status_code=200)
async def create_cron(data: JSONBody[CronCreate], conn: Conn, graphs: Graphs) -> dict[str, Any]:
    return await _create(data, None, conn, graphs)


@post("/runs/crons/search", status_code=200)
async def search_crons(conn: Conn, graphs: Graphs, data: JSONBody[CronSearch | None] = None) -> Response[Any]:
    data = data or CronSearch()
    sort_by = check_sort_by(data.sort_by, crons.SORT_FIELDS)
    items, total = await crons.search(
        conn,
        assistant_id=assistants.resolve_id(data.assistant_id, graphs.keys()) if data.assistant_id else None,
        thread_id=parse_uuid(data.thread_id) if data.thread_id else None,
        enabled=data.enabled, metadata=dict_or_none(data.metadata), limit=data.limit, offset=data.offset,
        sort_by=sort_by, sort_order=data.sort_order or "desc",
    )
    now = datetime.now(UTC)
    body = [select_fields({**c, "now": now} if data.select and "now" in data.select else c,
                          data.select, crons.SELECT_FIELDS) for c in items]
    return ApiResponse(body, headers=pagination_headers(total, data.limit, data.offset, len(items)))


@post("/runs/crons/count", status_code=200)
async def count_crons(conn: Conn, graphs: Graphs, data: JSONBody[CronCount | None] = None) -> int:
    data = data or CronCount()
    return await crons.count(
        conn,
        assistant_id=assistants.resolve_id(data.assistant_id, graphs.keys()) if data.assistant_id else None,
        thread_id=parse_uuid(data.thread_id) if data.thread_id else None,
        metadata=dict_or_none(data.metadata),
    )


@get("/runs/crons/{cron_id:str}")
async def get_cron(cron_id: FromPath[str], conn: Conn) -> dict[str, Any]:
    return await crons.get(conn, parse_uuid(cron_id, "cron"))


@patch("/runs/crons/{cron_id:str}")
async def update_cron(cron_id: FromPath[str], data: JSONBody[CronPatch], conn: Conn) -> dict[str, Any]:
    cid = parse_uuid(cron_id, "cron")
    changes = data.changes()
    if not changes:
        raise BadRequest("Empty update: give at least one field to change")
    if "end_time" in changes:
        changes["end_time"] = _utc(changes["end_time"])
    return await crons.update(conn, cid, changes)


@delete("/runs/crons/{cron_id:str}", status_code=204)
async def delete_cron(cron_id: FromPath[str], conn: Conn) -> None:
    await crons.delete(conn, parse_uuid(cron_id, "cron"))


router = Router(
    path="/",
    route_handlers=[create_thread_cron, create_cron, search_crons, count_crons, get_cron, update_cron, delete_cron],
    tags=["crons"],
)
