"""Differential harness: one graph definition, run by real LangGraph (InMemorySaver) and by the
engine's in-memory driver (which only uses prepare_run / run_task / barrier / resume), compared
after every step on values, `next`, interrupt values, number of checkpoints and error code."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import langgraph.errors as lg_errors
import langgraph.graph as lg_graph
import langgraph.types as lg_types
from langgraph.checkpoint.memory import InMemorySaver

import engine
from engine.core.compiled import CompiledGraph
from engine.core.errors import EngineError
from engine.core.memory import MemoryThread
from engine.core.pregel import state_snapshot

LG = SimpleNamespace(
    name="langgraph",
    StateGraph=lg_graph.StateGraph,
    START=lg_graph.START,
    END=lg_graph.END,
    Send=lg_types.Send,
    Command=lg_types.Command,
    interrupt=lg_types.interrupt,
    RetryPolicy=lg_types.RetryPolicy,
)
EN = SimpleNamespace(
    name="engine",
    StateGraph=engine.StateGraph,
    START=engine.START,
    END=engine.END,
    Send=engine.Send,
    Command=engine.Command,
    interrupt=engine.interrupt,
    RetryPolicy=engine.RetryPolicy,
)


@dataclass
class Step:
    """One client action: new input, a Command built from the pending interrupts, or update_state."""

    input: Any = None
    command: Callable[[Any, list[Any]], Any] | None = None  # (api, pending interrupts) -> Command
    update: tuple[Any, str | None] | None = None
    opts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observation:
    values: dict[str, Any]
    next: list[str]
    interrupts: list[Any]
    checkpoints: int
    error: str | None
    history: list[tuple[Any, ...]] = field(default_factory=list)  # (step, source, next, values), newest first

    def comparable(self) -> tuple[Any, ...]:
        return (self.values, self.next, self.interrupts, self.checkpoints, self.error, self.history)


def _lg_error(exc: BaseException) -> str:
    if isinstance(exc, lg_errors.GraphRecursionError):
        return "recursion_limit"
    if isinstance(exc, lg_errors.InvalidUpdateError):
        return "invalid_update"
    if isinstance(exc, RuntimeError) and "multiple pending interrupts" in str(exc):
        return "invalid_resume"
    return type(exc).__name__


class LangGraphRunner:
    def __init__(self, build: Callable[[Any], Any], compile_kw: dict[str, Any]) -> None:
        self.graph = build(LG).compile(checkpointer=InMemorySaver(), **compile_kw)
        self.config: dict[str, Any] = {"configurable": {"thread_id": "t1"}}

    def pending(self) -> list[Any]:
        return list(self.graph.get_state(self.config).interrupts)

    def do(self, step: Step) -> Observation:
        error = None
        opts = dict(step.opts)
        limit = opts.pop("recursion_limit", None)
        config = {**self.config, **({"recursion_limit": limit} if limit else {})}
        try:
            if step.update is not None:
                self.graph.update_state(self.config, step.update[0], as_node=step.update[1])
            elif step.command is not None:
                asyncio.run(self.graph.ainvoke(step.command(LG, self.pending()), config, **opts))
            else:
                asyncio.run(self.graph.ainvoke(step.input, config, **opts))
        except Exception as exc:
            error = _lg_error(exc)
        try:
            state = self.graph.get_state(self.config)
        except lg_errors.InvalidUpdateError:  # get_state re-applies the failed step's pending writes
            state = next(iter(self.graph.get_state_history(self.config)))
        return Observation(
            values=dict(state.values),
            next=list(state.next),
            # parallel tasks interrupt in whatever order their threads finish: compare as a multiset
            interrupts=sorted((i.value for i in state.interrupts), key=repr),
            checkpoints=len(list(self.graph.get_state_history(self.config))),
            error=error,
            history=[
                (h.metadata["step"], h.metadata["source"], list(h.next), dict(h.values))
                for h in self.graph.get_state_history(self.config)
            ],
        )


class EngineRunner:
    def __init__(self, build: Callable[[Any], Any], compile_kw: dict[str, Any]) -> None:
        self.graph = CompiledGraph(build(EN).compile(**compile_kw))
        self.thread = MemoryThread(self.graph, "t1")

    def pending(self) -> list[Any]:
        return [engine.Interrupt(value=i["value"], id=i["id"]) for i in self.thread.state()["interrupts"]]

    def do(self, step: Step) -> Observation:
        error = None
        try:
            if step.update is not None:
                asyncio.run(self.thread.update_state(step.update[0], step.update[1]))
            else:
                command = step.command(EN, self.pending()) if step.command is not None else None
                decision = asyncio.run(self.thread.run(step.input, command, **step.opts))
                if decision.kind == "error":
                    err = decision.error or {}
                    error = str(err.get("code") or err.get("type"))
        except EngineError as exc:
            error = exc.code
        except Exception as exc:
            error = type(exc).__name__
        state = self.thread.state()
        return Observation(
            values=dict(state["values"]),
            next=list(state["next"]),
            interrupts=sorted((i["value"] for i in state["interrupts"]), key=repr),
            checkpoints=len(self.thread.history()),
            error=error,
            history=[
                (cp["step"], cp["source"], snap["next"], snap["values"])
                for cp in self.thread.history()
                for snap in [state_snapshot(self.graph, cp, None)]
            ],
        )


def compare(
    build: Callable[[Any], Any],
    steps: list[Step],
    compile_kw: dict[str, Any] | None = None,
    *,
    history: bool = True,
) -> list[Observation]:
    """Run both and assert they agree after every step (and on the whole checkpoint history unless
    `history=False`); returns the engine's observations."""
    lg = LangGraphRunner(build, dict(compile_kw or {}))
    en = EngineRunner(build, dict(compile_kw or {}))
    seen: list[Observation] = []
    for i, step in enumerate(steps):
        expected = lg.do(step)
        actual = en.do(step)
        if not history:
            expected.history = actual.history = []
        assert actual.comparable() == expected.comparable(), f"step {i}: engine {actual} != langgraph {expected}"
        seen.append(actual)
    return seen


def test_harness_agrees_on_trivial_graph() -> None:
    from typing import TypedDict

    class S(TypedDict):
        x: int

    def build(api: Any) -> Any:
        g = api.StateGraph(S)
        g.add_node("a", lambda s: {"x": s["x"] + 1})
        g.add_edge(api.START, "a")
        return g

    obs = compare(build, [Step(input={"x": 1})])
    assert obs[-1].values == {"x": 2}
