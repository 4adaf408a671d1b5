"""In-memory driver of the runtime port: prepare_run -> run each task -> barrier, until the run ends.

It makes only the calls the durable layer makes, with a dict for storage; the differential tests hold it
against LangGraph's own `invoke` with an `InMemorySaver`.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from engine.core.compiled import CompiledGraph
from engine.core.errors import error_json
from engine.core.pregel import barrier, prepare_run, run_task, state_snapshot, update_state
from engine.core.records import Decision, Pending, RunOptions, TaskOutcome


class MemoryThread:
    """A thread kept in memory: checkpoints (oldest first) + the pending outcomes of its head."""

    def __init__(self, graph: CompiledGraph, thread_id: str = "thread-1") -> None:
        self.graph = graph
        self.thread_id = thread_id
        self.checkpoints: list[dict[str, Any]] = []
        self.pending: Pending = {}

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.checkpoints[-1] if self.checkpoints else None

    def _save(self, checkpoints: list[dict[str, Any]]) -> None:
        for cp in checkpoints:
            for i, existing in enumerate(self.checkpoints):
                if existing["id"] == cp["id"]:
                    self.checkpoints[i] = cp
                    break
            else:
                self.checkpoints.append(cp)

    def options(self, **opts: Any) -> RunOptions:
        config = dict(opts.pop("config", None) or {})
        configurable = {"thread_id": self.thread_id, "run_id": str(uuid.uuid4()), **(config.get("configurable") or {})}
        return RunOptions(config={**config, "configurable": configurable}, **opts)

    async def run(self, input: Any | None = None, command: Any = None, *, checkpoint_id: str | None = None,
                  **opts: Any) -> Decision:
        """Run on the head, or on an earlier checkpoint (`checkpoint_id`: time travel -> fork)."""
        base, pending, fork = self.latest, self.pending, False
        head = self.latest["id"] if self.latest else None
        if checkpoint_id is not None and (base is None or base["id"] != checkpoint_id):
            base = next(cp for cp in self.checkpoints if cp["id"] == checkpoint_id)
            pending, fork = {}, True
        run_opts = self.options(**opts)
        decision = await prepare_run(self.graph, base, input=input, command=command, run_opts=run_opts,
                                     pending=pending, fork=fork, head_id=head, thread_id=self.thread_id)
        self._save(decision.checkpoints)
        self.pending = dict(decision.kept) if decision.kind in ("continue", "interrupted") else {}
        while decision.kind == "continue":
            cp = decision.checkpoint
            assert cp is not None
            outcomes: Pending = dict(decision.kept)
            results = await asyncio.gather(
                *(self._run(t, cp, run_opts, decision.resume.get(t.id)) for t in decision.tasks))
            for task, outcome in zip(decision.tasks, results, strict=True):
                outcomes[task.id] = (task, outcome)
            self.pending = outcomes
            failed = [o for _, o in outcomes.values() if o.status == "error"]
            if failed:
                return Decision("error", error=failed[0].error, checkpoint=cp)
            decision = await barrier(self.graph, cp, outcomes, run_opts, thread_id=self.thread_id)
            self._save(decision.checkpoints)
            self.pending = decision.outcomes if decision.kind == "interrupted" else dict(decision.kept)
            if decision.kind == "continue":
                self.pending = dict(decision.kept)
        return decision

    async def _run(self, task: Any, cp: dict[str, Any], opts: RunOptions, resume: Any) -> TaskOutcome:
        try:
            return await run_task(self.graph, task, cp, config=opts.config, resume=resume, run_opts=opts)
        except Exception as exc:
            return TaskOutcome("error", error=error_json(exc))

    def state(self) -> dict[str, Any]:
        return state_snapshot(self.graph, self.latest, self.pending)

    def history(self) -> list[dict[str, Any]]:
        """Newest first, like LangGraph's get_state_history."""
        return list(reversed(self.checkpoints))

    async def update_state(self, values: Any, as_node: str | None = None) -> Decision:
        decision = await update_state(self.graph, self.latest, values, as_node, pending=self.pending,
                                      thread_id=self.thread_id)
        self._save(decision.checkpoints)
        self.pending = {}
        return decision
