"""A user's LangGraph graph as the engine holds it: the compiled `Pregel` object, plus what the API asks
of it (schemas, drawing, subgraphs). The graph semantics are LangGraph's own; nothing here re-implements
them."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from langgraph.graph.state import CompiledStateGraph, StateGraph
from langgraph.pregel import Pregel
from langgraph.pregel._read import PregelNode

from engine.core.errors import InvalidGraphError


class CompiledGraph:
    """One loaded graph. `pregel` is what LangGraph compiled; it is driven one superstep / one task at a
    time by `engine.core.pregel`."""

    def __init__(self, pregel: Pregel[Any, Any, Any, Any], name: str | None = None) -> None:
        if pregel.checkpointer not in (None, False, True):
            # a checkpointer given at compile time is replaced by the durable one (as the official server does)
            pregel = pregel.copy(update={"checkpointer": None})
        self.pregel = pregel
        self.name = name or pregel.get_name()

    # -- what the durable layer and the API read -------------------------------------------------------
    @property
    def nodes(self) -> Mapping[str, PregelNode]:
        return self.pregel.nodes

    @property
    def state_keys(self) -> list[str]:
        """The channels that make up the state (what `values` shows)."""
        keys = self.pregel.stream_channels_asis
        return [keys] if isinstance(keys, str) else list(keys)

    @property
    def output_keys(self) -> list[str]:
        keys = self.pregel.output_channels
        return [keys] if isinstance(keys, str) else list(keys)

    @property
    def interrupt_before(self) -> Any:
        return self.pregel.interrupt_before_nodes

    @property
    def interrupt_after(self) -> Any:
        return self.pregel.interrupt_after_nodes

    def node_names(self) -> list[str]:
        return [n for n in self.pregel.nodes if n != "__start__"]

    # -- API: schemas, drawing, subgraphs -------------------------------------------------------------
    def input_jsonschema(self) -> dict[str, Any]:
        return _schema(self.pregel.get_input_jsonschema, self._builder_schema("input_schema"),
                       self.pregel.input_channels, "Input")

    def output_jsonschema(self) -> dict[str, Any]:
        return _schema(self.pregel.get_output_jsonschema, self._builder_schema("output_schema"),
                       self.pregel.output_channels, "Output")

    def _builder_schema(self, attr: str) -> Any:
        return getattr(getattr(self.pregel, "builder", None), attr, None)

    def state_jsonschema(self) -> dict[str, Any] | None:
        schema = self._builder_schema("state_schema")
        if schema is not None:
            from pydantic import TypeAdapter

            try:
                return TypeAdapter(schema).json_schema()
            except Exception:  # e.g. a typing.TypedDict on Python < 3.12
                pass
        return _schema(lambda: None, schema, self.pregel.stream_channels_asis, "State")

    def context_jsonschema(self) -> dict[str, Any] | None:
        try:
            return self.pregel.get_context_jsonschema()
        except Exception:
            return {"type": "object", "title": "Context"}

    def subgraphs(self) -> dict[str, CompiledGraph]:
        return {name: CompiledGraph(sub, name) for name, sub in self.pregel.get_subgraphs()}  # type: ignore[arg-type]

    def draw(self) -> dict[str, Any]:
        """`{nodes, edges}` like LangGraph's `get_graph().to_json()` (what the official server returns)."""
        drawn: dict[str, Any] = self.pregel.get_graph().to_json()
        return drawn


def as_compiled(obj: Any, name: str) -> CompiledGraph:
    """A config's graph object -> CompiledGraph: a compiled graph (incl. prebuilt agents), a `StateGraph`
    builder (compiled here), or an already wrapped graph."""
    if isinstance(obj, CompiledGraph):
        return obj
    if isinstance(obj, StateGraph):
        try:
            obj = obj.compile()
        except Exception as exc:
            raise InvalidGraphError(f"graph {name!r} does not compile: {exc}") from exc
    if isinstance(obj, (CompiledStateGraph, Pregel)):
        return CompiledGraph(obj, name)  # type: ignore[arg-type]
    raise InvalidGraphError(
        f"graph {name!r} is a {type(obj).__name__}; expected a langgraph StateGraph, a compiled graph, "
        "or a function returning one"
    )


async def from_factory(fn: Any, name: str, config: dict[str, Any] | None = None) -> CompiledGraph:
    """Call a graph factory (`def make_graph()` or `def make_graph(config)`, sync or async)."""
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    result = fn(config or {}) if params else fn()
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aenter__") and not isinstance(result, (StateGraph, Pregel)):
        raise InvalidGraphError(f"graph {name!r}: context-manager graph factories are not supported")
    return as_compiled(result, name)


def _schema(make: Any, typed: Any, channels: Any, title: str) -> dict[str, Any]:
    """LangGraph's JSON schema of the graph; where pydantic cannot build one (a `typing.TypedDict` on
    Python < 3.12), the same fields as a pydantic model, else an object schema naming the channels."""
    try:
        schema = make()
        if schema is not None:
            return dict(schema)
    except Exception:
        pass
    if isinstance(typed, type) and hasattr(typed, "__annotations__"):
        import typing

        from pydantic import create_model

        try:
            hints = typing.get_type_hints(typed)
            required = getattr(typed, "__required_keys__", set(hints))
            fields: dict[str, Any] = {k: (v, ... if k in required else None) for k, v in hints.items()}
            return create_model(typed.__name__, **fields).model_json_schema()  # type: ignore[call-overload,no-any-return]
        except Exception:
            pass
    keys = [channels] if isinstance(channels, str) else list(channels)
    return {"type": "object", "title": title, "properties": {k: {} for k in keys if not k.startswith("__")}}
