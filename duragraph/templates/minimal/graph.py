"""A minimal LangGraph graph: two nodes, one after the other."""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    name: str
    greeting: str


def greet(state: State) -> State:
    return {"greeting": f"Hello, {state.get('name') or 'world'}"}


def exclaim(state: State) -> State:
    return {"greeting": state["greeting"] + "!"}


builder = StateGraph(State)
builder.add_node("greet", greet)
builder.add_node("exclaim", exclaim)
builder.add_edge(START, "greet")
builder.add_edge("greet", "exclaim")
builder.add_edge("exclaim", END)
graph = builder.compile()
