"""/a2a/{assistant_id}: the assistant as an Agent2Agent (A2A protocol 0.3) agent, JSON-RPC 2.0.

    GET  /a2a/{aid}/.well-known/agent-card.json    its agent card (also /.well-known/agent-card.json?assistant_id=)
    POST /a2a/{aid}    message/send     run the assistant on the message, answer the Task
                       message/stream   the same as SSE: the Task, then status / artifact updates to the end
                       tasks/get        a Task by id

A Task is a run (`id` = run_id) and its `contextId` the thread (a message naming a contextId continues
that thread; without one a new thread is made). The message's text parts become a user message in
the graph's `messages`; its data parts are merged into the input. A message naming the `taskId` of a
task in `input-required` (the run stopped at an interrupt) resumes it with the message (its data,
else its text). Task states: running -> `working`, finished -> `completed`, interrupted ->
`input-required`, error -> `failed`, cancelled/timed out -> `canceled` / `failed`. The result is an
artifact with the last AI message's text and the final values as data. Requests pass the API's
authentication; `"http": {"disable_a2a": true}` in the config leaves these routes out.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from litestar import Request, Router, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Stream

import sql
from api import runs as runs_api
from api.app import AuthzDep
from api.auth import Authz
from api.run_payload import RunCreate
from api.sse import is_message
from engine.core import codec
from engine.durable import assistants, values
from engine.errors import NotFound, ServiceError

Q = sql.queries("runs.sql")
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL = -32700, -32600, -32601, -32602, -32603
TASK_NOT_FOUND, NOT_CANCELABLE = -32001, -32002
STATES = {"pending": "submitted", "running": "working", "success": "completed", "error": "failed",
          "interrupted": "canceled", "timeout": "failed"}


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _rpc_error(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def _assistant(state: State, authz: Authz, assistant_id: str) -> dict[str, Any]:
    aid = assistants.resolve_id(assistant_id, state.graphs.keys())
    await authz.assistant("read", aid)
    async with state.pool.acquire() as conn:
        return await assistants.get(conn, aid)


def agent_card(state: State, assistant: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    graph_id = assistant["graph_id"]
    description = assistant.get("description") or f"The {graph_id} graph on DuraGraph"
    return {
        "protocolVersion": "0.3.0", "name": assistant.get("name") or graph_id, "description": description,
        "url": f"{base_url}/a2a/{assistant['assistant_id']}", "preferredTransport": "JSONRPC",
        "version": str(assistant.get("version", 1)),
        "capabilities": {"streaming": True, "pushNotifications": False, "stateTransitionHistory": False},
        "defaultInputModes": ["text/plain", "application/json"],
        "defaultOutputModes": ["text/plain", "application/json"],
        "skills": [{"id": f"{graph_id}-main", "name": assistant.get("name") or graph_id, "description": description,
                    "tags": ["assistant", graph_id], "inputModes": ["text/plain", "application/json"],
                    "outputModes": ["text/plain", "application/json"]}],
    }


def _base_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


@get("/a2a/{assistant_id:str}/.well-known/agent-card.json")
async def card(assistant_id: FromPath[str], request: Request[Any, Any, Any], state: State,
               authz: AuthzDep) -> dict[str, Any]:
    return agent_card(state, await _assistant(state, authz, assistant_id), _base_url(request))


@get("/.well-known/agent-card.json")
async def card_by_query(assistant_id: FromQuery[str], request: Request[Any, Any, Any], state: State,
                        authz: AuthzDep) -> dict[str, Any]:
    return agent_card(state, await _assistant(state, authz, assistant_id), _base_url(request))


# -- tasks -------------------------------------------------------------------------------------


def _last_ai_text(values: Mapping[str, Any]) -> str | None:
    for m in reversed(values.get("messages") or []):
        if is_message(m) and m.get("type") in ("ai", "AIMessageChunk"):
            content = m.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return None


def _task(run: Mapping[str, Any]) -> dict[str, Any]:
    output = run.get("output") or {}
    interrupts = output.get("interrupts") or []
    state = "input-required" if run["status"] == "success" and interrupts else STATES.get(run["status"], "unknown")
    status: dict[str, Any] = {"state": state, "timestamp": _now()}
    task: dict[str, Any] = {"kind": "task", "id": str(run["run_id"]), "contextId": str(run["thread_id"]),
                            "status": status, "metadata": {"assistant_id": str(run["assistant_id"])}}
    values = output.get("values")
    if interrupts:
        status["message"] = {"kind": "message", "role": "agent", "messageId": str(uuid.uuid4()),
                             "taskId": task["id"], "contextId": task["contextId"],
                             "parts": [{"kind": "data", "data": {"interrupts": interrupts}}]}
    elif run["status"] == "error":
        err = run.get("error") or {}
        reason = f"{err.get('type', 'Error')}: {err.get('message', '')}"
        status["message"] = {"kind": "message", "role": "agent", "messageId": str(uuid.uuid4()),
                             "taskId": task["id"], "contextId": task["contextId"],
                             "parts": [{"kind": "text", "text": reason}]}
    elif run["status"] == "success" and isinstance(values, dict):
        parts: list[dict[str, Any]] = []
        text = _last_ai_text(values)
        if text is not None:
            parts.append({"kind": "text", "text": text})
        parts.append({"kind": "data", "data": values})
        task["artifacts"] = [{"artifactId": f"{task['id']}-result", "name": "Assistant Response", "parts": parts}]
    return task


async def _run_row(state: State, authz: Authz, task_id: Any) -> dict[str, Any]:
    try:
        rid = uuid.UUID(str(task_id))
    except ValueError:
        raise RpcError(TASK_NOT_FOUND, f"Task {task_id!r} not found") from None
    async with state.pool.acquire() as conn:
        row = await conn.fetchrow(Q["get_run"], rid)
        if row is None:
            raise RpcError(TASK_NOT_FOUND, f"Task {task_id} not found")
        try:
            await authz.thread("read", row["thread_id"])
        except NotFound:
            raise RpcError(TASK_NOT_FOUND, f"Task {task_id} not found") from None
        return {**row, "output": codec.to_wire(await values.run_output(conn, state.graphs, row))}


def _input(state: State, assistant: Mapping[str, Any], message: Mapping[str, Any]) -> tuple[Any, str]:
    """(the graph input, the message's text) from an A2A message's parts."""
    parts = message.get("parts")
    if not isinstance(parts, list) or not parts:
        raise RpcError(INVALID_PARAMS, "message.parts must be a non-empty list")
    data: dict[str, Any] = {}
    texts: list[str] = []
    for p in parts:
        kind = p.get("kind") if isinstance(p, dict) else None
        if kind == "text" and isinstance(p.get("text"), str):
            texts.append(p["text"])
        elif kind == "data" and isinstance(p.get("data"), dict):
            data.update(p["data"])
        else:
            raise RpcError(INVALID_PARAMS, f"unsupported message part {p!r}: text and data parts are accepted")
    text = "\n".join(texts)
    if texts:
        if "messages" not in state.graphs[assistant["graph_id"]].state_keys:
            raise RpcError(INVALID_PARAMS, f"graph {assistant['graph_id']!r} has no messages key for text; "
                                           "send a data part")
        data.setdefault("messages", []).append({"role": "user", "content": text})
    return data, text


async def _start(state: State, authz: Authz, assistant: Mapping[str, Any], params: Any) -> uuid.UUID:
    """Create the run a message/send or message/stream asks for; its id."""
    message = params.get("message") if isinstance(params, dict) else None
    if not isinstance(message, dict) or message.get("role") != "user":
        raise RpcError(INVALID_PARAMS, "params.message must be a message with role 'user'")
    graph_input, text = _input(state, assistant, message)
    body: dict[str, Any] = {"assistant_id": str(assistant["assistant_id"]), "if_not_exists": "create"}
    context_id = message.get("contextId")
    if message.get("taskId") is not None:
        prior = await _run_row(state, authz, message["taskId"])
        if _task(prior)["status"]["state"] != "input-required":
            raise RpcError(INVALID_PARAMS, f"Task {message['taskId']} is not waiting for input")
        context_id = str(prior["thread_id"])
        resume = {k: v for k, v in graph_input.items() if k != "messages"} or text
        body["command"] = {"resume": resume}
    else:
        body["input"] = graph_input
    try:
        thread_id = uuid.UUID(str(context_id)) if context_id is not None else uuid.uuid4()
    except ValueError:
        raise RpcError(INVALID_PARAMS, f"contextId {context_id!r} must be a UUID") from None
    meta = params.get("metadata")
    if isinstance(meta, dict):
        body["metadata"] = meta
    try:
        request = await runs_api.authorized_request(state, authz, RunCreate(**body), thread_id)
        created = await runs_api.runs_of(state).create(request)
    except ServiceError as exc:
        raise RpcError(INVALID_PARAMS, exc.detail) from None
    return uuid.UUID(created["run_id"])


async def _finished(state: State, authz: Authz, run_id: uuid.UUID) -> dict[str, Any]:
    await runs_api.runs_of(state).wait(run_id)
    return _task(await _run_row(state, authz, run_id))


async def _stream(state: State, authz: Authz, rid: Any, run_id: uuid.UUID) -> AsyncIterator[bytes]:
    def frame(result: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps({"jsonrpc": "2.0", "id": rid, "result": result}) + b"\n\n"

    first = _task(await _run_row(state, authz, run_id))
    yield frame(first)
    yield frame({"kind": "status-update", "taskId": first["id"], "contextId": first["contextId"], "final": False,
                 "status": {"state": "working", "timestamp": _now()}})
    done = await _finished(state, authz, run_id)
    for artifact in done.get("artifacts") or []:
        yield frame({"kind": "artifact-update", "taskId": done["id"], "contextId": done["contextId"],
                     "artifact": artifact, "lastChunk": True})
    yield frame({"kind": "status-update", "taskId": done["id"], "contextId": done["contextId"], "final": True,
                 "status": done["status"]})


@post("/a2a/{assistant_id:str}", status_code=200)
async def rpc(assistant_id: FromPath[str], request: Request[Any, Any, Any], state: State,
              authz: AuthzDep) -> Response[Any]:
    try:
        call = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return Response(_rpc_error(None, PARSE_ERROR, "Parse error"))
    if not isinstance(call, dict) or call.get("jsonrpc") != "2.0" or not isinstance(call.get("method"), str):
        return Response(_rpc_error(call.get("id") if isinstance(call, dict) else None, INVALID_REQUEST,
                                   "Invalid JSON-RPC request"))
    rid, method, params = call.get("id"), call["method"], call.get("params") or {}
    assistant = await _assistant(state, authz, assistant_id)
    try:
        if method == "message/send":
            result = await _finished(state, authz, await _start(state, authz, assistant, params))
        elif method == "message/stream":
            run_id = await _start(state, authz, assistant, params)
            return Stream(_stream(state, authz, rid, run_id), media_type="text/event-stream",
                          headers={"Cache-Control": "no-store"})
        elif method == "tasks/get":
            task_id = params.get("id") if isinstance(params, dict) else None
            result = _task(await _run_row(state, authz, task_id))
        else:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
    except RpcError as exc:
        return Response(_rpc_error(rid, exc.code, exc.message))
    return Response({"jsonrpc": "2.0", "id": rid, "result": result})


router = Router(path="/", route_handlers=[card, card_by_query, rpc])
