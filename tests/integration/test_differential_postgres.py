"""Differential tests with LangGraph as the oracle, DuraGraph running ON POSTGRES with real procrastinate
workers: the same graphs (written once, in tests/unit/test_core_differential.py) must agree on values,
`next`, interrupt values, the number of checkpoints, the error and the whole history after every step."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

import engine
from engine.core.errors import EngineError
from engine.errors import ServiceError
from tests.integration.engine_support import engine as engine_ctx
from tests.unit import test_core_differential as D
from tests.unit.test_core_harness import EN, LangGraphRunner, Observation, Step

T = TypeVar("T")


class PostgresRunner:
    """The harness's runner interface over RunService/StateService, on a real database and workers."""

    def __init__(self, build: Callable[[Any], Any], compile_kw: dict[str, Any], database_url: str) -> None:
        self.graph = build(EN).compile(**compile_kw)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ctx = engine_ctx(database_url, {"g": self.graph}, concurrency=4)
        self.e = self.run(self.ctx.__aenter__())
        self.tid = self.run(self.e.new_thread())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.run(self.ctx.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def pending(self) -> list[Any]:
        state = self.run(self.e.state.get(self.tid))
        return [engine.Interrupt(value=i["value"], id=i["id"]) for i in state["interrupts"]]

    def do(self, step: Step) -> Observation:
        error = None
        try:
            if step.update is not None:
                self.run(self.e.state.update(self.tid, step.update[0], as_node=step.update[1]))
            else:
                command = step.command(EN, self.pending()) if step.command is not None else None
                opts = dict(step.opts)
                limit = opts.pop("recursion_limit", None)
                run = self.run(self.e.run(
                    "g", self.tid, input=step.input, command=_command_json(command) if command else None,
                    config={"recursion_limit": limit} if limit else {}, **opts))
                if run["status"] == "error":
                    error = run["error"].get("code") or run["error"]["type"]
        except (EngineError, ServiceError) as exc:
            error = exc.code
        state = self.run(self.e.state.get(self.tid))
        history = self.run(self.e.state.history(self.tid, limit=1000))
        return Observation(
            values=dict(state["values"]),
            next=list(state["next"]),
            interrupts=sorted((i["value"] for i in state["interrupts"]), key=repr),
            checkpoints=len(history),
            error=error,
            history=[(h["metadata"]["step"], h["metadata"]["source"], h["next"], h["values"]) for h in history],
        )


def _command_json(cmd: Any) -> dict[str, Any]:
    """A LangGraph Command as the API takes it."""
    return {k: v for k, v in (("resume", cmd.resume), ("update", cmd.update), ("goto", cmd.goto)) if v}


def _resume_first_only(api: Any, pending: list[Any]) -> Any:
    target = min(pending, key=lambda p: repr(p.value))  # not by position: parallel order may vary
    return api.Command(resume={target.id: "one"})


SCENARIOS: dict[str, tuple[Callable[[Any], Any], list[Step], dict[str, Any]]] = {
    "linear": (D._linear, [Step(input={"x": 1}), Step(input={"x": 5})], {}),
    "branching": (D._branching, [Step(input={"x": 3}), Step(input={"x": 30})], {}),
    "loop_recursion_limit": (D._loop, [Step(input={"x": 0}, opts={"recursion_limit": 4}),
                                       Step(input=None, opts={"recursion_limit": 4})], {}),
    "fanout_send_reducer": (D._fanout, [Step(input={"items": [1, 2, 3]})], {}),
    "join_edge": (D._join, [Step(input={"x": 0})], {}),
    "command_goto_update": (D._command, [Step(input={"x": 0})], {}),
    "subgraph": (D._subgraph, [Step(input={"x": 1})], {}),
    "interrupt_resume": (D._ask_once, [Step(input={"x": 1}), Step(command=D._resume("Ada"))], {}),
    "two_interrupts_one_node": (D._ask_twice, [Step(input={"x": 1}), Step(command=D._resume("A")),
                                               Step(command=D._resume("B"))], {}),
    "parallel_interrupts_by_id": (D._ask_parallel, [Step(input={"x": 0}), Step(command=D._resume_by_id)], {}),
    "parallel_interrupts_one_at_a_time": (D._ask_parallel, [Step(input={"x": 0}), Step(command=_resume_first_only),
                                                            Step(command=D._resume("two"))], {}),
    "resume_with_update": (D._ask_once, [Step(input={"x": 1}), Step(
        command=lambda api, p: api.Command(resume="Bo", update={"x": 42}))], {}),
    "interrupt_before_compile": (D._linear, [Step(input={"x": 1}), Step(input=None), Step(input=None)],
                                 {"interrupt_before": ["b"]}),
    "interrupt_after_run": (D._linear, [Step(input={"x": 1}, opts={"interrupt_after": "*"}),
                                        Step(input=None, opts={"interrupt_after": "*"})], {}),
    "update_state_as_node": (D._linear, [Step(input={"x": 1}, opts={"interrupt_before": ["b"]}),
                                         Step(update=({"x": 10, "log": ["manual"]}, "a")), Step(input=None)], {}),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_postgres_engine_agrees_with_langgraph(name: str, database_url: str) -> None:
    build, steps, compile_kw = SCENARIOS[name]
    lg = LangGraphRunner(build, dict(compile_kw))
    pg = PostgresRunner(build, dict(compile_kw), database_url)
    try:
        for i, step in enumerate(steps):
            expected = lg.do(step)
            actual = pg.do(step)
            assert actual.comparable() == expected.comparable(), f"step {i}: postgres {actual} != langgraph {expected}"
    finally:
        pg.close()
