"""Every run's state is reproducible from its events: rebuild each superstep of a run from the committed
`task_result` events through the pure core's barrier, and compare with the stored checkpoints.

Also checks that sequence numbers are gapless and that each committed task has exactly one result event.
Outcomes kept from an earlier run (successful siblings of an interrupted superstep) come from that
run's events, found through the tasks table.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

import sql
from engine.core.api import CompiledGraph, TaskOutcome, TaskSpec, barrier, checkpoint_values
from engine.core.compiled import as_compiled
from engine.durable import blobs
from engine.durable.db import connect
from engine.durable.lifecycle import run_options

Q = sql.queries("runs.sql")


@dataclass
class ReplayReport:
    run_id: uuid.UUID
    steps_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        head = f"run {self.run_id}: {self.steps_checked} superstep(s) rebuilt from events"
        if self.ok:
            return f"{head}; state matches what is stored"
        return "\n".join([f"{head}; {len(self.problems)} problem(s):", *(f"  - {p}" for p in self.problems)])


def _outcome(data: Mapping[str, Any]) -> TaskOutcome:
    return TaskOutcome.from_json(dict(data))


def _spec(data: Mapping[str, Any]) -> TaskSpec:
    return TaskSpec(id=data["id"], name=data["name"], path=list(data["path"]), step=int(data["step"]),
                    send_arg=data.get("send_arg"), triggers=list(data.get("triggers") or []))


async def replay(conn: asyncpg.Connection, graphs: Mapping[str, CompiledGraph], run_id: uuid.UUID) -> ReplayReport:
    report = ReplayReport(run_id)
    graphs = {k: as_compiled(g, k) for k, g in graphs.items()}
    run = await conn.fetchrow(Q["run_for_replay"], run_id)
    if run is None:
        report.problems.append("no such run")
        return report
    graph = graphs[run["graph_id"]]
    events = await conn.fetch(Q["run_events"], run_id)
    seqs = [e["seq"] for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        report.problems.append(f"event sequence has gaps or duplicates: {seqs}")
    results: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["event"] == "task_result":
            if e["data"]["id"] in results:
                report.problems.append(f"task {e['data']['id']} has two result events")
            results[e["data"]["id"]] = e["data"]
    rows = await conn.fetch(Q["run_task_rows"], run_id)
    by_checkpoint: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for r in rows:
        by_checkpoint.setdefault(r["checkpoint_id"], []).append(r)
        if r["status"] in ("success", "interrupted", "error") and r["task_id"] not in results:
            # kept from an earlier run of the same checkpoint: its event lives in that run
            kept = await conn.fetchval(Q["task_result_elsewhere"], r["task_id"], run_id, run["thread_id"])
            if kept is None:
                report.problems.append(f"task {r['task_id']} ({r['status']}) has no result event")
            else:
                results[r["task_id"]] = kept
    opts = run_options(run["kwargs"])
    for checkpoint_id, tasks in by_checkpoint.items():
        if any(t["task_id"] not in results or results[t["task_id"]]["status"] != "success" for t in tasks):
            continue  # an interrupted, failed or cancelled superstep: no successor to rebuild
        base = await conn.fetchrow(Q["get_checkpoint"], checkpoint_id)
        child = await conn.fetchrow(Q["child_checkpoint"], checkpoint_id, run_id)
        if child is None:
            continue
        outcomes = {t["task_id"]: (_spec(results[t["task_id"]]), _outcome(results[t["task_id"]])) for t in tasks}
        base_doc = await blobs.resolve(conn, run["thread_id"], base["checkpoint"])
        decision = await barrier(graph, base_doc, outcomes, opts)
        report.steps_checked += 1
        if not decision.checkpoints:
            report.problems.append(f"superstep after {checkpoint_id}: replay made no checkpoint ({decision.kind})")
            continue
        rebuilt = checkpoint_values(graph, decision.checkpoints[0])
        stored = checkpoint_values(graph, await blobs.resolve(conn, run["thread_id"], child["checkpoint"]))
        if rebuilt != stored:
            report.problems.append(f"superstep after {checkpoint_id}: rebuilt {rebuilt!r} != stored {stored!r}")
    return report


async def replay_run(database_url: str, graphs: Mapping[str, CompiledGraph], run_id: uuid.UUID) -> ReplayReport:
    conn = await connect(database_url)
    try:
        return await replay(conn, graphs, run_id)
    finally:
        await conn.close()
