"""Running ONE task: call the user function, turn its return value into channel writes, evaluate
its conditional edges. The only place user code runs (besides routers of START, see run.py).

Node exceptions propagate (the durable layer applies RetryPolicy / timeout); GraphInterrupt becomes
an "interrupted" outcome.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.core import scratchpad as sp
from engine.core.channels import Channel
from engine.core.checkpoint import load_channels, read_state
from engine.core.compiled import Branch, NodeSpec, accepts_config, is_async_callable, second_arg
from engine.core.errors import GraphInterrupt, InvalidUpdateError, ParentCommand
from engine.core.records import TaskOutcome, TaskSpec
from engine.core.serde import as_update_dict, normalize
from engine.core.types import BRANCH_TO, END, RESUME, START, TASKS, Command, Interrupt, Send

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph

SUBGRAPH = "__subgraph__"  # write carrying an interrupted subgraph's state
RESUME_MAP = "__resume_map__"  # resume item for a subgraph node: {interrupt_id: value}


@dataclasses.dataclass(frozen=True)
class Runtime:
    """What a node declaring a `runtime` parameter gets (LangGraph 1.x `Runtime`): `context` is the
    run's context (`config["context"]`), `stream_writer` emits custom stream events."""

    context: Any = None
    store: Any = None
    stream_writer: Callable[[Any], None] = sp.noop_writer
    previous: Any = None


async def call_user(fn: Callable[..., Any], arg: Any, config: dict[str, Any], with_config: bool) -> Any:
    """Call a sync or async user function with (arg), (arg, config) or (arg, runtime); sync ones run
    in a thread (with the task's context variables)."""
    kind = second_arg(fn) if with_config else None
    if kind == "runtime":
        args: tuple[Any, ...] = (arg, Runtime(context=config.get("context"), stream_writer=sp.get_stream_writer()))
    else:
        args = (arg, config) if with_config else (arg,)
    if is_async_callable(fn):
        return await fn(*args)
    ctx = contextvars.copy_context()
    result = await asyncio.to_thread(ctx.run, functools.partial(fn, *args))
    if asyncio.iscoroutine(result):
        return await result
    return result


def coerce_input(schema: Any, value: Any) -> Any:
    """Give pydantic / dataclass state schemas an instance, like LangGraph's mapper does."""
    if not isinstance(value, dict) or schema is None or not isinstance(schema, type):
        return value
    if dataclasses.is_dataclass(schema) or hasattr(schema, "model_fields"):
        return schema(**value)
    return value


def _task_config(config: dict[str, Any], task: TaskSpec, cp: dict[str, Any]) -> dict[str, Any]:
    configurable = dict(config.get("configurable") or {})
    configurable.update({"task_id": task.id, "checkpoint_id": cp.get("id")})
    metadata = dict(config.get("metadata") or {})
    metadata.update(
        {
            "langgraph_step": task.step,
            "langgraph_node": task.name,
            "langgraph_triggers": list(task.triggers),
            "langgraph_path": list(task.path),
        }
    )
    return {**config, "configurable": configurable, "metadata": metadata}


def state_writes(result: Any, keys: set[str], *, depth: int) -> list[tuple[str, Any]]:
    """LangGraph's _get_updates + _control_branch: dict / Command / [Command...] / Send -> writes."""
    if result is None:
        return []
    if isinstance(result, Send):
        return [(TASKS, result)]
    if isinstance(result, dict):
        return [(k, v) for k, v in result.items() if k in keys]
    commands: list[Command] = []
    writes: list[tuple[str, Any]] = []
    if isinstance(result, Command):
        commands = [result]
    elif isinstance(result, (list, tuple)) and result and any(isinstance(i, Command) for i in result):
        for item in result:
            if isinstance(item, Command):
                commands.append(item)
            else:
                writes.extend(state_writes(item, keys, depth=depth))
    else:
        as_dict = as_update_dict(result)
        if as_dict is None:
            raise InvalidUpdateError(f"Expected dict, got {result!r}")
        return [(k, v) for k, v in as_dict.items() if k in keys]
    for cmd in commands:
        if cmd.graph == Command.PARENT:
            if depth == 0:
                raise InvalidUpdateError("There is no parent graph")
            raise ParentCommand(Command(update=cmd.update, goto=cmd.goto, resume=cmd.resume))
        writes.extend((k, v) for k, v in cmd.update_as_tuples() if k in keys)
        for go in cmd.goto_list():
            if isinstance(go, Send):
                writes.append((TASKS, go))
            elif isinstance(go, str):
                if go != END:
                    writes.append((BRANCH_TO.format(go), None))
            else:
                raise InvalidUpdateError(f"In Command.goto, expected Send/str, got {type(go).__name__}")
    return writes


def fresh_state(
    graph: CompiledGraph, channels: dict[str, Channel], keys: list[str], writes: list[tuple[str, Any]]
) -> dict[str, Any]:
    """Pre-step state plus this task's own writes (what LangGraph's routers read)."""
    out: dict[str, Any] = {}
    for key in keys:
        if key not in channels:
            continue
        ch = graph.channels[key].load(channels[key].dump())
        ch.update([v for c, v in writes if c == key])
        if ch.is_available():
            out[key] = ch.get()
    return out


def router_input(
    graph: CompiledGraph, spec: NodeSpec, node_input: Any, channels: dict[str, Channel], writes: list[tuple[str, Any]]
) -> Any:
    """What a conditional edge reads: the node input overlaid with fresh state (pre-step + own writes)."""
    keys = spec.input_keys if spec.name != START else graph.state_keys
    value: Any = fresh_state(graph, channels, keys, writes)
    if isinstance(node_input, dict):
        value = {**node_input, **value}
    return coerce_input(spec.input_schema if spec.name != START else graph.builder.state_schema, value)


def route_writes(graph: CompiledGraph, spec: NodeSpec, branch: Branch, result: Any) -> list[tuple[str, Any]]:
    """A router's return value (name(s) / Send(s), mapped through path_map) -> writes."""
    results = list(result) if isinstance(result, (list, tuple)) else [result]
    destinations: list[Any] = []
    for r in results:
        if isinstance(r, Send) or branch.path_map is None:
            destinations.append(r)
        elif r in branch.path_map:
            destinations.append(branch.path_map[r])
        else:
            raise InvalidUpdateError(f"Router `{branch.name}` of `{spec.name}` returned {r!r}, not in its path map")
    out: list[tuple[str, Any]] = []
    for dest in destinations:
        if isinstance(dest, Send):
            if dest.node == END:
                raise InvalidUpdateError("Cannot send a packet to the END node")
            if dest.node not in graph.nodes or dest.node == START:
                raise InvalidUpdateError(f"Send to unknown node `{dest.node}`")
            out.append((TASKS, dest))
        elif dest is None or dest == START:
            raise InvalidUpdateError("Branch did not return a valid destination")
        elif dest != END:
            if dest not in graph.nodes:
                raise InvalidUpdateError(f"Router `{branch.name}` of `{spec.name}` returned unknown node `{dest}`")
            out.append((BRANCH_TO.format(dest), None))
    return out


async def route(
    graph: CompiledGraph,
    spec: NodeSpec,
    branch: Branch,
    node_input: Any,
    channels: dict[str, Channel],
    writes: list[tuple[str, Any]],
    config: dict[str, Any],
) -> list[tuple[str, Any]]:
    """Evaluate one conditional edge and return its writes (branch triggers and Sends)."""
    value = router_input(graph, spec, node_input, channels, writes)
    result = await call_user(branch.path, value, config, branch.accepts_config)
    return route_writes(graph, spec, branch, result)


def _check_targets(graph: CompiledGraph, writes: list[tuple[str, Any]]) -> None:
    for chan, value in writes:
        if chan == TASKS and isinstance(value, Send) and (value.node not in graph.nodes or value.node == START):
            raise InvalidUpdateError(f"Send to unknown node `{value.node}`")
        if chan.startswith("branch:to:") and chan not in graph.channels:
            raise InvalidUpdateError(f"Command goto unknown node `{chan[len('branch:to:') :]}`")


def _normalized(writes: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    try:
        return [(c, normalize(v)) for c, v in writes]
    except TypeError as exc:
        raise InvalidUpdateError(f"Node wrote a value that cannot be stored as JSON: {exc}") from exc


def split_resume(resume: list[Any] | None) -> tuple[dict[str, Any] | None, list[Any]]:
    """`Decision.resume[task_id]` may start with the saved state of an interrupted subgraph."""
    values = list(resume or [])
    if values and isinstance(values[0], dict) and SUBGRAPH in values[0] and len(values[0]) == 1:
        return values[0][SUBGRAPH], values[1:]
    return None, values


async def run_task(
    graph: CompiledGraph,
    task: TaskSpec,
    checkpoint: dict[str, Any],
    *,
    config: dict[str, Any],
    resume: list[Any] | None = None,
    stream_writer: Callable[[Any], None] | None = None,
) -> TaskOutcome:
    """Run one task of the superstep planned from `checkpoint`. Raises what the node raises."""
    spec = graph.nodes.get(task.name)
    if spec is None:
        raise InvalidUpdateError(f"Unknown node `{task.name}`")
    channels = load_channels(graph, checkpoint)
    subgraph_state, resume_values = split_resume(resume)
    node_config = _task_config(config, task, checkpoint)
    parent = sp.current()
    pad = sp.Scratchpad(
        task_id=task.id,
        resume=resume_values,
        config=node_config,
        stream_writer=stream_writer,
        depth=(parent.depth + 1) if parent is not None else 0,
        subgraph_state=subgraph_state,
    )
    if task.is_push:
        node_input: Any = task.send_arg
    elif task.name == START:
        node_input = channels[START].get() if channels[START].is_available() else None
    else:
        node_input = read_state(graph, channels, spec.input_keys)
    token = sp.set_current(pad)
    try:
        writes = await _execute(graph, spec, node_input, channels, node_config, pad, coerce=not task.is_push)
    except GraphInterrupt as gi:
        extra: list[tuple[str, Any]] = [(RESUME, list(resume_values))]
        if pad.subgraph_out is not None:
            extra.append((SUBGRAPH, pad.subgraph_out))
        try:
            interrupts = [Interrupt(normalize(i.value), i.id) for i in gi.interrupts]
        except TypeError as exc:
            raise InvalidUpdateError(f"interrupt() value cannot be stored as JSON: {exc}") from exc
        return TaskOutcome("interrupted", writes=_normalized(extra), interrupts=interrupts)
    finally:
        sp.reset_current(token)
    return TaskOutcome("success", writes=_normalized(writes))


async def _execute(
    graph: CompiledGraph,
    spec: NodeSpec,
    node_input: Any,
    channels: dict[str, Channel],
    config: dict[str, Any],
    pad: sp.Scratchpad,
    *,
    coerce: bool,
) -> list[tuple[str, Any]]:
    keys = set(graph.input_keys) if spec.name == START else set(graph.state_keys)
    if spec.name == START:
        result: Any = node_input
    elif spec.is_subgraph:
        from engine.core.subgraph import run_subgraph

        try:
            result = await run_subgraph(spec.fn, node_input, config, pad)
        except ParentCommand as pc:
            result = pc.command
    else:
        arg = coerce_input(spec.input_schema, node_input) if coerce else node_input
        result = await call_user(spec.fn, arg, config, accepts_config(spec.fn))
    writes = state_writes(result, keys, depth=pad.depth)
    _check_targets(graph, writes)
    writes.extend((BRANCH_TO.format(target), None) for target in spec.edges)
    writes.extend((join, spec.name) for join in spec.joins)
    for branch in spec.branches:
        writes.extend(await route(graph, spec, branch, node_input, channels, writes, config))
    return writes
