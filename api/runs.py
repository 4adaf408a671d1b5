"""Runs on a thread and stateless runs: create, batch, wait, join, list, get, cancel, delete."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal, cast

import msgspec
from litestar import Litestar, Response, Router, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from api.app import ApiResponse, AuthzDep
from api.auth import Authz
from api.faults import fault_point
from api.idempotency import IdemKey
from api.models import Run
from api.run_payload import RunCreate, to_request
from api.schemas import parse_uuid, select_fields
from engine.core import codec
from engine.durable import access, threads
from engine.durable.idempotency import IdempotencyKey
from engine.durable.runs import RunRequest, RunService, system_assistant_id
from engine.durable.runtime import Runtime
from engine.durable.state import StateService
from engine.durable.waiter import RunWaiter
from engine.errors import InvalidInput, NotFound

HEARTBEAT_SECONDS = 5.0
BIGINT_MAX = 2**63 - 1
RUN_FIELDS = ("run_id", "thread_id", "assistant_id", "created_at", "updated_at", "status", "metadata", "kwargs",
              "multitask_strategy")


@asynccontextmanager
async def engine_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Run and state services on `app.state`, sharing the app's pool; one LISTEN connection per process."""
    settings = app.state.settings
    rt = Runtime(pool=app.state.pool, graphs=app.state.graphs, subject_prefix=settings.subject_prefix,
                 state_bytes=settings.limits.state_bytes,
                 pending_runs_per_thread=settings.limits.pending_runs_per_thread)
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
    `{"__error__": {...}}` on error (HTTP 200, as the SDK expects); Python objects, for `codec.wire_dumps`."""
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


async def authorized_request(state: State, authz: Authz, body: RunCreate, thread_id: uuid.UUID | None
                             ) -> RunRequest:
    """The engine request for a run-create payload, after the `threads.create_run` handlers: they may
    change its metadata, and their filter must admit the thread (a thread that `if_not_exists=create`
    makes gets the handlers' metadata, so it is the caller's). Nodes get the caller in their config."""
    req = to_request(body, thread_id)
    if not authz.enabled:
        return req
    value: dict[str, Any] = {
        "thread_id": thread_id, "assistant_id": body.assistant_id, "run_id": None, "status": "pending",
        "metadata": req.metadata, "prevent_insert_if_inflight": True, "multitask_strategy": req.multitask_strategy,
        "if_not_exists": req.if_not_exists, "after_seconds": req.after_seconds,
        "kwargs": {"input": req.input, "command": req.command, "config": req.config, "context": req.context,
                   "stream_mode": req.stream_mode},
        "action": None,
    }
    scope = await authz("threads", "create_run", value)
    req.metadata = dict(value["metadata"] or {})
    req.auth = authz.user_config()
    await _check_assistant(state, authz, body.assistant_id)
    if thread_id is not None and scope is not None:
        async with state.pool.acquire() as conn:
            found = await access.thread_in_scope(conn, thread_id, scope)
            if found is None and req.if_not_exists == "create":
                await threads.create(conn, thread_id=thread_id, metadata=req.metadata, if_exists="do_nothing")
                found = await access.thread_in_scope(conn, thread_id, scope)
            if found is False or (found is None and req.if_not_exists != "create"):
                raise NotFound(f"Thread with ID {thread_id} not found.")
    return req


async def _check_assistant(state: State, authz: Authz, assistant_id: str) -> None:
    """A run of a user-made assistant needs `assistants.read` on it (its config becomes the run's);
    the graphs' own assistants are everyone's."""
    try:
        aid = uuid.UUID(assistant_id)
    except ValueError:
        return  # a graph name (or unknown: the engine answers 404)
    if aid not in {system_assistant_id(g) for g in state.graphs}:
        await authz.assistant("read", aid)


async def _create(state: State, authz: Authz, body: RunCreate, thread_id: uuid.UUID | None,
                  key: IdempotencyKey | None) -> dict[str, Any]:
    run = await runs_of(state).create(await authorized_request(state, authz, body, thread_id), key)
    fault_point(state, "after_run_commit")
    return run


async def _wait_response(state: State, run: dict[str, Any], body: RunCreate) -> Response[Any]:
    """The run's final values as JSON once it ends. A run that ends within the first heartbeat interval
    gets a plain response (a stream costs the server more, and its first heartbeat would come only then);
    a longer one, or one to cancel if the client goes away, a stream of heartbeats (`_wait_stream`)."""
    if body.on_disconnect != "cancel":
        try:
            done = await runs_of(state).wait(uuid.UUID(run["run_id"]), timeout=HEARTBEAT_SECONDS)
        except TimeoutError:
            pass
        else:
            return Response(codec.wire_dumps(final_body(done)), media_type="application/json",
                            headers=_wait_headers(run))
    return _wait_stream(state, run, body)


def _wait_headers(run: dict[str, Any]) -> dict[str, str]:
    return {
        "Location": f"/threads/{run['thread_id']}/runs/{run['run_id']}/join",
        **_locations(run["thread_id"], run["run_id"], bool(run["kwargs"].get("temporary"))),
    }


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

    return Stream(gen(), media_type="application/json", headers=_wait_headers(run))


@post("/threads/{thread_id:str}/runs", status_code=200)
async def create_run(thread_id: FromPath[str], data: JSONBody[RunCreate], state: State,
                     authz: AuthzDep, idempotency_key: IdemKey) -> Response[Run]:
    run = await _create(state, authz, data, parse_uuid(thread_id), idempotency_key)
    return ApiResponse(run, headers=_locations(run["thread_id"], run["run_id"], False))


@post("/runs", status_code=200)
async def create_stateless_run(data: JSONBody[RunCreate], state: State, authz: AuthzDep,
                               idempotency_key: IdemKey) -> Response[Run]:
    run = await _create(state, authz, data, None, idempotency_key)
    return ApiResponse(run, headers=_locations(run["thread_id"], run["run_id"], True))


@post("/runs/batch", status_code=200)
async def create_batch(data: JSONBody[list[RunCreate]], state: State, authz: AuthzDep,
                       idempotency_key: IdemKey) -> list[Run]:
    if not data:
        raise InvalidInput("runs/batch needs at least one run")
    reqs = [await authorized_request(state, authz, body, None) for body in data]
    return cast("list[Run]", await runs_of(state).create_batch(reqs, idempotency_key))


@post("/threads/{thread_id:str}/runs/wait", status_code=200)
async def wait_run(thread_id: FromPath[str], data: JSONBody[RunCreate], state: State, authz: AuthzDep,
                   idempotency_key: IdemKey) -> Response[Any]:
    run = await _create(state, authz, data, parse_uuid(thread_id), idempotency_key)
    return await _wait_response(state, run, data)


@post("/runs/wait", status_code=200)
async def wait_stateless_run(data: JSONBody[RunCreate], state: State, authz: AuthzDep,
                             idempotency_key: IdemKey) -> Response[Any]:
    run = await _create(state, authz, data, None, idempotency_key)
    return await _wait_response(state, run, data)


@get("/threads/{thread_id:str}/runs")
async def list_runs(
    thread_id: FromPath[str],
    state: State,
    authz: AuthzDep,
    limit: FromQuery[int] = 10,
    offset: FromQuery[int] = 0,
    status: FromQuery[str | None] = None,
    select: FromQuery[list[str] | None] = None,
) -> list[Run]:
    if limit < 0 or offset < 0:
        raise InvalidInput("limit and offset must be >= 0")
    if offset > BIGINT_MAX:
        raise InvalidInput(f"offset: at most {BIGINT_MAX}")
    tid = parse_uuid(thread_id)
    await authz.thread("read", tid)
    rows = await runs_of(state).list(tid, limit=limit, offset=offset, status=status or None)
    return cast("list[Run]", [select_fields(r, select, RUN_FIELDS) for r in rows])


@get("/threads/{thread_id:str}/runs/{run_id:str}")
async def get_run(thread_id: FromPath[str], run_id: FromPath[str], state: State, authz: AuthzDep) -> Run:
    tid, rid = parse_uuid(thread_id), parse_uuid(run_id, "run")
    await authz.thread("read", tid, run_id=rid)
    return cast("Run", await runs_of(state).get(rid, tid))


@delete("/threads/{thread_id:str}/runs/{run_id:str}", status_code=204)
async def delete_run(thread_id: FromPath[str], run_id: FromPath[str], state: State, authz: AuthzDep) -> None:
    tid, rid = parse_uuid(thread_id), parse_uuid(run_id, "run")
    await authz.thread("delete", tid, run_id=rid)
    await runs_of(state).delete(rid, tid)


@get("/threads/{thread_id:str}/runs/{run_id:str}/join")
async def join_run(thread_id: FromPath[str], run_id: FromPath[str], state: State, authz: AuthzDep) -> Stream:
    tid, rid = parse_uuid(thread_id), parse_uuid(run_id, "run")
    await authz.thread("read", tid, run_id=rid)
    run = await runs_of(state).get(rid, tid)
    return _wait_stream(state, run, RunCreate(assistant_id=run["assistant_id"], on_completion="keep"))


@post("/threads/{thread_id:str}/runs/{run_id:str}/cancel", status_code=202)
async def cancel_run(
    thread_id: FromPath[str],
    run_id: FromPath[str],
    state: State,
    authz: AuthzDep,
    wait: FromQuery[str] = "0",
    action: FromQuery[Literal["interrupt", "rollback"]] = "interrupt",
) -> Response[Any]:
    tid, rid = parse_uuid(thread_id), parse_uuid(run_id, "run")
    await authz.thread("update", tid, run_id=rid, action=action)
    service = runs_of(state)
    run = await service.get(rid, tid)
    if run["status"] not in ("pending", "running"):  # as LangGraph: only an active run can be cancelled
        raise NotFound(f"Run {rid} is {run['status']}: there is nothing to cancel.")
    await service.cancel([rid], action=action, thread_id=tid)
    if wait.lower() in ("1", "true", "yes"):
        try:
            done = await service.wait(rid)
        except NotFound:  # rolled back: the run is gone
            return ApiResponse({}, status_code=200)
        return ApiResponse(codec.wire_dumps(final_body(done)), status_code=200, media_type="application/json")
    return ApiResponse(None, status_code=202)


class CancelMany(msgspec.Struct, kw_only=True):
    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: Literal["pending", "running", "all"] | None = None


@post("/runs/cancel", status_code=204)
async def cancel_many(
    data: JSONBody[CancelMany], state: State, authz: AuthzDep,
    action: FromQuery[Literal["interrupt", "rollback"]] = "interrupt",
) -> None:
    service = runs_of(state)
    thread_id = parse_uuid(data.thread_id) if data.thread_id else None
    scope = await authz("threads", "update", {"thread_id": thread_id, "run_ids": data.run_ids,
                                              "status": data.status, "action": action})
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
    if scope is not None:
        async with state.pool.acquire() as conn:
            ids = await access.runs_in_scope(conn, ids, scope)
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
