"""Graphs used by the integration tests (written once, with duragraph's LangGraph-style API)."""

from __future__ import annotations

import itertools
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
    for a, b in itertools.pairwise(names):
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


class Par(TypedDict, total=False):
    answers: Annotated[list[str], operator.add]


def parallel_interrupts() -> Any:
    def ask_a(state: Par) -> dict[str, Any]:
        return {"answers": [f"a={interrupt('question a')}"]}

    def ask_b(state: Par) -> dict[str, Any]:
        return {"answers": [f"b={interrupt('question b')}"]}

    def quiet(state: Par) -> dict[str, Any]:
        QUIET_CALLS.append(1)
        return {"answers": ["quiet"]}

    g = StateGraph(Par)
    g.add_node("ask_a", ask_a)
    g.add_node("ask_b", ask_b)
    g.add_node("quiet", quiet)
    for n in ("ask_a", "ask_b", "quiet"):
        g.add_edge(START, n)
        g.add_edge(n, END)
    return g.compile()


QUIET_CALLS: list[int] = []


def two_questions() -> Any:
    def ask(state: Par) -> dict[str, Any]:
        first = interrupt("first?")
        second = interrupt("second?")
        return {"answers": [first, second]}

    g = StateGraph(Par)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    return g.compile()


def slow(seconds: float = 2.0) -> Any:
    import time

    def wait(state: Counter) -> dict[str, Any]:
        time.sleep(seconds)
        return {"n": 1}

    g = StateGraph(Counter)
    g.add_node("wait", wait)
    g.add_edge(START, "wait")
    g.add_edge("wait", END)
    return g.compile()


def timeout_graph() -> Any:
    import asyncio

    async def hang(state: Counter) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {"n": 1}

    g = StateGraph(Counter)
    g.add_node("hang", hang, timeout=0.3)
    g.add_edge(START, "hang")
    g.add_edge("hang", END)
    return g.compile()


class Outer(TypedDict, total=False):
    topic: str
    notes: Annotated[list[str], operator.add]


def with_subgraph() -> Any:
    def inner_a(state: Outer) -> dict[str, Any]:
        return {"notes": [f"inner_a:{state['topic']}"]}

    def inner_b(state: Outer) -> dict[str, Any]:
        return {"notes": ["inner_b"]}

    sub = StateGraph(Outer)
    sub.add_node("inner_a", inner_a)
    sub.add_node("inner_b", inner_b)
    sub.add_edge(START, "inner_a")
    sub.add_edge("inner_a", "inner_b")
    sub.add_edge("inner_b", END)

    def before(state: Outer) -> dict[str, Any]:
        return {"notes": ["before"]}

    g = StateGraph(Outer)
    g.add_node("before", before)
    g.add_node("sub", sub.compile())
    g.add_edge(START, "before")
    g.add_edge("before", "sub")
    g.add_edge("sub", END)
    return g.compile()


FINISHED: list[str] = []


def fast_then_slow(seconds: float = 3.0) -> Any:
    import asyncio

    def fast(state: Counter) -> dict[str, Any]:
        return {"n": 1}

    async def slow_node(state: Counter) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        FINISHED.append(state["key"])
        return {"n": 2}

    g = StateGraph(Counter)
    g.add_node("fast", fast)
    g.add_node("slow_node", slow_node)
    g.add_edge(START, "fast")
    g.add_edge("fast", "slow_node")
    g.add_edge("slow_node", END)
    return g.compile()
