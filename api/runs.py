"""Runs on a thread and stateless runs: create, batch, wait, join, list, get, cancel, delete."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import msgspec
from litestar import Litestar, Response, Router, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from api.app import ApiResponse
from api.run_payload import RunCreate, to_request
from api.schemas import parse_uuid, select_fields
from engine.core import codec
from engine.durable.runs import RunService
from engine.durable.runtime import Runtime
from engine.durable.state import StateService
from engine.durable.waiter import RunWaiter
from engine.errors import InvalidInput, NotFound

HEARTBEAT_SECONDS = 5.0
RUN_FIELDS = ("run_id", "thread_id", "assistant_id", "created_at", "updated_at", "status", "metadata", "kwargs",
              "multitask_strategy")


@asynccontextmanager
async def engine_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Run and state services on `app.state`, sharing the app's pool; one LISTEN connection per process."""
    settings = app.state.settings
    rt = Runtime(pool=app.state.pool, graphs=app.state.graphs, subject_prefix=settings.subject_prefix)
    waiter = RunWaiter(settings.database_url, app.state.pool)
    await waiter.start()
    app.state.runtime = rt
    app.state.runs = RunService(rt, waiter)
    app.state.thread_state = StateService(rt)
    try:
        yield
    finally:
        await waiter.close()


def runs_of(state: State) -> RunService:
    service: RunService = state.runs
    return service


def final_body(run: dict[str, Any]) -> Any:
    """What runs.wait / runs.join return: the final values, `__interrupt__` at an interrupt(),
    `{"__error__": {...}}` on error (HTTP 200, as the SDK expects)."""
    if run["status"] == "error":
        err = run.get("error") or {}
        return {"__error__": {"error": err.get("type", "Error"), "message": err.get("message", "")}}
    out = run.get("output") or {}
    values = out.get("values")
    if values is None:
        return {}
    interrupts = out.get("interrupts") or []
    if interrupts:
        values = {**values, "__interrupt__": [{**i, "response_schema": None} for i in interrupts]}
    return values


def _locations(thread_id: str, run_id: str, stateless: bool) -> dict[str, str]:
    return {
        "Content-Location": f"/threads/{thread_id}/runs/{run_id}" if not stateless else f"/runs/{run_id}",
    }


async def _create(state: State, body: RunCreate, thread_id: uuid.UUID | None) -> dict[str, Any]:
    return await runs_of(state).create(to_request(body, thread_id))


def _wait_stream(state: State, run: dict[str, Any], body: RunCreate) -> Stream:
    """Stream `\\n` heartbeats every 5 s until the run ends, then its final values as JSON."""
    service = runs_of(state)
    run_id = uuid.UUID(run["run_id"])
    cancel_on_disconnect = body.on_disconnect == "cancel"

    async def gen() -> AsyncIterator[bytes]:
        finished = False
        try:
            while True:
                try:
                    done = await service.wait(run_id, timeout=HEARTBEAT_SECONDS)
                    break
                except TimeoutError:
                    yield b"\n"
            finished = True
            yield codec.wire_dumps(final_body(done))
        finally:
            if not finished and cancel_on_disconnect:
                # the client went away: cancel in a task of its own (this generator is being torn down)
                asyncio.get_running_loop().create_task(service.cancel([run_id]))

    headers = {
        "Location": f"/threads/{run['thread_id']}/runs/{run['run_id']}/join",
        **_locations(run["thread_id"], run["run_id"], bool(run["kwargs"].get("temporary"))),
    }
    return Stream(gen(), media_type="application/json", headers=headers)


@post("/threads/{thread_id:str}/runs", status_code=200)
async def create_run(thread_id: FromPath[str], data: JSONBody[RunCreate], state: State) -> Response[Any]:
    run = await _create(state, data, parse_uuid(thread_id))
    return ApiResponse(run, headers=_locations(run["thread_id"], run["run_id"], False))


@post("/runs", status_code=200)
async def create_stateless_run(data: JSONBody[RunCreate], state: State) -> Response[Any]:
    run = await _create(state, data, None)
    return ApiResponse(run, headers=_locations(run["thread_id"], run["run_id"], True))


@post("/runs/batch", status_code=200)
async def create_batch(data: JSONBody[list[RunCreate]], state: State) -> list[dict[str, Any]]:
    if not data:
        raise InvalidInput("runs/batch needs at least one run")
    return [await _create(state, body, None) for body in data]


@post("/threads/{thread_id:str}/runs/wait", status_code=200)
async def wait_run(thread_id: FromPath[str], data: JSONBody[RunCreate], state: State) -> Stream:
    run = await _create(state, data, parse_uuid(thread_id))
    return _wait_stream(state, run, data)


@post("/runs/wait", status_code=200)
async def wait_stateless_run(data: JSONBody[RunCreate], state: State) -> Stream:
    run = await _create(state, data, None)
    return _wait_stream(state, run, data)


@get("/threads/{thread_id:str}/runs")
async def list_runs(
    thread_id: FromPath[str],
    state: State,
    limit: FromQuery[int] = 10,
    offset: FromQuery[int] = 0,
    status: FromQuery[str | None] = None,
    select: FromQuery[list[str] | None] = None,
) -> list[dict[str, Any]]:
    if limit < 0 or offset < 0:
        raise InvalidInput("limit and offset must be >= 0")
    rows = await runs_of(state).list(parse_uuid(thread_id), limit=limit, offset=offset, status=status or None)
    return [select_fields(r, select, RUN_FIELDS) for r in rows]


@get("/threads/{thread_id:str}/runs/{run_id:str}")
async def get_run(thread_id: FromPath[str], run_id: FromPath[str], state: State) -> dict[str, Any]:
    return await runs_of(state).get(parse_uuid(run_id, "run"), parse_uuid(thread_id))


@delete("/threads/{thread_id:str}/runs/{run_id:str}", status_code=204)
async def delete_run(thread_id: FromPath[str], run_id: FromPath[str], state: State) -> None:
    await runs_of(state).delete(parse_uuid(run_id, "run"), parse_uuid(thread_id))


@get("/threads/{thread_id:str}/runs/{run_id:str}/join")
async def join_run(thread_id: FromPath[str], run_id: FromPath[str], state: State) -> Stream:
    run = await runs_of(state).get(parse_uuid(run_id, "run"), parse_uuid(thread_id))
    return _wait_stream(state, run, RunCreate(assistant_id=run["assistant_id"], on_completion="keep"))


@post("/threads/{thread_id:str}/runs/{run_id:str}/cancel", status_code=202)
async def cancel_run(
    thread_id: FromPath[str],
    run_id: FromPath[str],
    state: State,
    wait: FromQuery[str] = "0",
    action: FromQuery[Literal["interrupt", "rollback"]] = "interrupt",
) -> Response[Any]:
    tid, rid = parse_uuid(thread_id), parse_uuid(run_id, "run")
    service = runs_of(state)
    await service.cancel([rid], action=action, thread_id=tid)
    if wait.lower() in ("1", "true", "yes"):
        try:
            done = await service.wait(rid)
        except NotFound:  # rolled back: the run is gone
            return ApiResponse({}, status_code=200)
        return ApiResponse(final_body(done), status_code=200)
    return ApiResponse(None, status_code=202)


class CancelMany(msgspec.Struct, kw_only=True):
    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: Literal["pending", "running", "all"] | None = None


@post("/runs/cancel", status_code=204)
async def cancel_many(
    data: JSONBody[CancelMany], state: State, action: FromQuery[Literal["interrupt", "rollback"]] = "interrupt"
) -> None:
    service = runs_of(state)
    thread_id = parse_uuid(data.thread_id) if data.thread_id else None
    if data.status is not None:
        if data.thread_id or data.run_ids:
            raise InvalidInput("status cannot be combined with thread_id or run_ids")
        ids = await service.active_run_ids(thread_id=None, status=data.status)
    elif data.run_ids:
        ids = [parse_uuid(r, "run") for r in data.run_ids]
    elif thread_id is not None:
        ids = await service.active_run_ids(thread_id=thread_id, status="all")
    else:
        raise InvalidInput("give run_ids, thread_id or status")
    if not ids:
        raise NotFound("No matching runs to cancel.")
    await service.cancel(ids, action=action, thread_id=thread_id)


router = Router(
    path="/",
    route_handlers=[
        create_run, create_stateless_run, create_batch, wait_run, wait_stateless_run, list_runs, get_run,
        delete_run, join_run, cancel_run, cancel_many,
    ],
)
