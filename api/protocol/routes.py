"""Routes of the thread-centric streaming protocol (langgraph-sdk's `client.threads.stream(...)`).

    POST /threads/{tid}/commands               one command -> its success / error envelope
    POST /threads/{tid}/stream/events          SSE of the thread's protocol events; the body is the
                                               subscription filter {channels, namespaces?, depth?, since?}
    WS   /threads/{tid}/stream/events          commands in, events and command responses out
                                               (`subscription.subscribe` / `unsubscribe` open and close
                                               filtered feeds on the socket)
    WS   /threads/{tid}/runs/{rid}/protocol    the same, with events of that run only

Events are read from the durable `events` rows (api/live.py's thread feed), so a subscription given
`since` (the last seq it saw) continues exactly where it stopped. Without `since` it starts at the
thread's running run, else at the next event. A WebSocket refused after the upgrade closes with
4000 + the HTTP status (4404 unknown thread, 4403 forbidden), as the SDK reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from langgraph_sdk.stream.subscription import matches_subscription
from litestar import Request, Router, WebSocket, post, websocket
from litestar.datastructures import State
from litestar.exceptions import HTTPException, WebSocketDisconnect
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

import sql
from api.app import AuthzDep
from api.auth import AuthUser, Authz
from api.live import thread_events
from api.protocol import commands
from api.protocol.events import Event, ThreadEvents, split_seq
from api.schemas import parse_uuid
from api.sse import HEARTBEAT, encode
from api.stream import _heartbeat_seconds, _hub, _slot, _sse
from engine.errors import InvalidInput, NotFound, ServiceError

Q = sql.queries("protocol.sql")
QS = sql.queries("stream.sql")


def _filter(params: Any) -> dict[str, Any]:
    """A subscription filter, validated: {channels, namespaces?, depth?, since?}."""
    if not isinstance(params, dict):
        raise InvalidInput("The subscription filter must be an object")
    channels = params.get("channels")
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise InvalidInput("channels must be a non-empty list of channel names")
    namespaces = params.get("namespaces")
    if namespaces is not None and not (isinstance(namespaces, list) and all(
            isinstance(ns, list) and all(isinstance(s, str) for s in ns) for ns in namespaces)):
        raise InvalidInput("namespaces must be a list of namespace paths (lists of strings)")
    for key in ("depth", "since"):
        value = params.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise InvalidInput(f"{key} must be a non-negative integer")
    unknown = set(params) - {"channels", "namespaces", "depth", "since"}
    if unknown:
        raise InvalidInput(f"Unknown subscription fields {sorted(unknown)}")
    return params


async def _start(state: State, thread_id: uuid.UUID, since: int | None, run_id: uuid.UUID | None) -> tuple[int, int]:
    """(position to read after, protocol events of the next position to skip)."""
    if since is not None:
        return split_seq(since)
    async with state.pool.acquire() as conn:
        if run_id is not None:
            return int(await conn.fetchval(Q["run_first_pos"], run_id, thread_id)), 0
        return int(await conn.fetchval(Q["active_run_start"], thread_id)), 0


async def subscription(state: State, thread_id: uuid.UUID, flt: dict[str, Any], *,
                       run_id: uuid.UUID | None = None) -> AsyncIterator[Event | None]:
    """The protocol events of the thread matching `flt`, in seq order, forever; None when idle."""
    after, skip = await _start(state, thread_id, flt.get("since"), run_id)
    mapper = ThreadEvents(state, thread_id)
    only_run = str(run_id) if run_id is not None else None
    async for ev in thread_events(state.pool, _hub(state), thread_id, after):
        if ev is None:
            yield None
            continue
        events = await mapper.events(ev)
        if only_run is not None and ev.run_id != only_run:
            continue
        first = skip if ev.pos == after + 1 else 0
        for e in events[first:]:
            if matches_subscription(e, flt):  # type: ignore[arg-type]
                yield e


async def _thread_must_exist(state: State, authz: Authz, thread_id: uuid.UUID) -> None:
    await authz.thread("read", thread_id)
    async with state.pool.acquire() as conn:
        if await conn.fetchval(QS["thread_exists"], thread_id) is None:
            raise NotFound(f"Thread with ID {thread_id} not found.")


@post("/threads/{thread_id:str}/commands", status_code=200)
async def thread_command(thread_id: FromPath[str], data: JSONBody[Any], state: State, authz: AuthzDep
                         ) -> dict[str, Any]:
    return await commands.execute(state, authz, parse_uuid(thread_id), data)


async def _sse_body(state: State, thread_id: uuid.UUID, flt: dict[str, Any]) -> AsyncIterator[bytes]:
    heartbeat = _heartbeat_seconds(state)
    last_write = time.monotonic()
    async for e in subscription(state, thread_id, flt):
        if e is None:
            if time.monotonic() - last_write >= heartbeat:
                last_write = time.monotonic()
                yield HEARTBEAT
            continue
        last_write = time.monotonic()
        yield encode(e["method"], e, e["event_id"])


@post("/threads/{thread_id:str}/stream/events", status_code=200)
async def thread_events_sse(thread_id: FromPath[str], data: JSONBody[Any], state: State, authz: AuthzDep,
                            request: Request[Any, Any, Any]) -> Stream:
    tid = parse_uuid(thread_id)
    flt = _filter(data)
    await _thread_must_exist(state, authz, tid)
    return _sse(_slot(state, request), _sse_body(state, tid, flt), kind="protocol")


class _Session:
    """One WebSocket: commands in; responses and the events of its subscriptions out."""

    def __init__(self, socket: WebSocket[Any, Any, Any], thread_id: uuid.UUID, run_id: uuid.UUID | None) -> None:
        self.socket = socket
        self.state: State = socket.app.state
        user = socket.scope.get("user")
        self.authz = Authz(self.state.security, user if isinstance(user, AuthUser) else None, self.state.pool)
        self.thread_id = thread_id
        self.run_id = run_id
        self.subs: dict[str, asyncio.Task[None]] = {}
        self.lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            await self.socket.send_text(orjson.dumps(message).decode())

    async def _feed(self, flt: dict[str, Any]) -> None:
        async for e in subscription(self.state, self.thread_id, flt, run_id=self.run_id):
            if e is not None:
                await self.send(e)

    async def handle(self, command: Any) -> dict[str, Any]:
        method = command.get("method") if isinstance(command, dict) else None
        cid = command.get("id") if isinstance(command, dict) else None
        params = command.get("params") if isinstance(command, dict) else None
        if method == "subscription.subscribe":
            try:
                flt = _filter(params)
            except InvalidInput as exc:
                return commands.error(cid, "invalid_argument", exc.detail)
            sid = uuid.uuid4().hex
            self.subs[sid] = asyncio.create_task(self._feed(flt))
            return {"type": "success", "id": cid, "result": {"subscription_id": sid}}
        if method == "subscription.unsubscribe":
            sub_id = params.get("subscription_id") if isinstance(params, dict) else None
            task = self.subs.pop(sub_id, None) if isinstance(sub_id, str) else None
            if task is None:
                return commands.error(cid, "no_such_subscription", f"No subscription {sub_id!r}")
            task.cancel()
            return {"type": "success", "id": cid, "result": {}}
        return await commands.execute(self.state, self.authz, self.thread_id, command)

    async def run(self) -> None:
        try:
            while True:
                raw = await self.socket.receive_text()
                try:
                    command = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    await self.send(commands.error(None, "invalid_argument", "a command must be JSON"))
                    continue
                await self.send(await self.handle(command))
        except WebSocketDisconnect:
            pass
        finally:
            for task in self.subs.values():
                task.cancel()
            for task in self.subs.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def _serve(socket: WebSocket[Any, Any, Any], thread_id: str, run_id: str | None) -> None:
    await socket.accept()
    session: _Session | None = None
    try:
        tid = parse_uuid(thread_id)
        rid = parse_uuid(run_id, "run") if run_id is not None else None
        session = _Session(socket, tid, rid)
        await _thread_must_exist(session.state, session.authz, tid)
        if rid is not None:
            async with session.state.pool.acquire() as conn:
                if await conn.fetchval(Q["run_of_thread"], rid, tid) is None:
                    raise NotFound(f"Run {rid} not found.")
    except (ServiceError, HTTPException) as exc:
        status = exc.status_code if isinstance(exc, HTTPException) else (
            404 if isinstance(exc, NotFound) else 422)
        await socket.close(code=4000 + status, reason=str(exc)[:120])
        return
    await session.run()


@websocket("/threads/{thread_id:str}/stream/events")
async def thread_events_ws(socket: WebSocket[Any, Any, Any], thread_id: FromPath[str]) -> None:
    await _serve(socket, thread_id, None)


@websocket("/threads/{thread_id:str}/runs/{run_id:str}/protocol")
async def run_protocol_ws(socket: WebSocket[Any, Any, Any], thread_id: FromPath[str], run_id: FromPath[str]) -> None:
    await _serve(socket, thread_id, run_id)


router = Router(path="/", route_handlers=[thread_command, thread_events_sse, thread_events_ws, run_protocol_ws])
