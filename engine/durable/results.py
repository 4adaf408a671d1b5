"""A task's result as stored: its writes once, in its `task_result` event.

The event carries the writes (codec-encoded, exact: a stream's `updates`, replay and the engine read them
there); the task's row keeps its status, interrupts and error, and the id of that event, committed in the
same transaction (sql/migrations/0012). The queries that read a finished task's outcome again (the last task
of a superstep of several, a resume's pending writes, the dashboard) put the event's writes back into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from engine.core import codec
from engine.core.api import TaskOutcome, TaskSpec
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
