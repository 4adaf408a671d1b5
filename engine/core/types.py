"""Public value types of the graph API: START/END, Send, Command, Interrupt, RetryPolicy.

They mirror `langgraph.types` so a LangGraph program ports by changing imports. Every type here
converts to and from plain JSON (`to_json` / `from_json`) so the durable layer can store it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

START: str = "__start__"
END: str = "__end__"

# Reserved channel / write names (mirroring langgraph._internal._constants).
TASKS = "__pregel_tasks"  # Topic of pending Sends
RESUME = "__resume__"  # resume values consumed by a task
INTERRUPT = "__interrupt__"  # versions_seen key for static interrupts
PULL = "__pregel_pull"
PUSH = "__pregel_push"
BRANCH_TO = "branch:to:{}"
RESERVED = frozenset({TASKS, RESUME, INTERRUPT, PULL, PUSH, START, END})


@dataclass(frozen=True)
class Send:
    """Send `arg` to `node` as its input in the next superstep (a PUSH task)."""

    node: str
    arg: Any

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "arg": self.arg}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Send:
        return cls(node=data["node"], arg=data.get("arg"))


@dataclass(frozen=True)
class Command:
    """Returned by a node (update state + go to nodes) or given to a run (resume / update / goto)."""

    graph: str | None = None
    update: Any | None = None
    resume: Any | None = None
    goto: Send | str | Sequence[Send | str] = ()

    PARENT: ClassVar[Literal["__parent__"]] = "__parent__"

    def update_as_tuples(self) -> list[tuple[str, Any]]:
        upd = self.update
        if upd is None:
            return []
        if isinstance(upd, dict):
            return list(upd.items())
        if isinstance(upd, (list, tuple)) and all(
            isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) for t in upd
        ):
            return list(upd)
        from engine.core.serde import as_update_dict

        as_dict = as_update_dict(upd)
        if as_dict is not None:
            return list(as_dict.items())
        from engine.core.errors import InvalidUpdateError

        raise InvalidUpdateError(f"Command.update must be a dict, got {type(upd).__name__}")

    def goto_list(self) -> list[Send | str]:
        if isinstance(self.goto, (Send, str)):
            return [self.goto]
        return list(self.goto)

    def to_json(self) -> dict[str, Any]:
        return {
            "graph": self.graph,
            "update": self.update,
            "resume": self.resume,
            "goto": [g.to_json() if isinstance(g, Send) else g for g in self.goto_list()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Command:
        raw_goto = data.get("goto") or []
        if isinstance(raw_goto, (str, dict)):
            raw_goto = [raw_goto]
        goto: list[Send | str] = [Send.from_json(g) if isinstance(g, dict) else str(g) for g in raw_goto]
        return cls(graph=data.get("graph"), update=data.get("update"), resume=data.get("resume"), goto=goto)


@dataclass(frozen=True)
class Overwrite:
    """Write `value` to a reducer field bypassing its reducer (LangGraph's Overwrite)."""

    value: Any
    type: Literal["__overwrite__"] = "__overwrite__"

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "type": self.type}


@dataclass(frozen=True)
class Interrupt:
    """A pending question raised by `interrupt(value)` inside a node; `id` is stable across re-runs."""

    value: Any
    id: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "id": self.id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Interrupt:
        return cls(value=data.get("value"), id=str(data["id"]))


_NON_RETRYABLE: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    ArithmeticError,
    ImportError,
    LookupError,
    NameError,
    SyntaxError,
    RuntimeError,
    ReferenceError,
    StopIteration,
    StopAsyncIteration,
    OSError,
)


def default_retry_on(exc: BaseException) -> bool:
    """LangGraph's default: retry anything except programming errors; HTTP errors only on 5xx."""
    from engine.core.errors import EngineError

    if isinstance(exc, EngineError):
        return exc.code == "node_timeout"
    if isinstance(exc, ConnectionError):
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return 500 <= status < 600
    return not isinstance(exc, _NON_RETRYABLE)


RetryOn = type[BaseException] | Sequence[type[BaseException]] | Callable[[BaseException], bool]


@dataclass(frozen=True)
class RetryPolicy:
    """How the durable layer retries a failing node (same fields as LangGraph's RetryPolicy)."""

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: RetryOn = field(default=default_retry_on)

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """`attempt` is the 1-based number of the attempt that just failed."""
        if attempt >= self.max_attempts:
            return False
        on = self.retry_on
        if isinstance(on, type):
            return isinstance(exc, on)
        if isinstance(on, Sequence):
            return isinstance(exc, tuple(on))
        return bool(on(exc))

    def delay(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt number `attempt + 1`."""
        base = min(self.max_interval, self.initial_interval * self.backoff_factor ** max(0, attempt - 1))
        if self.jitter:
            base += (rng or random).uniform(0, 1)
        return float(base)

    def to_json(self) -> dict[str, Any]:
        return {
            "initial_interval": self.initial_interval,
            "backoff_factor": self.backoff_factor,
            "max_interval": self.max_interval,
            "max_attempts": self.max_attempts,
            "jitter": self.jitter,
        }
