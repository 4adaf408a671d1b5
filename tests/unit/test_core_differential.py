"""Differential tests: each graph is written once and run by LangGraph and by the engine."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest

from tests.unit.test_core_harness import Step, compare


class S(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]


class Fan(TypedDict, total=False):
    items: list[int]
    results: Annotated[list, operator.add]
    total: int


class Item(TypedDict):
    item: int


def _linear(api: Any) -> Any:
    g = api.StateGraph(S)
    g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
    g.add_node("b", lambda s: {"x": s["x"] * 2, "log": ["b"]})
    g.add_edge(api.START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", api.END)
    return g


def _branching(api: Any) -> Any:
    g = api.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("big", lambda s: {"log": ["big"]})
    g.add_node("small", lambda s: {"log": ["small"]})
    g.add_edge(api.START, "a")
    g.add_conditional_edges("a", lambda s: "yes" if s["x"] > 10 else "no", {"yes": "big", "no": "small"})
    g.add_edge("big", api.END)
    g.add_edge("small", api.END)
    return g


def _loop(api: Any) -> Any:
    g = api.StateGraph(S)
    g.add_node("inc", lambda s: {"x": s["x"] + 1, "log": [s["x"]]})
    g.add_edge(api.START, "inc")
    g.add_conditional_edges("inc", lambda s: api.END if s["x"] >= 5 else "inc")
    return g


def _fanout(api: Any) -> Any:
    def work(arg: dict[str, Any]) -> dict[str, Any]:
        return {"results": [arg["item"] * 10]}

    def collect(s: dict[str, Any]) -> dict[str, Any]:
        return {"total": sum(s["results"])}

    g = api.StateGraph(Fan)
    g.add_node("prep", lambda s: {"items": [*s["items"], 4]})
    g.add_node("work", work)
    g.add_node("collect", collect)
    g.add_edge(api.START, "prep")
    g.add_conditional_edges("prep", lambda s: [api.Send("work", {"item": i}) for i in s["items"]])
    g.add_edge("work", "collect")
    return g


def _join(api: Any) -> Any:
    g = api.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_node("b2", lambda s: {"log": ["b2"]})
    g.add_node("c", lambda s: {"log": ["c"], "x": len(s["log"])})
    g.add_edge(api.START, "a")
    g.add_edge(api.START, "b")
    g.add_edge("b", "b2")
    g.add_edge(["a", "b2"], "c")
    return g


def _command(api: Any) -> Any:
    def a(s: dict[str, Any]) -> Any:
        return api.Command(goto=["b", api.Send("c", {"x": 100})], update={"x": 1, "log": ["a"]})

    g = api.StateGraph(S)
    g.add_node("a", a)
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_node("c", lambda s: {"log": [f"c{s['x']}"]})
    g.add_edge(api.START, "a")
    return g


def _subgraph(api: Any) -> Any:
    sub = api.StateGraph(S)
    sub.add_node("s1", lambda s: {"x": s["x"] + 100})
    sub.add_node("s2", lambda s: {"x": s["x"] * 2})
    sub.add_edge(api.START, "s1")
    sub.add_edge("s1", "s2")
    g = api.StateGraph(S)
    g.add_node("pre", lambda s: {"x": s["x"] + 1})
    g.add_node("sub", sub.compile())
    g.add_node("post", lambda s: {"log": [s["x"]]})
    g.add_edge(api.START, "pre")
    g.add_edge("pre", "sub")
    g.add_edge("sub", "post")
    return g


def test_linear() -> None:
    compare(_linear, [Step(input={"x": 1}), Step(input={"x": 5})])


def test_branching_both_ways() -> None:
    compare(_branching, [Step(input={"x": 3}), Step(input={"x": 30})])


@pytest.mark.parametrize("limit", [3, 4, 6, 7, 25])
def test_loop_with_recursion_limit(limit: int) -> None:
    compare(_loop, [Step(input={"x": 0}, opts={"recursion_limit": limit})])


def test_loop_recursion_error_then_continue() -> None:
    compare(
        _loop,
        [Step(input={"x": 0}, opts={"recursion_limit": 3}), Step(input=None, opts={"recursion_limit": 3})],
    )


def test_fanout_send_and_reducer() -> None:
    compare(_fanout, [Step(input={"items": [1, 2, 3]})])


def test_join_edge_waits_for_both() -> None:
    compare(_join, [Step(input={"x": 0})])


def test_command_goto_and_update() -> None:
    compare(_command, [Step(input={"x": 0})])


def test_subgraph_node() -> None:
    compare(_subgraph, [Step(input={"x": 1})])


def test_concurrent_last_value_writes_fail() -> None:
    def build(api: Any) -> Any:
        g = api.StateGraph(S)
        g.add_node("a", lambda s: {"x": 1})
        g.add_node("b", lambda s: {"x": 2})
        g.add_edge(api.START, "a")
        g.add_edge(api.START, "b")
        return g

    obs = compare(build, [Step(input={"x": 0})])
    assert obs[-1].error == "invalid_update"


def test_node_exception_propagates() -> None:
    def build(api: Any) -> Any:
        def boom(s: dict[str, Any]) -> dict[str, Any]:
            raise KeyError("nope")

        g = api.StateGraph(S)
        g.add_node("a", lambda s: {"x": 1})
        g.add_node("boom", boom)
        g.add_edge(api.START, "a")
        g.add_edge("a", "boom")
        return g

    obs = compare(build, [Step(input={"x": 0})])
    assert obs[-1].error == "KeyError"


# -- interrupts -------------------------------------------------------------------------------


def _ask_once(api: Any) -> Any:
    def ask(s: dict[str, Any]) -> dict[str, Any]:
        answer = api.interrupt({"question": "name?", "x": s["x"]})
        return {"log": [answer]}

    g = api.StateGraph(S)
    g.add_node("pre", lambda s: {"x": s["x"] + 1})
    g.add_node("ask", ask)
    g.add_node("post", lambda s: {"log": ["post"]})
    g.add_edge(api.START, "pre")
    g.add_edge("pre", "ask")
    g.add_edge("ask", "post")
    return g


def _ask_twice(api: Any) -> Any:
    def ask(s: dict[str, Any]) -> dict[str, Any]:
        first = api.interrupt("first?")
        second = api.interrupt(f"second after {first}?")
        return {"log": [first, second]}

    g = api.StateGraph(S)
    g.add_node("ask", ask)
    g.add_edge(api.START, "ask")
    return g


def _ask_parallel(api: Any) -> Any:
    def left(s: dict[str, Any]) -> dict[str, Any]:
        return {"log": ["L:" + api.interrupt("left?")]}

    def right(s: dict[str, Any]) -> dict[str, Any]:
        return {"log": ["R:" + api.interrupt("right?")]}

    g = api.StateGraph(S)
    g.add_node("left", left)
    g.add_node("right", right)
    g.add_node("quiet", lambda s: {"log": ["quiet"]})
    g.add_node("end", lambda s: {"x": len(s["log"])})
    g.add_edge(api.START, "left")
    g.add_edge(api.START, "right")
    g.add_edge(api.START, "quiet")
    g.add_edge(["left", "right", "quiet"], "end")
    return g


def _resume(value: Any) -> Any:
    return lambda api, pending: api.Command(resume=value)


def _resume_by_id(api: Any, pending: list[Any]) -> Any:
    return api.Command(resume={i.id: str(i.value).upper() for i in pending})


def test_interrupt_single_and_resume() -> None:
    compare(_ask_once, [Step(input={"x": 1}), Step(command=_resume("Ada"))])


def test_interrupt_twice_in_one_node() -> None:
    compare(_ask_twice, [Step(input={"x": 1}), Step(command=_resume("A")), Step(command=_resume("B"))])


def test_parallel_interrupts_resumed_together_by_id() -> None:
    compare(_ask_parallel, [Step(input={"x": 0}), Step(command=_resume_by_id)])


def test_parallel_interrupts_resumed_one_at_a_time() -> None:
    def first_only(api: Any, pending: list[Any]) -> Any:
        target = min(pending, key=lambda p: repr(p.value))  # not by position: parallel order may vary
        return api.Command(resume={target.id: "one"})

    compare(_ask_parallel, [Step(input={"x": 0}), Step(command=first_only), Step(command=_resume("two"))])


def test_resume_with_update() -> None:
    compare(
        _ask_once,
        [Step(input={"x": 1}), Step(command=lambda api, p: api.Command(resume="Bo", update={"x": 42}))],
    )


def test_new_input_discards_pending_interrupt() -> None:
    compare(_ask_once, [Step(input={"x": 1}), Step(input={"x": 7}), Step(command=_resume("Cy"))])


@pytest.mark.parametrize(
    "compile_kw,opts",
    [
        ({"interrupt_before": ["b"]}, {}),
        ({"interrupt_after": ["a"]}, {}),
        ({}, {"interrupt_before": ["b"]}),
        ({}, {"interrupt_after": "*"}),
        ({"interrupt_before": "*"}, {}),
    ],
)
def test_static_interrupts(compile_kw: dict[str, Any], opts: dict[str, Any]) -> None:
    compare(
        _linear,
        [Step(input={"x": 1}, opts=opts), Step(input=None, opts=opts), Step(input=None, opts=opts)],
        compile_kw,
    )


def test_update_state_as_node_then_continue() -> None:
    compare(
        _linear,
        [
            Step(input={"x": 1}, opts={"interrupt_before": ["b"]}),
            Step(update=({"x": 10, "log": ["manual"]}, "a")),
            Step(input=None),
        ],
    )


def test_update_state_inferred_node() -> None:
    compare(_linear, [Step(input={"x": 1}), Step(update=({"log": ["z"]}, None))])


def test_update_state_with_router() -> None:
    compare(
        _branching,
        [Step(input={"x": 1}, opts={"interrupt_after": ["a"]}), Step(update=({"x": 50}, "a")), Step(input=None)],
    )
