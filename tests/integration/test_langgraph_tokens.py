"""Tokens of a LangChain chat model called inside a node stream through the durable chunk path, as
LangGraph's own `stream_mode="messages"` yields them in-process."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph_sdk import get_client

from engine.core import codec
from tests.integration.api_support import live_stack


def chat_graph(async_node: bool) -> Any:
    model = GenericFakeChatModel(messages=iter([AIMessage("Hello there, friend", id="ai-1")] * 4))

    def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def aanswer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("answer", aanswer if async_node else answer)
    g.add_edge(START, "answer")
    return g.compile()


async def _langgraph_tokens(async_node: bool) -> list[tuple[str, str]]:
    graph = chat_graph(async_node)
    graph.checkpointer = InMemorySaver()
    out = []
    async for msg, meta in graph.astream({"messages": [{"type": "human", "content": "hi"}]},
                                         {"configurable": {"thread_id": "t"}}, stream_mode="messages"):
        out.append((codec.to_wire(msg)["content"], meta["langgraph_node"]))
    return out


async def test_chat_model_tokens_stream_like_langgraph(database_url: str, nats_url: str, nats_prefix: str) -> None:
    graphs = {"sync": chat_graph(False), "async": chat_graph(True)}
    async with live_stack(database_url, nats_url, nats_prefix, graphs) as st:
        client = get_client(url=st.url, api_key=None)
        for name, is_async in (("sync", False), ("async", True)):
            tid = (await client.threads.create())["thread_id"]
            chunks = [c async for c in client.runs.stream(
                tid, name, input={"messages": [{"type": "human", "content": "hi"}]},
                stream_mode=["messages-tuple", "events"])]
            tuples = [c.data for c in chunks if c.event == "messages"]
            got = [(m["content"], meta["langgraph_node"]) for m, meta in tuples]
            assert got == await _langgraph_tokens(is_async)
            assert len(got) > 2  # the answer came token by token
            assert all(meta["langgraph_step"] == 1 and meta["thread_id"] == tid for _, meta in tuples)
            events = [c.data for c in chunks if c.event == "events"]
            streamed = [e["data"]["chunk"]["content"] for e in events if e["event"] == "on_chat_model_stream"]
            assert "".join(streamed) == "Hello there, friend"
            state = await client.threads.get_state(tid)
            assert state["values"]["messages"][-1]["type"] == "ai"
            assert state["values"]["messages"][-1]["content"] == "Hello there, friend"
