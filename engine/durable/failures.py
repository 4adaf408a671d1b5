"""When a step job fails for a reason other than its node (the node's own errors are outcomes): retry it,
or give it up and end its run `error` in the transaction that marks the job failed.

A database outage is not the step's fault: it is retried for as long as it lasts. Anything else (the
graph cannot be loaded, a bug or a constraint violation in the commit path, a value that cannot be
serialized) gets `STEP_ATTEMPTS` deliveries; an `EngineError` (e.g. the graph is not deployed here)
fails at once, as trying again cannot help.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import procrastinate
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision

import sql
from engine.core.errors import EngineError
from engine.durable import lifecycle
from engine.durable.jobs import START_TASK, STEP_TASK
from engine.durable.lifecycle import Q
from engine.durable.outage import is_transient
from engine.durable.runtime import Runtime

JQ = sql.queries("jobs.sql")
log = logging.getLogger("duragraph.worker")
STEP_ATTEMPTS = 3
RETRY_SECONDS = 1
OUTAGE_RETRY_CAP_SECONDS = 5


class StepRetry(procrastinate.BaseRetryStrategy):
    """Outages: retried without limit (capped backoff); other failures: `STEP_ATTEMPTS` deliveries in all."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not isinstance(exception, Exception):
            return None  # cancelled (a cancel, a shutdown): procrastinate records the job aborted
        if is_transient(exception):
            return RetryDecision(retry_in={"seconds": min(OUTAGE_RETRY_CAP_SECONDS, 1 + job.attempts)})
        if isinstance(exception, EngineError) or job.attempts + 1 >= STEP_ATTEMPTS:
            return None
        return RetryDecision(retry_in={"seconds": RETRY_SECONDS * (job.attempts + 1)})


def failure_error(job: Job, node: str | None, exc: BaseException | None) -> dict[str, Any]:
    """The run's error: which step, how many deliveries, and the cause."""
    cause = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown cause"
    attempts = job.attempts + 1
    if job.task_name == STEP_TASK:
        what = f"step {node or '?'} (task {job.task_kwargs.get('task_id')})"
    else:
        what = "starting the run"
    return {"type": type(exc).__name__ if exc is not None else "StepFailed",
            "message": f"{what} failed outside the node after {attempts} attempt(s) and was given up: {cause}"}


async def fail_job(rt: Runtime, job: Job, exc: BaseException | None) -> None:
    """ONE transaction: the job is marked failed and its run (still active) ends `error`, its thread too."""
    assert job.id is not None
    run_id = job.task_kwargs.get("run_id") if job.task_name in (STEP_TASK, START_TASK) else None
    async with rt.pool.acquire() as conn, conn.transaction():
        if run_id is not None:
            run = await conn.fetchrow(Q["lock_run"], uuid.UUID(str(run_id)))
            if run is not None and run["status"] in ("pending", "running"):
                node = None
                if job.task_name == STEP_TASK:
                    row = await conn.fetchrow(Q["load_task"], run["run_id"], job.task_kwargs.get("task_id"))
                    node = row["name"] if row is not None else None
                error = failure_error(job, node, exc)
                log.error("run %s ends in error: %s", run_id, error["message"])
                await lifecycle.end_run(conn, rt, run, "error", error=error, thread_status="error", ran=True)
        await conn.execute(JQ["fail_job"], job.id)
