"""A tool-calling agent written only with LangGraph and LangChain: a chat model, tools, a human approval.

    "graphs": {"agent": "./graph.py:graph"}     (langgraph.json beside this file)

The model is a real provider when its key is set and its package is installed (OPENAI_API_KEY with
langchain-openai, ANTHROPIC_API_KEY with langchain-anthropic), else a scripted model that answers like one:
it looks up the weather, asks to book the trip, and streams its answer token by token.

`book_trip` asks a human first (`interrupt()`): the run waits, durably, until the client answers.
`lookup_weather` takes AGENT_TOOL_SECONDS (default 0.5) and notes each execution in AGENT_LEDGER (a file),
so a test can kill the worker while it runs and see the step run again elsewhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import interrupt


@tool
def lookup_weather(city: str) -> str:
    """The weather forecast for a city."""
    ledger = os.environ.get("AGENT_LEDGER")
    if ledger:
        with open(ledger, "a") as f:
            f.write(f"lookup_weather\t{os.getpid()}\n")
    time.sleep(float(os.environ.get("AGENT_TOOL_SECONDS", "0.5")))
    return f"Sunny and 24°C in {city} all week."


@tool
def book_trip(city: str) -> str:
    """Book a trip to a city (a human approves it first)."""
    answer = interrupt({"question": f"Book a trip to {city}?", "city": city})
    return f"Trip to {city} booked." if str(answer).lower() in ("yes", "y", "ok") else f"Not booked ({answer})."


TOOLS = [lookup_weather, book_trip]


class ScriptedModel(BaseChatModel):
    """Stands in for a chat model without network access: decides from the conversation, like one would."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        return self

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        done = {m.name for m in messages if isinstance(m, ToolMessage)}
        city = "Lisbon"
        if "lookup_weather" not in done:
            return AIMessage("Let me check the weather first.",
                             tool_calls=[{"name": "lookup_weather", "args": {"city": city}, "id": "call-weather"}])
        if "book_trip" not in done:
            return AIMessage("The weather looks great, let me book it.",
                             tool_calls=[{"name": "book_trip", "args": {"city": city}, "id": "call-book"}])
        outcome = next(m.content for m in reversed(messages) if isinstance(m, ToolMessage))
        return AIMessage(f"All set: the forecast for {city} is sunny and 24°C. {outcome}")

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages)
        words = str(reply.content).split(" ")
        for i, word in enumerate(words):
            last = i == len(words) - 1
            chunk = AIMessageChunk(content=word if last else word + " ",
                                   tool_call_chunks=[{"name": c["name"], "args": __import__("json").dumps(c["args"]),
                                                      "id": c["id"], "index": n}
                                                     for n, c in enumerate(reply.tool_calls)] if last else [])
            if run_manager:
                run_manager.on_llm_new_token(chunk.content, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)


def make_model() -> Any:
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            pass
        else:
            return ChatOpenAI(model=os.environ.get("AGENT_MODEL", "gpt-4o-mini"), streaming=True)
    if os.environ.get("ANTHROPIC_API_KEY"):
        try:
            from langchain_anthropic import ChatAnthropic
        except ImportError:
            pass
        else:
            return ChatAnthropic(model=os.environ.get("AGENT_MODEL", "claude-3-5-haiku-latest"), streaming=True)
    return ScriptedModel()


model = make_model().bind_tools(TOOLS)


def agent(state: MessagesState) -> dict[str, Any]:
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("agent", agent)
builder.add_node("tools", ToolNode(TOOLS))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition)
builder.add_edge("tools", "agent")
graph = builder.compile()
