"""A step that does not write a channel does not copy, encode or store its value: the cost of a step that
leaves a long list alone does not grow with the list (issue 18). A step that does write it still works on a
copy, so the value a checkpoint holds (what a process caches by version) never changes under it."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from engine.core import codec
from engine.core.compiled import as_compiled
from engine.core.pregel import barrier, prepare_run, run_task
from engine.core.records import Decision, RunOptions
from engine.core.saver import CHANGES, RESOLVED

HISTORY = 200


def _chain() -> Any:
    g = StateGraph(MessagesState)
    g.add_node("a", lambda s: {})
    g.add_node("b", lambda s: {})
    g.add_node("reply", lambda s: {"messages": [AIMessage("new", id="new")]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "reply")
    return as_compiled(g.compile(), "chain")


async def _step(graph: Any, decision: Decision, opts: RunOptions) -> Decision:
    cp = decision.checkpoint
    assert cp is not None
    outcomes = {}
    for spec in decision.tasks:
        outcome = await run_task(graph, spec, cp, config={"configurable": {"thread_id": "t"}},
                                 resume=decision.resume.get(spec.id), run_opts=opts)
        outcomes[spec.id] = (spec, outcome)
    return await barrier(graph, cp, outcomes, opts, thread_id="t")


async def test_a_step_that_leaves_the_list_alone_neither_copies_nor_encodes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    graph, opts = _chain(), RunOptions(config={})
    history = [HumanMessage(f"m{i}", id=f"m{i}") for i in range(HISTORY)]
    decision = await prepare_run(graph, None, input={"messages": history}, command=None, run_opts=opts, thread_id="t")
    assert decision.kind == "continue" and [t.name for t in decision.tasks] == ["a"]
    before = decision.checkpoint
    assert before is not None
    messages = before[RESOLVED]["messages"]
    assert len(messages) == HISTORY

    stored: list[Any] = []  # what went through the storage encodings (JSON-able stand-ins, blob payloads)
    real_encode, real_pack = codec.encode, codec.pack_sized

    def encode(value: Any) -> Any:
        stored.append(value)
        return real_encode(value)

    def pack_sized(payload: dict[str, Any]) -> tuple[bytes, int]:
        stored.extend(v for part in payload.values() for v in (part if isinstance(part, list) else [part]))
        return real_pack(payload)

    monkeypatch.setattr(codec, "encode", encode)
    monkeypatch.setattr(codec, "pack_sized", pack_sized)
    decision = await _step(graph, decision, opts)  # node "a": writes nothing to `messages`
    assert decision.kind == "continue" and [t.name for t in decision.tasks] == ["b"]
    after = decision.checkpoint
    assert after is not None and after["id"] != before["id"]
    # the same object (the cached value of that version): not copied, not rebuilt
    assert after[RESOLVED]["messages"] is messages
    assert after["lg"]["channel_versions"]["messages"] == before["lg"]["channel_versions"]["messages"]
    assert "messages" not in after[CHANGES]
    assert all(b["channel"] != "messages" for b in after["blobs"])
    # nothing of the list went through the storage encoding (the step's own writes did)
    assert not any(v is messages or isinstance(v, (HumanMessage, AIMessage)) for v in stored)
    assert len(stored) < 10

    decision = await _step(graph, decision, opts)  # "b"
    decision = await _step(graph, decision, opts)  # "reply": appends one message
    assert decision.kind == "done"
    head = decision.checkpoints[-1]
    assert [m.id for m in head[RESOLVED]["messages"]] == [*(m.id for m in history), "new"]
    assert head[CHANGES]["messages"][0] == "append"
    (blob,) = [b for b in head["blobs"] if b["channel"] == "messages"]
    assert blob["base"] == before["lg"]["channel_versions"]["messages"]
    assert [m.id for m in codec.unpack(blob["data"])["items"]] == ["new"]  # the appended message alone
    assert len(messages) == HISTORY and messages is before[RESOLVED]["messages"]  # the older value is intact


class Log(TypedDict):
    items: Annotated[list[str], operator.iadd]  # a reducer that extends its left side in place


async def test_a_reducer_that_changes_its_input_in_place_does_not_change_the_checkpoint_it_read() -> None:
    g = StateGraph(Log)
    g.add_node("keep", lambda s: {})
    g.add_node("add", lambda s: {"items": ["c"]})
    g.add_edge(START, "keep")
    g.add_edge("keep", "add")
    graph, opts = as_compiled(g.compile(), "log"), RunOptions(config={})
    decision = await prepare_run(graph, None, input={"items": ["a", "b"]}, command=None, run_opts=opts, thread_id="t")
    decision = await _step(graph, decision, opts)  # "keep": the list passes through untouched
    read = decision.checkpoint
    assert read is not None
    decision = await _step(graph, decision, opts)  # "add": iadd on the list the barrier read
    assert decision.kind == "done"
    assert read[RESOLVED]["items"] == ["a", "b"]
    head = decision.checkpoints[-1]
    assert head[RESOLVED]["items"] == ["a", "b", "c"]
    (blob,) = [b for b in head["blobs"] if b["channel"] == "items"]
    assert codec.unpack(blob["data"])["items"] == ["c"]  # the appended item, over the version it extends
