"""Reading and editing a thread's state: `state_snapshot` (LangGraph's get_state) and
`update_state` (LangGraph's update_state: write values as if node `as_node` had returned them)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from engine.core.apply import WriteSet, apply_writes
from engine.core.barrier import commit_checkpoint
from engine.core.checkpoint import checkpoint_values, copy_checkpoint, empty_checkpoint, load_channels, read_state
from engine.core.errors import EngineError, InvalidUpdateError
from engine.core.plan import prepare_next_tasks
from engine.core.records import Decision, Pending, RunOptions
from engine.core.runtime import route_writes, router_input, state_writes
from engine.core.serde import normalize
from engine.core.types import BRANCH_TO, END, INTERRUPT, RESUME, START

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph


def state_snapshot(graph: CompiledGraph, checkpoint: dict[str, Any] | None, pending: Pending | None) -> dict[str, Any]:
    """`{"values", "next", "tasks", "interrupts", "checkpoint_id", "parent_checkpoint_id", "metadata"}`.

    With `pending` (the kept outcomes of an interrupted superstep) this is LangGraph's live view of
    the thread head: values include finished tasks' writes, `next` lists only tasks still to run,
    `interrupts` only unanswered ones. With `pending=None` it is the record of that checkpoint
    (what LangGraph's get_state_history shows)."""
    if checkpoint is None:
        return {
            "values": {},
            "next": [],
            "tasks": [],
            "interrupts": [],
            "checkpoint_id": None,
            "parent_checkpoint_id": None,
            "metadata": None,
        }
    pending = pending or {}
    channels = load_channels(graph, checkpoint)
    planned = prepare_next_tasks(graph, checkpoint, channels, checkpoint["step"] + 1)
    done = [(t, pending[t.id][1]) for t in planned if t.id in pending and pending[t.id][1].status == "success"]
    values = checkpoint_values(graph, checkpoint)
    if done:  # live view, like LangGraph's get_state: finished tasks' writes are shown applied
        live = load_channels(graph, checkpoint)
        try:
            apply_writes(
                graph,
                copy_checkpoint(checkpoint),
                live,
                [WriteSet(t.path, t.name, o.writes, t.triggers) for t, o in done],
            )
            values = read_state(graph, live, graph.state_keys)
        except EngineError:
            pass
    done_ids = {t.id for t, _ in done}
    tasks: list[dict[str, Any]] = []
    for task in planned:
        held = pending.get(task.id)
        out = held[1] if held else None
        entry: dict[str, Any] = {
            "id": task.id,
            "name": task.name,
            "path": list(task.path),
            "error": out.error if out is not None else None,
            "interrupts": [i.to_json() for i in out.interrupts] if out is not None else [],
        }
        if out is not None and out.status == "success":
            entry["result"] = {c: v for c, v in out.writes if c in graph.channels and c in graph.state_keys}
        tasks.append(entry)
    return {
        "values": values,
        "next": [t.name for t in planned if t.id not in done_ids],
        "tasks": tasks,
        "interrupts": [i for t in tasks for i in t["interrupts"]],
        "checkpoint_id": checkpoint["id"],
        "parent_checkpoint_id": checkpoint.get("parent_id"),
        "metadata": {"step": checkpoint["step"], "source": checkpoint.get("source")},
    }


def infer_as_node(graph: CompiledGraph, checkpoint: dict[str, Any]) -> str | None:
    """The node that wrote last (LangGraph's rule); None when ambiguous."""
    if len(graph.nodes) == 1:
        return next(iter(graph.nodes))
    seen: dict[str, dict[str, int]] = checkpoint.get("seen") or {}
    if not any(v for s in seen.values() for v in s.values()):
        return START
    last = sorted((v, n) for n, s in seen.items() if n in graph.nodes for v in s.values())
    if len(last) == 1 or (last and last[-1][0] != last[-2][0]):
        return last[-1][1]
    return None


def _sync_call(fn: Any, *args: Any) -> Any:
    result = fn(*args)
    if asyncio.iscoroutine(result):
        result.close()
        raise InvalidUpdateError("update_state cannot evaluate an async router; route from a node instead")
    return result


def update_state(
    graph: CompiledGraph,
    checkpoint: dict[str, Any] | None,
    values: Any,
    as_node: str | None = None,
    *,
    config: dict[str, Any] | None = None,
    pending: Pending | None = None,
) -> Decision:
    """Apply `values` as if `as_node` returned them; one new checkpoint (source "update").
    `pending` (outcomes of an interrupted superstep) is accepted for interface symmetry: like
    LangGraph, an update discards them and the next run plans from the new checkpoint.

    Decision kind: "interrupted" (reason "update") when tasks would run next — nothing is
    enqueued, like LangGraph — or "done" when none would."""
    cfg = config or {}
    base = checkpoint if checkpoint is not None else empty_checkpoint()
    working = copy_checkpoint(base)
    channels = load_channels(graph, working)
    step = base["step"] + 1
    if values is None and as_node == END:
        tasks = prepare_next_tasks(graph, working, channels, step)
        updated = apply_writes(graph, working, channels, [WriteSet(t.path, t.name, [], t.triggers) for t in tasks])
        new_cp = commit_checkpoint(graph, base, working, channels, updated, source="update", step=step, config=cfg)
        return _after_update(graph, new_cp)
    if as_node is None:
        as_node = infer_as_node(graph, working)
        if as_node is None:
            raise InvalidUpdateError("Ambiguous update, specify as_node")
    if as_node not in graph.nodes:
        raise InvalidUpdateError(f"Node {as_node} does not exist")
    spec = graph.nodes[as_node]
    keys = set(graph.input_keys) if as_node == START else set(graph.state_keys)
    writes = state_writes(values, keys, depth=0)
    writes += [(BRANCH_TO.format(t), None) for t in spec.edges]
    writes += [(join, spec.name) for join in spec.joins]
    node_input = values if isinstance(values, dict) else {}
    for branch in spec.branches:
        value = router_input(graph, spec, node_input, channels, writes)
        args = (value, {**cfg}) if branch.accepts_config else (value,)
        writes += route_writes(graph, spec, branch, _sync_call(branch.path, *args))
    try:
        writes = [(c, normalize(v)) for c, v in writes if c != RESUME]
    except TypeError as exc:
        raise InvalidUpdateError(f"Update cannot be stored as JSON: {exc}") from exc
    updated = apply_writes(graph, working, channels, [WriteSet([INTERRUPT, 0], as_node, writes, [INTERRUPT])])
    new_cp = commit_checkpoint(graph, base, working, channels, updated, source="update", step=step, config=cfg)
    return _after_update(graph, new_cp)


def _after_update(graph: CompiledGraph, cp: dict[str, Any]) -> Decision:
    tasks = prepare_next_tasks(graph, cp, load_channels(graph, cp), cp["step"] + 1)
    if tasks:
        return Decision("interrupted", [cp], tasks, checkpoint=cp, reason="update")
    return Decision("done", [cp], tasks, checkpoint=cp)


__all__ = ["RunOptions", "infer_as_node", "state_snapshot", "update_state"]
