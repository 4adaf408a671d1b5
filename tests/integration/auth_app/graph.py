"""A graph whose nodes report the authenticated user from their config, and ask a question."""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig

from engine import END, START, StateGraph, interrupt


class State(TypedDict, total=False):
    who: str
    answer: str


def whoami(state: State, config: RunnableConfig) -> dict[str, Any]:
    configurable = config.get("configurable") or {}
    user = configurable.get("langgraph_auth_user") or {}
    logging.getLogger("agent").warning("whoami ran")  # (a log line from inside a step: it carries the step's ids)
    return {"who": f"{user.get('identity')}|{configurable.get('langgraph_auth_user_id')}"}


def ask(state: State) -> dict[str, Any]:
    return {"answer": str(interrupt({"question": "go?"}))}


builder = StateGraph(State)
builder.add_node("whoami", whoami)
builder.add_node("ask", ask)
builder.add_edge(START, "whoami")
builder.add_edge("whoami", "ask")
builder.add_edge("ask", END)
graph = builder.compile()
