"""In-memory driver: prepare_run -> run tasks -> barrier until done / interrupted / error.

It uses only the public interface of the core (the same calls the durable layer makes), applies
RetryPolicy and timeouts in-process, and backs subgraph nodes, `CompiledGraph.invoke` and tests.
`MemoryThread` keeps a thread's checkpoints and pending outcomes like LangGraph's InMemorySaver.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.core.errors import EngineError, GraphInterrupt, NodeTimeoutError
from engine.core.records import Decision, Pending, RunOptions, TaskOutcome, TaskSpec
from engine.core.run import prepare_run
from engine.core.runtime import run_task
from engine.core.state import state_snapshot, update_state
from engine.core.types import Command

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph


async def run_with_policy(
    graph: CompiledGraph,
    task: TaskSpec,
    checkpoint: dict[str, Any],
    *,
    config: dict[str, Any],
    resume: list[Any] | None,
    stream_writer: Callable[[Any], None] | None = None,
) -> TaskOutcome:
    """run_task with the node's timeout and retry policy applied (what a worker does)."""
    spec = graph.nodes[task.name]
    attempt = 0
    while True:
        attempt += 1
        try:
            coro = run_task(graph, task, checkpoint, config=config, resume=resume, stream_writer=stream_writer)
            if spec.timeout is not None:
                try:
                    return await asyncio.wait_for(coro, spec.timeout)
                except TimeoutError as exc:
                    raise NodeTimeoutError(f"Node `{task.name}` timed out after {spec.timeout}s") from exc
            return await coro
        except Exception as exc:
            delay = spec.retry_delay(exc, attempt)
            if delay is None:
                raise
            await asyncio.sleep(delay)


Sink = Callable[[list[dict[str, Any]], Pending], None]


async def run_in_memory(
    graph: CompiledGraph,
    input: Any | None = None,
    command: Command | dict[str, Any] | None = None,
    checkpoint: dict[str, Any] | None = None,
    run_opts: RunOptions | None = None,
    *,
    pending: Pending | None = None,
    stream_writer: Callable[[Any], None] | None = None,
    sink: Sink | None = None,
    fork: bool = False,
    on_step: Callable[[Pending], None] | None = None,
) -> tuple[Decision, list[dict[str, Any]]]:
    """Drive a run to its end. Returns the final Decision and every checkpoint to persist, in order
    (a checkpoint id may repeat: a later one replaces the earlier). Node exceptions propagate.

    `sink(checkpoints, pending)` is called as the run progresses (new checkpoints; the outcomes of
    the current superstep that must be kept: interrupted supersteps, or successful siblings of a
    task that raised). `on_step(outcomes)` is called with each completed superstep's outcomes, before
    its barrier."""
    opts = run_opts or RunOptions()
    if opts.context is not None and "context" not in opts.config:
        opts = dataclasses.replace(opts, config={**opts.config, "context": opts.context})
    decision = prepare_run(graph, checkpoint, input=input, command=command, run_opts=opts, pending=pending, fork=fork)
    checkpoints = list(decision.checkpoints)
    if sink is not None:
        sink(decision.checkpoints, {})
    while decision.kind == "continue":
        cp = decision.checkpoint
        assert cp is not None
        outcomes: Pending = dict(decision.kept)
        results: dict[str, asyncio.Task[TaskOutcome]] = {}
        try:
            async with asyncio.TaskGroup() as group:
                for task in decision.tasks:
                    resume = decision.resume.get(task.id)
                    results[task.id] = group.create_task(
                        run_with_policy(graph, task, cp, config=opts.config, resume=resume, stream_writer=stream_writer)
                    )
        except BaseExceptionGroup as group_error:  # re-raise the node's own exception, like invoke()
            if sink is not None:
                for task in decision.tasks:
                    job = results.get(task.id)
                    if job is not None and job.done() and not job.cancelled() and job.exception() is None:
                        outcomes[task.id] = (task, job.result())
                sink([], outcomes)
            raise group_error.exceptions[0] from None
        for task in decision.tasks:
            outcomes[task.id] = (task, results[task.id].result())
        if on_step is not None:
            on_step(outcomes)
        decision = _barrier(graph, cp, outcomes, opts)
        checkpoints.extend(decision.checkpoints)
        if sink is not None:
            sink(decision.checkpoints, decision.outcomes if decision.kind == "interrupted" else {})
    return decision, checkpoints


def _barrier(graph: CompiledGraph, cp: dict[str, Any], outcomes: Pending, opts: RunOptions) -> Decision:
    from engine.core.barrier import barrier

    return barrier(graph, cp, outcomes, opts)


def raise_for(decision: Decision) -> None:
    """Turn an error / interrupted Decision into the exception LangGraph's invoke would raise."""
    if decision.kind == "error":
        err = decision.error or {}
        raise EngineError(str(err.get("message", "run failed")), code=str(err.get("code", "engine_error")))
    if decision.kind == "interrupted":
        raise GraphInterrupt(decision.interrupts)


async def invoke_in_memory(
    graph: CompiledGraph,
    input: Any,
    *,
    config: dict[str, Any] | None = None,
    recursion_limit: int | None = None,
    interrupt_before: Any = None,
    interrupt_after: Any = None,
) -> Any:
    """One-shot run without persistence: returns the output values (raises on error/interrupt).

    Called from inside a running node (`return subgraph.invoke(state)`), it runs as that node's
    subgraph: interrupts inside it pause the node and resume where they stopped."""
    from engine.core import scratchpad as sp

    pad = sp.current()
    if pad is not None:
        from engine.core.subgraph import run_subgraph

        return await run_subgraph(graph, input, pad.config, pad)
    cfg = dict(config or {})
    limit = recursion_limit or int(cfg.pop("recursion_limit", 0) or 0) or RunOptions().recursion_limit
    opts = RunOptions(
        interrupt_before=interrupt_before, interrupt_after=interrupt_after, recursion_limit=limit, config=cfg
    )
    decision, _ = await run_in_memory(graph, input=input, run_opts=opts)
    raise_for(decision)
    return decision.output


class MemoryThread:
    """A thread kept in memory: checkpoints (oldest first) + the pending outcomes of an interrupt."""

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

    def _sink(self, checkpoints: list[dict[str, Any]], pending: Pending) -> None:
        self._save(checkpoints)
        self.pending = dict(pending)

    async def run(
        self, input: Any | None = None, command: Command | None = None, *, checkpoint_id: str | None = None, **opts: Any
    ) -> Decision:
        """Run on the head, or on an earlier checkpoint (`checkpoint_id`: time travel -> fork)."""
        base, pending, fork = self.latest, self.pending, False
        if checkpoint_id is not None and (base is None or base["id"] != checkpoint_id):
            base = next(cp for cp in self.checkpoints if cp["id"] == checkpoint_id)
            pending, fork = {}, True
        decision, _ = await run_in_memory(
            self.graph, input, command, base, self.options(**opts), pending=pending, sink=self._sink, fork=fork
        )
        return decision

    def state(self) -> dict[str, Any]:
        return state_snapshot(self.graph, self.latest, self.pending)

    def history(self) -> list[dict[str, Any]]:
        """Newest first, like LangGraph's get_state_history."""
        return list(reversed(self.checkpoints))

    def update_state(self, values: Any, as_node: str | None = None) -> Decision:
        decision = update_state(self.graph, self.latest, values, as_node)
        self._save(decision.checkpoints)
        self.pending = {}
        return decision
