"""Human-in-the-loop approval: draft a reply, wait for a human to approve or reject it, then send it.

`review` calls `interrupt(...)`: the run stops there and the thread waits, durably, until someone answers
(`duragraph resume THREAD --value '"yes"'`, or `Command(resume="yes")` from langgraph-sdk).
"""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class State(TypedDict, total=False):
    request: str
    draft: str
    approved: bool
    outcome: str


def draft(state: State) -> State:
    return {"draft": f"Dear customer, about '{state.get('request', '')}': we will take care of it."}


def review(state: State) -> State:
    answer = interrupt({"question": "Send this reply?", "draft": state["draft"]})
    return {"approved": str(answer).strip().lower() in ("yes", "y", "approve", "true")}


def send(state: State) -> State:
    return {"outcome": "sent" if state["approved"] else "discarded"}


builder = StateGraph(State)
builder.add_node("draft", draft)
builder.add_node("review", review)
builder.add_node("send", send)
builder.add_edge(START, "draft")
builder.add_edge("draft", "review")
builder.add_edge("review", "send")
builder.add_edge("send", END)
graph = builder.compile()
