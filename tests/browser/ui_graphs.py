"""Graphs the dashboard's browser tests drive: plain dict state, JSON values, the graph API from `engine`."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from engine import END, START, StateGraph, interrupt


class Steps(TypedDict, total=False):
    topic: str
    delay: float
    trail: Annotated[list[str], operator.add]
    messages: Annotated[list[dict[str, Any]], operator.add]


def _step(name: str) -> Any:
    async def node(state: Steps) -> dict[str, Any]:
        await asyncio.sleep(float(state.get("delay") or 0))
        text = f"{name} done on {state.get('topic', '?')}"
        return {"trail": [name], "messages": [{"type": "ai", "content": text}]}

    node.__name__ = name
    return node


def steps_graph() -> Any:
    """research -> outline -> write: three steps of `delay` seconds each."""
    b = StateGraph(Steps)
    for name in ("research", "outline", "write"):
        b.add_node(name, _step(name))
    b.add_edge(START, "research")
    b.add_edge("research", "outline")
    b.add_edge("outline", "write")
    b.add_edge("write", END)
    return b.compile()


class Approval(TypedDict, total=False):
    draft: str
    decision: str
    published: str
    messages: Annotated[list[dict[str, Any]], operator.add]


def draft(state: Approval) -> dict[str, Any]:
    text = f"Draft about {state.get('draft') or 'nothing'}"
    return {"draft": text, "messages": [{"type": "ai", "content": text}]}


def review(state: Approval) -> dict[str, Any]:
    answer = interrupt({"question": "Publish this draft?", "draft": state["draft"]})
    return {"decision": str(answer), "messages": [{"type": "human", "content": str(answer)}]}


def route(state: Approval) -> str:
    return "publish" if state.get("decision", "").lower().startswith("yes") else END


def publish(state: Approval) -> dict[str, Any]:
    return {"published": state["draft"].upper(), "messages": [{"type": "ai", "content": "Published."}]}


def approval_graph() -> Any:
    b = StateGraph(Approval)
    b.add_node("draft", draft)
    b.add_node("review", review)
    b.add_node("publish", publish)
    b.add_edge(START, "draft")
    b.add_edge("draft", "review")
    b.add_conditional_edges("review", route, ["publish", END])
    b.add_edge("publish", END)
    return b.compile()


class Job(TypedDict, total=False):
    seconds: float
    fail: bool
    done: bool


async def work(state: Job) -> dict[str, Any]:
    if state.get("fail"):
        raise ValueError("the payment service refused the card")
    await asyncio.sleep(float(state.get("seconds") or 0))
    return {"done": True}


def job_graph() -> Any:
    """One step that sleeps `seconds` (to cancel) or raises (`fail`)."""
    b = StateGraph(Job)
    b.add_node("work", work)
    b.add_edge(START, "work")
    b.add_edge("work", END)
    return b.compile()


class Team(TypedDict, total=False):
    notes: Annotated[list[str], operator.add]


def _note(text: str) -> Any:
    def node(state: Team) -> dict[str, Any]:
        return {"notes": [text]}

    node.__name__ = text
    return node


def nested_graph() -> Any:
    """prepare -> team (a subgraph: draft_notes -> check_notes) -> END."""
    inner = StateGraph(Team)
    inner.add_node("draft_notes", _note("draft_notes"))
    inner.add_node("check_notes", _note("check_notes"))
    inner.add_edge(START, "draft_notes")
    inner.add_edge("draft_notes", "check_notes")
    inner.add_edge("check_notes", END)
    outer = StateGraph(Team)
    outer.add_node("prepare", _note("prepare"))
    outer.add_node("team", inner.compile())
    outer.add_edge(START, "prepare")
    outer.add_edge("prepare", "team")
    outer.add_edge("team", END)
    return outer.compile()


GRAPHS = {"steps": steps_graph(), "approval": approval_graph(), "job": job_graph(), "nested": nested_graph()}
