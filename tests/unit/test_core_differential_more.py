"""More differential scenarios: subgraph interrupts, Command.PARENT, Send + interrupt, sibling
outcomes kept across a resume, async / config-taking nodes, retries, entry points, schemas."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig

from tests.unit.test_core_harness import EN, LG, EngineRunner, LangGraphRunner, Step, compare


class S(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]


class In(TypedDict):
    x: int


class Out(TypedDict):
    log: Annotated[list, operator.add]


def _resume(value: Any) -> Any:
    return lambda api, pending: api.Command(resume=value)


def _resume_all_by_id(api: Any, pending: list[Any]) -> Any:
    return api.Command(resume={i.id: f"ans:{i.value}" for i in pending})


def _sub_with_interrupt(api: Any) -> Any:
    def ask(s: dict[str, Any]) -> dict[str, Any]:
        return {"log": ["sub:" + api.interrupt("sub?")]}

    sub = api.StateGraph(S)
    sub.add_node("s1", lambda s: {"log": ["s1"]})
    sub.add_node("ask", ask)
    sub.add_node("s3", lambda s: {"log": ["s3"]})
    sub.add_edge(api.START, "s1")
    sub.add_edge("s1", "ask")
    sub.add_edge("ask", "s3")
    g = api.StateGraph(S)
    g.add_node("pre", lambda s: {"x": 1})
    g.add_node("sub", sub.compile())
    g.add_node("post", lambda s: {"log": ["post"]})
    g.add_edge(api.START, "pre")
    g.add_edge("pre", "sub")
    g.add_edge("sub", "post")
    return g


def test_subgraph_interrupt_and_resume() -> None:
    # The subgraph returns its whole state (log included), so the parent's operator.add reducer
    # duplicates `log` entries — LangGraph does the same; both agree.
    compare(_sub_with_interrupt, [Step(input={"x": 0}), Step(command=_resume("yes"))])


def _parent_command(api: Any) -> Any:
    def jump(s: dict[str, Any]) -> Any:
        return api.Command(graph=api.Command.PARENT, goto="other", update={"x": 99})

    sub = api.StateGraph(S)
    sub.add_node("jump", jump)
    sub.add_edge(api.START, "jump")
    g = api.StateGraph(S)
    g.add_node("sub", sub.compile())
    g.add_node("other", lambda s: {"log": [f"other{s['x']}"]})
    g.add_edge(api.START, "sub")
    return g


def test_command_parent_from_subgraph() -> None:
    compare(_parent_command, [Step(input={"x": 0})])


def _send_interrupts(api: Any) -> Any:
    def work(arg: dict[str, Any]) -> dict[str, Any]:
        return {"log": [f"{arg['n']}:" + api.interrupt(f"approve {arg['n']}?")]}

    g = api.StateGraph(S)
    g.add_node("work", work)
    g.add_conditional_edges(api.START, lambda s: [api.Send("work", {"n": n}) for n in range(s["x"])])
    return g


def test_send_tasks_interrupt_and_resume_by_id() -> None:
    compare(_send_interrupts, [Step(input={"x": 3}), Step(command=_resume_all_by_id)])


def test_single_resume_value_with_many_pending_is_an_error() -> None:
    obs = compare(_send_interrupts, [Step(input={"x": 2}), Step(command=_resume("x"))])
    assert obs[-1].error is not None


def _counting(api: Any, calls: list[str]) -> Any:
    def quiet(s: dict[str, Any]) -> dict[str, Any]:
        calls.append("quiet")
        return {"log": ["quiet"]}

    def ask(s: dict[str, Any]) -> dict[str, Any]:
        calls.append("ask")
        return {"log": [api.interrupt("?")]}

    g = api.StateGraph(S)
    g.add_node("quiet", quiet)
    g.add_node("ask", ask)
    g.add_edge(api.START, "quiet")
    g.add_edge(api.START, "ask")
    return g


def test_successful_sibling_is_not_rerun_on_resume() -> None:
    calls: dict[str, list[str]] = {"langgraph": [], "engine": []}
    compare(
        lambda api: _counting(api, calls[api.name]),
        [Step(input={"x": 0}), Step(command=_resume("ok"))],
    )
    assert calls["engine"] == calls["langgraph"] == ["quiet", "ask", "ask"] or sorted(calls["engine"]) == sorted(
        calls["langgraph"]
    )
    assert calls["engine"].count("quiet") == 1


def test_command_goto_on_resume() -> None:
    def build(api: Any) -> Any:
        g = api.StateGraph(S)
        g.add_node("ask", lambda s: {"log": [api.interrupt("?")]})
        g.add_node("extra", lambda s: {"log": ["extra"]})
        g.add_edge(api.START, "ask")
        return g

    # Known difference: a resume re-saves the interrupted checkpoint with the Command's writes
    # applied, so that checkpoint's history entry lists `extra` in `next` (LangGraph keeps them as
    # pending writes beside it). Values, counts and the live state agree.
    compare(
        build,
        [Step(input={"x": 0}), Step(command=lambda api, p: api.Command(resume="r", goto="extra"))],
        history=False,
    )


def test_async_nodes_and_config() -> None:
    def build(api: Any) -> Any:
        async def a(s: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
            await asyncio.sleep(0)
            return {"log": [config["configurable"]["thread_id"]]}

        def b(s: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
            return {"log": [config["metadata"]["langgraph_node"], config["metadata"]["langgraph_step"]]}

        g = api.StateGraph(S)
        g.add_node("a", a)
        g.add_node("b", b)
        g.add_edge(api.START, "a")
        g.add_edge("a", "b")
        return g

    compare(build, [Step(input={"x": 0})])


def test_retry_policy_in_driver() -> None:
    attempts: dict[str, int] = {"langgraph": 0, "engine": 0}

    def build(api: Any) -> Any:
        def flaky(s: dict[str, Any]) -> dict[str, Any]:
            attempts[api.name] += 1
            if attempts[api.name] < 3:
                raise ConnectionError("flaky")
            return {"x": attempts[api.name]}

        g = api.StateGraph(S)
        g.add_node("flaky", flaky, retry_policy=api.RetryPolicy(initial_interval=0.001, jitter=False))
        g.add_edge(api.START, "flaky")
        return g

    compare(build, [Step(input={"x": 0})])
    assert attempts == {"langgraph": 3, "engine": 3}


def test_entry_finish_points_and_sequence() -> None:
    def build(api: Any) -> Any:
        def one(s: dict[str, Any]) -> dict[str, Any]:
            return {"log": [1]}

        def two(s: dict[str, Any]) -> dict[str, Any]:
            return {"log": [2]}

        g = api.StateGraph(S)
        g.add_sequence([one, ("second", two)])
        g.set_entry_point("one")
        g.set_finish_point("second")
        return g

    compare(build, [Step(input={"x": 0})])


def test_conditional_entry_point_and_multi_destination_router() -> None:
    def build(api: Any) -> Any:
        g = api.StateGraph(S)
        g.add_node("a", lambda s: {"log": ["a"]})
        g.add_node("b", lambda s: {"log": ["b"]})
        g.add_node("c", lambda s: {"log": ["c"]})
        g.set_conditional_entry_point(lambda s: ["a", "b"] if s["x"] else "c")
        return g

    compare(build, [Step(input={"x": 1}), Step(input={"x": 0})])


def test_resume_finished_thread_is_a_noop() -> None:
    def build(api: Any) -> Any:
        g = api.StateGraph(S)
        g.add_node("a", lambda s: {"log": ["a"]})
        g.add_edge(api.START, "a")
        return g

    compare(build, [Step(input={"x": 1}), Step(input=None)])


def test_interrupt_before_in_a_loop() -> None:
    def build(api: Any) -> Any:
        g = api.StateGraph(S)
        g.add_node("inc", lambda s: {"x": s["x"] + 1})
        g.add_edge(api.START, "inc")
        g.add_conditional_edges("inc", lambda s: api.END if s["x"] >= 3 else "inc")
        return g

    compare(build, [Step(input={"x": 0}), *[Step(input=None) for _ in range(4)]], {"interrupt_before": ["inc"]})


@pytest.mark.parametrize("inp", [{"x": 2}, {"x": 2, "log": ["seed"]}])
def test_input_and_output_schema_invoke(inp: dict[str, Any]) -> None:
    def build(api: Any) -> Any:
        g = api.StateGraph(S, input_schema=In, output_schema=Out)
        g.add_node("a", lambda s: {"log": [s["x"] * 3], "x": 0})
        g.add_edge(api.START, "a")
        return g

    expected = build(LG).compile().invoke(inp)
    actual = build(EN).compile().invoke(inp)
    assert actual == expected


def test_time_travel_replay_forks_like_langgraph() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from engine.core.compiled import CompiledGraph
    from engine.core.memory import MemoryThread

    def build(api: Any) -> Any:
        g = api.StateGraph(S)
        g.add_node("a", lambda s: {"log": ["a"]})
        g.add_node("b", lambda s: {"log": ["b"]})
        g.add_edge(api.START, "a")
        g.add_edge("a", "b")
        return g

    lg = build(LG).compile(checkpointer=InMemorySaver())
    cfg: dict[str, Any] = {"configurable": {"thread_id": "1"}}
    lg.invoke({"x": 1}, cfg)
    old = next(h for h in lg.get_state_history(cfg) if h.next == ("b",))
    lg.invoke(None, old.config)
    expected = [(h.metadata["step"], h.metadata["source"], list(h.next), h.values) for h in lg.get_state_history(cfg)]

    thread = MemoryThread(CompiledGraph(build(EN).compile()))
    asyncio.run(thread.run({"x": 1}))
    target = next(cp for cp in thread.checkpoints if cp["step"] == old.metadata["step"])
    asyncio.run(thread.run(None, checkpoint_id=target["id"]))
    from engine.core.api import state_snapshot

    actual = []
    for cp in thread.history():
        snap = state_snapshot(thread.graph, cp, None)
        actual.append((cp["step"], cp["source"], snap["next"], snap["values"]))
    assert actual == expected


class Ctx(TypedDict):
    user: str


def test_runtime_context_and_stream_writer() -> None:
    from langgraph.runtime import Runtime

    def build(api: Any) -> Any:
        def a(s: dict[str, Any], runtime: Runtime[Ctx]) -> dict[str, Any]:
            runtime.stream_writer({"progress": 1})
            return {"log": [runtime.context["user"]]}

        g = api.StateGraph(S, context_schema=Ctx)
        g.add_node("a", a)
        g.add_edge(api.START, "a")
        return g

    compare(build, [Step(input={"x": 0}, opts={"context": {"user": "ada"}})])


def test_pydantic_state() -> None:
    from pydantic import BaseModel

    class P(BaseModel):
        x: int = 0
        name: str = ""

    def build(api: Any) -> Any:
        def a(s: P) -> dict[str, Any]:
            assert isinstance(s, P)
            return {"x": s.x + 1, "name": s.name * 2}

        g = api.StateGraph(P)
        g.add_node("a", a)
        g.add_edge(api.START, "a")
        g.add_conditional_edges("a", lambda s: api.END if s.x > 2 else "a")
        return g

    compare(build, [Step(input={"x": 0, "name": "ab"})])


def test_subgraph_with_parallel_interrupts_resumed_by_id() -> None:
    def build(api: Any) -> Any:
        sub = api.StateGraph(S)
        sub.add_node("l", lambda s: {"log": ["l:" + api.interrupt("l?")]})
        sub.add_node("r", lambda s: {"log": ["r:" + api.interrupt("r?")]})
        sub.add_edge(api.START, "l")
        sub.add_edge(api.START, "r")
        g = api.StateGraph(S)
        g.add_node("sub", sub.compile())
        g.add_node("after", lambda s: {"x": len(s["log"])})
        g.add_edge(api.START, "sub")
        g.add_edge("sub", "after")
        return g

    def first(api: Any, pending: list[Any]) -> Any:
        # by value: the order of parallel interrupts depends on which thread got there first
        target = next(p for p in pending if p.value == "l?")
        return api.Command(resume={target.id: "A"})

    compare(build, [Step(input={"x": 0}), Step(command=first), Step(command=_resume_all_by_id)])


def test_command_parent_at_top_level_is_an_error() -> None:
    def build(api: Any) -> Any:
        g = api.StateGraph(S)
        g.add_node("a", lambda s: api.Command(graph=api.Command.PARENT, goto="a"))
        g.add_edge(api.START, "a")
        return g

    # Known difference: LangGraph lets its internal ParentCommand escape; the engine raises
    # InvalidUpdateError("There is no parent graph"). Everything else observable agrees.
    lg = LangGraphRunner(build, {}).do(Step(input={"x": 0}))
    en = EngineRunner(build, {}).do(Step(input={"x": 0}))
    assert (lg.error, en.error) == ("ParentCommand", "invalid_update")
    assert lg.comparable()[:4] == en.comparable()[:4]


def test_subgraph_invoked_from_a_node_function_with_interrupt() -> None:
    def build(api: Any) -> Any:
        sub = api.StateGraph(S)
        sub.add_node("one", lambda s: {"log": ["one"]})
        sub.add_node("ask", lambda s: {"log": ["ask:" + api.interrupt("sub?")]})
        sub.add_edge(api.START, "one")
        sub.add_edge("one", "ask")
        compiled = sub.compile()

        def call(s: dict[str, Any]) -> dict[str, Any]:
            out = compiled.invoke({"x": s["x"], "log": []})
            return {"log": out["log"], "x": s["x"] + 1}

        g = api.StateGraph(S)
        g.add_node("call", call)
        g.add_edge(api.START, "call")
        return g

    compare(build, [Step(input={"x": 0}), Step(command=_resume("yes"))])


def test_overwrite_bypasses_reducer() -> None:
    def build(api: Any) -> Any:
        from langgraph.types import Overwrite as LgOverwrite

        from engine import Overwrite

        ow = LgOverwrite if api.name == "langgraph" else Overwrite
        g = api.StateGraph(S)
        g.add_node("a", lambda s: {"log": ["a"]})
        g.add_node("b", lambda s: {"log": ow(["only"])})
        g.add_edge(api.START, "a")
        g.add_edge("a", "b")
        return g

    compare(build, [Step(input={"x": 0, "log": ["seed"]})])
