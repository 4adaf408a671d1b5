"""The interface of the pure core for the durable layer (and the in-memory driver).

prepare_run(graph, checkpoint, *, input, command, run_opts, pending=None) -> Decision
resume_run(graph, checkpoint, pending, command, run_opts) -> Decision      (alias: resume_tasks)
await run_task(graph, task, checkpoint, *, config, resume=None, stream_writer=None) -> TaskOutcome
barrier(graph, checkpoint, outcomes, run_opts) -> Decision
state_snapshot(graph, checkpoint, pending) -> dict
update_state(graph, checkpoint, values, as_node=None, *, config=None, pending=None) -> Decision
checkpoint_values(graph, checkpoint) -> dict
await run_in_memory(graph, input=None, command=None, checkpoint=None, run_opts=None, *, pending=None)
    -> (Decision, [checkpoint, ...])
"""

from __future__ import annotations

from engine.core.barrier import barrier
from engine.core.checkpoint import checkpoint_values, output_values
from engine.core.compiled import CompiledGraph, NodeSpec
from engine.core.loop import MemoryThread, run_in_memory, run_with_policy
from engine.core.records import Decision, Pending, RunOptions, TaskOutcome, TaskSpec
from engine.core.run import prepare_run, resume_tasks
from engine.core.runtime import run_task
from engine.core.state import state_snapshot, update_state

resume_run = resume_tasks

__all__ = [
    "CompiledGraph",
    "Decision",
    "MemoryThread",
    "NodeSpec",
    "Pending",
    "RunOptions",
    "TaskOutcome",
    "TaskSpec",
    "barrier",
    "checkpoint_values",
    "output_values",
    "prepare_run",
    "resume_run",
    "resume_tasks",
    "run_in_memory",
    "run_task",
    "run_with_policy",
    "state_snapshot",
    "update_state",
]
