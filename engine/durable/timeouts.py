"""The run timeout: a run still running `timeout` seconds after it started ends `timeout`.

As LangGraph Platform's background-run timeout (`BG_JOB_TIMEOUT_SECS`), set for a deployment with
`DURAGRAPH_RUN_TIMEOUT`. Enforced by a periodic sweep that every worker (housekeeping) and the API run,
so it holds with no worker alive. Ending the run cancels its steps as a cancel does: queued jobs are
deleted, running ones aborted, and a step claimed by a worker stops when it sees the run has ended.
"""

from __future__ import annotations

import logging
import uuid

import sql
from engine.durable import lifecycle
from engine.durable.runtime import Runtime

Q = sql.queries("timeouts.sql")
log = logging.getLogger("duragraph.timeouts")


async def end_timed_out_runs(rt: Runtime, timeout: float) -> list[uuid.UUID]:
    """One sweep; returns the runs it ended."""
    async with rt.pool.acquire() as conn:
        candidates = [r["run_id"] for r in await conn.fetch(Q["timed_out_runs"], timeout)]
    ended: list[uuid.UUID] = []
    for run_id in candidates:
        async with rt.pool.acquire() as conn, conn.transaction():
            run = await conn.fetchrow(Q["lock_timed_out_run"], run_id, timeout)
            if run is None:
                continue  # ended meanwhile, or a step of it is committing (next sweep)
            error = {"type": "TimeoutError", "message": f"run {run_id} exceeded the run timeout of {timeout:g}s"}
            await lifecycle.end_run(conn, rt, run, "timeout", error=error, thread_status="error")
        ended.append(run_id)
    if ended:
        log.warning("ended %d run(s) past the run timeout of %gs: %s", len(ended), timeout, ended)
    return ended
