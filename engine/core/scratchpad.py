"""Per-task context for user code: `interrupt()`, `get_stream_writer()`, `get_config()`.

A contextvar holds the running task's scratchpad; `interrupt(value)` returns the n-th resume value
of the task or raises GraphInterrupt carrying `Interrupt(value, id)` — ids depend only on the task
id and the number of answers so far, so they are stable across re-runs.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.core.errors import GraphInterrupt
from engine.core.plan import interrupt_id
from engine.core.types import Interrupt


@dataclass
class Scratchpad:
    task_id: str
    resume: list[Any]
    config: dict[str, Any]
    stream_writer: Callable[[Any], None] | None = None
    counter: int = 0
    consumed: int = 0
    depth: int = 0  # 0 = top-level graph, >0 = inside a subgraph
    subgraph_state: dict[str, Any] | None = None  # saved state of an interrupted subgraph
    subgraph_out: dict[str, Any] | None = field(default=None)  # set when a subgraph interrupts


_CURRENT: contextvars.ContextVar[Scratchpad | None] = contextvars.ContextVar("duragraph_scratchpad", default=None)


def current() -> Scratchpad | None:
    return _CURRENT.get()


def set_current(pad: Scratchpad | None) -> contextvars.Token[Scratchpad | None]:
    return _CURRENT.set(pad)


def reset_current(token: contextvars.Token[Scratchpad | None]) -> None:
    _CURRENT.reset(token)


def interrupt(value: Any) -> Any:
    """Pause the run and surface `value` to the client; returns the resume value once given.

    Resume values are matched to `interrupt()` calls by order within the node."""
    pad = _CURRENT.get()
    if pad is None:
        raise RuntimeError("interrupt() called outside of a running graph node")
    idx = pad.counter
    pad.counter += 1
    if idx < len(pad.resume):
        pad.consumed = max(pad.consumed, idx + 1)
        return pad.resume[idx]
    raise GraphInterrupt((Interrupt(value=value, id=interrupt_id(pad.task_id, len(pad.resume))),))


def noop_writer(_: Any) -> None:
    return None


def get_stream_writer() -> Callable[[Any], None]:
    """A function that emits custom stream events from inside a node (no-op when not streaming)."""
    pad = _CURRENT.get()
    if pad is None or pad.stream_writer is None:
        return noop_writer
    return pad.stream_writer


def get_config() -> dict[str, Any]:
    """The config of the running node (`config["configurable"]` has thread_id, run_id, ...)."""
    pad = _CURRENT.get()
    if pad is None:
        raise RuntimeError("get_config() called outside of a running graph node")
    return pad.config
