"""Real LangGraph programs, the kinds LangGraph's how-to guides show, written only with `langgraph` and
`langchain_core` imports. `tests/integration/test_langgraph_programs.py` runs each in-process with LangGraph
and on DuraGraph through langgraph-sdk, and compares what a client sees."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.config import get_config, get_store, get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, create_react_agent, tools_condition
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph.types import Command, RetryPolicy, Send, interrupt
from pydantic import BaseModel


@dataclasses.dataclass
class Step:
    """One client action. `resume_by_value` answers pending interrupts by id, chosen by their value."""

    input: Any = None
    resume: Any = None
    resume_by_value: dict[str, Any] | None = None
    command_update: dict[str, Any] | None = None
    state_update: tuple[Any, str | None] | None = None
    fork_step: int | None = None  # time travel: run (input None) from the checkpoint of that step
    opts: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Program:
    build: Callable[[], Any]
    steps: list[Step]
    parallel: bool = False  # updates of one superstep may arrive in any order: compare them as a multiset


class ToolModel(GenericFakeChatModel):
    """A fake chat model that can be bound to tools (it answers from its script either way). It does not
    stream: GenericFakeChatModel's chunks would drop the tool calls."""

    disable_streaming: bool = True

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolModel:
        return self


def _script(*messages: BaseMessage) -> Any:
    return iter(list(messages) * 3)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def approve(action: str) -> str:
    """Ask a human to approve an action."""
    answer = interrupt({"approve": action})
    return f"{action}: {answer}"


def _tool_call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage(f"calling {name}", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}],
                     id=f"m-{call_id}")


class Log(TypedDict, total=False):
    x: int
    log: Annotated[list[str], operator.add]


class Inner(TypedDict, total=False):
    topic: str
    answer: str


class MR(TypedDict, total=False):
    subjects: list[str]
    jokes: Annotated[list[str], operator.add]
    best: str


class In(TypedDict):
    question: str


class Out(TypedDict):
    answer: str


class Overall(In, Out, total=False):
    scratch: str


class Chat(TypedDict):
    messages: Annotated[list[BaseMessage], add_messages]


# ------------------------------------------------------------------------------------------------ programs
def chat() -> Any:
    model = GenericFakeChatModel(messages=_script(AIMessage("Hello there, how can I help?", id="ai-1")))

    def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("answer", answer)
    g.add_edge(START, "answer")
    return g.compile()


def tool_loop() -> Any:
    model = ToolModel(messages=_script(_tool_call("add", {"a": 2, "b": 3}, "c1"), AIMessage("It is 5.", id="ai-2")))

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.bind_tools([add]).invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("agent", agent)
    g.add_node("tools", ToolNode([add]))
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", tools_condition)
    g.add_edge("tools", "agent")
    return g.compile()


def react_agent() -> Any:
    model = ToolModel(messages=_script(_tool_call("add", {"a": 20, "b": 22}, "c2"), AIMessage("42", id="ai-3")))
    return create_react_agent(model, [add])


def react_agent_with_approval() -> Any:
    model = ToolModel(messages=_script(_tool_call("approve", {"action": "deploy"}, "c3"),
                                       AIMessage("Deployed.", id="ai-4")))
    return create_react_agent(model, [approve])


def command_goto() -> Any:
    def decide(s: Log) -> Command[Literal["left", "right"]]:
        return Command(goto="right" if s["x"] > 0 else "left", update={"log": ["decide"]})

    g = StateGraph(Log)
    g.add_node("decide", decide)
    g.add_node("left", lambda s: {"log": ["left"]})
    g.add_node("right", lambda s: {"log": ["right"]})
    g.add_edge(START, "decide")
    return g.compile()


def command_parent() -> Any:
    def inner_node(s: Log) -> Command[Any]:
        return Command(graph=Command.PARENT, goto="finish", update={"log": ["from-child"]})

    inner = StateGraph(Log)
    inner.add_node("inner_node", inner_node)
    inner.add_edge(START, "inner_node")
    g = StateGraph(Log)
    g.add_node("child", inner.compile(), destinations=("finish",))
    g.add_node("finish", lambda s: {"log": ["finish"]})
    g.add_edge(START, "child")
    return g.compile()


def subgraph_interrupt() -> Any:
    def prepare(s: Inner) -> dict[str, Any]:
        return {"topic": s["topic"].upper()}

    def ask(s: Inner) -> dict[str, Any]:
        return {"answer": interrupt(f"about {s['topic']}?")}

    inner = StateGraph(Inner)
    inner.add_node("prepare", prepare)
    inner.add_node("ask", ask)
    inner.add_edge(START, "prepare")
    inner.add_edge("prepare", "ask")
    g = StateGraph(Inner)
    g.add_node("research", inner.compile())
    g.add_node("report", lambda s: {"answer": f"report: {s['answer']}"})
    g.add_edge(START, "research")
    g.add_edge("research", "report")
    return g.compile()


def map_reduce() -> Any:
    def fan(s: MR) -> list[Send]:
        return [Send("joke", {"subject": x}) for x in s["subjects"]]

    g = StateGraph(MR)
    g.add_node("joke", lambda arg: {"jokes": [f"joke about {arg['subject']}"]})
    g.add_node("pick", lambda s: {"best": sorted(s["jokes"])[0]})
    g.add_conditional_edges(START, fan, ["joke"])
    g.add_edge("joke", "pick")
    return g.compile()


def two_interrupts() -> Any:
    def form(s: Log) -> dict[str, Any]:
        name = interrupt("name?")
        age = interrupt("age?")
        return {"log": [f"{name}/{age}"]}

    g = StateGraph(Log)
    g.add_node("form", form)
    g.add_node("done", lambda s: {"log": ["done"]})
    g.add_edge(START, "form")
    g.add_edge("form", "done")
    return g.compile()


def parallel_interrupts() -> Any:
    g = StateGraph(Log)
    g.add_node("left", lambda s: {"log": [f"L:{interrupt('left?')}"]})
    g.add_node("right", lambda s: {"log": [f"R:{interrupt('right?')}"]})
    g.add_node("join", lambda s: {"log": ["join"]})
    g.add_edge(START, "left")
    g.add_edge(START, "right")
    g.add_edge(["left", "right"], "join")
    return g.compile()


@dataclasses.dataclass
class Ctx:
    user: str
    greeting: str = "hi"


def runtime_context() -> Any:
    def greet(s: Log, runtime: Runtime[Ctx]) -> dict[str, Any]:
        return {"log": [f"{runtime.context.greeting} {runtime.context.user}"]}

    g = StateGraph(Log, context_schema=Ctx)
    g.add_node("greet", greet)
    g.add_edge(START, "greet")
    return g.compile()


def custom_stream() -> Any:
    def work(s: Log) -> dict[str, Any]:
        writer = get_stream_writer()
        for i in range(3):
            writer({"progress": i})
        return {"log": ["worked"]}

    g = StateGraph(Log)
    g.add_node("work", work)
    g.add_edge(START, "work")
    return g.compile()


ATTEMPTS: dict[str, int] = {}


def retry_policy() -> Any:
    def flaky(s: Log) -> dict[str, Any]:
        key = str(get_config()["configurable"]["thread_id"])
        ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
        if ATTEMPTS[key] < 3:
            raise ConnectionError("flaky upstream")
        return {"log": [f"ok after {ATTEMPTS[key]}"]}

    g = StateGraph(Log)
    g.add_node("flaky", flaky, retry_policy=RetryPolicy(max_attempts=5, initial_interval=0.01, jitter=False,
                                                        retry_on=ConnectionError))
    g.add_edge(START, "flaky")
    return g.compile()


def two_retry_policies() -> Any:
    """LangGraph picks the FIRST policy whose `retry_on` matches: a TimeoutError is retried by the second
    policy (up to 3 attempts in all), a ConnectionError by the first (up to 4); the node fails 3 times with
    each, so the TimeoutError run fails and the ConnectionError one succeeds."""

    def flaky(s: Log) -> dict[str, Any]:
        key = f"{get_config()['configurable']['thread_id']}:{s['x']}"
        ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
        if ATTEMPTS[key] <= 3:
            raise TimeoutError("slow upstream") if s["x"] == 2 else ConnectionError("flaky upstream")
        return {"log": [f"ok after {ATTEMPTS[key]}"]}

    g = StateGraph(Log)
    g.add_node("flaky", flaky, retry_policy=[
        RetryPolicy(max_attempts=4, initial_interval=0.01, jitter=False, retry_on=ConnectionError),
        RetryPolicy(max_attempts=3, initial_interval=0.01, jitter=False, retry_on=TimeoutError),
    ])
    g.add_edge(START, "flaky")
    return g.compile()


class Profile(BaseModel):
    name: str
    score: int = 0
    notes: list[str] = []


def pydantic_state() -> Any:
    def score(p: Profile) -> dict[str, Any]:
        return {"score": len(p.name), "notes": [*p.notes, "scored"]}

    g = StateGraph(Profile)
    g.add_node("score", score)
    g.add_edge(START, "score")
    return g.compile()


@dataclasses.dataclass
class Basket:
    items: list[str] = dataclasses.field(default_factory=list)
    total: int = 0


def dataclass_state() -> Any:
    g = StateGraph(Basket)
    g.add_node("count", lambda b: {"total": len(b.items)})
    g.add_edge(START, "count")
    return g.compile()


def io_schemas() -> Any:
    g = StateGraph(Overall, input_schema=In, output_schema=Out)
    g.add_node("think", lambda s: {"scratch": s["question"][::-1]})
    g.add_node("answer", lambda s: {"answer": f"{s['question']} -> {s['scratch']}"})
    g.add_edge(START, "think")
    g.add_edge("think", "answer")
    return g.compile()


def recursion() -> Any:
    g = StateGraph(Log)
    g.add_node("spin", lambda s: {"x": s.get("x", 0) + 1})
    g.add_edge(START, "spin")
    g.add_conditional_edges("spin", lambda s: "spin" if s["x"] < 100 else END)
    return g.compile()


def linear() -> Any:
    g = StateGraph(Log)
    for name in ("a", "b", "c"):
        g.add_node(name, lambda s, name=name: {"log": [name]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    return g.compile()


def interrupt_before_compiled() -> Any:
    g = StateGraph(Log)
    for name in ("a", "b", "c"):
        g.add_node(name, lambda s, name=name: {"log": [name]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    return g.compile(interrupt_before=["b"])


def path_map() -> Any:
    g = StateGraph(Log)
    g.add_node("route", lambda s: {"log": ["route"]})
    g.add_node("small", lambda s: {"log": ["small"]})
    g.add_node("big", lambda s: {"log": ["big"]})
    g.add_edge(START, "route")
    g.add_conditional_edges("route", lambda s: "hi" if s["x"] > 10 else "lo", {"hi": "big", "lo": "small"})
    return g.compile()


def deferred() -> Any:
    g = StateGraph(Log)
    g.add_node("fan", lambda s: {"log": ["fan"]})
    g.add_node("short", lambda s: {"log": ["short"]})
    g.add_node("long1", lambda s: {"log": ["long1"]})
    g.add_node("long2", lambda s: {"log": ["long2"]})
    g.add_node("summary", lambda s: {"log": [f"summary of {len(s['log'])}"]}, defer=True)
    g.add_edge(START, "fan")
    g.add_edge("fan", "short")
    g.add_edge("fan", "long1")
    g.add_edge("long1", "long2")
    g.add_edge("short", "summary")
    g.add_edge("long2", "summary")
    return g.compile()


def messages_reducer() -> Any:
    def reply(s: Chat) -> dict[str, Any]:
        last = s["messages"][-1]
        assert isinstance(last, HumanMessage)
        return {"messages": [AIMessage(f"you said {last.content}", id="r1"),
                             ToolMessage("noted", tool_call_id="t1", id="r2")]}

    g = StateGraph(Chat)
    g.add_node("reply", reply)
    g.add_edge(START, "reply")
    return g.compile()


def store_use() -> Any:
    """The store from a sync node (injected), a sync node (`get_store()`) and an async node
    (`runtime.store`); it outlives the run, so a second run sees the first's items. Search order is the
    store's own (DuraGraph's is the official server's: most recently updated first), so nodes sort."""

    def remember(s: Log, *, store: BaseStore) -> dict[str, Any]:
        n = len(store.search(("visits",), limit=100))
        store.put(("visits",), f"v{n}", {"n": n, "tags": ["seen", str(n)]})
        return {"log": [f"visit {n}"]}

    def recall(s: Log) -> dict[str, Any]:
        store = get_store()
        first = store.get(("visits",), "v0")
        matching = store.search(("visits",), filter={"n": 1})
        return {"log": [f"first={first.value if first else None}", f"n=1: {sorted(i.key for i in matching)}"]}

    async def tidy(s: Log, runtime: Runtime[None]) -> dict[str, Any]:
        assert runtime.store is not None
        await runtime.store.aput(("visits", "archive"), "last", {"x": s.get("x")})
        await runtime.store.adelete(("visits",), "gone")  # deleting a missing item is no error
        namespaces = sorted(await runtime.store.alist_namespaces(prefix=("visits",)))
        keys = sorted(i.key for i in await runtime.store.asearch(("visits",), limit=100))
        return {"log": [f"namespaces={[list(n) for n in namespaces]}", f"keys={keys}"]}

    g = StateGraph(Log)
    g.add_node("remember", remember)
    g.add_node("recall", recall)
    g.add_node("tidy", tidy)
    g.add_edge(START, "remember")
    g.add_edge("remember", "recall")
    g.add_edge("recall", "tidy")
    return g.compile()


HUMAN = {"messages": [{"type": "human", "content": "hi", "id": "h1"}]}
PROGRAMS: dict[str, Program] = {
    "chat": Program(chat, [Step(input=HUMAN)]),
    "tool_loop": Program(tool_loop, [Step(input=HUMAN)]),
    "react_agent": Program(react_agent, [Step(input=HUMAN)]),
    "react_agent_approval": Program(react_agent_with_approval, [Step(input=HUMAN), Step(resume="yes")]),
    "command_goto": Program(command_goto, [Step(input={"x": 1}), Step(input={"x": -1})]),
    "command_parent": Program(command_parent, [Step(input={"x": 0})]),
    "subgraph_interrupt": Program(subgraph_interrupt, [Step(input={"topic": "owls"}), Step(resume="they hoot")]),
    "map_reduce": Program(map_reduce, [Step(input={"subjects": ["cats", "dogs", "owls"]})], parallel=True),
    "two_interrupts": Program(two_interrupts, [Step(input={"x": 0}), Step(resume="Ada"), Step(resume="36")]),
    "parallel_interrupts": Program(parallel_interrupts, [
        Step(input={"x": 0}), Step(resume_by_value={"left?": "l", "right?": "r"})], parallel=True),
    "parallel_interrupts_one_by_one": Program(parallel_interrupts, [
        Step(input={"x": 0}), Step(resume_by_value={"left?": "l"}), Step(resume_by_value={"right?": "r"})],
        parallel=True),
    "runtime_context": Program(runtime_context, [Step(input={"x": 0}, opts={"context": {"user": "Ada"}})]),
    "custom_stream": Program(custom_stream, [Step(input={"x": 0})]),
    "retry_policy": Program(retry_policy, [Step(input={"x": 0})]),
    "two_retry_policies": Program(two_retry_policies, [Step(input={"x": 1}), Step(input={"x": 2})]),
    "pydantic_state": Program(pydantic_state, [Step(input={"name": "Grace", "notes": ["new"]})]),
    "dataclass_state": Program(dataclass_state, [Step(input={"items": ["a", "b"]})]),
    "io_schemas": Program(io_schemas, [Step(input={"question": "why"})]),
    "recursion_limit": Program(recursion, [Step(input={"x": 0}, opts={"recursion_limit": 5})]),
    "interrupt_before": Program(interrupt_before_compiled, [Step(input={"x": 0}), Step(input=None)]),
    "interrupt_after": Program(linear, [Step(input={"x": 0}, opts={"interrupt_after": ["a"]}), Step(input=None)]),
    "update_state": Program(interrupt_before_compiled, [
        Step(input={"x": 0}), Step(state_update=({"log": ["edited"]}, "a")), Step(input=None)]),
    "resume_with_update": Program(two_interrupts, [
        Step(input={"x": 0}), Step(resume="Bo", command_update={"x": 7}), Step(resume="9")]),
    "time_travel": Program(linear, [Step(input={"x": 0}), Step(fork_step=1)]),
    "path_map": Program(path_map, [Step(input={"x": 50}), Step(input={"x": 1})]),
    "defer": Program(deferred, [Step(input={"x": 0})], parallel=True),
    "messages_reducer": Program(messages_reducer, [Step(input=HUMAN)]),
    "store_use": Program(store_use, [Step(input={"x": 1}), Step(input={"x": 2})]),
}
