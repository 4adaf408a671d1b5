"""Superstep planning (LangGraph's prepare_next_tasks / should_interrupt), pure and deterministic.

Task order: PUSH tasks (pending Sends, by index) then PULL tasks in node definition order — the
order LangGraph's `get_state().next` lists them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from engine.core.channels import Channel
from engine.core.checkpoint import hashed_uuid
from engine.core.records import TaskSpec
from engine.core.types import INTERRUPT, PULL, PUSH, START, TASKS

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph


def task_id(checkpoint_id: str, step: int, name: str, *path: str) -> str:
    return hashed_uuid("task", checkpoint_id, str(step), name, *path)


def interrupt_id(task_id_: str, answered: int) -> str:
    """Id of the interrupt a task raises after `answered` resume values (32 hex, like LangGraph's)."""
    return hashed_uuid("interrupt", task_id_, str(answered)).replace("-", "")


def _triggered(
    channels: dict[str, Channel], versions: dict[str, int], seen: dict[str, int] | None, triggers: Sequence[str]
) -> bool:
    for chan in triggers:
        if not channels[chan].is_available():
            continue
        if seen is None or versions.get(chan, 0) > seen.get(chan, 0):
            return True
    return False


def prepare_next_tasks(
    graph: CompiledGraph, cp: dict[str, Any], channels: dict[str, Channel], step: int
) -> list[TaskSpec]:
    """The tasks of superstep `step` given checkpoint `cp` (whose channels are `channels`)."""
    tasks: list[TaskSpec] = []
    topic = channels[TASKS]
    if topic.is_available():
        for idx, packet in enumerate(topic.get()):
            node = packet.get("node") if isinstance(packet, dict) else None
            if node not in graph.nodes or node == START:
                continue
            tid = task_id(cp["id"], step, node, PUSH, str(idx))
            tasks.append(TaskSpec(tid, node, [PUSH, idx], step, packet.get("arg"), [PUSH]))
    versions: dict[str, int] = cp.get("versions") or {}
    if not versions:
        return tasks
    seen_all: dict[str, dict[str, int]] = cp.get("seen") or {}
    for name, spec in graph.nodes.items():
        if _triggered(channels, versions, seen_all.get(name), spec.triggers):
            triggers = sorted(spec.triggers)
            tid = task_id(cp["id"], step, name, PULL, *triggers)
            tasks.append(TaskSpec(tid, name, [PULL, name], step, None, triggers))
    return tasks


def should_interrupt(
    cp: dict[str, Any], interrupt_nodes: Sequence[str] | Literal["*"] | None, tasks: Sequence[TaskSpec]
) -> list[TaskSpec]:
    """Tasks to stop at: named in `interrupt_nodes` (or all but __start__ for "*"), and only if some
    channel changed since the last static interrupt."""
    if not interrupt_nodes:
        return []
    seen = (cp.get("seen") or {}).get(INTERRUPT, {})
    versions: dict[str, int] = cp.get("versions") or {}
    if not any(v > seen.get(ch, 0) for ch, v in versions.items()):
        return []
    if interrupt_nodes == "*":
        return [t for t in tasks if t.name != START]
    return [t for t in tasks if t.name in interrupt_nodes]
