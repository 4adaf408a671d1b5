from graph import builder
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command


def test_waits_for_approval_then_sends() -> None:
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    first = graph.invoke({"request": "refund"}, config)
    [pending] = first["__interrupt__"]
    assert pending.value["question"] == "Send this reply?"
    assert graph.invoke(Command(resume="yes"), config)["outcome"] == "sent"
