"""Graphs for the hostile-client tests: one whose node writes as many bytes as its input asks for."""

from __future__ import annotations

from typing import Any, TypedDict

from engine import END, START, StateGraph


class Blob(TypedDict, total=False):
    n: int
    size: int
    blob: str


def grow() -> Any:
    """`grow` adds 1 to n and writes `size` bytes into `blob` (0: an empty string)."""

    def node(state: Blob) -> dict[str, Any]:
        return {"n": state.get("n", 0) + 1, "blob": "x" * state.get("size", 0)}

    g = StateGraph(Blob)
    g.add_node("grow", node)
    g.add_edge(START, "grow")
    g.add_edge("grow", END)
    return g.compile()


class Pair(TypedDict, total=False):
    size: int
    left: str
    right: str


def pair() -> Any:
    """Two parallel nodes, each writing `size` bytes to its own key: each result is `size`, the state twice it."""

    def left(state: Pair) -> dict[str, Any]:
        return {"left": "l" * state.get("size", 0)}

    def right(state: Pair) -> dict[str, Any]:
        return {"right": "r" * state.get("size", 0)}

    g = StateGraph(Pair)
    g.add_node("left", left)
    g.add_node("right", right)
    g.add_edge(START, "left")
    g.add_edge(START, "right")
    g.add_edge("left", END)
    g.add_edge("right", END)
    return g.compile()
