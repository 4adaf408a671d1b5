"""`StateGraph`: the builder users write against (same methods as LangGraph's StateGraph).

`compile()` validates the definition (clear `InvalidGraphError`s) and returns a `CompiledGraph`:
one channel per state key, a `branch:to:<node>` trigger per node, a `join:...` barrier per
multi-source edge, exactly like LangGraph lays a StateGraph out on Pregel channels.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Hashable, Sequence
from datetime import timedelta
from typing import Any, ClassVar, Literal, get_args, get_origin, get_type_hints

from engine.core.channels import Channel, EphemeralValue, NamedBarrierValue, Topic, channel_for_annotation
from engine.core.compiled import Branch, CompiledGraph, NodeSpec, accepts_config
from engine.core.errors import InvalidGraphError
from engine.core.types import BRANCH_TO, END, START, TASKS, RetryPolicy

_RESERVED_CHARS = ("|", ":")


def schema_fields(schema: Any) -> dict[str, Any]:
    """Field name -> annotation of a TypedDict / dataclass / pydantic model (with Annotated extras)."""
    if schema is None or (not hasattr(schema, "__annotations__") and not hasattr(schema, "model_fields")):
        raise InvalidGraphError(f"State schema must be a TypedDict, dataclass or pydantic model, got {schema!r}")
    try:
        hints = get_type_hints(schema, include_extras=True)
    except Exception as exc:
        raise InvalidGraphError(f"Cannot read type hints of {schema!r}: {exc}") from exc
    model_fields = getattr(schema, "model_fields", None)
    if isinstance(model_fields, dict):
        return {k: hints.get(k, Any) for k in model_fields}
    return {k: v for k, v in hints.items() if not k.startswith("__") and get_origin(v) is not ClassVar}


def _coerce_timeout(timeout: float | timedelta | None) -> float | None:
    if timeout is None:
        return None
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    if seconds <= 0:
        raise InvalidGraphError("timeout must be greater than 0")
    return seconds


def _infer_input_schema(fn: Callable[..., Any]) -> Any | None:
    """LangGraph uses the first parameter's annotation as the node input schema when it is a class."""
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)):
        return None
    try:
        hints = get_type_hints(fn)
        first = next(iter(inspect.signature(fn).parameters))
    except Exception:
        return None
    hint = hints.get(first)
    if isinstance(hint, type) and hint is not dict:
        try:
            if get_type_hints(hint):
                return hint
        except Exception:
            return None
    return None


def _literal_ends(fn: Callable[..., Any]) -> tuple[str, ...] | None:
    """Destinations declared by a `-> Literal[...]` router or `-> Command[Literal[...]]` node."""
    try:
        rtn = get_type_hints(fn).get("return")
    except Exception:
        return None
    if rtn is None:
        return None
    if get_origin(rtn) is Literal:
        return tuple(str(a) for a in get_args(rtn))
    for candidate in (rtn, *get_args(rtn)):
        args = get_args(candidate)
        if getattr(get_origin(candidate), "__name__", "") == "Command" and args and get_origin(args[0]) is Literal:
            return tuple(str(a) for a in get_args(args[0]))
    return None


@dataclasses.dataclass
class _NodeDef:
    name: str
    action: Any
    input_schema: Any
    retry_policies: tuple[RetryPolicy, ...]
    timeout: float | None
    ends: tuple[str, ...]
    metadata: dict[str, Any]


class StateGraph:
    """Builder of a graph whose nodes read and update a shared state (a TypedDict et al.)."""

    def __init__(
        self,
        state_schema: Any,
        context_schema: Any | None = None,
        *,
        input_schema: Any | None = None,
        output_schema: Any | None = None,
    ) -> None:
        self.state_schema = state_schema
        self.context_schema = context_schema
        self.input_schema = input_schema or state_schema
        self.output_schema = output_schema or state_schema
        self.nodes: dict[str, _NodeDef] = {}
        self.edges: list[tuple[str, str]] = []
        self.waiting_edges: list[tuple[tuple[str, ...], str]] = []
        self.branches: dict[str, dict[str, Branch]] = {}
        self.channels: dict[str, Channel] = {}
        self.schemas: dict[Any, list[str]] = {}
        for schema in (state_schema, self.input_schema, self.output_schema):
            self._add_schema(schema)

    def _add_schema(self, schema: Any) -> None:
        if schema in self.schemas:
            return
        fields = schema_fields(schema)
        self.schemas[schema] = list(fields)
        for key, annotation in fields.items():
            channel = channel_for_annotation(key, annotation)
            existing = self.channels.get(key)
            if existing is None or existing.kind == "last_value":
                self.channels[key] = channel
            elif channel.kind != "last_value" and channel.kind != existing.kind:
                raise InvalidGraphError(f"Channel '{key}' already exists with a different type")

    # -- nodes -------------------------------------------------------------------------------

    def add_node(
        self,
        node: str | Any,
        action: Any | None = None,
        *,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        timeout: float | timedelta | None = None,
        input_schema: Any | None = None,
        destinations: dict[str, str] | tuple[str, ...] | None = None,
        metadata: dict[str, Any] | None = None,
        defer: bool = False,
        **kwargs: Any,
    ) -> StateGraph:
        if kwargs:
            raise InvalidGraphError(f"add_node got unsupported arguments: {sorted(kwargs)}")
        if defer:
            raise InvalidGraphError("add_node(defer=True) is not supported by this engine")
        if not isinstance(node, str):
            action = node
            name = getattr(action, "name", None) if isinstance(action, CompiledGraph) else None
            node = str(name or getattr(action, "__name__", type(action).__name__))
        if action is None:
            raise InvalidGraphError(f"Node `{node}` needs a function or a compiled graph")
        if not callable(action) and not isinstance(action, CompiledGraph):
            raise InvalidGraphError(f"Node `{node}` action must be callable, got {type(action).__name__}")
        if node in self.nodes:
            raise InvalidGraphError(f"Node `{node}` already present.")
        if node in (START, END):
            raise InvalidGraphError(f"Node `{node}` is reserved.")
        for ch in _RESERVED_CHARS:
            if ch in node:
                raise InvalidGraphError(f"'{ch}' is a reserved character and is not allowed in node names.")
        inferred = None if isinstance(action, CompiledGraph) else _infer_input_schema(action)
        schema = input_schema or inferred or self.state_schema
        if schema is not self.state_schema:
            self._add_schema(schema)
        if isinstance(retry_policy, RetryPolicy):
            policies: tuple[RetryPolicy, ...] = (retry_policy,)
        else:
            policies = tuple(retry_policy or ())
        if destinations is not None:
            ends = tuple(destinations)
        elif not isinstance(action, CompiledGraph):
            ends = _literal_ends(action) or ()
        else:
            ends = ()
        self.nodes[node] = _NodeDef(node, action, schema, policies, _coerce_timeout(timeout), ends, metadata or {})
        return self

    def add_sequence(self, nodes: Sequence[Any]) -> StateGraph:
        if not nodes:
            raise InvalidGraphError("Sequence requires at least one node.")
        previous: str | None = None
        for item in nodes:
            if isinstance(item, tuple) and len(item) == 2:
                name, fn = item
            else:
                name, fn = getattr(item, "__name__", type(item).__name__), item
            if name in self.nodes:
                raise InvalidGraphError(f"Node names must be unique: node with the name '{name}' already exists.")
            self.add_node(name, fn)
            if previous is not None:
                self.add_edge(previous, name)
            previous = name
        return self

    # -- edges -------------------------------------------------------------------------------

    def add_edge(self, start_key: str | Sequence[str], end_key: str) -> StateGraph:
        if end_key == START:
            raise InvalidGraphError("START cannot be an end node")
        if isinstance(start_key, str):
            if start_key == END:
                raise InvalidGraphError("END cannot be a start node")
            if (start_key, end_key) not in self.edges:
                self.edges.append((start_key, end_key))
            return self
        starts = tuple(start_key)
        for start in starts:
            if start == END:
                raise InvalidGraphError("END cannot be a start node")
            if start not in self.nodes:
                raise InvalidGraphError(f"Need to add_node `{start}` first")
        if end_key != END and end_key not in self.nodes:
            raise InvalidGraphError(f"Need to add_node `{end_key}` first")
        if len(starts) == 1:
            return self.add_edge(starts[0], end_key)
        self.waiting_edges.append((starts, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: dict[Hashable, str] | list[str] | None = None,
    ) -> StateGraph:
        if not callable(path):
            raise InvalidGraphError(f"Conditional edge from `{source}` needs a callable router")
        name = getattr(path, "__name__", None) or "condition"
        if name == "<lambda>":
            name = "condition"
        branches = self.branches.setdefault(source, {})
        if name in branches:
            raise InvalidGraphError(f"Branch with name `{name}` already exists for node `{source}`")
        mapping: dict[Any, str] | None
        if isinstance(path_map, dict):
            mapping = dict(path_map)
        elif isinstance(path_map, list):
            mapping = {p: p for p in path_map}
        else:
            ends = _literal_ends(path)
            mapping = {e: e for e in ends} if ends else None
        branches[name] = Branch(name=name, path=path, path_map=mapping, accepts_config=accepts_config(path))
        return self

    def set_entry_point(self, key: str) -> StateGraph:
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self, path: Callable[..., Any], path_map: dict[Hashable, str] | list[str] | None = None
    ) -> StateGraph:
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> StateGraph:
        return self.add_edge(key, END)

    # -- compile -----------------------------------------------------------------------------

    def compile(
        self,
        checkpointer: Any = None,
        *,
        interrupt_before: Sequence[str] | Literal["*"] | None = None,
        interrupt_after: Sequence[str] | Literal["*"] | None = None,
        name: str | None = None,
        **_ignored: Any,
    ) -> CompiledGraph:
        """Validate and build the runnable description. `checkpointer` is accepted and ignored:
        persistence is the durable layer's job."""
        from engine.core.validate import validate_graph

        validate_graph(self, interrupt_before, interrupt_after)
        channels: dict[str, Channel] = {k: v.clone() for k, v in self.channels.items()}
        channels[START] = EphemeralValue(guard=True)
        channels[START].key = START
        channels[TASKS] = Topic()
        channels[TASKS].key = TASKS
        nodes: dict[str, NodeSpec] = {
            START: NodeSpec(
                name=START,
                fn=None,
                input_keys=list(self.schemas[self.input_schema]),
                input_schema=None,
                triggers=[START],
            )
        }
        for node_name, nd in self.nodes.items():
            trigger = BRANCH_TO.format(node_name)
            channels[trigger] = EphemeralValue(guard=False)
            channels[trigger].key = trigger
            nodes[node_name] = NodeSpec(
                name=node_name,
                fn=nd.action,
                input_keys=list(self.schemas[nd.input_schema]),
                input_schema=nd.input_schema,
                triggers=[trigger],
                retry_policies=nd.retry_policies,
                timeout=nd.timeout,
                ends=nd.ends,
                metadata=nd.metadata,
            )
        for start, end in self.edges:
            if end != END:
                nodes[start].edges.append(end)
            else:
                nodes[start].finish = True
        for starts, end in self.waiting_edges:
            if end == END:
                for start in starts:
                    nodes[start].finish = True
                continue
            channel_name = f"join:{'+'.join(starts)}:{end}"
            channels[channel_name] = NamedBarrierValue(starts)
            channels[channel_name].key = channel_name
            nodes[end].triggers.append(channel_name)
            for start in starts:
                nodes[start].joins.append(channel_name)
        for source, branches in self.branches.items():
            nodes[source].branches.extend(branches.values())
        ib: list[str] | Literal["*"] = "*" if interrupt_before == "*" else list(interrupt_before or [])
        ia: list[str] | Literal["*"] = "*" if interrupt_after == "*" else list(interrupt_after or [])
        return CompiledGraph(
            name=name or "LangGraph",
            builder=self,
            channels=channels,
            nodes=nodes,
            state_keys=list(self.channels),
            input_keys=list(self.schemas[self.input_schema]),
            output_keys=list(self.schemas[self.output_schema]),
            interrupt_before=ib,
            interrupt_after=ia,
        )
