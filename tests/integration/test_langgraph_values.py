"""State that holds real objects: LangChain messages, pydantic and dataclass states, datetimes and sets
round-trip through Postgres; the API shows them in the official server's shapes; a value that cannot be
stored fails its step with the key and the type, and nothing committed is lost."""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph
from pydantic import BaseModel

from tests.integration.engine_support import engine


def messages_graph() -> Any:
    def reply(s: MessagesState) -> dict[str, Any]:
        last = s["messages"][-1]
        assert isinstance(last, HumanMessage)  # inputs in the wire shape become LangChain messages
        return {"messages": [AIMessage(f"echo {last.content}", id="ai-1")]}

    g = StateGraph(MessagesState)
    g.add_node("reply", reply)
    g.add_edge(START, "reply")
    return g.compile()


class Note(BaseModel):
    text: str
    tags: list[str] = []


class PState(BaseModel):
    note: Note | None = None
    count: int = 0


def pydantic_graph() -> Any:
    def write(s: PState) -> dict[str, Any]:
        assert isinstance(s, PState)
        return {"note": Note(text="hi", tags=["a"]), "count": s.count + 1}

    def read(s: PState) -> dict[str, Any]:
        assert isinstance(s.note, Note)  # the model came back from Postgres as itself
        return {"count": s.count + 10}

    g = StateGraph(PState)
    g.add_node("write", write)
    g.add_node("read", read)
    g.add_edge(START, "write")
    g.add_edge("write", "read")
    return g.compile()


@dataclasses.dataclass
class DState:
    when: dt.datetime | None = None
    seen: set[str] = dataclasses.field(default_factory=set)


def dataclass_graph() -> Any:
    def stamp(s: DState) -> dict[str, Any]:
        return {"when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "seen": {"x", "y"}}

    def check(s: DState) -> dict[str, Any]:
        assert isinstance(s.when, dt.datetime) and s.seen == {"x", "y"}
        return {}

    g = StateGraph(DState)
    g.add_node("stamp", stamp)
    g.add_node("check", check)
    g.add_edge(START, "stamp")
    g.add_edge("stamp", "check")
    return g.compile()


class Log(TypedDict, total=False):
    log: Annotated[list[Any], operator.add]


def bad_value_graph() -> Any:
    def ok(s: Log) -> dict[str, Any]:
        return {"log": ["ok"]}

    def bad(s: Log) -> dict[str, Any]:
        return {"log": [lambda: None]}

    g = StateGraph(Log)
    g.add_node("ok", ok)
    g.add_node("bad", bad)
    g.add_edge(START, "ok")
    g.add_edge("ok", "bad")
    return g.compile()


async def test_real_objects_round_trip(database_url: str) -> None:
    graphs = {"m": messages_graph(), "p": pydantic_graph(), "d": dataclass_graph(), "bad": bad_value_graph()}
    async with engine(database_url, graphs) as e:
        run = await e.run("m", await e.new_thread(), input={"messages": [{"type": "human", "content": "hi"}]})
        assert run["status"] == "success", run
        msgs = run["output"]["values"]["messages"]
        assert [(m["type"], m["content"]) for m in msgs] == [("human", "hi"), ("ai", "echo hi")]
        assert msgs[1]["id"] == "ai-1" and msgs[1]["tool_calls"] == []

        tid = await e.new_thread()
        run = await e.run("p", tid, input={"count": 1})
        assert run["status"] == "success", run
        assert run["output"]["values"] == {"note": {"text": "hi", "tags": ["a"]}, "count": 12}

        run = await e.run("d", await e.new_thread(), input={})
        assert run["status"] == "success", run
        values = run["output"]["values"]
        assert values["when"] == "2026-01-02T03:04:05+00:00" and sorted(values["seen"]) == ["x", "y"]

        tid = await e.new_thread()
        run = await e.run("bad", tid, input={"log": []})
        assert run["status"] == "error"
        assert "'log'" in run["error"]["message"] and "function" in run["error"]["message"]
        state = await e.state.get(tid)
        assert state["values"] == {"log": ["ok"]}  # the last good checkpoint is intact
        again = await e.run("bad", tid, input={"log": ["again"]})
        assert again["status"] == "error"  # the thread is still usable
