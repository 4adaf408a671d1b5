"""A task's result as stored: its writes once, in its `task_result` event (and a checkpoint event that
appended them to a list refers to them there).

The event carries the writes (codec-encoded, exact: a stream's `updates`, replay and the engine read them
there); the task's row keeps its status, interrupts and error, and the id of that event, committed in the
same transaction (sql/migrations/0012). The queries that read a finished task's outcome again (the last task
of a superstep of several, a resume's pending writes, the dashboard) put the event's writes back into it.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import orjson
from langchain_core.messages import BaseMessage
from langgraph.graph.message import add_messages

from engine.core import codec
from engine.core.api import Pending, TaskOutcome, TaskSpec
from engine.durable import events
from engine.durable.db import jsonb_text
from engine.durable.ids import uuid7
from engine.durable.sizes import check_stored


@dataclass(frozen=True)
class StoredResult:
    """What a task's commit stores: `row`, the task row's outcome without its writes; `event`, the
    `task_result` event with the writes (serialized once, here), whose id the row refers to."""

    row: str
    event: events.Event

    @property
    def event_id(self) -> Any:
        return self.event.event_id


def stored_result(spec: TaskSpec, outcome: TaskOutcome, *, limit: int | None = None, what: str = "",
                  cached: bool = False) -> StoredResult:
    """The row and the event of `outcome`. With `limit`, raises StateTooLarge (engine.errors) when the
    result is over it. A `cached` event reports again, at a resume, the outcome of a task that finished
    before the interrupt."""
    doc = outcome.to_json()
    writes = codec.wire_dumps(doc.pop("writes"))  # exact (codec-encoded): replay rebuilds state from these
    row = jsonb_text(doc)
    assert row is not None
    check_stored([row, writes], limit, what)
    data: dict[str, Any] = {
        "id": spec.id,
        "name": spec.name,
        "step": spec.step,
        "path": spec.path,
        "triggers": spec.triggers,
        "send_arg": spec.send_arg,
        "status": outcome.status,
        "writes": orjson.Fragment(writes),
        "interrupts": doc["interrupts"],
        "error": outcome.error,
    }
    if cached:
        data["cached"] = True
    return StoredResult(row, events.Event("task_result", data, event_id=uuid7()))


def appended_writes(graph: Any, channel: str, items: list[Any], results: Pending) -> dict[str, Any] | None:
    """`items`, appended to `channel` by a superstep, as a reference to the writes of its tasks, when they are
    exactly those writes in order (the very objects): {"tasks": [task ids, in order]}, plus, for messages,
    "ids" (what `add_messages` gave a message written without one). A stream rebuilds them from the tasks'
    `task_result` events, which come before the checkpoint's in the run (api/sse.py). None when they are not
    (a reducer of the graph's own, messages coerced from other forms, a list that is not plain JSON...): the
    checkpoint event carries the items themselves then.

    Only LangGraph's `operator.add` and `add_messages` qualify: they append the written objects as they are
    (the latter gives a message without an id its id, and nothing else)."""
    reducer = getattr(graph.pregel.channels.get(channel), "operator", None)
    messages = reducer is add_messages
    if not items or not (messages or reducer is operator.add):
        return None
    starts: dict[int, tuple[str, list[Any]]] = {}
    for tid, (_, outcome) in results.items():
        if outcome.status != "success":
            continue
        written = [x for c, v in outcome.writes if c == channel for x in (v if isinstance(v, list) else [v])]
        if written:
            starts[id(written[0])] = (tid, written)
    tasks: list[str] = []
    i = 0
    while i < len(items):
        found = starts.pop(id(items[i]), None)
        if found is None:
            return None
        tid, written = found
        if any(a is not b for a, b in zip(written, items[i:i + len(written)], strict=False)) or \
                len(written) > len(items) - i:
            return None
        tasks.append(tid)
        i += len(written)
    if messages:
        if not all(isinstance(m, BaseMessage) for m in items):
            return None
        return {"tasks": tasks, "ids": [m.id for m in items]}
    if not all(_scalar(x) for x in items):
        return None  # stored as JSON as they are only when plain: what a stream rebuilds is then exact
    return {"tasks": tasks}


def _scalar(value: Any) -> bool:
    return value is None or type(value) in (str, int, float, bool)
