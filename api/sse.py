"""SSE framing and the mapping from engine run events to LangGraph Platform stream-mode frames.

Pure: no I/O. An engine event (`metadata`, `checkpoint`, `task_start`, `task_result`, `custom`, `end`)
becomes zero or more frames `(event_name, data)`; all frames of one event are written together and get
ids derived from the event's position, so `Last-Event-ID` resumes exactly:

- the last frame of event `N` has `id: N`; the earlier ones `id: N:i` (i = 0, 1, ...), so a client cut
  off between two frames of one event resumes with the next frame of that event, never repeating one;
- `N` is the run's gapless event `seq` (run streams) or the event's global `pos` (thread streams).

Some modes need what came before (the latest values, streamed message chunks), so a mapper that resumes
mid-run is first `prime`d with the events before the resume point (their frames are discarded).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from api.jsonb_form import jsonb_form
from engine.core import codec
from engine.core.records import SUBGRAPH_EVENT  # the chunk a subgraph superstep is reported as

HEARTBEAT = b": heartbeat\n\n"

MESSAGE_TYPES = frozenset({
    "ai", "human", "system", "tool", "function", "chat", "remove",
    "AIMessage", "HumanMessage", "SystemMessage", "ToolMessage",
    "AIMessageChunk", "HumanMessageChunk", "SystemMessageChunk", "ToolMessageChunk", "ChatMessageChunk",
})

Frame = tuple[str, Any]


@dataclass(frozen=True)
class StreamEvent:
    """One row of `events` (or the same event read from JetStream)."""

    seq: int
    event: str
    data: Any
    created_at: dt.datetime | None = None
    run_id: str | None = None
    pos: int | None = None  # global position (thread streams)


def _default(value: Any) -> Any:
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def encode(event: str, data: Any, event_id: str | None) -> bytes:
    """`event: <name>\\ndata: <one-line json>\\nid: <id>\\n\\n`."""
    body = orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
    head = b"event: " + event.encode() + b"\ndata: " + body + b"\n"
    if event_id is not None:
        head += b"id: " + event_id.encode() + b"\n"
    return head + b"\n"


def frame_ids(position: int, n: int) -> list[str]:
    """Ids of the `n` frames of the event at `position`: `N:0`, `N:1`, ..., `N` (the last one)."""
    return [f"{position}:{i}" for i in range(n - 1)] + [str(position)]


def encode_event(position: int, frames: Sequence[Frame], skip: int = 0) -> bytes:
    """All frames of one event as one chunk, leaving out the first `skip` (already delivered)."""
    ids = frame_ids(position, len(frames))
    return b"".join(encode(name, data, fid) for (name, data), fid in list(zip(frames, ids, strict=True))[skip:])


class BadEventId(ValueError):
    pass


def parse_event_id(value: str | None) -> tuple[int, int] | None:
    """`Last-Event-ID` -> (position, frames of that event already delivered, -1 = all of them)."""
    if value is None or not value.strip():
        return None
    head, sep, tail = value.strip().partition(":")
    try:
        position = int(head)
        index = int(tail) if sep else -1
    except ValueError:
        raise BadEventId(f"Invalid Last-Event-ID {value!r}") from None
    if position < 0 or (sep and index < 0):
        raise BadEventId(f"Invalid Last-Event-ID {value!r}")
    return position, index


def is_message(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") in MESSAGE_TYPES and "content" in value


def _messages_in(value: Any) -> list[dict[str, Any]]:
    if is_message(value):
        return [dict(value)]
    if isinstance(value, list):
        return [dict(v) for v in value if is_message(v)]
    return []


def _interrupts(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"value": i.get("value"), "id": i.get("id"), "response_schema": None} for i in items]


def _iso(ts: dt.datetime | None) -> str:
    return (ts or dt.datetime.now(dt.UTC)).isoformat()


@dataclass
class FrameMapper:
    """Engine events of ONE run -> frames for the requested stream modes."""

    modes: Sequence[str]
    thread_id: str
    state_keys: frozenset[str] = frozenset()
    graph_name: str = "LangGraph"
    # values of the checkpoint a resumed/continued run starts from (LangGraph streams them first)
    base_values: dict[str, Any] | None = None
    values: dict[str, Any] = field(default_factory=dict)
    emitted_values: bool = False
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    seen_messages: set[str] = field(default_factory=set)
    partial: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the items each task of the current superstep wrote, by channel: a checkpoint event refers to them
    # (`changes.append_writes`) rather than repeat them (engine/durable/results.py)
    written: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    run_id: str | None = None

    def __post_init__(self) -> None:
        self.mode_set = frozenset(self.modes)
        if self.base_values is not None:
            self.set_base(self.base_values)

    def needs_base(self, ev: StreamEvent, *, continuing: bool) -> bool:
        """True when the values of the checkpoint the run started from are needed before `ev`: to apply the
        first `changes` of a checkpoint event, or for a run continuing from a checkpoint (`continuing`:
        no new input), whose current state LangGraph streams first. The caller reads them and `set_base`s."""
        if self.base_values is not None:
            return False
        if ev.event == "checkpoint" and "changes" in ev.data:
            return True
        return continuing and ev.event == "task_start" and not self.emitted_values

    def set_base(self, values: dict[str, Any]) -> None:
        self.base_values = dict(values)
        self.values = dict(values)
        self._see_messages(self.values)

    def prime(self, events: Iterable[StreamEvent]) -> None:
        for ev in events:
            self.frames(ev)

    def frames(self, ev: StreamEvent) -> list[Frame]:
        handler = getattr(self, "_on_" + ev.event, None)
        out: list[Frame] = handler(ev) if handler is not None else []
        return out

    # -- engine event kinds ------------------------------------------------------------------

    def _on_metadata(self, ev: StreamEvent) -> list[Frame]:
        out: list[Frame] = [("metadata", ev.data)]
        self.run_id = str(ev.data.get("run_id"))
        if "events" in self.mode_set:
            out.append(("events", self._chain_event("on_chain_start", self.graph_name, self.run_id,
                                                    {"input": None}, {})))
        return out

    def _on_checkpoint(self, ev: StreamEvent) -> list[Frame]:
        d = ev.data
        out: list[Frame] = []
        if "changes" in d:
            self._apply(d["changes"])
            self.written.clear()  # a superstep's checkpoint: its tasks' writes are in the values now
        elif d.get("source") == "input":
            pass
        else:
            self.values = dict(d.get("values") or {})
        if d.get("source") != "input":
            self._see_messages(self.values)
            self.interrupts = []
            if "values" in self.mode_set:
                out.append(("values", self.values))
            self.emitted_values = True
        cp = self._checkpoint_payload({**d, "values": self.values})
        if "checkpoints" in self.mode_set:
            out.append(("checkpoints", cp))
        if "debug" in self.mode_set:
            payload = {**cp, "checkpoint": cp["config"]["configurable"],
                       "parent_checkpoint": (cp["parent_config"] or {}).get("configurable")}
            out.append(("debug", {"step": d.get("step"), "timestamp": _iso(ev.created_at), "type": "checkpoint",
                                  "payload": payload}))
        return out

    def _on_task_start(self, ev: StreamEvent) -> list[Frame]:
        d = ev.data
        out: list[Frame] = []
        if not self.emitted_values and self.base_values is not None:
            # a run that continues from a checkpoint (resume, input=None): the current state comes first
            self.emitted_values = True
            if "values" in self.mode_set:
                out.append(("values", self.values))
        task_input = d.get("input") if d.get("input") is not None else self.values
        self.tasks[d["id"]] = {"name": d["name"], "step": d.get("step"), "triggers": list(d.get("triggers") or []),
                               "input": task_input}
        payload = {"id": d["id"], "name": d["name"], "input": task_input, "triggers": list(d.get("triggers") or [])}
        if "tasks" in self.mode_set:
            out.append(("tasks", payload))
        if "debug" in self.mode_set:
            out.append(("debug", {"step": d.get("step"), "timestamp": _iso(ev.created_at), "type": "task",
                                  "payload": payload}))
        if "events" in self.mode_set:
            out.append(("events", self._chain_event("on_chain_start", d["name"], d["id"], {"input": task_input},
                                                    self._task_meta(d["id"]))))
        return out

    def _on_task_result(self, ev: StreamEvent) -> list[Frame]:
        d = ev.data
        status = d.get("status")
        out: list[Frame] = []
        interrupts = _interrupts(d.get("interrupts") or [])
        update, written = self._update(d.get("writes") or [])
        if status == "success" and written:
            self.written[d["id"]] = written
        if status == "interrupted":
            self.interrupts.extend(interrupts)
            if "updates" in self.mode_set:
                out.append(("updates", {"__interrupt__": interrupts}))
            if "values" in self.mode_set:
                out.append(("values", {**self.values, "__interrupt__": list(self.interrupts)}))
        elif status == "success":
            if "updates" in self.mode_set:
                out.append(("updates", {d["name"]: update, "__metadata__": {"cached": True}} if d.get("cached")
                            else {d["name"]: update}))
            if not d.get("cached"):
                out.extend(self._task_messages(d, update))
        result = {"id": d["id"], "name": d["name"], "error": _error_text(d.get("error")),
                  "result": update or {}, "interrupts": interrupts}
        if "tasks" in self.mode_set:
            out.append(("tasks", result))
        if "debug" in self.mode_set:
            out.append(("debug", {"step": d.get("step"), "timestamp": _iso(ev.created_at), "type": "task_result",
                                  "payload": result}))
        if "events" in self.mode_set and status == "success" and not d.get("cached"):
            task = self.tasks.get(d["id"], {})
            out.append(("events", self._chain_event("on_chain_end", d["name"], d["id"],
                                                    {"input": task.get("input"), "output": update},
                                                    self._task_meta(d["id"]))))
        return out

    def _on_custom(self, ev: StreamEvent) -> list[Frame]:
        d = ev.data
        chunk = d.get("chunk")
        if isinstance(chunk, dict) and SUBGRAPH_EVENT in chunk:
            part = chunk[SUBGRAPH_EVENT]
            if part.get("mode") in self.mode_set:
                return [(f"{part['mode']}|{part['ns']}", part.get("data"))]
            return []
        if is_message(chunk):
            return self._message_chunk(dict(chunk), d)
        return [("custom", chunk)] if "custom" in self.mode_set else []

    def _on_end(self, ev: StreamEvent) -> list[Frame]:
        d = ev.data
        out: list[Frame] = []
        if d.get("breakpoint") and "updates" in self.mode_set:
            out.append(("updates", {"__interrupt__": []}))
        if d.get("status") == "error":
            err = d.get("error") or {}
            out.append(("error", {"error": err.get("type", "Error"), "message": err.get("message", "")}))
        elif d.get("status") == "success" and "events" in self.mode_set:
            out.append(("events", self._chain_event("on_chain_end", self.graph_name, self.run_id,
                                                    {"output": self.values}, {})))
        return out

    # -- helpers -----------------------------------------------------------------------------

    def _apply(self, changes: Mapping[str, Any]) -> None:
        """A checkpoint's changes over the previous one: keys set, items appended to a list, keys gone."""
        values = dict(self.values)
        for key, value in (changes.get("set") or {}).items():
            values[key] = value
        for key, items in (changes.get("append") or {}).items():
            values[key] = [*(values.get(key) or []), *items]
        for key, ref in (changes.get("append_writes") or {}).items():
            values[key] = [*(values.get(key) or []), *self._appended(key, ref)]
        for key in changes.get("unset") or []:
            values.pop(key, None)
        self.values = values

    def _appended(self, key: str, ref: Mapping[str, Any]) -> list[Any]:
        """The items a checkpoint appended to `key`, which were the writes of its superstep's tasks `ref["tasks"]`
        in that order (`ref["ids"]`: the ids `add_messages` gave the messages), in the form the event carried
        them before it referred to them: as read back from jsonb."""
        items = [item for tid in ref["tasks"] for item in self.written[tid][key]]
        ids = ref.get("ids")
        if ids is not None:
            items = [{**item, "id": mid} for item, mid in zip(items, ids, strict=True)]
        return [jsonb_form(item) for item in items]

    def _update(self, writes: Sequence[Sequence[Any]]) -> tuple[dict[str, Any] | None, dict[str, list[Any]]]:
        """The node's update: its writes to state keys (routing / internal channels left out); and the items
        it wrote, by key (a write that is not a list is one item)."""
        update: dict[str, Any] = {}
        written: dict[str, list[Any]] = {}
        for channel, stored in writes:
            if channel in self.state_keys or (not self.state_keys and not _internal(channel)):
                value = codec.to_wire(codec.decode(stored)) if isinstance(stored, dict) else stored
                written.setdefault(channel, []).extend(value if isinstance(value, list) else [value])
                if channel in update and isinstance(update[channel], list) and isinstance(value, list):
                    update[channel] = [*update[channel], *value]
                else:
                    update[channel] = value
        return update or None, written

    def _checkpoint_payload(self, d: Mapping[str, Any]) -> dict[str, Any]:
        def config(cid: Any) -> dict[str, Any] | None:
            if cid is None:
                return None
            return {"configurable": {"thread_id": self.thread_id, "checkpoint_ns": "", "checkpoint_id": cid}}

        return {
            "config": config(d.get("checkpoint_id")),
            "parent_config": config(d.get("parent_checkpoint_id")),
            "values": d.get("values") or {},
            "metadata": {"source": d.get("source"), "step": d.get("step"), "parents": {}},
            "next": d.get("next") or [],
            "tasks": [_checkpoint_task(t) for t in d.get("tasks") or []],
        }

    def _task_meta(self, task_id: str | None) -> dict[str, Any]:
        task = self.tasks.get(task_id or "", {})
        name = task.get("name")
        return {
            "thread_id": self.thread_id,
            "langgraph_step": task.get("step"),
            "langgraph_node": name,
            "langgraph_triggers": task.get("triggers") or [],
            "langgraph_path": ["__pregel_pull", name],
            "langgraph_checkpoint_ns": f"{name}:{task_id}" if name else "",
        }

    def _chain_event(self, kind: str, name: str, run_id: str | None, data: dict[str, Any],
                     metadata: dict[str, Any]) -> dict[str, Any]:
        tags = [f"graph:step:{metadata['langgraph_step']}"] if metadata.get("langgraph_step") is not None else []
        return {"event": kind, "data": data, "name": name, "tags": tags, "run_id": run_id,
                "metadata": metadata, "parent_ids": []}

    def _see_messages(self, values: Mapping[str, Any]) -> None:
        for value in values.values():
            for m in _messages_in(value):
                if m.get("id") is not None:
                    self.seen_messages.add(str(m["id"]))

    def _message_chunk(self, chunk: dict[str, Any], d: Mapping[str, Any]) -> list[Frame]:
        meta = self._task_meta(d.get("task_id"))
        out: list[Frame] = []
        msg_id = str(chunk.get("id")) if chunk.get("id") is not None else None
        if "messages-tuple" in self.mode_set:
            out.append(("messages", [chunk, meta]))
        if msg_id is not None:
            first = msg_id not in self.partial
            acc = self.partial.get(msg_id)
            if acc is None:
                acc = dict(chunk)
            else:
                acc = {**acc, **{k: v for k, v in chunk.items() if k != "content"},
                       "content": _concat(acc.get("content"), chunk.get("content"))}
            self.partial[msg_id] = acc
            self.seen_messages.add(msg_id)
            if "messages" in self.mode_set:
                if first:
                    out.append(("messages/metadata", {msg_id: {"metadata": meta}}))
                out.append(("messages/partial", [acc]))
        if "events" in self.mode_set:
            out.append(("events", self._chain_event("on_chat_model_stream", str(meta.get("langgraph_node")),
                                                    d.get("task_id"), {"chunk": chunk}, meta)))
        return out

    def _task_messages(self, d: Mapping[str, Any], update: Mapping[str, Any] | None) -> list[Frame]:
        """Messages a node wrote to state: `messages/complete` (and, when not streamed as chunks,
        a `messages` tuple)."""
        if not update or not ({"messages", "messages-tuple"} & self.mode_set):
            return []
        meta = self._task_meta(d.get("id"))
        out: list[Frame] = []
        for value in update.values():
            for m in _messages_in(value):
                mid = str(m["id"]) if m.get("id") is not None else None
                streamed = mid is not None and mid in self.partial
                if mid is not None and mid in self.seen_messages and not streamed:
                    continue  # already in the state before this node (e.g. a node returning the whole list)
                if "messages-tuple" in self.mode_set and not streamed:
                    out.append(("messages", [m, meta]))
                if "messages" in self.mode_set:
                    if not streamed:
                        out.append(("messages/metadata", {mid: {"metadata": meta}}))
                    out.append(("messages/complete", [m]))
                if mid is not None:
                    self.seen_messages.add(mid)
                    self.partial.pop(mid, None)
        return out


def _internal(channel: str) -> bool:
    return channel.startswith(("__", "branch:", "join:", "start:")) or ":" in channel


def _concat(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    return b if b not in (None, "") else a


def _error_text(error: Any) -> str | None:
    if not error:
        return None
    if isinstance(error, Mapping):
        return f"{error.get('type', 'Error')}: {error.get('message', '')}".rstrip(": ")
    return str(error)


def _checkpoint_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """A task of a `checkpoints` / `debug` checkpoint payload, in the SDK's CheckpointTaskPayload shape:
    `state` always (subgraph state is not kept separately: null), `error` and `result` only when set."""
    out: dict[str, Any] = {"id": task["id"], "name": task["name"], "interrupts": task.get("interrupts") or [],
                           "state": None}
    if task.get("error"):
        err = task["error"]
        out["error"] = err if isinstance(err, str) else f"{err.get('type', 'Error')}: {err.get('message', '')}"
    if task.get("result") is not None:
        out["result"] = task["result"]
    return out
