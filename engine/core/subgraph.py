"""A compiled graph used as a node: it runs in-process inside the parent task (in-memory driver).

State is shared by key: the subgraph gets the parent node's input, its output values become the
parent node's update. When the subgraph interrupts, its checkpoint and pending outcomes travel in
the parent task's outcome (write `__subgraph__`); on resume they come back through run_task's
`resume` list, so the subgraph continues where it stopped instead of starting over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.core import scratchpad as sp
from engine.core.checkpoint import checkpoint_values
from engine.core.errors import EngineError, GraphInterrupt
from engine.core.records import Pending, RunOptions, pending_from_json, pending_to_json
from engine.core.runtime import RESUME_MAP
from engine.core.types import Command

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph

# config key: report the subgraph's supersteps through the stream writer (the run streams subgraphs)
STREAM_SUBGRAPHS = "stream_subgraphs"
# the chunk a subgraph superstep is reported as: {SUBGRAPH_EVENT: {"ns", "mode", "data"}}
SUBGRAPH_EVENT = "__duragraph_subgraph__"


class _Progress:
    """Reports each subgraph superstep through the stream writer, as LangGraph's `mode|ns` stream parts:
    the updates of its tasks (`updates`), then the state they led to (`values`)."""

    def __init__(self, sub: CompiledGraph, ns: str, pad: sp.Scratchpad) -> None:
        self.sub, self.ns, self.writer = sub, ns, pad.stream_writer

    def _emit(self, mode: str, data: Any) -> None:
        if self.writer is not None:
            self.writer({SUBGRAPH_EVENT: {"ns": self.ns, "mode": mode, "data": data}})

    def step(self, outcomes: Pending) -> None:
        keys = set(self.sub.state_keys)
        for spec, outcome in outcomes.values():
            if outcome.status == "success" and spec.name in self.sub.nodes and spec.name != "__start__":
                update: dict[str, Any] = {}
                for channel, value in outcome.writes:
                    if channel in keys:
                        update[channel] = value
                self._emit("updates", {spec.name: update or None})

    def checkpoints(self, checkpoints: list[dict[str, Any]], pending: Pending) -> None:
        for cp in checkpoints:
            if cp.get("source") != "input":
                self._emit("values", checkpoint_values(self.sub, cp))


async def run_subgraph(sub: CompiledGraph, node_input: Any, config: dict[str, Any], pad: sp.Scratchpad) -> Any:
    from engine.core.loop import run_in_memory

    configurable = dict(config.get("configurable") or {})
    parent_ns = str(configurable.get("checkpoint_ns") or "")
    # LangGraph's namespace of a subgraph: `<parent node>:<task id>`, nested with `|`
    node = (config.get("metadata") or {}).get("langgraph_node") or sub.name
    configurable["checkpoint_ns"] = f"{parent_ns}|{node}:{pad.task_id}" if parent_ns else f"{node}:{pad.task_id}"
    sub_config = {**config, "configurable": configurable}
    opts = RunOptions(
        recursion_limit=int(config.get("recursion_limit") or RunOptions().recursion_limit), config=sub_config
    )
    progress = _Progress(sub, configurable["checkpoint_ns"], pad) if config.get(STREAM_SUBGRAPHS) else None
    sink = progress.checkpoints if progress is not None else None
    on_step = progress.step if progress is not None else None
    saved = pad.subgraph_state
    if saved:
        answers: dict[str, Any] = {}
        for item in pad.resume[int(saved.get("consumed", 0)) :]:
            if isinstance(item, dict) and RESUME_MAP in item:
                answers.update(item[RESUME_MAP])
        command = Command(resume=answers) if answers else Command()
        decision, _ = await run_in_memory(
            sub,
            command=command,
            checkpoint=saved["checkpoint"],
            run_opts=opts,
            pending=pending_from_json(saved.get("pending") or {}),
            stream_writer=pad.stream_writer,
            sink=sink,
            on_step=on_step,
        )
    else:
        decision, _ = await run_in_memory(sub, input=node_input, run_opts=opts, stream_writer=pad.stream_writer,
                                          sink=sink, on_step=on_step)
    if decision.kind == "done":
        return decision.output
    if decision.kind == "interrupted":
        pad.subgraph_out = {
            "checkpoint": decision.checkpoint,
            "pending": pending_to_json(decision.outcomes),
            "consumed": len(pad.resume),
            "interrupt_ids": [i.id for i in decision.interrupts],
        }
        raise GraphInterrupt(decision.interrupts)
    err = decision.error or {}
    raise EngineError(str(err.get("message", "subgraph failed")), code=str(err.get("code", "node_error")))
