"""A thread's values and a run's output, read from checkpoints when asked for, never stored per run.

A long thread's state grows with its history; writing it into the thread row and the run row every turn
made each turn cost (and store) the whole history again. The thread row keeps its head checkpoint, a run
that stops keeps the checkpoint it stopped at (`output_ref`), and these functions compute what the API
shows from the checkpoint's values (engine/durable/blobs.py: mostly from this process's cache).

Values come back as Python objects (messages stay LangChain messages): `codec.wire_dumps` shows them, or
`codec.to_wire` makes JSON data of them. A graph that is no longer loaded still shows its state: the
checkpoint's channels, minus LangGraph's internal ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

import sql
from engine.core import codec
from engine.core.api import CompiledGraph, read_values
from engine.core.saver import values_of
from engine.durable import blobs

Q = sql.queries("runs.sql")


def output_ref(checkpoint_id: str, *, interrupts: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What a run that stopped at `checkpoint_id` stores as its output: at an interrupt, the state values
    and the interrupts; at its end, what the graph's output channels hold."""
    if interrupts is None:
        return {"checkpoint_id": checkpoint_id, "read": "output"}
    return {"checkpoint_id": checkpoint_id, "read": "values", "interrupts": list(interrupts)}


def _internal(channel: str) -> bool:
    return channel.startswith(("__", "branch:", "join:", "start:"))


def _read(graph: CompiledGraph | None, doc: dict[str, Any] | None, *, output: bool) -> Any:
    if graph is not None:
        return read_values(graph, doc, output=output)
    return {} if doc is None else {k: v for k, v in values_of(doc).items() if not _internal(k)}


async def _docs(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The resolved documents of these root checkpoints, by id."""
    rows = await conn.fetch(Q["checkpoint_docs"], list(ids)) if ids else []
    return {r["checkpoint_id"]: await blobs.resolve(conn, r["thread_id"], r["checkpoint"]) for r in rows}


async def thread_values(conn: asyncpg.Connection, graphs: Mapping[str, CompiledGraph],
                        threads: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The values at each thread's head (`checkpoint_id`, `graph_id` of its row), as get_state shows them;
    a thread without a checkpoint shows None (as the official server's new threads do)."""
    docs = await _docs(conn, [t["checkpoint_id"] for t in threads if t.get("checkpoint_id") is not None])
    out: list[Any] = []
    for t in threads:
        doc = docs.get(t["checkpoint_id"]) if t.get("checkpoint_id") is not None else None
        out.append(_read(graphs.get(t.get("graph_id") or ""), doc, output=False) if doc is not None else None)
    return out


async def run_output(conn: asyncpg.Connection, graphs: Mapping[str, CompiledGraph], run: Mapping[str, Any]
                     ) -> dict[str, Any] | None:
    """A stopped run's output, `{"values", "interrupts"}` (None: the run ended without one: error,
    cancelled). Rows written before outputs were references hold their values inline."""
    out = run.get("output")
    if not out or "checkpoint_id" not in out:
        return out  # type: ignore[no-any-return]
    if run.get("output_checkpoint") is not None:  # read with the run (`get_run`)
        doc = await blobs.resolve(conn, run["thread_id"], run["output_checkpoint"])
    else:
        doc = (await _docs(conn, [uuid.UUID(out["checkpoint_id"])])).get(uuid.UUID(out["checkpoint_id"]))
    if doc is None:  # the checkpoint went with a rollback or a prune: the output with it
        return {"values": None, "interrupts": out.get("interrupts") or []}
    values = _read(graphs.get(run.get("graph_id") or ""), doc, output=out.get("read") == "output")
    if isinstance(values, dict):  # a thread's long lists, shown at the end of every turn: only what is new
        values = {k: codec.LISTS.fragments((run["thread_id"], k), v) if isinstance(v, list) else v
                  for k, v in values.items()}
    return {"values": values, "interrupts": out.get("interrupts") or []}


def contains(value: Any, part: Any) -> bool:
    """JSON containment as PostgreSQL's jsonb `@>` has it: an object contains an object whose every key it
    has with a contained value, an array contains an array whose every element some element of it
    contains, a scalar only an equal scalar (and a top-level array a scalar it holds)."""
    return _contains(value, part, top=True)


def _contains(value: Any, part: Any, *, top: bool = False) -> bool:
    if isinstance(part, dict):
        return isinstance(value, dict) and all(k in value and _contains(value[k], v) for k, v in part.items())
    if isinstance(part, list):
        return isinstance(value, list) and all(any(_contains(x, p) for x in value) for p in part)
    if isinstance(value, list) and top:
        return any(not isinstance(x, dict | list) and _same(x, part) for x in value)
    return not isinstance(value, dict | list) and _same(value, part)


def _same(a: Any, b: Any) -> bool:
    """Scalars equal as JSON: 1 and 1.0 are, true and 1 are not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)
