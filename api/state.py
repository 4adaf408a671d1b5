"""Thread state: get (head or a checkpoint), update (as a node), history (newest first)."""

from __future__ import annotations

import uuid
from typing import Any, cast

import msgspec
from litestar import Router, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody

from api.app import AuthzDep
from api.models import ThreadState, ThreadUpdateStateResponse
from api.schemas import parse_uuid
from engine.durable.state import StateService
from engine.errors import InvalidInput, Unsupported


def svc(state: State) -> StateService:
    service: StateService = state.thread_state
    return service


def _checkpoint_id(checkpoint_id: str | None, checkpoint: dict[str, Any] | None) -> uuid.UUID | None:
    raw = checkpoint_id or (checkpoint or {}).get("checkpoint_id")
    return parse_uuid(raw, "checkpoint") if raw else None


def _no_ns(checkpoint: dict[str, Any] | None) -> None:
    if (checkpoint or {}).get("checkpoint_ns"):
        raise Unsupported("checkpoint.checkpoint_ns: a subgraph's state is read, not written, by namespace")


STATE_FIELDS = ("values", "next", "tasks", "checkpoint", "metadata", "created_at", "parent_checkpoint",
                "interrupts", "checkpoint_id", "parent_checkpoint_id")


def select_state(state: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """Only the `select`ed fields of a ThreadState; `values.<key>` keeps one state key of `values`."""
    if not select:
        return state
    keys = [f.split(".", 1)[1] for f in select if f.startswith("values.")]
    fields = [f for f in select if not f.startswith("values.")]
    unknown = [f for f in fields if f not in STATE_FIELDS]
    if unknown:
        raise InvalidInput(f"Invalid select field(s) {unknown}: expected any of {list(STATE_FIELDS)} "
                           "or values.<key>")
    out = {k: v for k, v in state.items() if k in fields}
    if keys and "values" not in fields:
        out["values"] = {k: v for k, v in (state.get("values") or {}).items() if k in keys}
    return out


def _flag(value: bool | str | None) -> bool:
    return value in (True, "true", "1", "True")


@get("/threads/{thread_id:str}/state")
async def get_state(
    thread_id: FromPath[str], state: State, authz: AuthzDep, subgraphs: FromQuery[str | None] = None,
    select: FromQuery[list[str] | None] = None,
) -> ThreadState:
    tid = parse_uuid(thread_id)
    await authz.thread("read", tid)
    return cast("ThreadState", select_state(await svc(state).get(tid, subgraphs=_flag(subgraphs)), select))


@get("/threads/{thread_id:str}/state/{checkpoint_id:str}")
async def get_state_at(
    thread_id: FromPath[str], checkpoint_id: FromPath[str], state: State, authz: AuthzDep,
    subgraphs: FromQuery[str | None] = None, select: FromQuery[list[str] | None] = None,
) -> ThreadState:
    tid = parse_uuid(thread_id)
    await authz.thread("read", tid)
    return cast("ThreadState", select_state(await svc(state).get(tid, parse_uuid(checkpoint_id, "checkpoint"),
                                             subgraphs=_flag(subgraphs)), select))


class StateAtCheckpoint(msgspec.Struct, kw_only=True):
    checkpoint: dict[str, Any]
    subgraphs: bool | None = None
    select: list[str] | None = None


@post("/threads/{thread_id:str}/state/checkpoint", status_code=200)
async def post_state_at(thread_id: FromPath[str], data: JSONBody[StateAtCheckpoint], state: State,
                        authz: AuthzDep) -> ThreadState:
    tid = parse_uuid(thread_id)
    await authz.thread("read", tid)
    ns = data.checkpoint.get("checkpoint_ns") or None
    if ns is not None and not isinstance(ns, str):
        raise InvalidInput("checkpoint.checkpoint_ns must be a string")
    if ns:
        raw = data.checkpoint.get("checkpoint_id")
        found = await svc(state).get(tid, checkpoint_ns=ns, ns_checkpoint_id=str(raw) if raw else None)
        return cast("ThreadState", select_state(found, data.select))
    return cast("ThreadState", select_state(await svc(state).get(tid, _checkpoint_id(None, data.checkpoint),
                                             subgraphs=_flag(data.subgraphs)), data.select))


class StateUpdate(msgspec.Struct, kw_only=True):
    values: Any = None
    as_node: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None


@post("/threads/{thread_id:str}/state", status_code=200)
async def update_state(thread_id: FromPath[str], data: JSONBody[StateUpdate], state: State,
                       authz: AuthzDep) -> ThreadUpdateStateResponse:
    _no_ns(data.checkpoint)
    tid = parse_uuid(thread_id)
    await authz.thread("update", tid)
    return cast("ThreadUpdateStateResponse", await svc(state).update(
        tid, data.values, as_node=data.as_node,
        checkpoint_id=_checkpoint_id(data.checkpoint_id, data.checkpoint),
    ))


class HistoryQuery(msgspec.Struct, kw_only=True):
    limit: int = 10
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    select: list[str] | None = None


def _before(before: str | dict[str, Any] | None) -> uuid.UUID | None:
    if before is None:
        return None
    if isinstance(before, dict):
        before = (before.get("configurable") or before).get("checkpoint_id")
    return parse_uuid(str(before), "checkpoint") if before else None


@post("/threads/{thread_id:str}/history", status_code=200)
async def post_history(thread_id: FromPath[str], data: JSONBody[HistoryQuery], state: State,
                       authz: AuthzDep) -> list[ThreadState]:
    if data.limit < 1:
        raise InvalidInput("limit must be >= 1")
    tid = parse_uuid(thread_id)
    await authz.thread("read", tid)
    _no_ns(data.checkpoint)
    if data.checkpoint and data.checkpoint.get("checkpoint_id"):
        history = [await svc(state).get(tid, _checkpoint_id(None, data.checkpoint))]
    else:
        history = await svc(state).history(tid, limit=data.limit, before=_before(data.before), metadata=data.metadata)
    return cast("list[ThreadState]", [select_state(h, data.select) for h in history])


@get("/threads/{thread_id:str}/history")
async def get_history(
    thread_id: FromPath[str], state: State, authz: AuthzDep, limit: FromQuery[int] = 10,
    before: FromQuery[str | None] = None,
) -> list[ThreadState]:
    if limit < 1:
        raise InvalidInput("limit must be >= 1")
    tid = parse_uuid(thread_id)
    await authz.thread("read", tid)
    return cast("list[ThreadState]", await svc(state).history(tid, limit=limit, before=_before(before)))


router = Router(
    path="/",
    route_handlers=[get_state, get_state_at, post_state_at, update_state, post_history, get_history],
)
