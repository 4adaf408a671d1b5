"""SSE routes: stream a new run, join a run's stream, follow a whole thread.

    POST /threads/{tid}/runs/stream         create a run and stream it (first frame: metadata)
    POST /runs/stream                       the same on a temporary thread
    GET  /threads/{tid}/runs/{rid}/stream   join; `Last-Event-ID` resumes, `cancel_on_disconnect`
    GET  /threads/{tid}/stream              every run of the thread (run_modes | lifecycle | state_update)

Run-stream frame ids are the run's event `seq` (`seq:i` for all but the last frame of one event);
thread-stream ids are the events' global `pos` the same way (see api/sse.py). Every stream is
resumable: the frames are derived from the durable `events` rows, so nothing has to be kept in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any

import asyncpg
import orjson
from litestar import Request, Router, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody
from litestar.response import Stream

import sql
from api import runs as runs_api
from api.app import AuthzDep
from api.auth import Authz
from api.idempotency import IdemKey
from api.live import (
    DatabaseOutage,
    LiveHub,
    ReadRetry,
    fetch_run_events,
    hub_retry,
    reading,
    run_events,
    thread_events,
)
from api.run_payload import RunCreate, stream_modes
from api.schemas import parse_uuid
from api.sse import HEARTBEAT, BadEventId, FrameMapper, StreamEvent, encode, encode_event, parse_event_id
from api.stream_slots import Slot, StreamSlots, holding
from api.telemetry import count_open
from engine.core.api import checkpoint_values
from engine.durable import blobs
from engine.durable.idempotency import IdempotencyKey
from engine.errors import InvalidInput, NotFound

log = logging.getLogger("duragraph.stream")
Q = sql.queries("stream.sql")
HEARTBEAT_SECONDS = 5.0
THREAD_MODES = frozenset({"run_modes", "lifecycle", "state_update"})

LastEventId = Annotated[str | None, HeaderParameter(name="Last-Event-ID", required=False)]
_background: set[asyncio.Task[Any]] = set()


def _spawn(coro: Any) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


def _hub(state: State) -> LiveHub:
    hub: LiveHub = state.live
    return hub


def _heartbeat_seconds(state: State) -> float:
    return float(state.get("stream_heartbeat", HEARTBEAT_SECONDS))


def _slot(state: State, request: Request[Any, Any, Any]) -> Slot:
    """A stream slot for this client (429 over the limits), taken before the route does any work."""
    slots: StreamSlots = state.stream_slots
    return slots.take(request.client.host if request.client else "unknown")


def _sse(slot: Slot, gen: AsyncIterator[bytes], headers: Mapping[str, str] | None = None, *,
         kind: str = "run") -> Stream:
    return Stream(holding(slot, count_open(gen, kind)), media_type="text/event-stream",
                  headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **(headers or {})})


def _query_modes(values: Sequence[str] | None, allowed: frozenset[str] | None = None) -> list[str]:
    """`stream_mode` as one value, a JSON array string, comma-separated, or repeated keys."""
    modes: list[str] = []
    for raw in values or ():
        raw = raw.strip()
        if not raw:
            continue
        if raw.startswith("["):
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise InvalidInput(f"Invalid stream_mode {raw!r}") from None
            items = [str(p) for p in parsed] if isinstance(parsed, list) else [str(parsed)]
        else:
            items = [p.strip() for p in raw.split(",") if p.strip()]
        modes.extend(m for m in items if m not in modes)
    if allowed is not None:
        bad = [m for m in modes if m not in allowed]
        if bad:
            raise InvalidInput(f"Invalid stream_mode {bad}: expected any of {sorted(allowed)}")
    elif modes:
        stream_modes(modes)  # validates
    return modes


def _resume_point(last_event_id: str | None) -> tuple[int, int] | None:
    try:
        return parse_event_id(last_event_id)
    except BadEventId as exc:
        raise InvalidInput(str(exc)) from None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


# -- run streams -----------------------------------------------------------------------------


async def _base_values(pool: asyncpg.Pool, graph: Any, run_id: uuid.UUID, thread_id: uuid.UUID) -> dict[str, Any]:
    async with pool.acquire() as conn:
        cp = await blobs.resolve(conn, thread_id, await conn.fetchval(Q["run_base_checkpoint"], run_id))
    return dict(checkpoint_values(graph, cp))


async def _feed(pool: asyncpg.Pool, graph: Any, run: Mapping[str, Any], mapper: FrameMapper,
                ev: StreamEvent, retry: ReadRetry) -> list[tuple[str, Any]]:
    if mapper.needs_base(ev, continuing=(run["kwargs"] or {}).get("input") is None):
        # (read as the events are: a database restart is ridden out, up to the stream's outage bound)
        base: dict[str, Any] = {}
        async for got in reading(lambda: _base_values(pool, graph, run["run_id"], run["thread_id"]), retry):
            if got is not None:
                base = got
        mapper.set_base(base)
    return mapper.frames(ev)


async def run_stream(
    state: State, run: Mapping[str, Any], modes: Sequence[str], *, resume: tuple[int, int] | None,
    live_only: bool, cancel_on_disconnect: bool,
) -> AsyncIterator[bytes]:
    """The SSE body of one run: frames for events after the resume point, until the run's `end`."""
    pool: asyncpg.Pool = state.pool
    hub = _hub(state)
    run_id, thread_id = run["run_id"], run["thread_id"]
    graph = state.graphs[run["graph_id"]]
    mapper = FrameMapper(modes, thread_id=str(thread_id), state_keys=frozenset(graph.state_keys))
    heartbeat = _heartbeat_seconds(state)
    finished = False
    try:
        frames = _run_frames(run, resume=resume, live_only=live_only, pool=pool, hub=hub, graph=graph,
                             mapper=mapper, heartbeat=heartbeat)
        async for chunk in _ending_with_error(frames, f"run stream {run_id}", _END):
            if chunk is _END:
                finished = True
            else:
                assert isinstance(chunk, bytes)
                yield chunk
    finally:
        if not finished and cancel_on_disconnect:
            # the client went away mid-run: cancel in a task of its own (this generator is being torn down)
            _spawn(runs_api.runs_of(state).cancel([run_id]))


_END = object()  # "the run's stream is complete" (from _run_frames)


async def _ending_with_error(frames: AsyncIterator[Any], what: str, done: object = None) -> AsyncIterator[Any]:
    """`frames`, ended by an `error` frame (which the SDK surfaces, and which ends its stream) if the
    database stays unreachable longer than the bound, or fails in a way no retry covers; never an
    exception out of the streaming response. `done` (if given) follows the error frame: the stream
    ended on the server's side, not because the client went away."""
    try:
        async for chunk in frames:
            yield chunk
    except (DatabaseOutage, asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
        log.warning("%s ended by a database failure: %r", what, exc)
        message = str(exc) if isinstance(exc, DatabaseOutage) else f"database failure: {type(exc).__name__}"
        yield encode("error", {"error": "DatabaseUnavailable", "message": message}, None)
        if done is not None:
            yield done


async def _run_frames(
    run: Mapping[str, Any], *, resume: tuple[int, int] | None, live_only: bool, pool: asyncpg.Pool,
    hub: LiveHub, graph: Any, mapper: FrameMapper, heartbeat: float,
) -> AsyncIterator[Any]:
    """SSE chunks of the run (and `_END` once its `end` event was sent)."""
    run_id = run["run_id"]
    retry = hub_retry(hub, f"run stream {run_id}")  # the stream's reads: its events, its run's base values
    after, skip = 0, -1
    if resume is not None:
        after, skip = resume
    elif live_only:
        if run["status"] not in ("pending", "running"):
            yield _END
            return  # a finished run joined without Last-Event-ID: an empty stream
        after = int(run["last_seq"])
    if after > 0:
        # rebuild what the modes remember (latest values, message chunks) from the events before
        before: list[StreamEvent] = []
        async for got in reading(lambda: fetch_run_events(pool, run_id, 0), retry):
            if got is None:
                yield HEARTBEAT
            else:
                before = got
        for ev in before:
            if ev.seq > after:
                break
            frames = await _feed(pool, graph, run, mapper, ev, retry)
            if ev.seq == after and 0 <= skip < len(frames) - 1:
                yield encode_event(ev.seq, frames, skip + 1)  # the rest of a partly delivered event
            if ev.event == "end":
                yield _END
                return
    last_write = time.monotonic()
    async for item in run_events(pool, hub, run_id, after):
        if item is None:
            if time.monotonic() - last_write >= heartbeat:
                last_write = time.monotonic()
                yield HEARTBEAT
            continue
        frames = await _feed(pool, graph, run, mapper, item, retry)
        if frames:
            last_write = time.monotonic()
            yield encode_event(item.seq, frames)
        if item.event == "end":
            yield _END


def _run_headers(thread_id: Any, run_id: Any, stateless: bool) -> dict[str, str]:
    if stateless:
        return {"Location": f"/runs/{run_id}/stream", "Content-Location": f"/runs/{run_id}"}
    return {"Location": f"/threads/{thread_id}/runs/{run_id}/stream",
            "Content-Location": f"/threads/{thread_id}/runs/{run_id}"}


async def _run_info(state: State, run_id: uuid.UUID) -> asyncpg.Record:
    async with state.pool.acquire() as conn:
        row = await conn.fetchrow(Q["run_stream_info"], run_id)
    if row is None:
        raise NotFound(f"Run {run_id} not found.")
    return row


async def _create_and_stream(state: State, authz: Authz, body: RunCreate, thread_id: uuid.UUID | None,
                             key: IdempotencyKey | None, slot: Slot) -> Stream:
    request = await runs_api.authorized_request(state, authz, body, thread_id)
    service = runs_api.runs_of(state)
    # a repeat with the same Idempotency-Key streams the first request's run, from its start
    created = await service.create(request, key)
    run = await _run_info(state, uuid.UUID(created["run_id"]))
    stateless = bool(created["kwargs"].get("temporary"))  # the engine deletes the temporary thread
    gen = run_stream(state, run, request.stream_mode, resume=None, live_only=False,
                     cancel_on_disconnect=body.on_disconnect == "cancel")
    return _sse(slot, gen, _run_headers(created["thread_id"], created["run_id"], stateless))


@post("/threads/{thread_id:str}/runs/stream", status_code=200)
async def stream_run(thread_id: FromPath[str], data: JSONBody[RunCreate], state: State, authz: AuthzDep,
                     idempotency_key: IdemKey, request: Request[Any, Any, Any]) -> Stream:
    tid = parse_uuid(thread_id)
    return await _create_and_stream(state, authz, data, tid, idempotency_key, _slot(state, request))


@post("/runs/stream", status_code=200)
async def stream_stateless_run(data: JSONBody[RunCreate], state: State, authz: AuthzDep,
                               idempotency_key: IdemKey, request: Request[Any, Any, Any]) -> Stream:
    return await _create_and_stream(state, authz, data, None, idempotency_key, _slot(state, request))


@get("/threads/{thread_id:str}/runs/{run_id:str}/stream")
async def join_run_stream(
    thread_id: FromPath[str],
    run_id: FromPath[str],
    state: State,
    authz: AuthzDep,
    request: Request[Any, Any, Any],
    last_event_id: LastEventId = None,
    stream_mode: FromQuery[list[str] | None] = None,
    cancel_on_disconnect: FromQuery[str | None] = None,
) -> Stream:
    tid, rid = parse_uuid(thread_id), parse_uuid(run_id, "run")
    await authz.thread("read", tid, run_id=rid)
    resume = _resume_point(last_event_id)
    run = await _run_info(state, rid)
    if run["thread_id"] != tid:
        raise NotFound(f"Run {rid} not found.")
    kwargs = run["kwargs"] or {}
    modes = _query_modes(stream_mode) or list(kwargs.get("stream_mode") or ["values"])
    gen = run_stream(state, run, modes, resume=resume, live_only=True,
                     cancel_on_disconnect=_truthy(cancel_on_disconnect))
    return _sse(_slot(state, request), gen, _run_headers(tid, rid, False))


# -- thread stream ---------------------------------------------------------------------------


class _ThreadRuns:
    """Per-run mappers of a thread stream, built (and primed) when a run's first event shows up."""

    def __init__(self, state: State, thread_id: uuid.UUID) -> None:
        self.state = state
        self.thread_id = thread_id
        self.mappers: dict[str, tuple[FrameMapper, Any, Mapping[str, Any]]] = {}
        self.retry = hub_retry(_hub(state), f"thread stream {thread_id}")

    async def frames(self, ev: StreamEvent) -> list[tuple[str, Any]]:
        pool: asyncpg.Pool = self.state.pool
        assert ev.run_id is not None and ev.pos is not None
        entry = self.mappers.get(ev.run_id)
        if entry is None:
            rid = uuid.UUID(ev.run_id)
            async with pool.acquire() as conn:
                row = await conn.fetchrow(Q["run_stream_info"], rid)
                earlier = await conn.fetch(Q["run_events_before_pos"], rid, ev.pos)
            run: Mapping[str, Any] = row if row is not None else {"run_id": rid, "kwargs": {}, "graph_id": None}
            graph = self.state.graphs.get(run["graph_id"])
            modes = list((run["kwargs"] or {}).get("stream_mode") or ["values"])
            mapper = FrameMapper(modes, thread_id=str(self.thread_id),
                                 state_keys=frozenset(graph.state_keys) if graph is not None else frozenset())
            entry = (mapper, graph, run)
            self.mappers[ev.run_id] = entry
            for r in earlier:
                await self._feed(entry, StreamEvent(seq=r["seq"], event=r["event"], data=r["data"],
                                                    created_at=r["created_at"]))
        return await self._feed(entry, ev)

    def values(self, run_id: str | None) -> dict[str, Any]:
        """The state values the run's mapper has rebuilt so far (from its base and checkpoint changes)."""
        entry = self.mappers.get(run_id or "")
        return entry[0].values if entry is not None else {}  # (replaced, never changed in place)

    async def _feed(self, entry: tuple[FrameMapper, Any, Mapping[str, Any]], ev: StreamEvent
                    ) -> list[tuple[str, Any]]:
        mapper, graph, run = entry
        if graph is None:
            return mapper.frames(ev)
        return await _feed(self.state.pool, graph, run, mapper, ev, self.retry)


def _thread_frames(modes: frozenset[str], ev: StreamEvent, run_frames: list[tuple[str, Any]],
                   values: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if "run_modes" in modes:
        out.extend(run_frames)
    else:
        if "lifecycle" in modes and ev.event == "metadata":
            out.append(("metadata", ev.data))
        if "state_update" in modes and ev.event == "checkpoint" and ev.data.get("source") != "input":
            # (a checkpoint event carries what changed, not the state: the run's mapper rebuilt it)
            out.append(("values", values))
    if ev.event == "end" and ({"run_modes", "lifecycle"} & modes):
        out.append(("metadata", {"status": "run_done", "run_id": ev.run_id}))
    return out


async def thread_stream(state: State, thread_id: uuid.UUID, modes: frozenset[str], after: int, skip: int
                        ) -> AsyncIterator[bytes]:
    async for chunk in _ending_with_error(_thread_frames_of(state, thread_id, modes, after, skip),
                                          f"thread stream {thread_id}"):
        yield chunk


async def _thread_frames_of(state: State, thread_id: uuid.UUID, modes: frozenset[str], after: int, skip: int
                            ) -> AsyncIterator[bytes]:
    pool: asyncpg.Pool = state.pool
    runs = _ThreadRuns(state, thread_id)
    heartbeat = _heartbeat_seconds(state)
    last_write = time.monotonic()
    async for ev in thread_events(pool, _hub(state), thread_id, after):
        if ev is None:
            if time.monotonic() - last_write >= heartbeat:
                last_write = time.monotonic()
                yield HEARTBEAT
            continue
        assert ev.pos is not None
        run_frames = await runs.frames(ev)
        frames = _thread_frames(modes, ev, run_frames, runs.values(ev.run_id))
        first = skip if ev.pos == after + 1 and skip > 0 else 0
        skip = 0
        if len(frames) > first:
            last_write = time.monotonic()
            yield encode_event(ev.pos, frames, first)


@get("/threads/{thread_id:str}/stream")
async def join_thread_stream(
    thread_id: FromPath[str],
    state: State,
    authz: AuthzDep,
    request: Request[Any, Any, Any],
    last_event_id: LastEventId = None,
    stream_mode: FromQuery[list[str] | None] = None,
    stream_modes: FromQuery[str | None] = None,
) -> Stream:
    tid = parse_uuid(thread_id)
    await authz.thread("read", tid)
    modes = frozenset(_query_modes([*(stream_mode or []), *([stream_modes] if stream_modes else [])],
                                   THREAD_MODES) or ["run_modes"])
    async with state.pool.acquire() as conn:
        if await conn.fetchval(Q["thread_exists"], tid) is None:
            raise NotFound(f"Thread with ID {tid} not found.")
        resume = _resume_point(last_event_id)
        if resume is None:
            after, skip = int(await conn.fetchval(Q["thread_last_pos"], tid)), 0
        elif resume[1] >= 0:
            after, skip = resume[0] - 1, resume[1] + 1  # re-read event `pos` and skip what was delivered
        else:
            after, skip = resume[0], 0
    return _sse(_slot(state, request), thread_stream(state, tid, modes, after, skip), kind="thread")


router = Router(
    path="/",
    route_handlers=[stream_run, stream_stateless_run, join_run_stream, join_thread_stream],
)
