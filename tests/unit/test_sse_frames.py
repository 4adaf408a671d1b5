"""SSE framing and the engine-event -> stream-mode frame mapping (api/sse.py), without services."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from api.sse import BadEventId, FrameMapper, StreamEvent, encode, encode_event, frame_ids, parse_event_id


def ev(seq: int, event: str, **data: Any) -> StreamEvent:
    return StreamEvent(seq=seq, event=event, data=data)


RUN = [
    ev(1, "metadata", run_id="r1", attempt=1),
    ev(2, "checkpoint", checkpoint_id="c0", parent_checkpoint_id=None, step=-1, source="input",
       values={}, next=["__start__"], tasks=[]),
    ev(3, "checkpoint", checkpoint_id="c1", parent_checkpoint_id="c0", step=0, source="loop",
       values={"n": 0}, next=["a"], tasks=[]),
    ev(4, "task_start", id="t1", name="a", step=1, triggers=["branch:to:a"], input=None),
    ev(5, "custom", chunk={"p": 1}, task_id="t1", name="a", step=1),
    ev(6, "task_result", id="t1", name="a", step=1, status="success",
       writes=[["n", 1], ["branch:to:b", None]], interrupts=[], error=None),
    ev(7, "checkpoint", checkpoint_id="c2", parent_checkpoint_id="c1", step=1, source="loop",
       values={"n": 1}, next=["b"], tasks=[]),
    ev(8, "task_start", id="t2", name="b", step=2, triggers=["branch:to:b"], input=None),
    ev(9, "task_result", id="t2", name="b", step=2, status="interrupted", writes=[],
       interrupts=[{"value": "ok?", "id": "i1"}], error=None),
    ev(10, "end", status="success"),
]


def frames(modes: list[str], events: list[StreamEvent] = RUN) -> list[tuple[str, Any]]:
    m = FrameMapper(modes, thread_id="th", state_keys=frozenset({"n", "messages"}))
    return [f for e in events for f in m.frames(e)]


INTR = [{"value": "ok?", "id": "i1", "response_schema": None}]


@pytest.mark.parametrize(("modes", "expected"), [
    (["values"], [("metadata", {"run_id": "r1", "attempt": 1}), ("values", {"n": 0}), ("values", {"n": 1}),
                  ("values", {"n": 1, "__interrupt__": INTR})]),
    (["updates"], [("metadata", {"run_id": "r1", "attempt": 1}), ("updates", {"a": {"n": 1}}),
                   ("updates", {"__interrupt__": INTR})]),
    (["custom"], [("metadata", {"run_id": "r1", "attempt": 1}), ("custom", {"p": 1})]),
])
def test_modes(modes: list[str], expected: list[tuple[str, Any]]) -> None:
    assert frames(modes) == expected


def test_tasks_debug_checkpoints() -> None:
    got = frames(["tasks", "debug", "checkpoints"])
    tasks = [d for e, d in got if e == "tasks"]
    assert tasks[0] == {"id": "t1", "name": "a", "input": {"n": 0}, "triggers": ["branch:to:a"]}
    assert tasks[1] == {"id": "t1", "name": "a", "error": None, "result": {"n": 1}, "interrupts": []}
    assert tasks[3]["interrupts"] == INTR and tasks[3]["result"] == {}
    cps = [d for e, d in got if e == "checkpoints"]
    assert [c["metadata"] for c in cps] == [{"source": "input", "step": -1, "parents": {}},
                                            {"source": "loop", "step": 0, "parents": {}},
                                            {"source": "loop", "step": 1, "parents": {}}]
    assert cps[1]["parent_config"] == {"configurable": {"thread_id": "th", "checkpoint_ns": "", "checkpoint_id": "c0"}}
    debug = [d["type"] for e, d in got if e == "debug"]
    assert debug == ["checkpoint", "checkpoint", "task", "task_result", "checkpoint", "task", "task_result"]


def test_error_end_and_events_mode() -> None:
    m = FrameMapper(["events"], thread_id="th")
    assert m.frames(ev(1, "end", status="error", error={"type": "TypeError", "message": "boom"})) == [
        ("error", {"error": "TypeError", "message": "boom"})]
    assert m.frames(ev(2, "end", status="interrupted")) == []  # cancelled: the stream just closes
    got = frames(["events"])
    assert [(d["event"], d["name"]) for _, d in got[1:]] == [
        ("on_chain_start", "LangGraph"), ("on_chain_start", "a"), ("on_chain_end", "a"), ("on_chain_start", "b"),
        ("on_chain_end", "LangGraph")]


def test_messages_modes() -> None:
    events = [
        ev(1, "checkpoint", checkpoint_id="c1", step=0, source="loop",
           values={"messages": [{"type": "human", "content": "hi", "id": "h"}]}),
        ev(2, "task_start", id="t", name="llm", step=1, triggers=[], input=None),
        ev(3, "custom", chunk={"type": "AIMessageChunk", "content": "He", "id": "m"}, task_id="t"),
        ev(4, "custom", chunk={"type": "AIMessageChunk", "content": "y", "id": "m"}, task_id="t"),
        ev(5, "task_result", id="t", name="llm", step=1, status="success", interrupts=[], error=None,
           writes=[["messages", [{"type": "ai", "content": "Hey", "id": "m"},
                                 {"type": "tool", "content": "x", "id": "t1"}]]]),
    ]
    got = frames(["messages"], events)
    assert [e for e, _ in got] == ["messages/metadata", "messages/partial", "messages/partial",
                                   "messages/complete", "messages/metadata", "messages/complete"]
    assert [d[0]["content"] for e, d in got if e == "messages/partial"] == ["He", "Hey"]
    tup = frames(["messages-tuple"], events)
    assert [(d[0]["content"], d[1]["langgraph_node"]) for _, d in tup] == [("He", "llm"), ("y", "llm"), ("x", "llm")]
    assert frames(["custom"], events) == []  # message chunks are not custom data


def test_resumed_run_starts_with_the_base_values() -> None:
    m = FrameMapper(["values"], thread_id="th")
    start = ev(2, "task_start", id="t", name="b", step=2, triggers=[], input=None)
    assert m.needs_base(start, continuing=True)
    assert not m.needs_base(start, continuing=False)  # a run with new input: its checkpoints carry the state
    m.set_base({"n": 1})
    assert m.frames(start) == [("values", {"n": 1})]
    assert not m.needs_base(ev(3, "task_start", id="u", name="c", step=2, triggers=[], input=None), continuing=True)


def test_checkpoint_changes_apply_over_the_base_values() -> None:
    m = FrameMapper(["values", "checkpoints"], thread_id="th")
    first = ev(1, "checkpoint", checkpoint_id="c1", parent_checkpoint_id="c0", step=3, source="loop", next=["b"],
               tasks=[], changes={"set": {"n": 2}, "append": {"log": ["b"]}, "unset": []})
    assert m.needs_base(first, continuing=False)
    m.set_base({"n": 1, "log": ["a"], "gone": True})
    frames = m.frames(first)
    assert frames[0] == ("values", {"n": 2, "log": ["a", "b"], "gone": True})
    assert frames[1][1]["values"] == {"n": 2, "log": ["a", "b"], "gone": True}
    second = ev(2, "checkpoint", checkpoint_id="c2", parent_checkpoint_id="c1", step=4, source="loop", next=[],
                tasks=[], changes={"set": {}, "append": {}, "unset": ["gone"]})
    assert not m.needs_base(second, continuing=False)
    assert m.frames(second)[0] == ("values", {"n": 2, "log": ["a", "b"]})


def test_priming_reproduces_the_same_frames() -> None:
    modes = ["values", "updates", "tasks", "messages"]
    full = FrameMapper(modes, thread_id="th", state_keys=frozenset({"n"}))
    expected = [full.frames(e) for e in RUN]
    for cut in range(len(RUN)):
        m = FrameMapper(modes, thread_id="th", state_keys=frozenset({"n"}))
        m.prime(RUN[:cut])
        assert [m.frames(e) for e in RUN[cut:]] == expected[cut:]


def test_framing_and_ids() -> None:
    assert encode("values", {"a": 1}, "7") == b'event: values\ndata: {"a":1}\nid: 7\n\n'
    assert frame_ids(5, 1) == ["5"] and frame_ids(5, 3) == ["5:0", "5:1", "5"]
    chunk = encode_event(5, [("updates", {}), ("values", {"n": (1, 2)}), ("tasks", None)], skip=1)
    blocks = chunk.decode().split("\n\n")[:-1]
    assert [b.splitlines()[-1] for b in blocks] == ["id: 5:1", "id: 5"]
    assert orjson.loads(blocks[0].splitlines()[1][6:]) == {"n": [1, 2]}
    assert parse_event_id(None) is None and parse_event_id(" ") is None
    assert parse_event_id("12") == (12, -1) and parse_event_id("12:0") == (12, 0)
    for bad in ("x", "1-2", "-1", "3:-1", "3:y"):
        with pytest.raises(BadEventId):
            parse_event_id(bad)
