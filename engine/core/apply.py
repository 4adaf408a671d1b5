"""Applying one superstep's writes to the channels at the barrier (LangGraph's apply_writes).

Deterministic: tasks are applied in path order, so reducer results do not depend on which worker
finished first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.core.channels import Channel
from engine.core.records import task_path_str
from engine.core.types import RESERVED, RESUME

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph

# writes that are bookkeeping, never channel updates
_SKIP = frozenset({RESUME, "__interrupt__", "__error__", "__subgraph__", "__no_writes__", "__return__"})


@dataclass
class WriteSet:
    """The writes of one task (or of the input / update_state / a Command, with no triggers)."""

    path: list[Any]
    name: str
    writes: Sequence[tuple[str, Any]]
    triggers: Sequence[str] = field(default_factory=list)


def apply_writes(
    graph: CompiledGraph, cp: dict[str, Any], channels: dict[str, Channel], tasks: Sequence[WriteSet]
) -> set[str]:
    """Mutates `cp` (versions, seen) and `channels`; returns the channels updated.

    Raises InvalidUpdateError (e.g. two writes to a LastValue key in one superstep)."""
    ordered = sorted(tasks, key=lambda t: task_path_str(t.path))
    bump_step = any(t.triggers for t in ordered)
    versions: dict[str, int] = cp["versions"]
    seen: dict[str, dict[str, int]] = cp["seen"]
    for task in ordered:
        node_seen = seen.setdefault(task.name, {})
        for chan in task.triggers:
            if chan in versions:
                node_seen[chan] = versions[chan]
    new_version = (max(versions.values()) if versions else 0) + 1
    # consume the channels that triggered the tasks (joins reset, sends are taken)
    for chan in sorted({c for t in ordered for c in t.triggers if c not in RESERVED and c in channels}):
        if channels[chan].consume():
            versions[chan] = new_version
    by_channel: dict[str, list[Any]] = {}
    for task in ordered:
        for chan, value in task.writes:
            if chan in _SKIP:
                continue
            if chan in channels:
                by_channel.setdefault(chan, []).append(value)
    updated: set[str] = set()
    for chan, values in by_channel.items():
        if channels[chan].update(values):
            versions[chan] = new_version
            if channels[chan].is_available():
                updated.add(chan)
    if bump_step:
        for chan, ch in channels.items():
            if chan not in updated and ch.is_available():
                if ch.update([]):
                    versions[chan] = new_version
                    if ch.is_available():
                        updated.add(chan)
    return updated
