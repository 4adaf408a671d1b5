"""The checkpoint: a plain JSON dict the durable layer stores verbatim.

    {"v": 1, "id": str, "parent_id": str | None, "step": int, "source": "input"|"loop"|"update",
     "values": {channel: json}, "versions": {channel: int}, "seen": {node: {channel: int}},
     "stop": int | None, "updated_channels": [channel, ...]}

`values` holds every channel, including internal ones (`branch:to:x`, `join:...`,
`__pregel_tasks`); `checkpoint_values()` gives the user-visible state.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from engine.core.channels import MISSING, Channel

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph

CHECKPOINT_VERSION = 1


def empty_checkpoint() -> dict[str, Any]:
    return {
        "v": CHECKPOINT_VERSION,
        "id": "00000000-0000-0000-0000-000000000000",
        "parent_id": None,
        "step": -2,  # LangGraph: an empty thread is at step -2, its input checkpoint at -1
        "source": "empty",
        "values": {},
        "versions": {},
        "seen": {},
        "stop": None,
        "updated_channels": [],
    }


def copy_checkpoint(cp: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to mutate (values are replaced, never mutated in place, so a shallow copy works)."""
    return {
        **cp,
        "values": dict(cp.get("values") or {}),
        "versions": dict(cp.get("versions") or {}),
        "seen": {k: dict(v) for k, v in (cp.get("seen") or {}).items()},
        "updated_channels": list(cp.get("updated_channels") or []),
    }


def hashed_uuid(*parts: str) -> str:
    """A UUID-formatted sha1 over the parts (deterministic ids for tasks and checkpoints)."""
    h = hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def new_checkpoint_id(parent_id: str | None, step: int, source: str, config: dict[str, Any]) -> str:
    """Deterministic within a run (same parent + step + run_id -> same id, so a re-computed barrier
    produces the same checkpoint); random when there is no run id."""
    configurable = config.get("configurable") or {}
    run_id = configurable.get("run_id") or config.get("run_id")
    if not run_id:
        return str(uuid.uuid4())
    ns = str(configurable.get("checkpoint_ns") or "")
    return hashed_uuid("checkpoint", str(parent_id), str(step), source, str(run_id), ns)


def load_channels(graph: CompiledGraph, cp: dict[str, Any]) -> dict[str, Channel]:
    values = cp.get("values") or {}
    return {name: proto.load(values.get(name, MISSING)) for name, proto in graph.channels.items()}


def dump_channels(channels: dict[str, Channel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, ch in channels.items():
        data = ch.dump()
        if data is not MISSING:
            out[name] = data
    return out


def read_state(graph: CompiledGraph, channels: dict[str, Channel], keys: list[str]) -> dict[str, Any]:
    return {k: channels[k].get() for k in keys if k in channels and channels[k].is_available()}


def checkpoint_values(graph: CompiledGraph, cp: dict[str, Any] | None) -> dict[str, Any]:
    """The user-visible state of a checkpoint (every state key that has a value)."""
    if cp is None:
        return {}
    return read_state(graph, load_channels(graph, cp), graph.state_keys)


def output_values(graph: CompiledGraph, cp: dict[str, Any]) -> dict[str, Any]:
    """The run output: state filtered by the output schema."""
    return read_state(graph, load_channels(graph, cp), graph.output_keys)


def next_version(cp: dict[str, Any]) -> int:
    versions = cp.get("versions") or {}
    return (max(versions.values()) if versions else 0) + 1
