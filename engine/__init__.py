"""DuraGraph engine: runs LangGraph graphs durably (the runtime port in `engine.core`, the Postgres layer in
`engine.durable`).

The graph API is LangGraph's own; these names are re-exported for code written as
`from engine import StateGraph, START, END, interrupt, Command, Send`.
"""

from langgraph.config import get_config, get_store, get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages
from langgraph.types import Command, Interrupt, Overwrite, RetryPolicy, Send, interrupt

from engine.core.compiled import CompiledGraph
from engine.core.errors import EngineError

__all__ = [
    "END",
    "REMOVE_ALL_MESSAGES",
    "START",
    "Command",
    "CompiledGraph",
    "EngineError",
    "Interrupt",
    "Overwrite",
    "RetryPolicy",
    "Send",
    "StateGraph",
    "add_messages",
    "get_config",
    "get_store",
    "get_stream_writer",
    "interrupt",
]
