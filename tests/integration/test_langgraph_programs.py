"""Differential: each program of `langgraph_programs` runs in-process with LangGraph (InMemorySaver) and on
DuraGraph through langgraph-sdk (real Postgres, real workers, SSE over JetStream). After every client step
they must agree on the state values, `next`, the pending interrupts, the `updates` stream in order, the
`messages` stream (content and node of every chunk), the `custom` stream, and whether the run failed."""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command
from langgraph_sdk import get_client

from engine.core import codec
from tests.integration import langgraph_programs as P
from tests.integration.api_support import live_stack

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ID_KEYS = {"id", "run_id", "thread_id", "checkpoint_id"}


def norm(value: Any) -> Any:
    """Ids differ between two runs of one program (checkpoint ids, message ids LangGraph generates)."""
    if isinstance(value, dict):
        return {k: "<id>" if k in ID_KEYS else norm(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [norm(v) for v in value]
    if isinstance(value, str) and _UUID.match(value):
        return "<id>"
    return value


@dataclasses.dataclass
class Observation:
    updates: list[Any] = dataclasses.field(default_factory=list)
    messages: list[tuple[Any, str]] = dataclasses.field(default_factory=list)
    custom: list[Any] = dataclasses.field(default_factory=list)
    failed: bool = False
    values: Any = None
    next: list[str] = dataclasses.field(default_factory=list)
    interrupts: list[Any] = dataclasses.field(default_factory=list)

    def comparable(self, parallel: bool) -> tuple[Any, ...]:
        updates = sorted(self.updates, key=repr) if parallel else self.updates
        return (updates, self.messages, self.custom, self.failed, self.values, sorted(self.next),
                sorted(self.interrupts, key=repr))


def _interrupt_values(items: Any) -> list[Any]:
    return [norm(i["value"]) for i in items]


async def run_langgraph(program: P.Program) -> list[Observation]:
    graph = program.build()
    graph.checkpointer = InMemorySaver()
    graph.store = InMemoryStore()  # DuraGraph gives nodes its Postgres store
    cfg: dict[str, Any] = {"configurable": {"thread_id": f"lg-{uuid.uuid4()}"}}
    seen: list[Observation] = []
    for step in program.steps:
        obs = Observation()
        if step.state_update is not None:
            await graph.aupdate_state(cfg, step.state_update[0], as_node=step.state_update[1])
        else:
            run_cfg = dict(cfg)
            inp: Any = step.input
            if step.fork_step is not None:
                history = [h async for h in graph.aget_state_history(cfg)]
                run_cfg = next(h.config for h in history if h.metadata["step"] == step.fork_step)
            if step.resume is not None or step.command_update is not None:
                inp = Command(resume=step.resume, update=step.command_update)
            if step.resume_by_value is not None:
                pending = (await graph.aget_state(cfg)).interrupts
                inp = Command(resume={i.id: step.resume_by_value[i.value] for i in pending
                                      if i.value in step.resume_by_value})
            opts = dict(step.opts)
            if "recursion_limit" in opts:
                run_cfg = {**run_cfg, "recursion_limit": opts.pop("recursion_limit")}
            try:
                async for mode, chunk in graph.astream(inp, run_cfg, stream_mode=["updates", "messages", "custom"],
                                                       **opts):
                    if mode == "updates":
                        obs.updates.append(norm(codec.to_wire(chunk)))
                    elif mode == "messages":
                        message, meta = chunk
                        obs.messages.append((norm(codec.to_wire(message)["content"]), meta["langgraph_node"]))
                    else:
                        obs.custom.append(norm(codec.to_wire(chunk)))
            except (GraphRecursionError, TimeoutError):
                obs.failed = True
        state = await graph.aget_state(cfg)
        obs.values = norm(codec.to_wire(state.values))
        obs.next = list(state.next)
        obs.interrupts = _interrupt_values(codec.to_wire(list(state.interrupts)))
        seen.append(obs)
    return seen


async def run_duragraph(client: Any, name: str, program: P.Program) -> list[Observation]:
    tid = (await client.threads.create())["thread_id"]
    seen: list[Observation] = []
    for step in program.steps:
        obs = Observation()
        if step.state_update is not None:
            await client.threads.update_state(tid, step.state_update[0], as_node=step.state_update[1])
        else:
            kwargs: dict[str, Any] = {"stream_mode": ["updates", "messages-tuple", "custom"]}
            if step.fork_step is not None:
                history = await client.threads.get_history(tid, limit=100)
                kwargs["checkpoint_id"] = next(h["checkpoint_id"] for h in history
                                               if h["metadata"]["step"] == step.fork_step)
            if step.resume is not None or step.command_update is not None:
                kwargs["command"] = {k: v for k, v in (("resume", step.resume), ("update", step.command_update))
                                     if v is not None}
            elif step.resume_by_value is not None:
                pending = (await client.threads.get_state(tid))["interrupts"]
                kwargs["command"] = {"resume": {i["id"]: step.resume_by_value[i["value"]] for i in pending
                                                if i["value"] in step.resume_by_value}}
            else:
                kwargs["input"] = step.input
            opts = dict(step.opts)
            if "recursion_limit" in opts:
                kwargs["config"] = {"recursion_limit": opts.pop("recursion_limit")}
            kwargs.update(opts)
            async for chunk in client.runs.stream(tid, name, **kwargs):
                if chunk.event == "updates":
                    obs.updates.append(norm(chunk.data))
                elif chunk.event == "messages":
                    message, meta = chunk.data
                    obs.messages.append((norm(message["content"]), meta["langgraph_node"]))
                elif chunk.event == "custom":
                    obs.custom.append(norm(chunk.data))
                elif chunk.event == "error":
                    obs.failed = True
        state = await client.threads.get_state(tid)
        obs.values = norm(state["values"])
        obs.next = list(state["next"])
        obs.interrupts = _interrupt_values(state["interrupts"])
        seen.append(obs)
    return seen


@pytest.fixture
async def stack(database_url: str, nats_url: str, nats_prefix: str) -> Any:
    graphs = {name: program.build() for name, program in P.PROGRAMS.items()}
    async with live_stack(database_url, nats_url, nats_prefix, graphs) as st:
        yield st


def test_at_least_twenty_programs() -> None:
    assert len(P.PROGRAMS) >= 20


async def test_programs_agree_with_langgraph(stack: Any) -> None:
    client = get_client(url=stack.url, api_key=None)
    failures: list[str] = []
    for name, program in P.PROGRAMS.items():
        expected = await run_langgraph(program)
        try:
            actual = await run_duragraph(client, name, program)
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
            if got.comparable(program.parallel) != want.comparable(program.parallel):
                failures.append(f"{name} step {i}:\n  duragraph {got}\n  langgraph {want}")
                break
    assert not failures, "\n".join(failures)
