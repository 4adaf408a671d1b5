"""Parallel research: fan out one `research` task per subtopic with `Send`, fan the findings back in
through a reducer, then write one report.

    plan --Send("research", {"subtopic": s}) for each s--> research x N (one superstep, in parallel)
         --> write_report (runs once, after every research task of the superstep has committed)

Each `research` task is its own durable step: with several workers they run on different processes;
a task that fails or whose worker dies is retried alone, and the findings already committed stay.
`findings` is `Annotated[list, operator.add]`: the writes of parallel tasks are concatenated (in task
order, which is deterministic), never overwritten.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy, Send

# stand-in for a search engine / an LLM call: no network needed to run the example
NOTES = {
    "history": "grew out of workflow engines and message queues",
    "guarantees": "at-least-once steps, exactly-once commits",
    "failure modes": "crashed workers, lost acknowledgements, duplicate deliveries",
    "operations": "one Postgres, horizontally scaled workers",
}


class Research(TypedDict, total=False):
    question: str
    subtopics: list[str]
    findings: Annotated[list[dict[str, str]], operator.add]
    report: str


class Task(TypedDict):
    question: str
    subtopic: str


def plan(state: Research) -> dict[str, Any]:
    return {"subtopics": state.get("subtopics") or list(NOTES)}


def fan_out(state: Research) -> list[Send]:
    return [Send("research", {"question": state["question"], "subtopic": s}) for s in state["subtopics"]]


async def research(task: Task) -> dict[str, Any]:
    await asyncio.sleep(0.3)  # the "slow call"; the tasks of one superstep overlap
    note = NOTES.get(task["subtopic"], "nothing found yet")
    return {"findings": [{"subtopic": task["subtopic"], "note": note}]}


def write_report(state: Research) -> dict[str, Any]:
    lines = [f"# {state['question']}"] + [f"- {f['subtopic']}: {f['note']}" for f in state["findings"]]
    return {"report": "\n".join(lines)}


builder = StateGraph(Research)
builder.add_node("plan", plan)
builder.add_node("research", research, retry_policy=RetryPolicy(max_attempts=3))
builder.add_node("write_report", write_report)
builder.add_edge(START, "plan")
builder.add_conditional_edges("plan", fan_out, ["research"])
builder.add_edge("research", "write_report")
builder.add_edge("write_report", END)

graph = builder.compile()
