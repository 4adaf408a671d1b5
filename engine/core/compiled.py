"""`CompiledGraph`: the validated graph description plus the user callables it runs.

Everything the durable layer needs to know about a node is on `graph.nodes[name]`
(`retry_policy`, `timeout`, ...). `draw()` gives `{nodes, edges}` JSON for the API, and
`input_jsonschema()` / `output_jsonschema()` / `state_jsonschema()` the schemas.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from engine.core.channels import Channel
from engine.core.jsonschema import object_schema
from engine.core.types import END, START, RetryPolicy

if TYPE_CHECKING:
    from engine.core.graph import StateGraph


def second_arg(fn: Any) -> str | None:
    """What a node / router takes after the state: "config", "runtime" (a parameter named
    `runtime`, LangGraph 1.x style) or nothing."""
    target = fn
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)) and callable(fn):
        target = getattr(fn, "__call__", fn)  # noqa: B004 - callable objects
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params]
    if "runtime" in names[1:]:
        return "runtime"
    if "config" in names[1:]:
        return "config"
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params):
        return "config"
    return None


def accepts_config(fn: Any) -> bool:
    """True when `fn` takes a second argument (config or runtime)."""
    return second_arg(fn) is not None


def is_async_callable(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


@dataclass
class Branch:
    """A conditional edge: `path(state[, config])` -> node name(s) / Send(s), optionally mapped."""

    name: str
    path: Callable[..., Any]
    path_map: dict[Any, str] | None
    accepts_config: bool = False


@dataclass
class NodeSpec:
    """One node as compiled: what triggers it, what it reads, where its static edges go."""

    name: str
    fn: Any  # user callable or CompiledGraph; None for START
    input_keys: list[str]
    input_schema: Any
    triggers: list[str]
    retry_policies: tuple[RetryPolicy, ...] = ()
    timeout: float | None = None
    ends: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    edges: list[str] = field(default_factory=list)  # static successors (not END)
    joins: list[str] = field(default_factory=list)  # join channels this node completes
    branches: list[Branch] = field(default_factory=list)
    finish: bool = False  # has an edge to END

    @property
    def retry_policy(self) -> RetryPolicy | None:
        """The first retry policy (LangGraph applies the first one whose retry_on matches)."""
        return self.retry_policies[0] if self.retry_policies else None

    def retry_delay(self, exc: BaseException, attempt: int) -> float | None:
        """Seconds to wait before retrying after failed attempt `attempt` (1-based), or None to give up."""
        for policy in self.retry_policies:
            if policy.should_retry(exc, attempt):
                return policy.delay(attempt)
            if policy.should_retry(exc, 0):  # matching policy, but attempts exhausted
                return None
        return None

    @property
    def is_subgraph(self) -> bool:
        return isinstance(self.fn, CompiledGraph)

    @property
    def is_async(self) -> bool:
        return self.fn is not None and not self.is_subgraph and is_async_callable(self.fn)


class CompiledGraph:
    """A compiled StateGraph. Execution is driven by `engine.core.run` (prepare_run / run_task /
    barrier); `invoke` / `ainvoke` drive it in memory (tests, subgraphs)."""

    def __init__(
        self,
        *,
        name: str,
        builder: StateGraph,
        channels: dict[str, Channel],
        nodes: dict[str, NodeSpec],
        state_keys: list[str],
        input_keys: list[str],
        output_keys: list[str],
        interrupt_before: list[str] | Literal["*"],
        interrupt_after: list[str] | Literal["*"],
    ) -> None:
        self.name = name
        self.builder = builder
        self.channels = channels
        self.nodes = nodes
        self.state_keys = state_keys
        self.input_keys = input_keys
        self.output_keys = output_keys
        self.interrupt_before = interrupt_before
        self.interrupt_after = interrupt_after
        self.trigger_to_nodes: dict[str, list[str]] = {}
        for node in nodes.values():
            for trigger in node.triggers:
                self.trigger_to_nodes.setdefault(trigger, []).append(node.name)

    def __repr__(self) -> str:
        return f"CompiledGraph(name={self.name!r}, nodes={[n for n in self.nodes if n != START]})"

    # -- description -------------------------------------------------------------------------

    def draw(self) -> dict[str, Any]:
        """`{nodes: [{id, type, data}], edges: [{source, target, conditional?, data?}]}` like LangGraph's
        `get_graph().to_json()`. Routers without a path map may go to every node (and END)."""
        node_ids = [START, *[n for n in self.nodes if n != START]]
        out_nodes: list[dict[str, Any]] = []
        for n in node_ids:
            spec = self.nodes[n]
            data: dict[str, Any] = {"name": n}
            if spec.is_subgraph:
                data["subgraph"] = spec.fn.name
            if spec.metadata:
                data["metadata"] = spec.metadata
            out_nodes.append({"id": n, "type": "runnable", "data": data})
        edges: list[dict[str, Any]] = []
        seen: set[tuple[str, str, bool]] = set()

        def add(source: str, target: str, conditional: bool, label: str | None = None) -> None:
            if (source, target, conditional) in seen:
                return
            seen.add((source, target, conditional))
            edge: dict[str, Any] = {"source": source, "target": target}
            if conditional:
                edge["conditional"] = True
            if label is not None and label != target:
                edge["data"] = label
            edges.append(edge)

        for spec in self.nodes.values():
            for target in spec.edges:
                add(spec.name, target, False)
            if spec.finish:
                add(spec.name, END, False)
            for join in spec.joins:
                add(spec.name, join.rsplit(":", 1)[1], False)
            for branch in spec.branches:
                if branch.path_map is not None:
                    for label, target in branch.path_map.items():
                        add(spec.name, target, True, str(label))
                else:
                    for target in [*[n for n in node_ids if n not in (START, spec.name)], END]:
                        add(spec.name, target, True)
            for target in spec.ends:
                add(spec.name, target, True)
        out_nodes.append({"id": END})
        return {"nodes": out_nodes, "edges": edges}

    def state_jsonschema(self) -> dict[str, Any]:
        return object_schema(self.builder.state_schema)

    def input_jsonschema(self) -> dict[str, Any]:
        return object_schema(self.builder.input_schema)

    def output_jsonschema(self) -> dict[str, Any]:
        return object_schema(self.builder.output_schema)

    def context_jsonschema(self) -> dict[str, Any] | None:
        schema = self.builder.context_schema
        return object_schema(schema) if schema is not None else None

    def subgraphs(self) -> dict[str, CompiledGraph]:
        return {n: s.fn for n, s in self.nodes.items() if s.is_subgraph}

    # -- in-memory execution -----------------------------------------------------------------

    async def ainvoke(self, input: Any = None, config: dict[str, Any] | None = None, **opts: Any) -> Any:
        """Run to completion in memory (no persistence). Returns output values, or raises
        GraphInterrupt / EngineError like LangGraph's invoke without a checkpointer would."""
        from engine.core.loop import invoke_in_memory

        return await invoke_in_memory(self, input, config=config, **opts)

    def invoke(self, input: Any = None, config: dict[str, Any] | None = None, **opts: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.ainvoke(input, config, **opts))
        raise RuntimeError("CompiledGraph.invoke() called inside a running event loop; use `await ainvoke()`")
