"""The interface of the runtime port for the durable layer (and the in-memory driver).

await prepare_run(graph, checkpoint, *, input, command, run_opts, pending=None, fork=False, ...) -> Decision
await run_task(graph, task, checkpoint, *, config, resume=None, stream_writer=None, ...) -> TaskOutcome
await barrier(graph, checkpoint, outcomes, run_opts) -> Decision
state_snapshot(graph, checkpoint, pending) -> dict
await update_state(graph, checkpoint, values, as_node=None, *, config=None, pending=None) -> Decision
checkpoint_values(graph, checkpoint) -> dict
read_values(graph, checkpoint, *, output=False) -> Any
"""

from __future__ import annotations

from engine.core.compiled import CompiledGraph
from engine.core.memory import MemoryThread
from engine.core.pregel import (
    barrier,
    checkpoint_values,
    command_from_json,
    prepare_run,
    read_values,
    run_task,
    state_snapshot,
    update_state,
)
from engine.core.records import Decision, Interrupt, Pending, RunOptions, TaskOutcome, TaskSpec

__all__ = [
    "CompiledGraph",
    "Decision",
    "Interrupt",
    "MemoryThread",
    "Pending",
    "RunOptions",
    "TaskOutcome",
    "TaskSpec",
    "barrier",
    "checkpoint_values",
    "command_from_json",
    "prepare_run",
    "read_values",
    "run_task",
    "state_snapshot",
    "update_state",
]
