"""Human-in-the-loop approval: draft -> review (a human answers) -> publish, or revise and review again.

`review` calls `interrupt(...)`: the run stops there and its thread waits, durably, for as long as it
takes (the answer may come days later, to another API replica, after a restart). The answer arrives with
`Command(resume={"action": "approve"})` or `Command(resume={"action": "revise", "feedback": "..."})`.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class Approval(TypedDict, total=False):
    topic: str
    draft: str
    revision: int
    decision: str
    feedback: str
    published: str
    log: Annotated[list[str], operator.add]


def write_draft(state: Approval) -> dict[str, Any]:
    topic = state["topic"]
    return {"draft": f"{topic}: a first draft.", "revision": 0, "log": ["drafted"]}


def review(state: Approval) -> dict[str, Any]:
    # Everything above this line runs again when the run resumes; keep it free of side effects.
    answer = interrupt({
        "question": "Approve this draft, or ask for a revision?",
        "draft": state["draft"],
        "revision": state["revision"],
        "answers": [{"action": "approve"}, {"action": "revise", "feedback": "<what to change>"}],
    })
    if not isinstance(answer, dict) or answer.get("action") not in ("approve", "revise"):
        raise ValueError(f"expected {{'action': 'approve' | 'revise'}}, got {answer!r}")
    return {
        "decision": answer["action"],
        "feedback": str(answer.get("feedback", "")),
        "log": [f"review {state['revision']}: {answer['action']}"],
    }


def after_review(state: Approval) -> Literal["publish", "revise"]:
    return "publish" if state["decision"] == "approve" else "revise"


def revise(state: Approval) -> dict[str, Any]:
    revision = state["revision"] + 1
    draft = f"{state['topic']}: draft {revision + 1}, reworked after feedback ({state['feedback']})."
    return {"draft": draft, "revision": revision, "log": [f"revised ({state['feedback']})"]}


def publish(state: Approval) -> dict[str, Any]:
    return {"published": state["draft"], "log": ["published"]}


builder = StateGraph(Approval)
builder.add_node("write_draft", write_draft)
builder.add_node("review", review)
builder.add_node("revise", revise)
builder.add_node("publish", publish)
builder.add_edge(START, "write_draft")
builder.add_edge("write_draft", "review")
builder.add_conditional_edges("review", after_review, ["publish", "revise"])
builder.add_edge("revise", "review")
builder.add_edge("publish", END)

graph = builder.compile()
