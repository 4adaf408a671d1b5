"""The runtime port, on LangGraph's own Pregel.

The durable layer calls these functions; each one drives LangGraph's own code over a `DocSaver` seeded
with the thread's checkpoint documents, and hands back what LangGraph decided as a `Decision`:

- `prepare_run`: LangGraph's `AsyncPregelLoop` takes the input or the `Command` (`_first`: input
  mapping, discarding unfinished tasks, goto / update / resume, resume maps, forks) and plans the first
  superstep (`tick`: tasks, `interrupt_before`). LangGraph's internal `__start__` task runs inline.
- `run_task`: one task of a superstep, prepared by `prepare_single_task` (config, `Runtime`, context,
  store, stream writer, interrupt scratchpad, checkpointer for subgraphs injected exactly as LangGraph
  does) and run by LangGraph's `arun_with_retry` (its `RetryPolicy` selection and timeouts).
- `barrier`: every task of the superstep has an outcome; the loop re-enters with those writes pending
  (as LangGraph does after a crash), applies them (`after_tick`: reducers, checkpoint,
  `interrupt_after`) and plans the next superstep.
- `state_snapshot` / `update_state`: LangGraph's `get_state` / `aupdate_state` over the saver.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph._internal._config import ensure_config, patch_configurable
from langgraph._internal._constants import (
    CONF,
    CONFIG_KEY_CALL,
    CONFIG_KEY_CHECKPOINT_ID,
    CONFIG_KEY_CHECKPOINTER,
    CONFIG_KEY_REPLAY_STATE,
    CONFIG_KEY_RESUME_MAP,
    CONFIG_KEY_RESUMING,
    CONFIG_KEY_RUNTIME,
    CONFIG_KEY_STREAM,
    ERROR,
    INTERRUPT,
    NO_WRITES,
    NULL_TASK_ID,
    PUSH,
    RESUME,
)
from langgraph.errors import GraphInterrupt, GraphRecursionError, ParentCommand
from langgraph.pregel._algo import checkpoint_null_version, prepare_single_task
from langgraph.pregel._checkpoint import achannels_from_checkpoint
from langgraph.pregel._loop import AsyncPregelLoop
from langgraph.pregel._messages import StreamMessagesHandler
from langgraph.pregel._retry import arun_with_retry
from langgraph.pregel._task_status import CONTROL_WRITES
from langgraph.pregel.main import _coerce_context
from langgraph.pregel.protocol import StreamProtocol
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph.types import Command, PregelExecutableTask, Send

from engine.core import codec
from engine.core.compiled import CompiledGraph
from engine.core.errors import InvalidInputError, InvalidResumeError, InvalidUpdateError, RecursionLimitError
from engine.core.records import (
    DEFAULT_RECURSION_LIMIT,
    SUBGRAPH_EVENT,
    Decision,
    Interrupt,
    Pending,
    RunOptions,
    TaskOutcome,
    TaskSpec,
    TaskStatus,
)
from engine.core.saver import DocSaver, PendingWrite, blob_doc, from_doc, lg_of


def _cached_accepts_task_path() -> None:
    """LangGraph's loop asks `inspect.signature` of the saver's `aput_writes` each time one is built (about
    0.15 ms); our saver's answer never changes, so the check is remembered per function."""
    import functools

    from langgraph.pregel import _loop

    original = _loop.put_writes_accepts_task_path  # type: ignore[attr-defined]

    @functools.lru_cache(maxsize=64)
    def by_function(fn: Any) -> bool:
        return original(fn)

    def accepts(put_writes: Callable[..., Any]) -> bool:
        fn = getattr(put_writes, "__func__", None)
        return by_function(fn) if fn is not None else original(put_writes)

    _loop.put_writes_accepts_task_path = accepts  # type: ignore[attr-defined]


_cached_accepts_task_path()
START = "__start__"
SUBGRAPHS = "__subgraphs__"  # a task's write holding its subgraphs' checkpoints (namespace -> latest doc)
StreamWriter = Callable[[Any], None]


# -- commands and config ----------------------------------------------------------------------------
def command_from_json(data: Mapping[str, Any] | Command[Any] | None) -> Command[Any] | None:
    """The API's `command` object -> LangGraph's `Command` (`goto` may hold `{"node", "input"}` sends)."""
    if data is None or isinstance(data, Command):
        return data
    goto = data.get("goto")
    items = goto if isinstance(goto, list) else ([goto] if goto is not None else [])
    sends: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            if "node" not in item:
                raise InvalidInputError("command.goto: a send needs a 'node'")
            sends.append(Send(item["node"], item.get("input", item.get("arg"))))
        elif isinstance(item, str):
            sends.append(item)
        else:
            raise InvalidInputError(f"command.goto: expected a node name or a send, got {type(item).__name__}")
    update = data.get("update")
    if isinstance(update, list):
        update = [tuple(u) for u in update]
    return Command(update=update, resume=data.get("resume"), goto=sends[0] if len(sends) == 1 else sends)


def run_config(
    graph: CompiledGraph,
    opts: RunOptions,
    *,
    thread_id: str,
    store: BaseStore | None = None,
    stream_writer: StreamWriter | None = None,
    callbacks: Sequence[Any] | None = None,
    recursion_limit: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> RunnableConfig:
    """The config LangGraph's loop starts from: the run's config, the thread, and the `Runtime`."""
    user = dict(opts.config or {})
    configurable = {**(user.get("configurable") or {}), **(extra or {}), "thread_id": thread_id, "checkpoint_ns": ""}
    configurable.pop("checkpoint_id", None)
    config: dict[str, Any] = {
        "configurable": configurable,
        "recursion_limit": recursion_limit if recursion_limit is not None else opts.recursion_limit,
    }
    for key in ("tags", "metadata", "run_name", "max_concurrency"):
        if user.get(key) is not None:
            config[key] = user[key]
    if callbacks:
        config["callbacks"] = list(callbacks)
    merged = ensure_config(graph.pregel.config, config)  # type: ignore[arg-type]
    merged[CONF][CONFIG_KEY_RUNTIME] = Runtime(
        context=_coerce_context(graph.pregel.context_schema, opts.context),
        store=store,
        stream_writer=stream_writer or _drop,
    )
    return merged


def _drop(_chunk: Any) -> None:
    return None


def _interrupt_nodes(value: Any, default: Any) -> Any:
    return default if value is None else value


def _check_nodes(graph: CompiledGraph, nodes: Any, what: str) -> None:
    if nodes is None or nodes == "*":
        return
    unknown = sorted(set(nodes) - set(graph.nodes))
    if unknown:
        raise InvalidInputError(f"{what} names unknown node(s): {', '.join(unknown)}")


# -- the loop ---------------------------------------------------------------------------------------
def pending_writes(pending: Pending | None) -> list[PendingWrite]:
    """The durable outcomes of a superstep as LangGraph's pending writes."""
    out: list[PendingWrite] = []
    for tid, (_, outcome) in (pending or {}).items():
        if outcome.status == "error":
            continue
        out.extend((tid, c, v) for c, v in outcome.writes if c != SUBGRAPHS)
    return out


def _seeded(thread_id: str, checkpoint: dict[str, Any] | None, pending: Pending | None,
            head_id: str | None = None, subgraphs: Sequence[dict[str, Any]] = (), *,
            writes_only: bool = False) -> DocSaver:
    saver = DocSaver(thread_id, writes_only=writes_only)
    if checkpoint is not None:
        saver.seed(checkpoint, pending_writes(pending))
        if head_id is not None and head_id != checkpoint["id"]:
            saver.seed_head(head_id)
    for doc in subgraphs:
        saver.seed(doc, [(t, c, codec.decode(v)) for t, c, v in doc.get("writes") or []])
    return saver


def _loop(graph: CompiledGraph, input: Any, config: RunnableConfig, saver: DocSaver, *,
          interrupt_before: Any = (), interrupt_after: Any = (), store: BaseStore | None = None) -> AsyncPregelLoop:
    p = graph.pregel
    return AsyncPregelLoop(
        input,
        stream=None,
        config=config,
        store=store,
        cache=None,
        checkpointer=saver,
        nodes=p.nodes,
        specs=p.channels,
        output_keys=p.output_channels,
        input_keys=p.input_channels,
        stream_keys=p.stream_channels_asis,
        interrupt_before=interrupt_before or (),
        interrupt_after=interrupt_after or (),
        manager=None,
        durability="sync",
        trigger_to_nodes=p.trigger_to_nodes,
        migrate_checkpoint=p._migrate_checkpoint,
        retry_policy=p.retry_policy,
        cache_policy=p.cache_policy,
    )


def _spec(task: PregelExecutableTask, step: int) -> TaskSpec:
    path = list(task.path[:2])
    send_arg = None
    if path and path[0] == PUSH:
        try:
            send_arg = codec.to_wire(task.input)  # shown to clients; the task itself reads its Send again
        except TypeError:
            send_arg = None
    return TaskSpec(id=task.id, name=task.name, path=path, step=step, send_arg=send_arg, triggers=list(task.triggers))


def _interrupt_records(writes: Sequence[tuple[str, Any]]) -> list[Interrupt]:
    out: list[Interrupt] = []
    for chan, value in writes:
        if chan == INTERRUPT:
            for item in value:
                out.append(Interrupt(codec.to_wire(item.value), item.id))
    return out


async def _drive(
    graph: CompiledGraph,
    saver: DocSaver,
    input: Any,
    config: RunnableConfig,
    opts: RunOptions,
    *,
    base: dict[str, Any] | None,
    pending: Pending,
    store: BaseStore | None,
    resume_map: dict[str, Any] | None = None,
    check_breakpoints: bool = True,
) -> Decision:
    """Run LangGraph's loop until it wants a task executed, interrupts, or ends; return the decision."""
    ib = _interrupt_nodes(opts.interrupt_before, graph.interrupt_before) if check_breakpoints else ()
    ia = _interrupt_nodes(opts.interrupt_after, graph.interrupt_after)
    loop = _loop(graph, input, config, saver, interrupt_before=ib, interrupt_after=ia, store=store)
    todo: list[PregelExecutableTask] = []
    try:
        async with loop:
            while loop.tick():
                todo = [t for t in loop.tasks.values() if not t.writes]
                if todo and all(t.name == START for t in todo):
                    for task in todo:  # LangGraph's own input mapping (and START's routers): run here
                        await _run_inline(task, loop)
                    todo = []
                if todo:
                    break
                loop.after_tick()
    except GraphRecursionError as exc:
        raise RecursionLimitError(str(exc)) from exc
    except (InvalidInputError, InvalidUpdateError):
        raise
    except Exception as exc:
        raise _input_error(exc) from exc
    stop = loop.stop
    docs = [{**d, "stop": stop} for d in saver.puts]
    head_doc = docs[-1] if docs else base
    views = _views(graph, loop, docs)
    if loop.status == "out_of_steps":
        limit = opts.recursion_limit
        return Decision("error", docs, error=RecursionLimitError(
            f"Recursion limit of {limit} reached without hitting a stop condition. You can increase the limit "
            "by setting the `recursion_limit` config key.").to_json(), checkpoint=head_doc)
    step = int(loop.checkpoint_metadata.get("step", -1)) + 1 if loop.checkpoint_metadata else 0
    cp_id = loop.checkpoint["id"]
    if todo or loop.status in ("interrupt_before", "interrupt_after"):
        at_base = base is not None and cp_id == base["id"] and not any(d["id"] == cp_id for d in docs)
        if at_base and base is not None:
            # a resume runs the tasks of the checkpoint it stands on: keep what `_first` did to it (the
            # Command's update / goto applied, breakpoints passed) by saving it again under its id
            resaved = _resave(loop, base)
            docs.append({**resaved, "stop": stop})
        step_doc = docs[-1] if docs else base
        assert step_doc is not None
        tasks = todo or [t for t in loop.tasks.values() if not t.writes]
        specs = [_spec(t, step) for t in tasks]
        kept: Pending = {}
        for t in loop.tasks.values():
            if t.writes and t.id in pending:
                kept[t.id] = pending[t.id]
        control = _control_writes(loop.checkpoint_pending_writes)
        resuming = at_base or bool(loop.config[CONF].get(CONFIG_KEY_RESUMING))
        resume = {s.id: _payload(control, s.id, resuming=resuming, resume_map=resume_map,
                                 subgraphs=_subgraph_docs(pending.get(s.id)))
                  for s in specs}
        if todo:
            return Decision("continue", docs, specs, checkpoint=step_doc, resume=resume, kept=kept, views=views)
        reason = "before" if loop.status == "interrupt_before" else "after"
        return Decision("interrupted", docs, specs, checkpoint=step_doc, resume=resume, kept=kept, reason=reason,
                        outcomes=kept, views=views)
    return Decision("done", docs, checkpoint=head_doc, views=views)


def _views(graph: CompiledGraph, loop: AsyncPregelLoop, docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The record view (`next` and `tasks` of what `state_snapshot(doc, None)` returns) of the last
    checkpoint the loop saved, read off the loop itself when its channels still hold exactly that
    checkpoint. Not the values: the whole state, whose cost grows with the thread (an event carries what
    the checkpoint changed; a run's output is read from its checkpoint when asked for)."""
    if not docs or docs[-1]["id"] != loop.checkpoint["id"] or loop.status not in ("pending", "done",
                                                                                  "interrupt_before",
                                                                                  "interrupt_after"):
        return {}
    tasks = list(loop.tasks.values()) if hasattr(loop, "tasks") else []
    if any(t.writes for t in tasks) or loop.checkpoint_pending_writes:
        return {}
    # in get_state's order: sends first, then nodes in the order the graph declares them
    order = {name: i for i, name in enumerate(graph.pregel.nodes)}
    tasks.sort(key=lambda t: (0, 0) if t.path[0] == PUSH else (1, order.get(t.name, 0)))

    view: dict[str, Any] = {
        "next": [t.name for t in tasks],
        "tasks": [{"id": t.id, "name": t.name, "path": list(t.path[:2]), "error": None, "interrupts": []}
                  for t in tasks],
    }
    return {docs[-1]["id"]: view}


def _control_writes(writes: Sequence[PendingWrite]) -> list[PendingWrite]:
    return [w for w in writes if w[0] != NULL_TASK_ID or w[1] == RESUME]


def _subgraph_docs(held: tuple[TaskSpec, TaskOutcome] | None) -> list[dict[str, Any]]:
    if held is None:
        return []
    return [doc for c, v in held[1].writes if c == SUBGRAPHS for doc in v]


def _payload(control: Sequence[PendingWrite], task_id: str, *, resuming: bool,
             resume_map: dict[str, Any] | None, subgraphs: list[dict[str, Any]]) -> dict[str, Any]:
    """What a task needs of its superstep's pending writes to run as LangGraph would: the Command's
    resume value and its own earlier writes (the answers its interrupts already got)."""
    mine = [[tid, c, codec.encode(v)] for tid, c, v in control if tid in (task_id, NULL_TASK_ID)]
    out: dict[str, Any] = {"writes": mine, "resuming": resuming}
    if resume_map:
        out["map"] = codec.encode(resume_map)
    if subgraphs:
        out["subgraphs"] = subgraphs
    return out


def _resave(loop: AsyncPregelLoop, base: dict[str, Any]) -> dict[str, Any]:
    from langgraph.pregel._checkpoint import create_checkpoint

    cp = create_checkpoint(loop.checkpoint, loop.channels, loop.step, id=base["id"])
    cp["ts"] = lg_of(base)["ts"]
    _, metadata = from_doc(base)
    before = lg_of(base)["channel_versions"]
    changed = [ch for ch, v in cp["channel_versions"].items() if before.get(ch) != v]
    return blob_doc(cp, metadata, base.get("parent_id"), base, changed)


async def _run_inline(task: PregelExecutableTask, loop: AsyncPregelLoop) -> None:
    await arun_with_retry(task, task.retry_policy)
    if all(chan in CONTROL_WRITES for chan, _ in task.writes):
        task.writes.append((NO_WRITES, None))
    loop.put_writes(task.id, task.writes)


def _input_error(exc: Exception) -> Exception:
    name = type(exc).__name__
    if name == "InvalidUpdateError":
        return InvalidUpdateError(str(exc))
    if name in ("EmptyInputError", "TypeError", "ValueError"):
        return InvalidInputError(str(exc))
    if name in ("UnknownInterruptError",) or "pending interrupts" in str(exc):
        return InvalidResumeError(str(exc))
    return exc


# -- the port ---------------------------------------------------------------------------------------
async def prepare_run(
    graph: CompiledGraph,
    checkpoint: dict[str, Any] | None,
    *,
    input: Any | None,
    command: Command[Any] | Mapping[str, Any] | None,
    run_opts: RunOptions,
    pending: Pending | None = None,
    fork: bool = False,
    head_id: str | None = None,
    thread_id: str = "",
    store: BaseStore | None = None,
) -> Decision:
    """Start a run on a thread whose checkpoint to start from is `checkpoint` (None for a new thread);
    `pending` are the outcomes already committed for that checkpoint's superstep; `fork` when it is not
    the thread's head (time travel)."""
    if run_opts.recursion_limit < 1:
        raise InvalidInputError("recursion_limit must be at least 1")
    _check_nodes(graph, run_opts.interrupt_before, "interrupt_before")
    _check_nodes(graph, run_opts.interrupt_after, "interrupt_after")
    cmd = command_from_json(command)  # type: ignore[arg-type]
    if cmd is not None and input is not None:
        raise InvalidInputError("Give either input or command, not both")
    if cmd is not None and cmd.graph == Command.PARENT:
        raise InvalidUpdateError("There is no parent graph")
    if (cmd is not None or input is None) and checkpoint is None:
        raise InvalidInputError("Received no input for a new thread" if cmd is None
                                else "Cannot apply a Command to a thread that has no checkpoint")
    pending = dict(pending or {})
    saver = _seeded(thread_id, checkpoint, pending, head_id=head_id if fork else None)
    resume_map = None
    if cmd is not None and isinstance(cmd.resume, dict) and cmd.resume and all(
            isinstance(k, str) and len(k) == 32 for k in cmd.resume):
        resume_map = dict(cmd.resume)
        _check_resume_map(resume_map, pending)
    config = run_config(graph, run_opts, thread_id=thread_id, store=store)
    if fork and checkpoint is not None:
        config[CONF][CONFIG_KEY_CHECKPOINT_ID] = checkpoint["id"]
    loop_input: Any = cmd if cmd is not None else input
    return await _drive(graph, saver, loop_input, config, run_opts, base=checkpoint, pending=pending, store=store,
                        resume_map=resume_map)


def _check_resume_map(resume_map: Mapping[str, Any], pending: Pending) -> None:
    waiting = {i.id for _, o in pending.values() if o.status == "interrupted" for i in o.interrupts}
    unknown = sorted(k for k in resume_map if k not in waiting)
    if unknown:
        raise InvalidResumeError(f"Unknown or already-consumed interrupt: {unknown[0]}")


async def barrier(
    graph: CompiledGraph,
    checkpoint: dict[str, Any],
    outcomes: Pending,
    run_opts: RunOptions,
    *,
    thread_id: str = "",
    store: BaseStore | None = None,
) -> Decision:
    """Every task of the superstep planned from `checkpoint` has an outcome: apply them (LangGraph's
    `after_tick`) and plan the next superstep. An interrupted task stops the run, as in LangGraph."""
    interrupted = [o for _, o in outcomes.values() if o.status == "interrupted"]
    if interrupted:
        specs = [s for s, o in outcomes.values() if o.status == "interrupted"]
        return Decision("interrupted", [], specs, interrupts=[i for o in interrupted for i in o.interrupts],
                        checkpoint=checkpoint, outcomes=dict(outcomes), reason="node")
    saver = _seeded(thread_id, checkpoint, outcomes, writes_only=True)  # no node runs here: only the writes apply
    stop = checkpoint.get("stop")
    limit = (int(stop) - int(checkpoint["step"]) - 2) if stop is not None else run_opts.recursion_limit
    config = run_config(graph, run_opts, thread_id=thread_id, store=store, recursion_limit=limit,
                        extra={CONFIG_KEY_RESUMING: False})
    decision = await _drive(graph, saver, None, config, run_opts, base=checkpoint, pending=dict(outcomes),
                            store=store)
    if decision.kind == "error" and stop is not None:
        decision.error = RecursionLimitError(
            f"Recursion limit of {run_opts.recursion_limit} reached without hitting a stop condition. You can "
            "increase the limit by setting the `recursion_limit` config key.").to_json()
    for doc in decision.checkpoints:
        if stop is not None:
            doc["stop"] = stop
    return decision


async def run_task(
    graph: CompiledGraph,
    task: TaskSpec,
    checkpoint: dict[str, Any],
    *,
    config: Mapping[str, Any],
    resume: Any = None,
    stream_writer: StreamWriter | None = None,
    store: BaseStore | None = None,
    callbacks: Sequence[Any] | None = None,
    run_opts: RunOptions | None = None,
    stream_modes: Sequence[str] = (),
    subgraphs: bool = False,
) -> TaskOutcome:
    """Run one task of the superstep planned from `checkpoint`, with LangGraph's retry policy and
    timeout. Returns its writes; an `interrupt()` gives an "interrupted" outcome. Node errors raise.

    `stream_writer` receives what the task streams: its own `get_stream_writer()` chunks; with a
    `messages` / `messages-tuple` / `events` mode, the messages of chat models it calls (token chunks,
    via LangGraph's `StreamMessagesHandler`); with `subgraphs`, its subgraphs' own stream chunks as
    `{SUBGRAPH_EVENT: {"mode", "ns", "data"}}`."""
    opts = run_opts or RunOptions(config=dict(config), context=config.get("context"))
    conf = dict(config.get("configurable") or {})
    payload = resume if isinstance(resume, dict) else {}
    control = [(str(t), str(c), codec.decode(v)) for t, c, v in payload.get("writes") or []]
    extra: dict[str, Any] = {k: v for k, v in conf.items() if k not in ("thread_id", "checkpoint_ns")}
    extra[CONFIG_KEY_RESUMING] = bool(payload.get("resuming"))
    if payload.get("map"):
        extra[CONFIG_KEY_RESUME_MAP] = codec.decode(payload["map"])
    handlers = list(callbacks or [])
    if stream_writer is not None:
        if MESSAGE_MODES & set(stream_modes):
            handlers.append(StreamMessagesHandler(_message_forwarder(stream_writer, subgraphs), subgraphs))
        if subgraphs:
            modes = {m for m in stream_modes if m in SUBGRAPH_MODES}
            extra[CONFIG_KEY_STREAM] = StreamProtocol(_subgraph_forwarder(stream_writer), modes)  # type: ignore[arg-type]
    cfg = run_config(graph, opts, thread_id=str(conf.get("thread_id", "")), store=store, stream_writer=stream_writer,
                     callbacks=handlers, extra=extra)
    saver = DocSaver(str(conf.get("thread_id", "")))
    saver.seed(checkpoint, control)
    for doc in payload.get("subgraphs") or []:  # where this task's subgraphs stopped (an interrupt inside)
        saver.seed(doc, [(t, c, codec.decode(v)) for t, c, v in doc.get("writes") or []])
    plain = not control and not extra[CONFIG_KEY_RESUMING] and CONFIG_KEY_RESUME_MAP not in extra \
        and not payload.get("subgraphs")
    if plain:  # what LangGraph's loop would set up for this task, without the loop (see `_plain_task`)
        prepared = await _plain_task(graph, task, saver, cfg, store)
        outcome = await _run_prepared(prepared, saver)
    else:
        loop = _loop(graph, None, cfg, saver, store=store)
        async with loop:
            prepared = _task_in(graph, task, loop.checkpoint, loop.checkpoint_pending_writes, loop.channels,
                                loop.managed, loop.config, loop.step, loop.stop, saver, store)
            outcome = await _run_prepared(prepared, saver)
    if outcome is not None:
        return outcome
    writes = [w for w in prepared.writes if w[0] != ERROR]
    if all(chan in CONTROL_WRITES for chan, _ in writes):
        writes.append((NO_WRITES, None))
    return _outcome("success", writes + _subgraph_write(saver), checked=len(writes))


async def _plain_task(graph: CompiledGraph, task: TaskSpec, saver: DocSaver, config: RunnableConfig,
                      store: BaseStore | None) -> PregelExecutableTask:
    """The task as LangGraph's loop prepares it when the superstep holds no writes for it (no resume, no
    Command, not resuming, no subgraph checkpoints): entering the loop then only reads the checkpoint,
    builds the channels and marks the config as not resuming (`_first` with no input), so that is all this
    does; about half of what a step spent in LangGraph's code was the loop built a second time."""
    saved = await saver.aget_tuple(config)
    assert saved is not None
    checkpoint, metadata = saved.checkpoint, saved.metadata
    p = graph.pregel
    p._migrate_checkpoint(checkpoint)
    channels, managed = await achannels_from_checkpoint(p.channels, checkpoint, saver=saver, config=config)
    step = int(metadata["step"]) + 1
    loop_config = patch_configurable(config, {CONFIG_KEY_RESUMING: False, CONFIG_KEY_REPLAY_STATE: None})
    return _task_in(graph, task, checkpoint, [], channels, managed, loop_config, step,
                    step + int(config["recursion_limit"]) + 1, saver, store)


def _task_in(graph: CompiledGraph, task: TaskSpec, checkpoint: Any, pending: list[PendingWrite], channels: Any,
             managed: Any, config: RunnableConfig, step: int, stop: int, saver: DocSaver,
             store: BaseStore | None) -> PregelExecutableTask:
    prepared = prepare_single_task(
        tuple(task.path),
        task.id,
        checkpoint=checkpoint,
        checkpoint_id_bytes=binascii.unhexlify(checkpoint["id"].replace("-", "")),
        checkpoint_null_version=checkpoint_null_version(checkpoint),
        pending_writes=pending,
        processes=graph.pregel.nodes,
        channels=channels,
        managed=managed,
        config=config,
        step=step,
        stop=stop,
        for_execution=True,
        store=store,
        checkpointer=saver,
        manager=None,
        retry_policy=graph.pregel.retry_policy,
        cache_policy=graph.pregel.cache_policy,
    )
    if not isinstance(prepared, PregelExecutableTask):
        raise InvalidUpdateError(f"Task {task.name!r} ({task.id}) is not part of this superstep")
    return prepared


async def _run_prepared(prepared: PregelExecutableTask, saver: DocSaver) -> TaskOutcome | None:
    """Run the task with LangGraph's retry policy; an interrupted outcome, or None when it returned."""
    try:
        await arun_with_retry(prepared, prepared.retry_policy, configurable={CONFIG_KEY_CALL: _no_calls})
    except ParentCommand as pc:
        raise InvalidUpdateError("There is no parent graph") from pc
    except GraphInterrupt as gi:
        writes: list[tuple[str, Any]] = []
        if gi.args and gi.args[0]:
            writes.append((INTERRUPT, gi.args[0]))
            writes.extend(w for w in prepared.writes if w[0] == RESUME)
        writes.extend(_subgraph_write(saver))
        return _outcome("interrupted", writes, interrupts=_interrupt_records(writes))
    return None


def _subgraph_write(saver: DocSaver) -> list[tuple[str, Any]]:
    """The latest checkpoint (and its pending writes) of each subgraph namespace the task ran, to keep
    with the task's outcome: a resume continues the subgraph from there, as LangGraph's saver does."""
    docs = []
    for ns, cid in saver.latest.items():
        if not ns:
            continue
        saved = saver.saved[(ns, cid)]
        docs.append({**saved.doc, "writes": [[t, c, codec.encode(v)] for t, c, v in saved.writes]})
    return [(SUBGRAPHS, docs)] if docs else []


MESSAGE_MODES = frozenset({"messages", "messages-tuple", "events"})
SUBGRAPH_MODES = frozenset({"values", "updates", "custom", "debug", "checkpoints", "tasks"})


def _message_forwarder(writer: StreamWriter, subgraphs: bool) -> Callable[[Any], None]:
    def put(chunk: Any) -> None:
        ns, _mode, (message, _meta) = chunk
        if not ns:
            writer(codec.to_wire(message))
        elif subgraphs:
            writer({SUBGRAPH_EVENT: {"mode": "messages", "ns": "|".join(ns), "data": codec.to_wire([message, _meta])}})
    return put


def _subgraph_forwarder(writer: StreamWriter) -> Callable[[Any], None]:
    def put(chunk: Any) -> None:
        ns, mode, payload = chunk
        if ns:
            writer({SUBGRAPH_EVENT: {"mode": mode, "ns": "|".join(ns), "data": codec.to_wire(payload)}})
    return put


def _no_calls(*_args: Any, **_kwargs: Any) -> Any:
    raise InvalidUpdateError("The functional API (@task calls inside a graph node) is not supported by DuraGraph")


def _outcome(status: TaskStatus, writes: list[tuple[str, Any]], *, checked: int | None = None,
             interrupts: list[Interrupt] | None = None) -> TaskOutcome:
    """The task's outcome, its writes encoded once here (kept for storing it): the first `checked` writes
    (all by default) are the node's, and one that cannot be stored fails the step with its key and type."""
    wire: list[list[Any]] = []
    for i, (chan, value) in enumerate(writes):
        try:
            wire.append([chan, codec.encode(value)])
        except codec.UnserializableValue as exc:
            if checked is not None and i >= checked:
                raise
            raise InvalidUpdateError(f"The node wrote a value to {chan!r} that cannot be stored: {exc}") from exc
    return TaskOutcome(status, writes=writes, interrupts=interrupts or [], wire=wire)


# -- state --------------------------------------------------------------------------------------------
def state_snapshot(graph: CompiledGraph, checkpoint: dict[str, Any] | None, pending: Pending | None, *,
                   subgraphs: bool = False, values: bool = True) -> dict[str, Any]:
    """LangGraph's `get_state` of `checkpoint`: `{"values", "next", "tasks", "interrupts", "checkpoint_id",
    "parent_checkpoint_id", "metadata"}`. With `pending` it is the live view of the thread head (finished
    tasks' writes applied, unanswered interrupts); with None, the record of that checkpoint. With
    `subgraphs`, a task whose node is a subgraph carries the subgraph's own state (`state`), read from the
    subgraph checkpoints kept with the task's outcome. Without `values`, no "values" (what costs as much
    as the state is large)."""
    if checkpoint is None:
        return {"values": {}, "next": [], "tasks": [], "interrupts": [], "checkpoint_id": None,
                "parent_checkpoint_id": None, "metadata": None}
    subgraph_docs = [doc for held in (pending or {}).values() for doc in _subgraph_docs(held)] if subgraphs else []
    saver = _seeded("", checkpoint, pending, subgraphs=subgraph_docs)
    try:
        snap = graph.pregel.get_state({"configurable": {"thread_id": "", "checkpoint_ns": "",
                                                        CONFIG_KEY_CHECKPOINTER: saver}}, subgraphs=subgraphs)
    except Exception:
        if not pending:
            raise
        # the superstep's writes cannot be applied together (its barrier failed): show the checkpoint as saved
        return state_snapshot(graph, checkpoint, None, values=values)
    return {
        **({"values": codec.to_wire(snap.values)} if values else {}),
        "next": list(snap.next),
        "tasks": [_task_json(t, subgraphs=subgraphs) for t in snap.tasks],
        "interrupts": _interrupts_json(snap.interrupts),
        "checkpoint_id": checkpoint["id"],
        "parent_checkpoint_id": checkpoint.get("parent_id"),
        "metadata": {"step": checkpoint["step"], "source": checkpoint.get("source")},
    }


def _task_json(t: Any, *, subgraphs: bool) -> dict[str, Any]:
    """A task of a StateSnapshot as plain JSON; with `subgraphs`, a subgraph task's own state too."""
    entry: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "path": list(t.path[:2]),
        "error": _error_json(t.error) if t.error is not None else None,
        "interrupts": _interrupts_json(t.interrupts),
    }
    if t.result is not None:
        entry["result"] = codec.to_wire(t.result)
    # without a checkpoint of its own, a subgraph task's `state` is its config (a dict), not a snapshot
    if subgraphs and t.state is not None and not isinstance(t.state, dict) and hasattr(t.state, "values"):
        entry["state"] = _nested_state(t.state)
    return entry


def _interrupts_json(interrupts: Any) -> list[dict[str, Any]]:
    return [{"value": codec.to_wire(i.value), "id": i.id} for i in interrupts]


def _nested_state(snap: Any) -> dict[str, Any]:
    """A subgraph's StateSnapshot (from LangGraph's get_state(subgraphs=True)) as plain JSON."""
    conf = snap.config.get("configurable", {}) if snap.config else {}
    parent = (snap.parent_config or {}).get("configurable") if snap.parent_config else None
    return {
        "values": codec.to_wire(snap.values),
        "next": list(snap.next),
        "tasks": [_task_json(t, subgraphs=True) for t in snap.tasks],
        "interrupts": _interrupts_json(snap.interrupts),
        "metadata": codec.to_wire(snap.metadata or {}),
        "created_at": snap.created_at,
        "checkpoint": {k: conf.get(k) for k in ("checkpoint_ns", "checkpoint_id")},
        "parent_checkpoint": {k: parent.get(k) for k in ("checkpoint_ns", "checkpoint_id")} if parent else None,
    }


def _error_json(error: Any) -> dict[str, Any]:
    if isinstance(error, BaseException):
        return {"type": type(error).__name__, "message": str(error)}
    return {"type": "Error", "message": str(error)}


def read_values(graph: CompiledGraph, checkpoint: dict[str, Any] | None, *, output: bool = False) -> Any:
    """What a checkpoint shows as Python objects: the state values (`get_state`'s), or with `output` what
    an invocation ending there returns (the graph's output channels, as LangGraph's loop reads its
    `output`). None: a new thread's (the channels' defaults, e.g. an empty list under a list reducer)."""
    from langgraph.pregel._checkpoint import channels_from_checkpoint, empty_checkpoint
    from langgraph.pregel._io import read_channels

    cp = from_doc(checkpoint)[0] if checkpoint is not None else empty_checkpoint()
    channels, _managed = channels_from_checkpoint(graph.pregel.channels, cp)
    return read_channels(channels, graph.pregel.output_channels if output else graph.pregel.stream_channels_asis)


def checkpoint_values(graph: CompiledGraph, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    """The state values saved in a checkpoint, as the API shows them (JSON data)."""
    return codec.to_wire(read_values(graph, checkpoint))  # type: ignore[no-any-return]


async def update_state(
    graph: CompiledGraph,
    checkpoint: dict[str, Any] | None,
    values: Any,
    as_node: str | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    pending: Pending | None = None,
    thread_id: str = "",
    store: BaseStore | None = None,
) -> Decision:
    """LangGraph's `aupdate_state`: one new checkpoint (source "update") as if `as_node` returned `values`.
    Kind "interrupted" (reason "update") when tasks would run next, "done" otherwise."""
    if as_node is not None and as_node not in graph.nodes and as_node not in ("__end__", "__copy__", START):
        raise InvalidUpdateError(f"Node {as_node} does not exist")
    saver = _seeded(thread_id, checkpoint, pending)
    cfg: dict[str, Any] = {"configurable": {**((config or {}).get("configurable") or {}), "thread_id": thread_id,
                                            "checkpoint_ns": "", CONFIG_KEY_CHECKPOINTER: saver}}
    try:
        await graph.pregel.aupdate_state(cfg, values, as_node=as_node)  # type: ignore[arg-type]
    except Exception as exc:
        if type(exc).__name__ in ("InvalidUpdateError", "EmptyInputError", "ValueError", "TypeError"):
            raise InvalidUpdateError(str(exc)) from exc
        raise
    docs = list(saver.puts)
    head = docs[-1]
    snap = state_snapshot(graph, head, None, values=False)
    if snap["next"]:
        return Decision("interrupted", docs, [], checkpoint=head, reason="update")
    return Decision("done", docs, checkpoint=head)


__all__ = [
    "DEFAULT_RECURSION_LIMIT",
    "barrier",
    "checkpoint_values",
    "command_from_json",
    "prepare_run",
    "read_values",
    "run_config",
    "run_task",
    "state_snapshot",
    "update_state",
]
