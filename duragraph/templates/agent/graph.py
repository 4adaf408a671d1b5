"""A chat agent with tools, in plain LangGraph: the model calls tools until it can answer.

The model is OpenAI's or Anthropic's when its key is set (and its LangChain package installed), else a
scripted stand-in so the project runs offline: it calls `get_weather` for the last word of the question,
then answers with what the tool said.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"It is sunny and 22°C in {city}."


@tool
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


TOOLS = [get_weather, add]


class ScriptedChatModel(BaseChatModel):
    """Answers like a tool-calling model would, decided from the conversation alone (so a step run again
    after a crash answers the same)."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(f"Here is what I found: {last.content}")
        else:
            city = str(last.content).rstrip("?!. ").split(" ")[-1] or "Paris"
            reply = AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": city},
                                               "id": f"call-{len(messages)}"}])
        return ChatResult(generations=[ChatGeneration(message=reply)])


def chat_model() -> Any:
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            pass
        else:
            return ChatOpenAI(model=os.environ.get("AGENT_MODEL", "gpt-4o-mini"))
    if os.environ.get("ANTHROPIC_API_KEY"):
        try:
            from langchain_anthropic import ChatAnthropic
        except ImportError:
            pass
        else:
            return ChatAnthropic(model=os.environ.get("AGENT_MODEL", "claude-3-5-haiku-latest"))
    return ScriptedChatModel()


model = chat_model().bind_tools(TOOLS)


def agent(state: MessagesState) -> dict[str, Any]:
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("agent", agent)
builder.add_node("tools", ToolNode(TOOLS))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition)
builder.add_edge("tools", "agent")
graph = builder.compile()
