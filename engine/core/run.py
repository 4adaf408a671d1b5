"""Starting a run: fresh input, or a Command (resume / update / goto) against the thread's checkpoint.

Fresh input mirrors LangGraph: an "input" checkpoint (step = previous step + 1, -1 on a new thread),
then the `__start__` superstep producing the next checkpoint. `__start__` is pure unless START has
conditional edges, so it is applied inline; otherwise it is returned as the first task.

A resume keeps the thread's checkpoint id and step (so task ids and interrupt ids are unchanged):
it re-saves the checkpoint with the Command's update/goto applied ("upsert") and returns the tasks
to re-run; successful siblings of the interrupted tasks are `kept`, not re-run.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from engine.core.apply import WriteSet, apply_writes
from engine.core.barrier import barrier, commit_checkpoint
from engine.core.checkpoint import copy_checkpoint, dump_channels, empty_checkpoint, load_channels, output_values
from engine.core.errors import InvalidInputError, InvalidResumeError, InvalidUpdateError
from engine.core.plan import prepare_next_tasks
from engine.core.records import Decision, Pending, RunOptions, TaskOutcome
from engine.core.runtime import RESUME_MAP, SUBGRAPH, state_writes
from engine.core.serde import as_update_dict, normalize
from engine.core.types import BRANCH_TO, END, INTERRUPT, RESUME, START, TASKS, Command, Send

if TYPE_CHECKING:
    from engine.core.compiled import CompiledGraph

_INTERRUPT_ID = re.compile(r"^[0-9a-f]{32}$")


def _has_state(cp: dict[str, Any] | None) -> bool:
    return bool(cp and cp.get("versions"))


def prepare_run(
    graph: CompiledGraph,
    checkpoint: dict[str, Any] | None,
    *,
    input: Any | None,
    command: Command | dict[str, Any] | None,
    run_opts: RunOptions,
    pending: Pending | None = None,
    fork: bool = False,
) -> Decision:
    """Start a run on a thread whose latest checkpoint is `checkpoint` (None for a new thread).

    `pending` are the outcomes kept from an interrupted superstep (needed to resume it).
    `fork=True` when `checkpoint` is not the thread's head (time travel, see resume_tasks)."""
    if run_opts.recursion_limit < 1:
        raise InvalidInputError("recursion_limit must be at least 1")
    if isinstance(command, dict):
        command = Command.from_json(command)
    if command is not None:
        if input is not None:
            raise InvalidInputError("Give either input or command, not both")
        if command.graph == Command.PARENT:
            raise InvalidUpdateError("There is no parent graph")
        if not _has_state(checkpoint):
            raise InvalidInputError("Cannot apply a Command to a thread that has no checkpoint")
        assert checkpoint is not None
        return resume_tasks(graph, checkpoint, pending or {}, command, run_opts, fork=fork)
    if input is None:
        if not _has_state(checkpoint):
            raise InvalidInputError("Received no input for a new thread")
        assert checkpoint is not None
        return resume_tasks(graph, checkpoint, pending or {}, Command(), run_opts, fork=fork)
    return _start(graph, checkpoint, input, run_opts)


def _start(graph: CompiledGraph, checkpoint: dict[str, Any] | None, input: Any, opts: RunOptions) -> Decision:
    as_dict = as_update_dict(input)
    if as_dict is None:
        raise InvalidInputError(f"Expected dict input, got {type(input).__name__}")
    try:
        start_value = normalize(as_dict)
    except TypeError as exc:
        raise InvalidInputError(f"Input cannot be stored as JSON: {exc}") from exc
    base = checkpoint if _has_state(checkpoint) else empty_checkpoint()
    assert base is not None
    working = copy_checkpoint(base)
    channels = load_channels(graph, working)
    step = base["step"] + 1
    # discard tasks left over from the previous run (LangGraph does the same on new input)
    discard = prepare_next_tasks(graph, working, channels, step) if _has_state(base) else []
    updated = apply_writes(
        graph,
        working,
        channels,
        [
            *(WriteSet(t.path, t.name, [], t.triggers) for t in discard),
            WriteSet([], "__input__", [(START, start_value)]),
        ],
    )
    working["stop"] = step + opts.recursion_limit + 1
    input_cp = commit_checkpoint(graph, base, working, channels, updated, source="input", step=step, config=opts.config)
    start_tasks = prepare_next_tasks(graph, input_cp, channels, step + 1)
    if graph.nodes[START].branches:  # routers are user code (maybe async): a worker runs them
        return Decision("continue", [input_cp], start_tasks, checkpoint=input_cp)
    outcomes: Pending = {}
    for task in start_tasks:
        if task.name == START:
            writes = state_writes(start_value, set(graph.input_keys), depth=0)
            writes += [(BRANCH_TO.format(t), None) for t in graph.nodes[START].edges]
            outcomes[task.id] = (task, TaskOutcome("success", writes))
        else:  # a Send left in the topic cannot survive the discard above; keep it runnable anyway
            return Decision("continue", [input_cp], start_tasks, checkpoint=input_cp)
    decision = barrier(graph, input_cp, outcomes, opts)
    decision.checkpoints = [input_cp, *decision.checkpoints]
    return decision


def _resume_map(command: Command, interrupted: Pending) -> dict[str, Any]:
    pending_ids = [i.id for _, out in interrupted.values() for i in out.interrupts]
    resume = command.resume
    if resume is None:
        return {}
    if isinstance(resume, dict) and resume and all(isinstance(k, str) and _INTERRUPT_ID.match(k) for k in resume):
        unknown = sorted(k for k in resume if k not in pending_ids)
        if unknown:
            raise InvalidResumeError(f"Unknown or already answered interrupt id: {unknown[0]}")
        return dict(resume)
    if len(pending_ids) > 1:
        raise InvalidResumeError(
            "There are multiple pending interrupts: resume with a dict {interrupt_id: value}, "
            f"pending ids: {pending_ids}"
        )
    if not pending_ids:
        return {}
    return {pending_ids[0]: resume}


def _null_writes(graph: CompiledGraph, command: Command) -> list[tuple[str, Any]]:
    writes: list[tuple[str, Any]] = [(k, v) for k, v in command.update_as_tuples() if k in graph.channels]
    for go in command.goto_list():
        if isinstance(go, Send):
            if go.node not in graph.nodes or go.node == START:
                raise InvalidInputError(f"Command goto: unknown node `{go.node}`")
            writes.append((TASKS, go))
        elif go != END:
            if go not in graph.nodes or go == START:
                raise InvalidInputError(f"Command goto: unknown node `{go}`")
            writes.append((BRANCH_TO.format(go), None))
    try:
        return [(c, normalize(v)) for c, v in writes]
    except TypeError as exc:
        raise InvalidInputError(f"Command update cannot be stored as JSON: {exc}") from exc


def resume_tasks(
    graph: CompiledGraph,
    checkpoint: dict[str, Any],
    pending: Pending,
    command: Command,
    run_opts: RunOptions | None = None,
    *,
    fork: bool = False,
) -> Decision:
    """Continue the superstep planned from `checkpoint` (after an interrupt, or a breakpoint).

    Returns a "continue" Decision: `checkpoints=[same-id checkpoint with the Command applied]`,
    `tasks` to (re-)run with `resume[task_id]`, and `kept` outcomes that are not re-run. When
    `tasks` is empty but `kept` is not, call `barrier` straight away.

    `fork=True` is time travel (the client addressed a checkpoint that is not the thread's head):
    like LangGraph, a new "fork" checkpoint (child of `checkpoint`, step + 1) is written instead of
    re-saving `checkpoint`, and every task of the superstep re-runs (pending outcomes are ignored).
    A Command carrying `resume` never forks."""
    opts = run_opts or RunOptions()
    fork = fork and command.resume is None
    if fork:
        pending = {}
    interrupted = {tid: so for tid, so in pending.items() if so[1].status == "interrupted"}
    answers = _resume_map(command, interrupted)
    working = copy_checkpoint(checkpoint)
    channels = load_channels(graph, working)
    null_writes = _null_writes(graph, command)
    if null_writes:
        apply_writes(graph, working, channels, [WriteSet([], "__input__", null_writes)])
        working["values"] = dump_channels(channels)
    working["seen"][INTERRUPT] = dict(working["versions"])
    step = checkpoint["step"] + 1
    working["stop"] = step + opts.recursion_limit + 1
    if fork:
        updated = set(working.get("updated_channels") or [])
        working = commit_checkpoint(
            graph, checkpoint, working, channels, updated, source="fork", step=step, config=opts.config
        )
        step += 1
    tasks = prepare_next_tasks(graph, working, channels, step)
    if not tasks:
        return Decision("done", [working], checkpoint=working, output=output_values(graph, working))
    kept: Pending = {}
    resume: dict[str, list[Any]] = {}
    for task in tasks:
        held = pending.get(task.id)
        if held is not None and held[1].status == "success":
            kept[task.id] = held
            continue
        if held is None or held[1].status != "interrupted":
            continue
        out = held[1]
        values: list[Any] = []
        nested: Any = None
        for chan, value in out.writes:
            if chan == RESUME:
                values = list(value)
            elif chan == SUBGRAPH:
                nested = value
        answered = {i.id: answers[i.id] for i in out.interrupts if i.id in answers}
        if nested is not None:  # a subgraph node: answers are routed by the subgraph's interrupt ids
            values += [{RESUME_MAP: answered}] if answered else []
            resume[task.id] = [{SUBGRAPH: nested}, *values]
        else:
            resume[task.id] = values + list(answered.values())
    to_run = [t for t in tasks if t.id not in kept]
    return Decision("continue", [working], to_run, checkpoint=working, resume=resume, kept=kept)
