"""Graphs for the SSE streaming tests and the streaming benchmark."""

from __future__ import annotations

import asyncio
import operator
import time
from typing import Annotated, Any, TypedDict

from engine import END, START, StateGraph, add_messages, get_stream_writer


class Chat(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    notes: Annotated[list[str], operator.add]


def chat(tokens: tuple[str, ...] = ("Hel", "lo", " there")) -> Any:
    """`think` writes custom chunks; `answer` streams an AI message token by token (message chunks
    through the stream writer) and then writes the whole message to `messages`."""

    def think(state: Chat) -> dict[str, Any]:
        write = get_stream_writer()
        for i in range(3):
            write({"progress": i})
        return {"notes": ["thought"]}

    async def answer(state: Chat) -> dict[str, Any]:
        write = get_stream_writer()
        for t in tokens:
            write({"type": "AIMessageChunk", "content": t, "id": "msg-1"})
            await asyncio.sleep(0.005)
        return {"messages": [{"type": "ai", "content": "".join(tokens), "id": "msg-1"}]}

    g = StateGraph(Chat)
    g.add_node("think", think)
    g.add_node("answer", answer)
    g.add_edge(START, "think")
    g.add_edge("think", "answer")
    g.add_edge("answer", END)
    return g.compile()


class Ticks(TypedDict, total=False):
    n: int
    stamps: Annotated[list[float], operator.add]


def ticker(steps: int = 5, seconds: float = 0.2, chunks: int = 0) -> Any:
    """`steps` nodes in a row, each sleeping `seconds`, recording time.time() in its update (the
    benchmark measures commit -> SSE latency against it) and streaming `chunks` custom chunks."""

    def make(i: int) -> Any:
        async def node(state: Ticks) -> dict[str, Any]:
            write = get_stream_writer()
            for c in range(chunks):
                write({"node": i, "chunk": c, "t": time.time()})
            await asyncio.sleep(seconds)
            return {"n": state.get("n", 0) + 1, "stamps": [time.time()]}

        node.__name__ = f"t{i}"
        return node

    g = StateGraph(Ticks)
    for i in range(steps):
        g.add_node(f"t{i}", make(i))
    g.add_edge(START, "t0")
    for i in range(steps - 1):
        g.add_edge(f"t{i}", f"t{i + 1}")
    g.add_edge(f"t{steps - 1}", END)
    return g.compile()
