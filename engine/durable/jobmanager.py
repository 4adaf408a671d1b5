"""procrastinate's job manager, as a worker process uses it, riding out database outages.

procrastinate's worker stops on the first failed fetch or heartbeat and exits: one PostgreSQL restart
would stop every worker. This subclass keeps the worker alive through an outage of any length:
fetches, heartbeats, the LISTEN connection and the recording of a job's end are retried with a
capped backoff (logged once per outage); a worker the reaper declared dead meanwhile registers again
under its own id; and it keeps `Claims` (what this process holds) current for the claims re-check.
Pruning is left to the reaper (`engine/durable/reaper.py`), which waits out a restart first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import asyncpg
import procrastinate
import procrastinate.exceptions
import psycopg
from procrastinate import jobs as pjobs
from procrastinate.manager import JobManager, NotificationCallback

import sql
from engine.durable.claims import Claims
from engine.durable.outage import Backoff, Outage, is_transient

JQ = sql.queries("jobs.sql")
log = logging.getLogger("duragraph.worker")
T = TypeVar("T")


def _pruned(exc: BaseException) -> bool:
    """The fetch failed because this worker's row is gone (the reaper pruned it)."""
    return isinstance(exc, procrastinate.exceptions.ConnectorException) and isinstance(
        exc.__cause__, psycopg.errors.ForeignKeyViolation)


class WorkerJobManager(JobManager):
    def __init__(self, base: JobManager, *, pool: asyncpg.Pool, claims: Claims, stop: asyncio.Event,
                 give_up: Callable[[pjobs.Job, BaseException | None], Awaitable[None]]) -> None:
        super().__init__(connector=base.connector)
        self.pool = pool
        self.claims = claims
        self.stop = stop
        self.give_up = give_up  # records a failed job's end, with whatever its failure means for its run
        self.outage = Outage(log, "worker")

    async def _retrying(self, what: Callable[[], Awaitable[T]], *, until_stop: bool) -> T:
        """`what()`, retried through outages (until `stop` when `until_stop`, then the error is raised)."""
        backoff = Backoff(0.1, 2.0)
        while True:
            try:
                result = await what()
            except Exception as exc:
                if not is_transient(exc) or (until_stop and self.stop.is_set()):
                    raise
                await self._failed(exc)
                await self._pause(backoff.next())
                continue
            self.outage.ok()
            return result

    async def _failed(self, exc: BaseException) -> None:
        """A transient failure: recorded, and the idle connections of procrastinate's pool checked (it does
        not check them on checkout, `worker.unchecked_pool`), so the retry gets a live one."""
        self.outage.failed(exc)
        if isinstance(self.connector, procrastinate.PsycopgConnector):
            with contextlib.suppress(Exception):  # not open yet, or the database still down: the retry says
                await self.connector.pool.check()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # -- registration and heartbeats ---------------------------------------------------------------

    async def register_worker(self) -> int:
        worker_id = await self._retrying(super().register_worker, until_stop=False)
        self.claims.worker_id = worker_id
        return worker_id

    async def prune_stalled_workers(self, seconds_since_heartbeat: float) -> list[int]:
        return []  # the reaper prunes, and not right after a database restart

    async def update_heartbeat(self, worker_id: int) -> None:
        try:
            async with self.pool.acquire() as conn:
                reregistered = await conn.fetchval(JQ["heartbeat"], worker_id)
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.outage.failed(exc)  # the next heartbeat tries again
            return
        self.outage.ok()
        if reregistered:
            log.warning("worker %s had been declared dead (no heartbeat during an outage); registered again "
                        "under the same id", worker_id)

    async def unregister_worker(self, worker_id: int) -> None:
        try:
            await super().unregister_worker(worker_id)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("worker %s could not unregister (%s); the reaper will prune it", worker_id, exc)

    # -- fetching, listening, abort polling --------------------------------------------------------

    async def fetch_job(self, queues: Iterable[str] | None, worker_id: int) -> pjobs.Job | None:
        backoff = Backoff(0.1, 2.0)
        while not self.stop.is_set():
            try:
                job = await super().fetch_job(queues, worker_id)
            except Exception as exc:
                if _pruned(exc):
                    await self.update_heartbeat(worker_id)  # registers this worker again
                    continue
                if not is_transient(exc):
                    raise
                await self._failed(exc)
                await self._pause(backoff.next())
                continue
            self.outage.ok()
            if job is not None and job.id is not None:
                self.claims.hold(job.id)
            return job
        return None

    async def listen_for_jobs(self, *, on_notification: NotificationCallback,
                              queues: Iterable[str] | None = None) -> None:
        backoff = Backoff(0.1, 2.0)
        while True:
            try:
                await super().listen_for_jobs(on_notification=on_notification, queues=queues)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.outage.failed(exc)
                await asyncio.sleep(backoff.next())  # the worker polls meanwhile (fetch_job_polling_interval)

    async def list_jobs_to_abort_async(self, queue: str | None = None) -> Iterable[int]:
        try:
            return await super().list_jobs_to_abort_async(queue)
        except Exception as exc:
            if not is_transient(exc):
                raise
            await self._failed(exc)
            return []

    # -- the end of a job --------------------------------------------------------------------------

    def _ended_with_its_step(self, job_id: int) -> bool:
        """The job's step committed and deleted it in that transaction (`step.execute_step`): nothing is
        left to record, whatever its body did afterwards (a shutdown while it ran the steps it claimed
        hands those back to the queue, not this one)."""
        if job_id not in self.claims.ended:
            return False
        self.claims.ended.discard(job_id)
        self.claims.failures.pop(job_id, None)
        self.claims.drop(job_id)
        return True

    async def finish_job(self, job: pjobs.Job, status: pjobs.Status, delete_job: bool) -> None:
        assert job.id is not None
        if self._ended_with_its_step(job.id):
            return
        try:
            if status == pjobs.Status.FAILED:
                cause = self.claims.failures.pop(job.id, None)
                await self._retrying(lambda: self.give_up(job, cause), until_stop=True)
            else:
                await self._retrying(lambda: super(WorkerJobManager, self).finish_job(job, status, delete_job),
                                     until_stop=True)
        except procrastinate.exceptions.ConnectorException as exc:
            if not isinstance(exc.__cause__, psycopg.errors.RaiseException):
                raise
            # no longer `doing` or `todo`: an earlier attempt whose acknowledgement was lost in an outage
            # did finish it, or the job was cancelled meanwhile; nothing is left to record
            log.info("job %s had already ended (%s)", job.id, exc.__cause__)
        finally:
            self.claims.failures.pop(job.id, None)
            self.claims.drop(job.id)

    async def retry_job(self, job: pjobs.Job, retry_at: Any = None, priority: int | None = None,
                        queue: str | None = None, lock: str | None = None) -> None:
        assert job.id is not None
        if self._ended_with_its_step(job.id):
            return
        self.claims.failures.pop(job.id, None)
        try:
            await self._retrying(lambda: super(WorkerJobManager, self).retry_job(
                job, retry_at=retry_at, priority=priority, queue=queue, lock=lock), until_stop=True)
        finally:
            self.claims.drop(job.id)
