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
