"""Graphs used by the integration tests (written once, with duragraph's LangGraph-style API)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from engine import END, START, Command, RetryPolicy, Send, StateGraph, interrupt


class Linear(TypedDict):
    n: int
    trail: Annotated[list[str], operator.add]


def _step(name: str) -> Any:
    def node(state: Linear) -> dict[str, Any]:
        return {"n": state["n"] + 1, "trail": [name]}

    node.__name__ = name
    return node


def linear(n: int = 3) -> Any:
    g = StateGraph(Linear)
    names = [f"s{i}" for i in range(n)]
    for name in names:
        g.add_node(name, _step(name))
    g.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g.compile()


class Approval(TypedDict, total=False):
    amount: int
    approved: bool
    trail: Annotated[list[str], operator.add]


def hitl() -> Any:
    def plan(state: Approval) -> dict[str, Any]:
        return {"trail": ["plan"]}

    def review(state: Approval) -> dict[str, Any]:
        answer = interrupt({"question": "approve?", "amount": state["amount"]})
        return {"approved": bool(answer), "trail": ["review"]}

    def publish(state: Approval) -> dict[str, Any]:
        return {"trail": ["published" if state["approved"] else "rejected"]}

    g = StateGraph(Approval)
    g.add_node("plan", plan)
    g.add_node("review", review)
    g.add_node("publish", publish)
    g.add_edge(START, "plan")
    g.add_edge("plan", "review")
    g.add_edge("review", "publish")
    g.add_edge("publish", END)
    return g.compile()


class Fan(TypedDict, total=False):
    topics: list[str]
    results: Annotated[list[str], operator.add]
    summary: str


def fanout() -> Any:
    def split(state: Fan) -> dict[str, Any]:
        return {}

    def research(arg: dict[str, Any]) -> dict[str, Any]:
        return {"results": [f"about {arg['topic']}"]}

    def summarize(state: Fan) -> dict[str, Any]:
        return {"summary": " | ".join(sorted(state["results"]))}

    def route(state: Fan) -> list[Send]:
        return [Send("research", {"topic": t}) for t in state["topics"]]

    g = StateGraph(Fan)
    g.add_node("split", split)
    g.add_node("research", research)
    g.add_node("summarize", summarize)
    g.add_edge(START, "split")
    g.add_conditional_edges("split", route, ["research"])
    g.add_edge("research", "summarize")
    g.add_edge("summarize", END)
    return g.compile()


FLAKY_CALLS: dict[str, int] = {}


class Counter(TypedDict, total=False):
    key: str
    n: int


def flaky(fail_times: int = 2) -> Any:
    def unreliable(state: Counter) -> dict[str, Any]:
        k = state["key"]
        FLAKY_CALLS[k] = FLAKY_CALLS.get(k, 0) + 1
        if FLAKY_CALLS[k] <= fail_times:
            raise ConnectionError(f"flaky failure {FLAKY_CALLS[k]}")
        return {"n": FLAKY_CALLS[k]}

    g = StateGraph(Counter)
    g.add_node("unreliable", unreliable, retry_policy=RetryPolicy(initial_interval=0.01, jitter=False, max_attempts=3))
    g.add_edge(START, "unreliable")
    g.add_edge("unreliable", END)
    return g.compile()


def looping() -> Any:
    def inc(state: Counter) -> Command[Any]:
        return Command(update={"n": state.get("n", 0) + 1}, goto="inc")

    g = StateGraph(Counter)
    g.add_node("inc", inc)
    g.add_edge(START, "inc")
    return g.compile()


def failing() -> Any:
    def boom(state: Counter) -> dict[str, Any]:
        raise TypeError("boom")

    g = StateGraph(Counter)
    g.add_node("boom", boom)
    g.add_edge(START, "boom")
    g.add_edge("boom", END)
    return g.compile()
