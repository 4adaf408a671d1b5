"""After the chaos: settle, then check the whole history and build the one result line.

- lost: a run the API acknowledged that is gone (404), or that ended other than as its kind must end
  (every run must end `success`; a human-in-the-loop job's first run ends `success` at its interrupt and
  its thread waits with an interrupt, which the client checks before resuming);
  stuck: one still `pending`/`running` after settling.
- double_commits: a write applied twice: a chain's (or resumed run's) `log` is not each node once in
  order, a join does not see exactly its fan-out, a task's `task_result` event appears twice, or the
  ledger shows one node of one run executed under two idempotency keys (the key was not held).
- duplicate_executions: ledger starts beyond the first per idempotency key (allowed: at-least-once).
- js_*: JetStream read back from the start with nats-py, compared with `events` by `Nats-Msg-Id`;
  out of order: a run's `Duragraph-Seq` not increasing in stream order. seq_gaps: a run whose event seqs
  are not 1..n. sse_resume_gaps: a streamed run whose frame ids across the drop and the rejoins differ
  from its full replay (`Last-Event-ID: 0`).
- double_resume_accepted: pairs of concurrent resumes that produced exactly one resume run whose
  `publish` committed once / pairs.
- max_recovery_s: the longest time from a worker's SIGKILL to the re-execution (same idempotency key)
  of a step it had started and not finished.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats

from tests.chaos import graphs
from tests.chaos.fleet import Fleet
from tests.chaos.workload import Workload

EXPECTED_LOG = {"chain": graphs.CHAIN, "stream": graphs.CHAIN, "fanout": ["plan", "join"],
                "hitl": ["plan", "review", "publish"], "hitl2": ["plan", "review", "publish"]}


@dataclass
class Verdict:
    runs: int = 0
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    double_commits: list[str] = field(default_factory=list)
    duplicate_executions: int = 0
    js_missing: int = 0
    js_duplicates: int = 0
    js_out_of_order: int = 0
    seq_gaps: int = 0
    sse_resume_gaps: list[str] = field(default_factory=list)
    resume_pairs: int = 0
    resume_pairs_ok: int = 0
    http_5xx: list[tuple[float, int, str]] = field(default_factory=list)
    max_recovery_s: float = 0.0
    unrecovered: int = 0
    events: int = 0

    def line(self) -> str:
        return (f"chaos: runs={self.runs} lost={len(self.lost)} stuck={len(self.stuck)} "
                f"double_commits={len(self.double_commits)} duplicate_executions={self.duplicate_executions} "
                f"js_missing={self.js_missing} js_duplicates={self.js_duplicates} "
                f"js_out_of_order={self.js_out_of_order} seq_gaps={self.seq_gaps} "
                f"sse_resume_gaps={len(self.sse_resume_gaps)} "
                f"double_resume_accepted={self.resume_pairs_ok}/{self.resume_pairs} http_5xx={len(self.http_5xx)} "
                f"max_recovery_s={self.max_recovery_s:.1f}")

    @property
    def ok(self) -> bool:
        return not (self.lost or self.stuck or self.double_commits or self.js_missing or self.js_duplicates
                    or self.js_out_of_order or self.seq_gaps or self.sse_resume_gaps or self.http_5xx
                    or self.resume_pairs_ok != self.resume_pairs or self.unrecovered)


async def _fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def settle(fleet: Fleet, within: float = 120.0) -> None:
    """Wait until no run is pending or running and the relay has published the whole outbox."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        rows = await _fetch(fleet.pg.dsn, "SELECT (SELECT count(*) FROM runs WHERE status IN ('pending', "
                            "'running')) AS r, (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS o")
        if rows[0]["r"] == 0 and rows[0]["o"] == 0:
            return
        await asyncio.sleep(0.5)


def _expected_status(kind: str, first: bool) -> str:
    return "success"  # a run that stops at interrupt() ends `success` (LangGraph Platform); its thread waits


async def verify(fleet: Fleet, wl: Workload) -> Verdict:
    v = Verdict()
    runs = {str(r["run_id"]): r for r in await _fetch(
        fleet.pg.dsn, "SELECT run_id, thread_id, status FROM runs")}
    for job in wl.jobs:
        for i, rid in enumerate(job.run_ids):
            v.runs += 1
            row = runs.get(rid)
            if row is None:
                v.lost.append(f"{job.key} {rid}: gone")
            elif row["status"] in ("pending", "running"):
                v.stuck.append(f"{job.key} {rid}")
            elif row["status"] != _expected_status(job.kind, i == 0):
                v.lost.append(f"{job.key} {rid}: {row['status']}")
        if job.error and not job.run_ids:
            v.lost.append(f"{job.key}: client gave up before any run was acknowledged ({job.error})")
        if job.kind == "stream" and job.full_ids and job.stream_ids != job.full_ids:
            v.sse_resume_gaps.append(f"{job.key} run {job.run_ids[-1]}: got {job.stream_ids} want {job.full_ids}; "
                                     f"connections: {job.segments}")
    await _states(fleet, wl, v)
    _ledger(fleet, v)
    await _events(fleet, v)
    lo = [w for w in fleet.api_down]
    v.http_5xx = [x for x in wl.stats.http_5xx if not any(a <= x[0] <= b for a, b in lo)]
    return v


async def _states(fleet: Fleet, wl: Workload, v: Verdict) -> None:
    conn = await asyncpg.connect(fleet.pg.dsn)
    try:
        for job in wl.jobs:
            if not job.run_ids:
                continue
            state = await wl.call(functools.partial(wl.client.threads.get_state, job.thread_id))
            values = state["values"] or {}
            first_only = job.kind in ("hitl", "hitl2") and len(job.run_ids) == 1
            want = EXPECTED_LOG[job.kind][:1] if first_only else EXPECTED_LOG[job.kind]
            if values.get("log") != want:
                v.double_commits.append(f"{job.key}: log {values.get('log')} want {want}")
            if job.kind == "fanout" and values.get("joined") != list(range(job.width)):
                v.double_commits.append(f"{job.key}: joined {values.get('joined')} want {list(range(job.width))}")
            if job.kind == "hitl2":
                v.resume_pairs += 1
                published = await conn.fetchval(
                    "SELECT count(*) FROM tasks WHERE thread_id = $1::uuid AND name = 'publish' "
                    "AND status = 'success'", job.thread_id)
                if len(job.run_ids) == 2 and published == 1:
                    v.resume_pairs_ok += 1
        for r in await conn.fetch("SELECT run_id::text || '/' || (data->>'id') AS t FROM events "
                                  "WHERE event = 'task_result' GROUP BY 1 HAVING count(*) > 1"):
            v.double_commits.append(f"task_result twice: {r['t']}")
    finally:
        await conn.close()


def _ledger(fleet: Fleet, v: Verdict) -> None:
    lines = graphs.ledger(fleet.ledger)
    starts = [ln for ln in lines if ln[0] == "S"]
    by_key = Counter(ln[1] for ln in starts)
    v.duplicate_executions = sum(n - 1 for n in by_key.values())
    keys_per_node: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _, idem, key, node, _, _ in starts:
        keys_per_node[(key, node)].add(idem)
    for (key, node), idems in keys_per_node.items():
        if len(idems) > 1:
            v.double_commits.append(f"{key}/{node} executed under {len(idems)} idempotency keys")
    ended = {(ln[1], ln[4]) for ln in lines if ln[0] == "E"}
    for pid, killed_at in fleet.kills:
        for _, idem, _key, _node, p, at in starts:
            if p != pid or at > killed_at or (idem, pid) in ended:
                continue
            again = [a for _, i, _, _, q, a in starts if i == idem and a > killed_at]
            if again:
                v.max_recovery_s = max(v.max_recovery_s, min(again) - killed_at)
            else:
                v.unrecovered += 1


async def _events(fleet: Fleet, v: Verdict) -> None:
    rows = await _fetch(fleet.pg.dsn, "SELECT event_id::text AS id, run_id::text AS run, seq FROM events "
                                      "ORDER BY run_id, seq")
    v.events = len(rows)
    seqs: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        seqs[r["run"]].append(r["seq"])
    v.seq_gaps = sum(1 for s in seqs.values() if s != list(range(1, len(s) + 1)))
    nc = await nats.connect(fleet.nats.url)
    try:
        js = nc.jetstream()
        count = (await js.stream_info("DURAGRAPH")).state.messages
        sub = await js.subscribe("duragraph.>", stream="DURAGRAPH", ordered_consumer=True)
        msgs = [await sub.next_msg(timeout=10) for _ in range(count)]
        await sub.unsubscribe()
    finally:
        await nc.close()
    heads = [m.headers or {} for m in msgs]
    ids = Counter(h.get("Nats-Msg-Id") for h in heads)
    v.js_duplicates = sum(n - 1 for n in ids.values())
    v.js_missing = sum(1 for r in rows if r["id"] not in ids)
    last: dict[str, int] = {}
    for h in heads:
        run, seq = h.get("Duragraph-Run-Id", ""), int(h.get("Duragraph-Seq", 0))
        if seq <= last.get(run, 0):
            v.js_out_of_order += 1
        last[run] = seq


FAULT_KINDS = {"worker": "SIGKILL worker", "relay": "SIGKILL active relay", "nats": "SIGKILL nats-server",
               "postgres": "pg_ctl stop -m immediate", "api": "SIGKILL api"}


def fault_counts(fleet: Fleet) -> dict[str, int]:
    """How many faults of each kind were injected."""
    return {kind: sum(1 for f in fleet.faults if f.what.startswith(prefix)) for kind, prefix in FAULT_KINDS.items()}


def details(v: Verdict, wl: Workload, fleet: Fleet) -> dict[str, Any]:
    return {"faults": fault_counts(fleet), "events": v.events, "retries": wl.stats.retries,
            "unavailable_503": wl.stats.unavailable_503,
            "unrecovered_steps": v.unrecovered,
            "client_errors": [j.error for j in wl.jobs if j.error][:5]}
