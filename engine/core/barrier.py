"""The superstep barrier: every task has an outcome -> one Decision (LangGraph's after_tick + tick).

Order of checks mirrors LangGraph's loop: node error / interrupt (no checkpoint) -> apply writes ->
new checkpoint -> interrupt_after -> recursion limit -> plan -> done -> interrupt_before -> continue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from engine.core.apply import WriteSet, apply_writes
from engine.core.channels import Channel
from engine.core.checkpoint import copy_checkpoint, dump_channels, load_channels, new_checkpoint_id, output_values
from engine.core.errors import EngineError, InvalidUpdateError, RecursionLimitError
from engine.core.plan import prepare_next_tasks, should_interrupt
from engine.core.records import Decision, Pending, RunOptions, TaskOutcome, TaskSpec

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph


def _interrupt_nodes(graph: CompiledGraph, opts: RunOptions, which: str) -> Sequence[str] | Literal["*"]:
    value = opts.interrupt_before if which == "before" else opts.interrupt_after
    if value is None:
        return graph.interrupt_before if which == "before" else graph.interrupt_after
    return value


def ordered_outcomes(graph: CompiledGraph, cp: dict[str, Any], outcomes: Pending) -> list[tuple[TaskSpec, TaskOutcome]]:
    """Outcomes in planning order (the order LangGraph reports tasks and interrupts in)."""
    planned = prepare_next_tasks(graph, cp, load_channels(graph, cp), cp["step"] + 1)
    rank = {t.id: i for i, t in enumerate(planned)}
    return sorted(outcomes.values(), key=lambda so: (rank.get(so[0].id, len(rank)), so[0].sort_key()))


def commit_checkpoint(
    graph: CompiledGraph,
    parent: dict[str, Any],
    working: dict[str, Any],
    channels: dict[str, Channel],
    updated: set[str],
    *,
    source: str,
    step: int,
    config: dict[str, Any],
) -> dict[str, Any]:
    """Freeze `working` + `channels` into a new checkpoint, child of `parent`."""
    return {
        **working,
        "id": new_checkpoint_id(parent.get("id"), step, source, config),
        "parent_id": parent.get("id") if parent.get("source") != "empty" else None,
        "step": step,
        "source": source,
        "values": dump_channels(channels),
        "updated_channels": sorted(updated),
    }


def advance(
    graph: CompiledGraph,
    cp: dict[str, Any],
    ran: Sequence[TaskSpec],
    opts: RunOptions,
    checkpoints: list[dict[str, Any]],
) -> Decision:
    """After checkpoint `cp` was written by a superstep that ran `ran`: what next."""
    channels = load_channels(graph, cp)
    next_step = cp["step"] + 1
    after = should_interrupt(cp, _interrupt_nodes(graph, opts, "after"), ran)
    if after:
        tasks = prepare_next_tasks(graph, cp, channels, next_step)
        return Decision("interrupted", checkpoints, tasks, checkpoint=cp, reason="after")
    stop = cp.get("stop")
    if stop is not None and next_step > stop:
        err = RecursionLimitError(
            f"Recursion limit of {opts.recursion_limit} reached without hitting a stop condition. "
            "You can increase the limit by setting the `recursion_limit` run option."
        )
        return Decision("error", checkpoints, error=err.to_json(), checkpoint=cp)
    tasks = prepare_next_tasks(graph, cp, channels, next_step)
    if not tasks:
        return Decision("done", checkpoints, checkpoint=cp, output=output_values(graph, cp))
    if should_interrupt(cp, _interrupt_nodes(graph, opts, "before"), tasks):
        return Decision("interrupted", checkpoints, tasks, checkpoint=cp, reason="before")
    return Decision("continue", checkpoints, tasks, checkpoint=cp)


def barrier(
    graph: CompiledGraph,
    checkpoint: dict[str, Any],
    outcomes: Pending,
    run_opts: RunOptions,
) -> Decision:
    """Close the superstep planned from `checkpoint`, given every task's (spec, outcome)."""
    ordered = ordered_outcomes(graph, checkpoint, outcomes)
    specs = [s for s, _ in ordered]
    for spec, out in ordered:
        if out.status == "error":
            error = dict(out.error or {"type": "NodeError", "message": f"Node `{spec.name}` failed"})
            error.setdefault("code", "node_error")
            error.setdefault("node", spec.name)
            return Decision("error", [], specs, error=error, checkpoint=checkpoint, outcomes=dict(outcomes))
    if any(out.status == "interrupted" for _, out in ordered):
        interrupts = [i for _, out in ordered for i in out.interrupts]
        return Decision(
            "interrupted", [], specs, interrupts, checkpoint=checkpoint, outcomes=dict(outcomes), reason="node"
        )
    working = copy_checkpoint(checkpoint)
    channels = load_channels(graph, working)
    try:
        updated = apply_writes(
            graph, working, channels, [WriteSet(s.path, s.name, o.writes, s.triggers) for s, o in ordered]
        )
    except (InvalidUpdateError, EngineError) as exc:
        err = exc if isinstance(exc, InvalidUpdateError) else InvalidUpdateError(str(exc))
        return Decision("error", [], specs, error=err.to_json(), checkpoint=checkpoint, outcomes=dict(outcomes))
    except Exception as exc:  # a user reducer raised
        err = InvalidUpdateError(f"Reducer failed: {type(exc).__name__}: {exc}")
        return Decision("error", [], specs, error=err.to_json(), checkpoint=checkpoint, outcomes=dict(outcomes))
    new_cp = commit_checkpoint(
        graph,
        checkpoint,
        working,
        channels,
        updated,
        source="loop",
        step=checkpoint["step"] + 1,
        config=run_opts.config,
    )
    return advance(graph, new_cp, specs, run_opts, [new_cp])
