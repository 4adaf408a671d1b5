"""Property tests of the pure core (hypothesis): what must hold for any input, not just the examples."""

from __future__ import annotations

import asyncio
import operator
import random
from typing import Annotated, Any, TypedDict

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import END, START, Send, StateGraph, add_messages
from engine.core.api import Decision, RunOptions, TaskOutcome, TaskSpec, barrier, prepare_run, run_task
from engine.core.types import Interrupt
from tests.unit.test_core_harness import Step, compare

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=8))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12,
)


class Fan(TypedDict, total=False):
    items: list[int]
    results: Annotated[list[int], operator.add]
    total: int


def _fanout(api: Any) -> Any:
    def split(state: Fan) -> dict[str, Any]:
        return {}

    def square(arg: dict[str, Any]) -> dict[str, Any]:
        return {"results": [arg["x"] * arg["x"]]}

    def total(state: Fan) -> dict[str, Any]:
        return {"total": sum(state["results"])}

    g = api.StateGraph(Fan)
    g.add_node("split", split)
    g.add_node("square", square)
    g.add_node("total", total)
    g.add_edge(api.START, "split")
    g.add_conditional_edges("split", lambda s: [api.Send("square", {"x": x}) for x in s["items"]], ["square"])
    g.add_edge("square", "total")
    g.add_edge("total", api.END)
    return g


@settings(max_examples=20, deadline=None)
@given(items=st.lists(st.integers(-1000, 1000), min_size=1, max_size=8))
def test_fanout_agrees_with_langgraph_for_any_items(items: list[int]) -> None:
    compare(_fanout, [Step(input={"items": items})])


@settings(max_examples=30, deadline=None)
@given(items=st.lists(st.integers(-50, 50), min_size=1, max_size=10), seed=st.integers(0, 2**16))
def test_barrier_does_not_depend_on_the_order_outcomes_arrive(items: list[int], seed: int) -> None:
    """Workers finish a superstep's tasks in any order; the barrier must apply them the same way."""
    graph = _fanout(_api()).compile()
    opts = RunOptions(config={"configurable": {"run_id": "r1", "thread_id": "t1"}})
    decision = prepare_run(graph, None, input={"items": items}, command=None, run_opts=opts)
    # run the planned supersteps until the fan-out step (several push tasks) is reached
    while decision.kind == "continue" and len(decision.tasks) < len(items) and len(items) > 1:
        decision = _step(graph, decision, opts)
    cp = decision.checkpoint
    assert cp is not None
    outcomes = {t.id: (t, asyncio.run(run_task(graph, t, cp, config=opts.config))) for t in decision.tasks}
    shuffled = list(outcomes.items())
    random.Random(seed).shuffle(shuffled)
    a = barrier(graph, cp, outcomes, opts)
    b = barrier(graph, cp, dict(shuffled), opts)
    assert a.to_json() == b.to_json()


def _step(graph: Any, decision: Decision, opts: RunOptions) -> Decision:
    cp = decision.checkpoint
    assert cp is not None
    outcomes = {t.id: (t, asyncio.run(run_task(graph, t, cp, config=opts.config))) for t in decision.tasks}
    return barrier(graph, cp, outcomes, opts)


def _api() -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(StateGraph=StateGraph, START=START, END=END, Send=Send)


@settings(max_examples=50, deadline=None)
@given(
    spec=st.builds(TaskSpec, id=st.text(min_size=1, max_size=10), name=st.text(min_size=1, max_size=10),
                   path=st.lists(st.one_of(st.text(max_size=5), st.integers(0, 99)), max_size=3),
                   step=st.integers(-1, 1000), send_arg=json_values,
                   triggers=st.lists(st.text(max_size=5), max_size=3)),
    writes=st.lists(st.tuples(st.text(min_size=1, max_size=6), json_values), max_size=4),
    interrupts=st.lists(st.builds(Interrupt, value=json_values, id=st.text(min_size=1, max_size=8)), max_size=2),
)
def test_records_survive_their_json_form(spec: TaskSpec, writes: list[tuple[str, Any]],
                                         interrupts: list[Interrupt]) -> None:
    """What the durable layer stores in jsonb must come back as the same records."""
    assert TaskSpec.from_json(spec.to_json()) == spec
    outcome = TaskOutcome(status="interrupted", writes=writes, interrupts=interrupts)
    again = TaskOutcome.from_json(outcome.to_json())
    assert again.to_json() == outcome.to_json()


messages = st.lists(st.builds(lambda i, c: {"id": f"m{i}", "type": "human", "content": c},
                              st.integers(0, 5), st.text(max_size=6)), max_size=6)


@settings(max_examples=60, deadline=None)
@given(left=messages, right=messages)
def test_add_messages_merges_like_langgraph(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> None:
    from langgraph.graph.message import add_messages as lg_add_messages

    ours = [(m["id"], m["content"]) for m in add_messages(left, right)]
    theirs = [(m.id, m.content) for m in lg_add_messages(left, right)]
    assert ours == theirs
