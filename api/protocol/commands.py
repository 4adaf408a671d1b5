"""Commands of the thread-centric protocol (`{id, method, params}` -> a success or error envelope).

    run.start       create a run on the thread (the thread is created if it does not exist)
    input.respond   answer interrupts: a run resuming them (`Command(resume={id: response}, update, goto)`)

The response's `meta.applied_through_seq` is the thread's last protocol seq before the command took
effect: a subscription opened `since` it sees everything the command caused. Subscriptions are WebSocket
commands (api/protocol/routes.py); the other protocol commands (agent.getTree, input.inject, state.*,
subscription.reconnect) answer `not_supported`.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar.datastructures import State

import sql
from api import runs as runs_api
from api.auth import Authz
from api.protocol.events import RUN_MODES, STRIDE
from api.run_payload import RunCreate
from engine.errors import Conflict, InvalidInput, NotFound, ServiceError, Unavailable, Unsupported

Q = sql.queries("protocol.sql")
QS = sql.queries("stream.sql")
NOT_SUPPORTED = frozenset({"agent.getTree", "input.inject", "state.get", "state.listCheckpoints", "state.fork",
                           "subscription.reconnect"})


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error(command_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "id": command_id if isinstance(command_id, int) else None, "error": code,
            "message": message}


def _dict(params: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = params.get(key)
    if value is not None and not isinstance(value, dict):
        raise ProtocolError("invalid_argument", f"params.{key} must be an object")
    return value


def _run_create(assistant_id: str, params: dict[str, Any], **fields: Any) -> RunCreate:
    return RunCreate(assistant_id=assistant_id, config=_dict(params, "config"), metadata=_dict(params, "metadata"),
                     langsmith_tracer=_dict(params, "langsmith_tracer"), if_not_exists="create",
                     stream_mode=list(RUN_MODES), stream_subgraphs=True, **fields)


async def _create(state: State, authz: Authz, body: RunCreate, thread_id: uuid.UUID) -> dict[str, Any]:
    request = await runs_api.authorized_request(state, authz, body, thread_id)
    return await runs_api.runs_of(state).create(request)


async def run_start(state: State, authz: Authz, thread_id: uuid.UUID, params: dict[str, Any]) -> dict[str, Any]:
    assistant_id = params.get("assistant_id")
    if not isinstance(assistant_id, str) or not assistant_id:
        raise ProtocolError("invalid_argument", "run.start needs params.assistant_id")
    run = await _create(state, authz, _run_create(assistant_id, params, input=params.get("input")), thread_id)
    return {"run_id": run["run_id"]}


def _responses(params: dict[str, Any]) -> list[dict[str, Any]]:
    if "responses" in params:
        entries = params["responses"]
        if not isinstance(entries, list) or not entries:
            raise ProtocolError("invalid_argument", "params.responses must be a non-empty list")
    else:
        entries = [params]
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("interrupt_id"), str) or "response" not in e:
            raise ProtocolError("invalid_argument", "each response needs interrupt_id and response")
    return entries


async def input_respond(state: State, authz: Authz, thread_id: uuid.UUID, params: dict[str, Any]) -> dict[str, Any]:
    entries = _responses(params)
    async with state.pool.acquire() as conn:
        last = await conn.fetchrow(Q["last_run_of_thread"], thread_id)
        pending = {r[0] for r in await conn.fetch(Q["pending_interrupt_ids"], thread_id)}
    if last is None:
        raise ProtocolError("no_such_run", f"Thread {thread_id} has no run to resume")
    unknown = [e["interrupt_id"] for e in entries if e["interrupt_id"] not in pending]
    if unknown:
        raise ProtocolError("no_such_interrupt", f"No pending interrupt {unknown} on thread {thread_id}")
    command: dict[str, Any] = {"resume": {e["interrupt_id"]: e["response"] for e in entries}}
    if params.get("update") is not None:
        command["update"] = params["update"]
    if params.get("goto") is not None:
        command["goto"] = params["goto"]
    body = _run_create(str(last["assistant_id"]), params, command=command)
    try:
        run = await _create(state, authz, body, thread_id)
    except (Conflict, InvalidInput) as exc:  # no pending interrupt with that id
        raise ProtocolError("no_such_interrupt", exc.detail) from None
    return {"run_id": run["run_id"]}


HANDLERS = {"run.start": run_start, "input.respond": input_respond}


async def applied_through(state: State, thread_id: uuid.UUID) -> int:
    async with state.pool.acquire() as conn:
        pos = int(await conn.fetchval(QS["thread_last_pos"], thread_id))
    return pos * STRIDE + STRIDE - 1


async def execute(state: State, authz: Authz, thread_id: uuid.UUID, command: Any) -> dict[str, Any]:
    """Run one non-subscription command; protocol errors come back as an error envelope."""
    if not isinstance(command, dict) or not isinstance(command.get("method"), str):
        return error(None, "invalid_argument", "a command is {id, method, params}")
    cid, method = command.get("id"), command["method"]
    params = command.get("params") or {}
    if not isinstance(cid, int) or not isinstance(params, dict):
        return error(cid, "invalid_argument", "command id must be an integer and params an object")
    handler = HANDLERS.get(method)
    if handler is None:
        if method in NOT_SUPPORTED:
            return error(cid, "not_supported", f"{method} is not supported by this server")
        if method.startswith("subscription."):
            return error(cid, "not_supported", f"{method}: subscriptions are made on the events stream")
        return error(cid, "unknown_command", f"Unknown command {method!r}")
    seq = await applied_through(state, thread_id)
    try:
        result = await handler(state, authz, thread_id, params)
    except ProtocolError as exc:
        return error(cid, exc.code, exc.message)
    except Unavailable:
        raise
    except ServiceError as exc:
        code = ("no_such_run" if isinstance(exc, NotFound) else "not_supported" if isinstance(exc, Unsupported)
                else "invalid_argument")
        return error(cid, code, exc.detail)
    return {"type": "success", "id": cid, "result": result, "meta": {"applied_through_seq": seq}}
