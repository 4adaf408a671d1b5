"""A LangGraph subgraph that interrupts: its own checkpoints are kept under its namespace, so
`get_state(subgraphs=True)`, `checkpoint_ns` and resuming the interrupt work as on the official server."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt
from langgraph_sdk import get_client

from tests.integration.api_support import live


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


def build() -> Any:
    def prepare(s: S) -> S:
        return {"log": ["prepare"]}

    def ask(s: S) -> S:
        return {"log": [f"answer:{interrupt('which?')}"]}

    inner = StateGraph(S)
    inner.add_node("prepare", prepare)
    inner.add_node("ask", ask)
    inner.add_edge(START, "prepare")
    inner.add_edge("prepare", "ask")

    outer = StateGraph(S)
    outer.add_node("before", lambda s: {"log": ["before"]})
    outer.add_node("sub", inner.compile())
    outer.add_node("after", lambda s: {"log": ["after"]})
    outer.add_edge(START, "before")
    outer.add_edge("before", "sub")
    outer.add_edge("sub", "after")
    return outer


async def test_interrupt_inside_subgraph(database_url: str) -> None:
    lg = build().compile(checkpointer=InMemorySaver())
    cfg: dict[str, Any] = {"configurable": {"thread_id": "t"}}
    await lg.ainvoke({"log": []}, cfg)
    lg_state = await lg.aget_state(cfg, subgraphs=True)
    lg_sub = lg_state.tasks[0].state
    await lg.ainvoke(Command(resume="left"), cfg)
    expected = (await lg.aget_state(cfg)).values

    async with live(database_url, {"g": build().compile()}) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        await client.runs.wait(tid, "g", input={"log": []})
        state = await client.threads.get_state(tid, subgraphs=True)
        assert state["next"] == ["sub"] and [i["value"] for i in state["interrupts"]] == ["which?"]
        sub = state["tasks"][0]["state"]
        assert sub is not None and sub["values"] == lg_sub.values and sub["next"] == list(lg_sub.next)
        ns = sub["checkpoint"]["checkpoint_ns"]
        assert ns.startswith("sub:") and state["tasks"][0]["checkpoint"]["checkpoint_ns"] == ns
        by_ns = await client.threads.get_state(tid, checkpoint={"checkpoint_ns": ns})
        assert by_ns["values"] == sub["values"] and by_ns["next"] == ["ask"]
        # resuming continues the subgraph where it stopped: `prepare` is not run again
        done = await client.runs.wait(tid, "g", command={"resume": "left"})
        assert done["log"] == expected["log"]  # (LangGraph adds the subgraph's whole `log` to the parent's)
        assert done["log"].count("prepare") == 1 and done["log"][-2:] == ["answer:left", "after"]
