"""DuraGraph engine: the LangGraph-style graph API (pure core) and the durable layer.

Port a LangGraph program by changing `from langgraph.graph import ...` / `from langgraph.types
import ...` to `from engine import ...`.
"""

from engine.core.compiled import CompiledGraph
from engine.core.errors import EngineError, GraphInterrupt
from engine.core.graph import StateGraph
from engine.core.messages import REMOVE_ALL_MESSAGES, add_messages, remove_message
from engine.core.scratchpad import get_config, get_stream_writer, interrupt
from engine.core.types import END, START, Command, Interrupt, Overwrite, RetryPolicy, Send

__all__ = [
    "END",
    "REMOVE_ALL_MESSAGES",
    "START",
    "Command",
    "CompiledGraph",
    "EngineError",
    "GraphInterrupt",
    "Interrupt",
    "Overwrite",
    "RetryPolicy",
    "Send",
    "StateGraph",
    "add_messages",
    "get_config",
    "get_stream_writer",
    "interrupt",
    "remove_message",
]
