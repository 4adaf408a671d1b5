"""Compile-time validation (table-driven), graph drawing and JSON schemas."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypedDict

import pytest

from engine import END, START, RetryPolicy, StateGraph
from engine.core.errors import InvalidGraphError


class S(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]


def _noop(s: S) -> dict[str, Any]:
    return {}


def _base() -> StateGraph:
    g = StateGraph(S)
    g.add_node("a", _noop)
    g.add_node("b", _noop)
    return g


def _unknown_source(g: StateGraph) -> None:
    g.add_edge(START, "a")
    g.add_edge("zzz", "a")


def _unknown_target(g: StateGraph) -> None:
    g.add_edge(START, "a")
    g.add_edge("a", "zzz")


def _no_entry(g: StateGraph) -> None:
    g.add_edge("a", "b")


def _branch_unknown(g: StateGraph) -> None:
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "q", {"q": "nowhere"})


def _static_cycle(g: StateGraph) -> None:
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "a")


def _branch_cycle_without_exit(g: StateGraph) -> None:
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "b", ["b"])
    g.add_edge("b", "a")
    g.add_edge("a", "b")


CASES: list[tuple[str, Callable[[StateGraph], None], dict[str, Any], str]] = [
    ("unknown source", _unknown_source, {}, "unknown node 'zzz'"),
    ("unknown target", _unknown_target, {}, "unknown node `zzz`"),
    ("no entry point", _no_entry, {}, "entrypoint"),
    ("branch to unknown", _branch_unknown, {}, "unknown target 'nowhere'"),
    ("static cycle", _static_cycle, {}, "END is unreachable"),
    ("cycle with only looping branch", _branch_cycle_without_exit, {}, "END is unreachable"),
    ("unknown interrupt node", lambda g: g.add_edge(START, "a"), {"interrupt_before": ["q"]}, "Interrupt node `q`"),
]


@pytest.mark.parametrize("name,define,compile_kw,message", CASES, ids=[c[0] for c in CASES])
def test_compile_errors(
    name: str, define: Callable[[StateGraph], None], compile_kw: dict[str, Any], message: str
) -> None:
    g = _base()
    define(g)
    with pytest.raises(InvalidGraphError, match=message) as info:
        g.compile(**compile_kw)
    assert info.value.code == "invalid_graph"


@pytest.mark.parametrize(
    "action,message",
    [
        (lambda g: g.add_node("a", _noop), "already present"),
        (lambda g: g.add_node(START, _noop), "reserved"),
        (lambda g: g.add_node(END, _noop), "reserved"),
        (lambda g: g.add_node("a:b", _noop), "reserved character"),
        (lambda g: g.add_edge(END, "a"), "END cannot be a start node"),
        (lambda g: g.add_edge("a", START), "START cannot be an end node"),
        (lambda g: g.add_edge(["a", "zzz"], "b"), "add_node `zzz` first"),
        (lambda g: g.add_node("d", _noop, defer=True), "defer"),
        (lambda g: g.add_sequence([]), "at least one node"),
    ],
)
def test_builder_errors(action: Callable[[StateGraph], Any], message: str) -> None:
    with pytest.raises(InvalidGraphError, match=message):
        action(_base())


def test_valid_graphs_compile() -> None:
    g = _base()
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "b")  # may go anywhere, incl. END
    g.add_edge("b", "a")
    g.compile()
    g2 = _base()
    g2.add_edge(START, "a")
    g2.add_edge("a", "b")  # b has no outgoing edge: the run ends after it
    g2.compile()


def test_node_name_from_function_and_policies() -> None:
    g = StateGraph(S)
    g.add_node(_noop, retry_policy=RetryPolicy(max_attempts=5), timeout=2.5)
    g.add_edge(START, "_noop")
    c = g.compile()
    node = c.nodes["_noop"]
    assert node.retry_policy is not None and node.retry_policy.max_attempts == 5
    assert node.timeout == 2.5
    assert node.retry_delay(ConnectionError(), 1) is not None
    assert node.retry_delay(ConnectionError(), 5) is None
    assert node.retry_delay(ValueError(), 1) is None  # programming errors are not retried by default


def test_draw_json() -> None:
    def route(s: S) -> Literal["b", "__end__"]:
        return "b"

    g = _base()
    g.add_edge(START, "a")
    g.add_conditional_edges("a", route)
    g.add_edge("b", END)
    drawn = g.compile().draw()
    assert [n["id"] for n in drawn["nodes"]] == [START, "a", "b", END]
    edges = {(e["source"], e["target"], e.get("conditional", False)) for e in drawn["edges"]}
    assert edges == {(START, "a", False), ("a", "b", True), ("a", END, True), ("b", END, False)}


def test_json_schemas() -> None:
    class In(TypedDict):
        x: int

    g = StateGraph(S, input_schema=In)
    g.add_node("a", _noop)
    g.add_edge(START, "a")
    c = g.compile()
    assert c.input_jsonschema()["properties"] == {"x": {"type": "integer"}}
    assert c.input_jsonschema()["required"] == ["x"]
    assert c.state_jsonschema()["properties"]["log"] == {"type": "array"}
    assert c.output_jsonschema() == c.state_jsonschema()


def test_endless_loop_that_pauses_is_allowed() -> None:
    from engine import interrupt

    def human(s: S) -> dict[str, Any]:
        return {"log": [interrupt("your turn")]}

    g = StateGraph(S)
    g.add_node("agent", _noop)
    g.add_node("human", human)
    g.add_edge(START, "agent")
    g.add_edge("agent", "human")
    g.add_edge("human", "agent")
    g.compile()  # a chat loop that only ever stops at interrupt() is valid LangGraph
    g2 = _base()
    _static_cycle(g2)
    g2.compile(interrupt_before=["a"])
