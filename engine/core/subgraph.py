"""A compiled graph used as a node: it runs in-process inside the parent task (in-memory driver).

State is shared by key: the subgraph gets the parent node's input, its output values become the
parent node's update. When the subgraph interrupts, its checkpoint and pending outcomes travel in
the parent task's outcome (write `__subgraph__`); on resume they come back through run_task's
`resume` list, so the subgraph continues where it stopped instead of starting over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.core import scratchpad as sp
from engine.core.errors import EngineError, GraphInterrupt
from engine.core.records import RunOptions, pending_from_json, pending_to_json
from engine.core.runtime import RESUME_MAP
from engine.core.types import Command

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph


async def run_subgraph(sub: CompiledGraph, node_input: Any, config: dict[str, Any], pad: sp.Scratchpad) -> Any:
    from engine.core.loop import run_in_memory

    configurable = dict(config.get("configurable") or {})
    parent_ns = str(configurable.get("checkpoint_ns") or "")
    configurable["checkpoint_ns"] = (
        f"{parent_ns}|{sub.name}:{pad.task_id}" if parent_ns else f"{sub.name}:{pad.task_id}"
    )
    sub_config = {**config, "configurable": configurable}
    opts = RunOptions(
        recursion_limit=int(config.get("recursion_limit") or RunOptions().recursion_limit), config=sub_config
    )
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
        )
    else:
        decision, _ = await run_in_memory(sub, input=node_input, run_opts=opts, stream_writer=pad.stream_writer)
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
