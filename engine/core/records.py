"""The records exchanged with the durable layer: TaskSpec, TaskOutcome, Decision, RunOptions.

TaskSpec, TaskOutcome and RunOptions have `to_json()` / `from_json()` (Postgres jsonb); a Decision lives only
in the transaction that applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from engine.core import codec

PULL = "__pregel_pull"
PUSH = "__pregel_push"


@dataclass(frozen=True)
class Interrupt:
    """An `interrupt()` waiting for an answer, as the API shows it: its value (JSON) and its id."""

    value: Any
    id: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "id": self.id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Interrupt:
        return cls(data.get("value"), str(data.get("id", "")))

SUBGRAPH_EVENT = "__subgraph__"  # a custom-event chunk carrying a subgraph's own stream frame
DEFAULT_RECURSION_LIMIT = 10007  # LangGraph 1.2's default: graphs that loop there loop here too

TaskStatus = Literal["success", "interrupted", "error"]
DecisionKind = Literal["continue", "interrupted", "done", "error"]


@dataclass(frozen=True)
class TaskSpec:
    """One task of a superstep. `id` is deterministic in (checkpoint id, step, node, path)."""

    id: str
    name: str
    path: list[Any]  # [PULL, name] or [PUSH, idx]
    step: int
    send_arg: Any | None = None
    triggers: list[str] = field(default_factory=list)

    @property
    def is_push(self) -> bool:
        return bool(self.path) and self.path[0] == PUSH

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "path": list(self.path),
            "step": self.step,
            "send_arg": self.send_arg,
            "triggers": list(self.triggers),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskSpec:
        return cls(
            id=data["id"],
            name=data["name"],
            path=list(data["path"]),
            step=int(data["step"]),
            send_arg=data.get("send_arg"),
            triggers=list(data.get("triggers") or []),
        )


@dataclass
class TaskOutcome:
    """What running one task produced: LangGraph's writes of the task (state keys, `branch:to:...`, Sends,
    and for an interrupted task `__interrupt__` / `__resume__`). Stored through `codec`."""

    status: TaskStatus
    writes: list[tuple[str, Any]] = field(default_factory=list)
    interrupts: list[Interrupt] = field(default_factory=list)
    error: dict[str, Any] | None = None
    # `writes` encoded, when whoever made the outcome encoded them already (run_task checks that every
    # write can be stored by encoding it): the step's commit, its task row and its event reuse them
    wire: list[list[Any]] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        if self.wire is None:
            self.wire = [[c, codec.encode(v)] for c, v in self.writes]
        return {
            "status": self.status,
            "writes": self.wire,
            "interrupts": [i.to_json() for i in self.interrupts],
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskOutcome:
        return cls(
            status=data["status"],
            writes=[(str(c), codec.decode(v)) for c, v in data.get("writes") or []],
            interrupts=[Interrupt.from_json(i) for i in data.get("interrupts") or []],
            error=data.get("error"),
        )


Pending = dict[str, tuple[TaskSpec, TaskOutcome]]


@dataclass
class RunOptions:
    """Per-run options. `interrupt_before/after` default to the graph's compile-time lists when None."""

    interrupt_before: list[str] | Literal["*"] | None = None
    interrupt_after: list[str] | Literal["*"] | None = None
    recursion_limit: int = DEFAULT_RECURSION_LIMIT
    config: dict[str, Any] = field(default_factory=dict)
    context: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "interrupt_before": self.interrupt_before,
            "interrupt_after": self.interrupt_after,
            "recursion_limit": self.recursion_limit,
            "config": self.config,
            "context": self.context,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunOptions:
        return cls(
            interrupt_before=data.get("interrupt_before"),
            interrupt_after=data.get("interrupt_after"),
            recursion_limit=int(data.get("recursion_limit") or DEFAULT_RECURSION_LIMIT),
            config=dict(data.get("config") or {}),
            context=data.get("context"),
        )


@dataclass
class Decision:
    """What to do after prepare_run / barrier / update_state.

    - `checkpoints`: persist in order; a checkpoint whose id already exists REPLACES it (a resume
      re-saves the current checkpoint with the Command's writes applied — same id, same step).
    - `checkpoint`: the checkpoint the `tasks` run against (pass it to run_task and barrier).
    - `tasks`: to enqueue now (continue) / still pending (interrupted).
    - `resume`: task id -> what to pass verbatim as run_task(resume=...) (its resume writes and flags).
    - `kept`: outcomes already committed for this superstep (successful siblings of an interrupted
      task); they are not re-run and must be handed to `barrier` together with the new outcomes.
    - `outcomes`: (interrupted) every outcome of the interrupted superstep, to keep as pending.
    - `output`: (done) the run output, filtered by the output schema.
    - `reason`: "node" | "before" | "after" for interrupts.
    """

    kind: DecisionKind
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[TaskSpec] = field(default_factory=list)
    interrupts: list[Interrupt] = field(default_factory=list)
    error: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    resume: dict[str, Any] = field(default_factory=dict)
    kept: Pending = field(default_factory=dict)
    outcomes: Pending = field(default_factory=dict)
    reason: str | None = None
    # checkpoint id -> {"next", "tasks"} of that checkpoint as saved, where the loop already knew
    # them (saves reading the checkpoint again for its event); not persisted
    views: dict[str, dict[str, Any]] = field(default_factory=dict)


__all__ = [
    "PULL",
    "PUSH",
    "Decision",
    "Interrupt",
    "Pending",
    "RunOptions",
    "TaskOutcome",
    "TaskSpec",
]
