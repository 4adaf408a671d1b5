"""Planning, task ids, barrier outcomes, resume validation, and a driver that stores everything as
JSON between calls (what the durable layer does)."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from engine import END, START, Command, Interrupt, Send, StateGraph, interrupt
from engine.core import serde
from engine.core.api import (
    Decision,
    MemoryThread,
    RunOptions,
    TaskOutcome,
    TaskSpec,
    barrier,
    checkpoint_values,
    prepare_run,
    resume_run,
    run_in_memory,
    run_task,
    state_snapshot,
    update_state,
)
from engine.core.errors import InvalidInputError, InvalidResumeError, InvalidUpdateError
from engine.core.plan import interrupt_id, task_id


class S(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]


def _graph() -> Any:
    g = StateGraph(S)
    g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_node("c", lambda s: {"log": ["c"]})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge(["a", "b"], "c")
    g.add_edge("c", END)
    return g.compile()


OPTS = RunOptions(config={"configurable": {"thread_id": "t", "run_id": "r1"}})


def test_task_ids_are_deterministic() -> None:
    assert task_id("cp", 1, "a", "__pregel_pull", "branch:to:a") == task_id(
        "cp", 1, "a", "__pregel_pull", "branch:to:a"
    )
    assert len({task_id("cp", s, "a") for s in range(10)}) == 10
    assert interrupt_id("t", 0) != interrupt_id("t", 1)
    assert len(interrupt_id("t", 0)) == 32


def test_prepare_run_is_deterministic_with_a_run_id() -> None:
    g = _graph()
    d1 = prepare_run(g, None, input={"x": 1}, command=None, run_opts=OPTS)
    d2 = prepare_run(g, None, input={"x": 1}, command=None, run_opts=OPTS)
    assert d1.to_json() == d2.to_json()
    assert [c["step"] for c in d1.checkpoints] == [-1, 0]
    assert d1.checkpoints[1]["parent_id"] == d1.checkpoints[0]["id"]
    assert d1.kind == "continue"
    assert [t.name for t in d1.tasks] == ["a", "b"]
    assert all(t.path == ["__pregel_pull", t.name] and t.step == 1 for t in d1.tasks)


def _first_step(g: Any) -> tuple[Decision, dict[str, Any]]:
    d = prepare_run(g, None, input={"x": 1}, command=None, run_opts=OPTS)
    assert d.checkpoint is not None
    return d, d.checkpoint


def _run(g: Any, task: TaskSpec, cp: dict[str, Any], resume: list[Any] | None = None) -> TaskOutcome:
    return asyncio.run(run_task(g, task, cp, config=OPTS.config, resume=resume))


def test_barrier_applies_writes_in_path_order_regardless_of_completion_order() -> None:
    g = _graph()
    d, cp = _first_step(g)
    outs = {t.id: (t, _run(g, t, cp)) for t in reversed(d.tasks)}
    nxt = barrier(g, cp, outs, OPTS)
    assert nxt.kind == "continue"
    assert [t.name for t in nxt.tasks] == ["c"]
    assert checkpoint_values(g, nxt.checkpoints[0]) == {"x": 2, "log": ["a", "b"]}


@pytest.mark.parametrize(
    "statuses,kind",
    [
        (("success", "success"), "continue"),
        (("success", "interrupted"), "interrupted"),
        (("interrupted", "interrupted"), "interrupted"),
        (("error", "success"), "error"),
        (("error", "interrupted"), "error"),
    ],
)
def test_barrier_outcome_table(statuses: tuple[str, str], kind: str) -> None:
    g = _graph()
    d, cp = _first_step(g)
    outs: dict[str, tuple[TaskSpec, TaskOutcome]] = {}
    for task, status in zip(d.tasks, statuses, strict=True):
        if status == "success":
            out = _run(g, task, cp)
        elif status == "interrupted":
            out = TaskOutcome("interrupted", [("__resume__", [])], [Interrupt("q", interrupt_id(task.id, 0))])
        else:
            out = TaskOutcome("error", error={"type": "ValueError", "message": "bad"})
        outs[task.id] = (task, out)
    nxt = barrier(g, cp, outs, OPTS)
    assert nxt.kind == kind
    if kind != "continue":
        assert nxt.checkpoints == []
    if kind == "interrupted":
        assert nxt.reason == "node" and len(nxt.interrupts) == statuses.count("interrupted")
    if kind == "error":
        assert nxt.error is not None and nxt.error["code"] == "node_error"


def test_barrier_concurrent_last_value_is_invalid_update() -> None:
    g = _graph()
    d, cp = _first_step(g)
    outs = {t.id: (t, TaskOutcome("success", [("x", i)])) for i, t in enumerate(d.tasks)}
    nxt = barrier(g, cp, outs, OPTS)
    assert nxt.kind == "error" and nxt.error is not None and nxt.error["code"] == "invalid_update"


def test_barrier_recursion_limit() -> None:
    g = StateGraph(S)
    g.add_node("loop", lambda s: {"x": s["x"] + 1})
    g.add_edge(START, "loop")
    g.add_conditional_edges("loop", lambda s: "loop")
    decision, cps = asyncio.run(run_in_memory(g.compile(), {"x": 0}, run_opts=RunOptions(recursion_limit=5)))
    assert decision.kind == "error" and decision.error is not None
    assert decision.error["code"] == "recursion_limit"
    assert [c["step"] for c in cps] == [-1, 0, 1, 2, 3, 4, 5]


def _two_questions() -> Any:
    def left(s: S) -> dict[str, Any]:
        return {"log": ["L" + interrupt("left")]}

    def right(s: S) -> dict[str, Any]:
        return {"log": ["R" + interrupt("right")]}

    g = StateGraph(S)
    g.add_node("left", left)
    g.add_node("right", right)
    g.add_edge(START, "left")
    g.add_edge(START, "right")
    return g.compile()


@pytest.mark.parametrize(
    "resume,error",
    [
        ("one value", "multiple pending interrupts"),
        ({"0" * 32: "v"}, "Unknown or already answered"),
    ],
)
def test_resume_validation(resume: Any, error: str) -> None:
    thread = MemoryThread(_two_questions())
    asyncio.run(thread.run({"x": 0}))
    assert thread.latest is not None
    with pytest.raises(InvalidResumeError, match=error):
        resume_run(thread.graph, thread.latest, thread.pending, Command(resume=resume), OPTS)


def test_resume_partially_then_fully() -> None:
    thread = MemoryThread(_two_questions())
    d = asyncio.run(thread.run({"x": 0}))
    assert [i.value for i in d.interrupts] == ["left", "right"]
    first = d.interrupts[0]
    d = asyncio.run(thread.run(command=Command(resume={first.id: "1"})))
    assert d.kind == "interrupted" and [i.value for i in d.interrupts] == ["right"]
    d = asyncio.run(thread.run(command=Command(resume="2")))
    assert d.kind == "done" and d.output == {"x": 0, "log": ["L1", "R2"]}


@pytest.mark.parametrize(
    "input,command,error",
    [
        (None, None, InvalidInputError),
        (None, Command(resume="x"), InvalidInputError),
        ("not a dict", None, InvalidInputError),
        ({"x": 1}, Command(resume=1), InvalidInputError),
    ],
)
def test_prepare_run_errors(input: Any, command: Command | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        prepare_run(_graph(), None, input=input, command=command, run_opts=OPTS)


def test_update_state_errors() -> None:
    g = _graph()
    with pytest.raises(InvalidUpdateError, match="does not exist"):
        update_state(g, None, {"x": 1}, "nope")


def test_state_snapshot_of_interrupted_thread() -> None:
    thread = MemoryThread(_two_questions())
    asyncio.run(thread.run({"x": 0}))
    snap = thread.state()
    assert snap["next"] == ["left", "right"]
    assert [i["value"] for i in snap["interrupts"]] == ["left", "right"]
    assert [t["name"] for t in snap["tasks"]] == ["left", "right"]
    assert state_snapshot(thread.graph, None, None)["values"] == {}


def _fanout_with_question() -> Any:
    def work(arg: dict[str, Any]) -> dict[str, Any]:
        answer = interrupt(f"ok {arg['n']}?") if arg["n"] % 2 else "auto"
        return {"log": [f"{arg['n']}={answer}"]}

    g = StateGraph(S)
    g.add_node("work", work)
    g.add_node("done", lambda s: {"x": len(s["log"])})
    g.add_conditional_edges(START, lambda s: [Send("work", {"n": n}) for n in range(s["x"])])
    g.add_edge("work", "done")
    return g.compile()


def _json(x: Any) -> Any:
    return serde.loads(serde.dumps(x))


async def _drive_through_json(graph: Any, input: Any, answers: list[Any]) -> tuple[Decision, int]:
    """A durable-layer imitation: every record crosses a JSON boundary between calls."""
    checkpoint: dict[str, Any] | None = None
    pending: dict[str, tuple[TaskSpec, TaskOutcome]] = {}
    saved = 0
    command: Command | None = None
    while True:
        decision = Decision.from_json(
            _json(
                prepare_run(graph, checkpoint, input=input, command=command, run_opts=OPTS, pending=pending).to_json()
            )
        )
        input = None
        while True:
            saved += len(decision.checkpoints)
            if decision.checkpoints:
                checkpoint = decision.checkpoints[-1]
            if decision.kind != "continue":
                break
            cp = _json(decision.checkpoint)
            outcomes = dict(decision.kept)
            for task in decision.tasks:
                spec = TaskSpec.from_json(_json(task.to_json()))
                out = await run_task(graph, spec, cp, config=OPTS.config, resume=_json(decision.resume.get(task.id)))
                outcomes[task.id] = (spec, TaskOutcome.from_json(_json(out.to_json())))
            decision = Decision.from_json(_json(barrier(graph, cp, outcomes, OPTS).to_json()))
        if decision.kind != "interrupted" or not answers:
            return decision, saved
        pending = decision.outcomes
        command = Command.from_json(
            _json(Command(resume={i.id: answers.pop(0) for i in decision.interrupts}).to_json())
        )


def test_json_boundary_driver_matches_in_memory_driver() -> None:
    g = _fanout_with_question()
    decision, _ = asyncio.run(_drive_through_json(g, {"x": 4}, ["yes", "si"]))
    assert decision.kind == "done"
    assert decision.output == {"x": 4, "log": ["0=auto", "1=yes", "2=auto", "3=si"]}
    thread = MemoryThread(g)
    d = asyncio.run(thread.run({"x": 4}))
    d = asyncio.run(
        thread.run(command=Command(resume={i.id: a for i, a in zip(d.interrupts, ["yes", "si"], strict=True)}))
    )
    assert d.output == decision.output


def test_records_roundtrip() -> None:
    spec = TaskSpec("id", "n", ["__pregel_push", 3], 4, {"a": 1}, ["__pregel_push"])
    assert TaskSpec.from_json(_json(spec.to_json())) == spec
    out = TaskOutcome("interrupted", [("__resume__", [1])], [Interrupt({"q": 1}, "i" * 32)])
    assert TaskOutcome.from_json(_json(out.to_json())) == out
    opts = RunOptions(interrupt_before="*", recursion_limit=7, config={"configurable": {"a": 1}})
    assert RunOptions.from_json(_json(opts.to_json())) == opts
    cmd = Command(update={"x": 1}, goto=[Send("a", 1), "b"], resume={"k": 1})
    assert Command.from_json(_json(cmd.to_json())) == Command(
        update={"x": 1}, goto=[Send("a", 1), "b"], resume={"k": 1}
    )
