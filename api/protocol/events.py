"""Durable `events` rows -> the thread-centric protocol's events (langchain_protocol's `Event`).

Each durable event of a thread (a run's `metadata`, `checkpoint`, `task_start`, `task_result`,
`custom`, `end`) becomes zero or more protocol events
`{"type": "event", "method", "params": {"namespace", "timestamp", "data"}, "seq", "event_id"}`:

- `lifecycle`: `started` when a run starts; `completed`, `failed` (with `error`) or `interrupted` when
  it ends; `input.requested` (`interrupt_id`, `payload`) for each `interrupt()`;
- `values`, `updates` (`{node, values}`), `checkpoints` (`{id, parent_id, step, source}`), `tasks`,
  `custom` (`{payload}`), and `messages` as the protocol's message lifecycle (`message-start`,
  `content-block-start`, `content-block-delta` per streamed token, `content-block-finish`,
  `message-finish`); a subgraph's supersteps (runs started with subgraph streaming) carry its
  namespace (`["node:task_id", ...]`).

The k-th protocol event of the durable event at global position `pos` gets `seq = pos * STRIDE + k`
and `event_id = "pos:k"`: derived from the durable record, so a subscription resuming `since` a seq
re-reads Postgres and continues exactly after it, with nothing kept in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import asyncpg
from langchain_core.language_models._compat_bridge import message_to_events
from langchain_core.messages import convert_to_messages
from litestar.datastructures import State

import sql
from api.sse import FrameMapper, StreamEvent

Q = sql.queries("stream.sql")
STRIDE = 1024  # protocol events per durable event (seq = pos * STRIDE + k, k < STRIDE)
RUN_MODES = ["values", "updates", "messages", "custom", "tasks", "checkpoints"]
ROLES = {"ai": "ai", "AIMessageChunk": "ai", "human": "human", "HumanMessageChunk": "human",
         "system": "system", "SystemMessageChunk": "system"}

Event = dict[str, Any]


def split_seq(since: int) -> tuple[int, int]:
    """A `since` seq -> (position to read after, protocol events of the next position already seen)."""
    pos, k = divmod(since, STRIDE)
    return pos - 1, k + 1  # re-read `pos`, skip its events 0..k


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, Mapping) and b.get("type") == "text")
    return ""


class _RunEvents:
    """The protocol events of one run, from its durable events in order."""

    def __init__(self, mapper: FrameMapper, graph_name: str) -> None:
        self.mapper = mapper
        self.graph_name = graph_name
        self.interrupted = False
        self.streamed: dict[str, str] = {}  # message id -> text sent so far

    def events(self, ev: StreamEvent) -> list[tuple[list[str], str, Any]]:
        out: list[tuple[list[str], str, Any]] = []
        if ev.event == "metadata":
            out.append(([], "lifecycle", {"event": "started", "graph_name": self.graph_name}))
        for name, data in self.mapper.frames(ev):
            mode, _, ns = name.partition("|")
            namespace = ns.split("|") if ns else []
            out.extend(self._frame(namespace, mode, data, ev))
        if ev.event == "checkpoint":
            d = ev.data
            cp = {"id": d.get("checkpoint_id"), "step": d.get("step"), "source": d.get("source")}
            if d.get("parent_checkpoint_id"):
                cp["parent_id"] = d["parent_checkpoint_id"]
            out = [o for o in out if o[1] != "checkpoints"] + [([], "checkpoints", cp)]
        if ev.event == "end":
            out.append(([], "lifecycle", self._end(ev.data)))
        return out

    def _end(self, d: Mapping[str, Any]) -> dict[str, Any]:
        if d.get("status") == "success":
            interrupted = self.interrupted or bool(d.get("breakpoint"))
            return {"event": "interrupted" if interrupted else "completed", "graph_name": self.graph_name}
        err = d.get("error") or {}
        message = f"{err.get('type', 'Error')}: {err.get('message', '')}".rstrip(": ") if err else d.get("status")
        return {"event": "failed", "graph_name": self.graph_name, "error": message}

    def _frame(self, ns: list[str], mode: str, data: Any, ev: StreamEvent) -> Iterator[tuple[list[str], str, Any]]:
        if mode == "values":
            if not (isinstance(data, Mapping) and "__interrupt__" in data):
                yield ns, "values", data
        elif mode == "updates" and isinstance(data, Mapping):
            for interrupt in data.get("__interrupt__") or []:
                if interrupt.get("id"):
                    self.interrupted = True
                    yield ns, "input.requested", {"interrupt_id": interrupt["id"], "payload": interrupt.get("value"),
                                                  "value": interrupt.get("value")}
            for node, values in data.items():
                if not node.startswith("__"):
                    yield ns, "updates", {"node": node, "values": values or {}}
        elif mode == "tasks":
            yield ns, "tasks", data
        elif mode == "custom":
            yield ns, "custom", {"payload": data}
        elif mode == "messages/partial":
            yield from self._partial(ns, data[0], ev)
        elif mode == "messages/complete":
            yield from self._complete(ns, data[0], ev)

    def _meta(self, ev: StreamEvent) -> dict[str, Any]:
        task_id = ev.data.get("task_id") or ev.data.get("id")
        node = self.mapper.tasks.get(str(task_id), {}).get("name")
        return {"langgraph_node": node} if node else {}

    def _partial(self, ns: list[str], msg: Mapping[str, Any], ev: StreamEvent) -> Iterator[tuple[list[str], str, Any]]:
        mid = str(msg.get("id"))
        text = _text(msg.get("content"))
        if mid not in self.streamed:
            self.streamed[mid] = ""
            yield ns, "messages", {"event": "message-start", "role": ROLES.get(str(msg.get("type")), "ai"),
                                   "id": mid, "metadata": self._meta(ev)}
            yield ns, "messages", {"event": "content-block-start", "index": 0, "content": {"type": "text", "text": ""}}
        sent = self.streamed[mid]
        if text.startswith(sent) and len(text) > len(sent):
            yield ns, "messages", {"event": "content-block-delta", "index": 0,
                                   "delta": {"type": "text-delta", "text": text[len(sent):]}}
            self.streamed[mid] = text

    def _complete(self, ns: list[str], msg: Mapping[str, Any], ev: StreamEvent) -> Iterator[tuple[list[str], str, Any]]:
        mid = str(msg.get("id"))
        if mid in self.streamed:
            text = _text(msg.get("content"))
            if len(text) > len(self.streamed[mid]) and text.startswith(self.streamed[mid]):
                yield ns, "messages", {"event": "content-block-delta", "index": 0,
                                       "delta": {"type": "text-delta", "text": text[len(self.streamed[mid]):]}}
            del self.streamed[mid]
            yield ns, "messages", {"event": "content-block-finish", "index": 0,
                                   "content": {"type": "text", "text": text}}
            yield ns, "messages", {"event": "message-finish"}
            return
        if msg.get("type") not in ROLES:
            return  # tool / function messages are not chat-model output
        message = convert_to_messages([dict(msg)])[0]
        for i, data in enumerate(message_to_events(message, message_id=mid)):
            payload: dict[str, Any] = dict(data)
            if i == 0:
                payload["role"] = ROLES[str(msg["type"])]
                payload["metadata"] = {**dict(payload.get("metadata") or {}), **self._meta(ev)}
            yield ns, "messages", payload


class ThreadEvents:
    """Protocol events of every run of a thread, one `_RunEvents` per run, primed from the run's
    earlier events when the first one seen is mid-run (a resumed subscription)."""

    def __init__(self, state: State, thread_id: uuid.UUID) -> None:
        self.state = state
        self.thread_id = thread_id
        self.runs: dict[str, _RunEvents] = {}

    async def _run(self, ev: StreamEvent) -> _RunEvents:
        assert ev.run_id is not None and ev.pos is not None
        found = self.runs.get(ev.run_id)
        if found is not None:
            return found
        pool: asyncpg.Pool = self.state.pool
        rid = uuid.UUID(ev.run_id)
        async with pool.acquire() as conn:
            row = await conn.fetchrow(Q["run_stream_info"], rid)
            earlier = await conn.fetch(Q["run_events_before_pos"], rid, ev.pos)
        graph_id = row["graph_id"] if row is not None else None
        graph = self.state.graphs.get(graph_id)
        mapper = FrameMapper(RUN_MODES, thread_id=str(self.thread_id),
                             state_keys=frozenset(graph.state_keys) if graph is not None else frozenset())
        if graph is not None and row is not None:
            from api.stream import _base_values  # the values the run starts from (checkpoint events carry changes)

            mapper.set_base(await _base_values(pool, graph, rid, self.thread_id))
        run = _RunEvents(mapper, graph_id or "graph")
        for r in earlier:
            run.events(StreamEvent(seq=r["seq"], event=r["event"], data=r["data"], created_at=r["created_at"]))
        self.runs[ev.run_id] = run
        return run

    async def events(self, ev: StreamEvent) -> list[Event]:
        """The protocol events of durable event `ev` (with `pos` and `run_id`), numbered."""
        assert ev.pos is not None
        run = await self._run(ev)
        ts = int(ev.created_at.timestamp() * 1000) if ev.created_at is not None else 0
        out: list[Event] = []
        for k, (namespace, method, data) in enumerate(run.events(ev)):
            if k >= STRIDE:
                raise RuntimeError(f"event {ev.pos}: more than {STRIDE} protocol events")
            out.append({"type": "event", "method": method, "seq": ev.pos * STRIDE + k, "event_id": f"{ev.pos}:{k}",
                        "params": {"namespace": namespace, "timestamp": ts, "data": data,
                                   "run_id": ev.run_id}})
        return out
